"""The machine-readable reports: `findings.json` (schema `runcancel.findings/1`) and `badge.json`
(the shields.io endpoint format)."""

from __future__ import annotations

import json
from collections import Counter
from importlib import resources
from typing import Any

from runcancel.findings import Evidence, Finding, Severity
from runcancel.reports.model import ENDPOINT, Answer, Report
from runcancel.runinfo import RunInfo
from runcancel.scrub import MASKED_KEY, REDACTED

__all__ = ["SCHEMA_ID", "badge_json", "findings_json", "findings_schema", "run_json"]

SCHEMA_ID = "runcancel.findings/1"

# shields.io's named colours for the three verdicts
_BADGE_COLOURS = {"CERTIFIED": "brightgreen", "INCOMPLETE": "yellow", "NOT CERTIFIED": "red"}


def _request_json(evidence: Evidence | None) -> dict[str, Any] | None:
    if evidence is None:
        return None
    return {"method": evidence.method, "url": evidence.url, "status": evidence.status}


def _finding_json(f: Finding) -> dict[str, Any]:
    return {
        "clause": f.clause,
        "path": f.path,
        "expected": f.expected,
        "observed": f.observed,
        "severity": f.severity.value,
        "request": _request_json(f.evidence),
    }


def _answer_json(a: Answer) -> dict[str, Any]:
    return {
        "request": _request_json(a.request),
        "status": a.status,
        "content_type": a.content_type,
        "headers": [[name, value] for name, value in a.headers],
        "head": a.head,
        "complete": a.complete,
    }


def _masked(text: str) -> str:
    return MASKED_KEY.sub("sk-" + REDACTED, text)


def run_json(run: RunInfo | None, report: Report) -> dict[str, Any] | None:
    """The `run` object of findings.json: what the run was, typed; None when the caller gave no RunInfo."""
    if run is None:
        return None
    return {
        "started": report.started,
        "finished": report.finished,
        "duration_seconds": round(run.duration, 3),
        "command": _masked(run.command),
        "seed": run.seed,
        "budget": run.budget,
        "settings": {
            name: {"value": _masked(shown.value), "source": shown.source}
            for name, shown in sorted(run.settings.items())
        },
        "selection": run.selection,
        "not_selected": list(run.not_selected),
        "interrupted": run.interrupted,
        "workers": run.workers,
        "full": run.full,
    }


def findings_json(report: Report) -> dict[str, Any]:
    """The `runcancel.findings/1` document (see reports/README.md and findings.schema.json)."""
    severities = Counter(f.severity.value for f in report.findings)
    counts = report.counts
    return {
        "schema": SCHEMA_ID,
        "runcancel_version": report.version,
        "endpoint": ENDPOINT,
        "target": {"label": report.target, "source": report.target_source},
        "started": report.started,
        "finished": report.finished,
        "policy": {"fail_on": report.fail_on, "fail": report.fail},
        "verdict": report.verdict,
        "summary": {
            "clauses": len(report.clauses),
            "passed": counts["passed"],
            "failed": counts["failed"],
            "not_verified": counts["not verified"],
            "accepted": counts["accepted"],
            "findings": {s.value: severities[s.value] for s in Severity},
        },
        "target_verdicts": [
            {"kind": v.kind, "message": v.message, "evidence": list(v.evidence)}
            for v in report.target_verdicts
        ],
        "clauses": [
            {
                "id": c.id,
                "title": c.title,
                "source": c.source,
                "suite": c.suite,
                "state": c.state,
                "findings": [_finding_json(f) for f in c.findings],
                "not_verified_reasons": list(c.reasons),
                "tests": list(c.nodeids),
                "verified_by": [_request_json(e) for e in c.requests],
                "answers": [_answer_json(a) for a in c.answers],
                "accepted": [{**_finding_json(f), "reason": reason} for f, reason in c.accepted],
            }
            for c in report.clauses
        ],
        "findings": [_finding_json(f) for f in report.findings],
        "drift": {"baseline": report.baseline, "findings": [_finding_json(f) for f in report.drift]},
        "era": report.era,
        "notes": list(report.notes),
        "run": run_json(report.run, report),
        "accepted": {
            "file": report.accept_file,
            "unused": [
                {"clause": e.clause, "path": e.path, "reason": e.reason, "where": e.where}
                for e in report.accept_unused
            ],
        },
    }


def findings_schema() -> dict[str, Any]:
    """The JSON Schema of findings.json, shipped in the package."""
    text = resources.files("runcancel").joinpath("findings.schema.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def badge_json(report: Report) -> dict[str, Any]:
    """A shields.io endpoint badge: `https://img.shields.io/endpoint?url=<where badge.json is served>`."""
    n = report.counts
    total = len(report.clauses)
    if report.verdict == "NOT CERTIFIED":
        message = f"not certified: {n['failed']} broken" if n["failed"] else "not certified"
    elif report.verdict == "INCOMPLETE":
        message = f"incomplete: {n['passed']}/{total} held"
        if not report.full:
            message += " (partial run)"
    else:
        message = f"certified: {n['passed']}/{total} held"
    if n["accepted"]:
        message += f", {n['accepted']} accepted"
    return {
        "schemaVersion": 1,
        "label": "runcancel",
        "message": message,
        "color": _BADGE_COLOURS[report.verdict],
    }
