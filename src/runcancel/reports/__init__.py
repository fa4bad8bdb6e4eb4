"""The report writers: one model of a run's outcome, and the files written from it.

`build_report` turns a `SessionRecord` (what the suites saw) and a `RunInfo` (what the run was) into
a `Report` (`model`); `write_reports` writes `findings.json`, `badge.json`, `drift.md`,
`certification.md` and `certification.html` from it, each atomically, and appends the Markdown to
the GitHub step summary when `GITHUB_STEP_SUMMARY` is set (`writing`). The HTML and Markdown come
from the templates in `templates/` (`render`), the JSON documents from `documents`, the terminal
summary's lines from `terminal`. The pytest plugin and the command line use the same functions.
Writers format; they never check.
"""

from __future__ import annotations

from runcancel.findings import TargetVerdict
from runcancel.reports.documents import SCHEMA_ID, badge_json, findings_json, findings_schema, run_json
from runcancel.reports.model import (
    API_REFERENCE,
    ENDPOINT,
    FAIL_ON,
    NOT_CHECKED,
    NOT_SELECTED,
    STATES,
    Answer,
    ClauseResult,
    FailOn,
    Report,
    build_report,
    exit_decision,
)
from runcancel.reports.render import render_certification_html, render_certification_md, render_drift_md
from runcancel.reports.requests import RequestLog
from runcancel.reports.terminal import (
    format_clause_table,
    format_counts_line,
    format_notes,
    format_verdict_line,
)
from runcancel.reports.writing import (
    FILES,
    ReportError,
    check_writable,
    step_summary_text,
    write_reports,
    write_step_summary,
)

__all__ = [
    "API_REFERENCE",
    "ENDPOINT",
    "FAIL_ON",
    "FILES",
    "NOT_CHECKED",
    "NOT_SELECTED",
    "SCHEMA_ID",
    "STATES",
    "Answer",
    "ClauseResult",
    "FailOn",
    "Report",
    "ReportError",
    "RequestLog",
    "TargetVerdict",
    "badge_json",
    "build_report",
    "check_writable",
    "exit_decision",
    "findings_json",
    "findings_schema",
    "format_clause_table",
    "format_counts_line",
    "format_notes",
    "format_verdict_line",
    "render_certification_html",
    "render_certification_md",
    "render_drift_md",
    "run_json",
    "step_summary_text",
    "write_reports",
    "write_step_summary",
]
