"""The reports for people: `certification.html`, `certification.md` (also the GitHub step summary)
and `drift.md`, rendered from the templates shipped in `runcancel/reports/templates/`.

Python builds the model (`model.Report`); the templates decide the page. The CSS and the small filter
script are package files too (`static/`), inlined at render: the page loads nothing from anywhere.
Jinja2 is imported on first render, so importing the reports package stays cheap.
"""

from __future__ import annotations

import functools
from collections import Counter
from importlib import resources
from typing import TYPE_CHECKING, Any

from runcancel.findings import Severity, state_text
from runcancel.reports import markup
from runcancel.reports.model import API_REFERENCE, ENDPOINT, STATES, Report

if TYPE_CHECKING:
    import jinja2

__all__ = [
    "CONTRACT_COPY",
    "render_certification_html",
    "render_certification_md",
    "render_drift_md",
    "static_text",
]

# The contract document, written next to the reports so that the HTML can link to it offline.
CONTRACT_COPY = "cancel_run.openapi.yaml"


def static_text(name: str) -> str:
    """A file of `runcancel/reports/static/` (the CSS, the filter script)."""
    return resources.files("runcancel.reports").joinpath("static", name).read_text(encoding="utf-8")


@functools.cache
def _environment(kind: str) -> jinja2.Environment:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("runcancel.reports", "templates"),
        autoescape=kind == "html",
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        md_text=markup.md_text,
        md_code=markup.md_code,
        md_title=markup.md_title,
        md_finding=markup.md_finding,
        html_title=markup.html_title,
        anchor=markup.anchor,
        duration=markup.duration_text,
        one_line=markup.one_line,
        css_class=lambda state: str(state).replace(" ", "-"),
        state_text=state_text,
    )
    return env


def _suite_counts(clauses: list[Any]) -> dict[str, int]:
    counted = Counter(c.state for c in clauses)
    return {state: counted[state] for state in STATES}


def _notes(notes: tuple[str, ...]) -> list[tuple[str, list[str]]]:
    """Notes with their indented detail lines folded under them."""
    grouped: list[tuple[str, list[str]]] = []
    for line in notes:
        if line.startswith("  ") and grouped:
            grouped[-1][1].append(line.strip())
        else:
            grouped.append((line, []))
    return grouped


def _context(report: Report) -> dict[str, Any]:
    suites = [
        (suite, clauses, _suite_counts(clauses), [c for c in clauses if c.state != "failed"])
        for suite, clauses in report.suites()
    ]
    rank = {"not verified": 0, "passed": 1}
    return {
        "report": report,
        "run": report.run,
        "endpoint": ENDPOINT,
        "api_reference": API_REFERENCE,
        "contract_copy": CONTRACT_COPY,
        "states": STATES,
        "counts": report.counts,
        "total": max(len(report.clauses), 1),
        "broken": report.broken,
        "suites": [
            (suite, clauses, counts, sorted(rest, key=lambda c: rank.get(c.state, 0)))
            for suite, clauses, counts, rest in suites
        ],
        "notes": _notes(report.notes),
        "severities": list(Severity),
        "breaking": Severity.BREAKING,
        "drift_counts": Counter(f.severity for f in report.drift),
    }


def render_certification_html(report: Report) -> str:
    """The self-contained HTML certificate (inline CSS and filter script; nothing loaded)."""
    return (
        _environment("html")
        .get_template("certification.html.j2")
        .render(**_context(report), css=static_text("report.css"), script=static_text("filter.js"))
    )


def render_certification_md(report: Report) -> str:
    """The Markdown certificate: verdict and broken clauses first, passed rows folded in `<details>`."""
    return _environment("md").get_template("certification.md.j2").render(**_context(report))


def render_drift_md(report: Report) -> str:
    return _environment("md").get_template("drift.md.j2").render(**_context(report))
