"""The report writers: one model of a run's outcome, and the files written from it.

`build_report` turns a `SessionRecord` (what the suites saw) into a `Report`; `write_reports` writes
`findings.json`, `drift.md`, `certification.md` and `certification.html` from it, each atomically;
`format_clause_table` gives the few lines of the terminal summary. The pytest plugin and the command
line use the same functions. Writers format; they never check.

Every clause of the catalogue (`clauses.all_clauses()`) is in every report: passed, failed or not
verified. A clause no test reached is not verified ("not checked in this run"), never passed.
"""

from __future__ import annotations

import contextlib
import errno
import html
import json
import os
import re
import tempfile
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any, Literal, cast

from runcancel import __version__
from runcancel.clauses import all_clauses
from runcancel.findings import Evidence, Finding, Severity, TargetVerdict
from runcancel.runinfo import RunInfo
from runcancel.session import SessionRecord, Verdict

__all__ = [
    "FAIL_ON",
    "NOT_CHECKED",
    "SCHEMA_ID",
    "STATES",
    "ClauseResult",
    "FailOn",
    "Report",
    "ReportError",
    "TargetVerdict",
    "build_report",
    "check_writable",
    "exit_decision",
    "findings_json",
    "findings_schema",
    "format_clause_table",
    "render_certification_html",
    "render_certification_md",
    "render_drift_md",
    "write_reports",
]

SCHEMA_ID = "runcancel.findings/1"
FailOn = Literal["breaking", "additive", "never"]
FAIL_ON: tuple[FailOn, ...] = ("breaking", "additive", "never")
STATES = ("passed", "failed", "not verified")
NOT_CHECKED = "not checked in this run"
SUITES = ("shape", "lifecycle", "errors")
OTHER_SUITE = "other"
ENDPOINT = "POST /v1/threads/{thread_id}/runs/{run_id}/cancel"
FILES = ("findings.json", "drift.md", "certification.md", "certification.html")


class ReportError(Exception):
    """The reports could not be written; the message says where, why and what to do."""


# -- the policy --------------------------------------------------------------------------------------

# The severities that fail a run under each policy. Info never fails.
_FAILING: dict[str, frozenset[Severity]] = {
    "breaking": frozenset({Severity.BREAKING}),
    "additive": frozenset({Severity.BREAKING, Severity.ADDITIVE}),
    "never": frozenset(),
}


def _check_fail_on(fail_on: str) -> FailOn:
    if fail_on not in _FAILING:
        allowed = ", ".join(FAIL_ON)
        raise ValueError(f"runcancel: fail_on takes one of {allowed}; got {fail_on!r}")
    return cast(FailOn, fail_on)


def exit_decision(findings: Iterable[Finding], fail_on: str) -> bool:
    """Whether the run fails: breaking findings fail under `breaking` and `additive`, additive ones
    only under `additive`, nothing fails under `never`, and info findings never fail."""
    failing = _FAILING[_check_fail_on(fail_on)]
    return any(f.severity in failing for f in findings)


# -- the model ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClauseResult:
    """One clause's outcome in this run, with what shows it."""

    id: str
    title: str
    source: str
    suite: str
    state: str
    findings: tuple[Finding, ...] = ()
    reasons: tuple[str, ...] = ()
    nodeids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Report:
    """Everything the report files say, and nothing they compute themselves."""

    version: str
    target: str
    target_source: str
    started: str
    finished: str
    fail_on: FailOn
    fail: bool
    certified: bool
    clauses: tuple[ClauseResult, ...]
    findings: tuple[Finding, ...]
    target_verdicts: tuple[TargetVerdict, ...] = ()
    drift: tuple[Finding, ...] = ()
    baseline: str | None = None
    notes: tuple[str, ...] = ()
    run: RunInfo | None = None

    @property
    def counts(self) -> dict[str, int]:
        counted = Counter(c.state for c in self.clauses)
        return {state: counted[state] for state in STATES}

    @property
    def complete(self) -> bool:
        """Every clause was verified: none is left not verified."""
        return all(c.state != "not verified" for c in self.clauses)

    @property
    def verdict(self) -> str:
        """CERTIFIED (every clause held), INCOMPLETE (none broken, some not verified), NOT CERTIFIED."""
        if not self.certified:
            return "NOT CERTIFIED"
        return "CERTIFIED" if self.complete and (self.run is None or self.run.full) else "INCOMPLETE"

    def suites(self) -> list[tuple[str, list[ClauseResult]]]:
        """The clauses grouped by suite, in the suites' order, then any other."""
        order = [*SUITES, *sorted({c.suite for c in self.clauses} - set(SUITES))]
        grouped = [(s, [c for c in self.clauses if c.suite == s]) for s in order]
        return [(s, cs) for s, cs in grouped if cs]

    def policy_line(self) -> str:
        outcome = "the run fails" if self.fail else "the run passes"
        return f"policy fail_on={self.fail_on}: {outcome}"


def _utc(moment: datetime | None) -> str:
    moment = moment or datetime.now(UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _unique(findings: Iterable[Finding]) -> tuple[Finding, ...]:
    """Each finding once (with its evidence), in the order first seen."""
    seen: dict[tuple[object, ...], Finding] = {}
    for f in findings:
        seen.setdefault((f.clause, f.path, f.expected, f.observed, f.severity, f.evidence), f)
    return tuple(seen.values())


def build_report(
    record: SessionRecord,
    *,
    fail_on: str = "breaking",
    target_verdicts: Iterable[TargetVerdict] = (),
    drift: Iterable[Finding] = (),
    baseline: str | None = None,
    notes: Iterable[str] = (),
    started: datetime | None = None,
    finished: datetime | None = None,
    run: RunInfo | None = None,
) -> Report:
    """The report of one run: every catalogued clause with its state, findings and reasons.

    `drift` holds the findings of a comparison with `baseline` (a label, say the baseline's path);
    without a baseline, drift.md says none was given. The exit decision weighs the clause findings
    and the drift findings under `fail_on`. The target is certified when nothing breaks the
    contract under the policy (under `never`, judged as under `breaking`: the policy decides the exit
    code, not what the target is), no whole-target verdict stands, and at least one clause was
    verified; the verdict reads INCOMPLETE while any clause is not verified.
    """
    policy = _check_fail_on(fail_on)
    standing = tuple(target_verdicts)
    states = record.clause_states()
    by_clause: dict[str, list[Verdict]] = {}
    for v in record.verdicts:
        by_clause.setdefault(v.clause, []).append(v)
    catalogue = all_clauses()
    ids = [*catalogue, *(c for c in by_clause if c not in catalogue)]
    results = []
    for clause_id in ids:
        known = catalogue.get(clause_id)
        verdicts = by_clause.get(clause_id, [])
        reasons = tuple(dict.fromkeys(v.not_verified for v in verdicts if v.not_verified is not None))
        results.append(
            ClauseResult(
                id=clause_id,
                title=known.title if known else "not a clause of the catalogue",
                source=known.source if known else "",
                suite=known.suite if known else OTHER_SUITE,
                state=states.get(clause_id, "not verified"),
                findings=_unique(f for v in verdicts for f in v.findings),
                reasons=reasons if verdicts else (NOT_CHECKED,),
                nodeids=tuple(dict.fromkeys(v.nodeid for v in verdicts)),
            )
        )
    findings = tuple(f for c in results for f in c.findings)
    drift_found = tuple(drift)
    weighed = (*findings, *drift_found)
    judged_as = "breaking" if policy == "never" else policy
    verified = any(c.state != "not verified" for c in results)
    return Report(
        version=__version__,
        target=record.target_label or record.settings.target.value,
        target_source=record.settings.target.source,
        started=_utc(started),
        finished=_utc(finished),
        fail_on=policy,
        # A whole-target verdict (retired endpoint, no cancel route) fails the run unless told `never`.
        fail=exit_decision(weighed, policy) or (bool(standing) and policy != "never"),
        certified=verified and not exit_decision(weighed, judged_as) and not standing,
        clauses=tuple(results),
        findings=findings,
        target_verdicts=standing,
        drift=drift_found,
        baseline=baseline,
        notes=tuple(notes),
        run=run,
    )


# -- findings.json -----------------------------------------------------------------------------------


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
            }
            for c in report.clauses
        ],
        "findings": [_finding_json(f) for f in report.findings],
        "drift": {"baseline": report.baseline, "findings": [_finding_json(f) for f in report.drift]},
        "notes": list(report.notes),
        **({"run": _run_json(report.run)} if report.run is not None else {}),
    }


def _run_json(run: RunInfo) -> dict[str, Any]:
    return {
        "seed": run.seed,
        "budget": run.budget,
        "duration": round(run.duration, 3),
        "command": run.command,
        "settings": {k: {"value": v.value, "source": v.source} for k, v in run.settings.items()},
        "selection": run.selection,
        "not_selected": list(run.not_selected),
        "interrupted": run.interrupted,
        "workers": run.workers,
    }


def findings_schema() -> dict[str, Any]:
    """The JSON Schema of findings.json, shipped in the package."""
    text = resources.files("runcancel").joinpath("findings.schema.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


# -- Markdown ----------------------------------------------------------------------------------------

_SURROGATES = re.compile("[\ud800-\udfff]")
_LINE_BREAKS = re.compile(r"[\r\n\t\v\f\x1c-\x1e\x85\u2028\u2029]+")
_MD_SPECIAL = re.compile(r"[\\`*\[\]<>|~&]|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])|^[#+=-]")
_MD_ORDERED = re.compile(r"^(\d+)([.)])")


def _one_line(text: str) -> str:
    return _LINE_BREAKS.sub(" ", text)


def _md_text(text: str) -> str:
    """Text from anywhere (a server, too) as literal Markdown text on one line, safe in a table."""
    text = _MD_SPECIAL.sub(lambda m: "\\" + m.group(0), _one_line(text).strip())
    return _MD_ORDERED.sub(r"\1\\\2", text)


def _md_code(text: str, table: bool = True) -> str:
    """A code span showing `text` literally (on one line; in a table, pipes escaped)."""
    text = _one_line(text)
    if not text.strip():
        return "*(empty)*" if not text else f"`{text}`"
    fence = "`" * (max((len(r) for r in re.findall(r"`+", text)), default=0) + 1)
    if text.startswith("`") or text.endswith("`"):
        text = f" {text} "
    if table:
        text = text.replace("|", "\\|")
    return f"{fence}{text}{fence}"


def _md_title(title: str) -> str:
    """A clause title (ours, with `code` in backticks) in a table cell."""
    return _one_line(title).replace("|", "\\|")


def _md_finding(f: Finding, table: bool, severity: bool = True) -> str:
    text = (
        f"{_md_code(f.path, table)}: expected {_md_code(f.expected, table)}; "
        f"observed {_md_code(f.observed, table)}"
    )
    if severity and f.severity is not Severity.BREAKING:
        text += f" ({f.severity.value})"
    if f.evidence is not None:
        text += f"; request {_md_code(str(f.evidence), table)}"
    return text


def _summary_line(report: Report) -> str:
    n = report.counts
    return (
        f"{n['passed']} passed, {n['failed']} failed, {n['not verified']} not verified "
        f"(of {len(report.clauses)} clauses)"
    )


def render_certification_md(report: Report) -> str:
    lines = [
        f"# runcancel certification: {report.verdict}",
        "",
        f"**{report.verdict}**: {_summary_line(report)}; {report.policy_line()}.",
        "",
        f"- target: {_md_text(report.target)} (from {_md_text(report.target_source)})",
        f"- endpoint: `{ENDPOINT}`",
        f"- run: {report.started} to {report.finished}",
        f"- runcancel {_md_text(report.version)}",
        "",
    ]
    if report.target_verdicts:
        lines += ["## Target verdicts", ""]
        for v in report.target_verdicts:
            lines.append(f"- **{_md_text(v.kind)}**: {_md_text(v.message)}")
            lines += [f"  - {_md_code(e, table=False)}" for e in v.evidence]
        lines.append("")
    for suite, clauses in report.suites():
        n = Counter(c.state for c in clauses)
        lines += [
            f"## {suite}: {n['passed']} passed, {n['failed']} failed, {n['not verified']} not verified",
            "",
            "| state | clause | rule | source | evidence |",
            "|---|---|---|---|---|",
        ]
        for c in clauses:
            evidence = [_md_finding(f, table=True) for f in c.findings]
            if c.state == "not verified":
                evidence += [_md_text(r) for r in c.reasons]
            state = f"**{c.state}**" if c.state == "failed" else c.state
            lines.append(
                f"| {state} | `{c.id}` | {_md_title(c.title)} | {_md_text(c.source)} | "
                f"{'<br>'.join(evidence)} |"
            )
        lines.append("")
    if report.notes:
        lines += ["## Notes", "", *(f"- {_md_text(n)}" for n in report.notes), ""]
    return "\n".join(lines)


def render_drift_md(report: Report) -> str:
    against = f" against the baseline {_md_code(report.baseline, table=False)}" if report.baseline else ""
    lines = ["# runcancel drift", "", f"- target: {_md_text(report.target)}", f"- run: {report.finished}", ""]
    if not report.drift:
        if report.baseline is None:
            lines.append("No baseline was given, so drift was not checked.")
        else:
            lines.append(f"No drift was found{against}.")
        return "\n".join([*lines, ""])
    counted = Counter(f.severity for f in report.drift)
    parts = ", ".join(f"{counted[s]} {s.value}" for s in Severity)
    lines += [f"{len(report.drift)} differences{against}: {parts}.", ""]
    for severity in Severity:
        found = [f for f in report.drift if f.severity is severity]
        if not found:
            continue
        lines += [f"## {severity.value}", ""]
        for f in found:
            lines.append(f"- {_md_code(f.clause, table=False)} {_md_finding(f, table=False, severity=False)}")
        lines.append("")
    return "\n".join(lines)


# -- HTML --------------------------------------------------------------------------------------------


def _h(text: object) -> str:
    return html.escape(str(text), quote=True)


def _h_title(title: str) -> str:
    """A clause title (ours): escaped, with `code` in backticks shown as code."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", _h(title))


def _anchor(clause_id: str) -> str:
    return "clause-" + re.sub(r"[^0-9A-Za-z_.-]", "-", clause_id)


_CSS = """
:root { --pass: #1a7f37; --pass-bg: #dafbe1; --fail: #cf222e; --fail-bg: #ffebe9;
  --nv: #9a6700; --nv-bg: #fff8c5; --ink: #1f2328; --muted: #59636e; --line: #d1d9e0; --code: #f6f8fa; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
  color: var(--ink); background: #f6f8fa; }
main { max-width: 1100px; margin: 0 auto; padding: 24px; }
code, .mono { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "DejaVu Sans Mono", monospace;
  font-size: 0.9em; }
code { background: var(--code); border-radius: 4px; padding: 0 4px; overflow-wrap: anywhere; }
header.summary { background: #fff; border: 1px solid var(--line); border-top: 8px solid var(--fail);
  border-radius: 8px; padding: 20px 24px; }
header.summary.certified { border-top-color: var(--pass); }
header.summary.incomplete { border-top-color: var(--nv); }
.eyebrow { color: var(--muted); margin: 0; font-size: 0.85em; }
h1 { margin: 4px 0 4px; font-size: 2.2em; letter-spacing: 0.02em; color: var(--fail); }
.certified h1 { color: var(--pass); }
.incomplete h1 { color: var(--nv); }
.meta { margin: 0; color: var(--muted); }
.meta b { color: var(--ink); overflow-wrap: anywhere; }
.counts { display: flex; gap: 12px; margin: 18px 0 12px; flex-wrap: wrap; }
.count { flex: 1 1 160px; border-radius: 8px; padding: 10px 16px; }
.count .n { display: block; font-size: 2.4em; font-weight: 700; line-height: 1.1; }
.count.passed { background: var(--pass-bg); color: var(--pass); }
.count.failed { background: var(--fail-bg); color: var(--fail); }
.count.not-verified { background: var(--nv-bg); color: var(--nv); }
.bar { display: flex; height: 10px; border-radius: 5px; overflow: hidden; background: var(--line); }
.bar span { display: block; height: 100%; }
.bar .passed { background: var(--pass); } .bar .failed { background: var(--fail); }
.bar .not-verified { background: #d4a72c; }
.broken { margin: 12px 0 0; }
.broken a { color: var(--fail); margin-right: 8px; }
section { background: #fff; border: 1px solid var(--line); border-radius: 8px; margin-top: 20px;
  padding: 4px 24px 16px; }
section.verdicts { border-left: 6px solid var(--fail); }
h2 { font-size: 1.3em; margin: 16px 0 8px; }
h2 small { font-weight: 400; color: var(--muted); font-size: 0.7em; margin-left: 8px; }
table { width: 100%; border-collapse: collapse; }
th { text-align: left; color: var(--muted); font-weight: 600; font-size: 0.85em;
  border-bottom: 1px solid var(--line); padding: 6px 8px; }
td { border-bottom: 1px solid #eef1f4; padding: 7px 8px; vertical-align: top; }
tr:last-child td { border-bottom: 0; }
td.state { width: 120px; } td.source { width: 150px; color: var(--muted); font-size: 0.9em; }
tr.failed td { background: #fffafa; }
.badge { display: inline-block; border-radius: 12px; padding: 1px 10px; font-size: 0.8em; font-weight: 600;
  white-space: nowrap; }
.badge.passed { background: var(--pass-bg); color: var(--pass); }
.badge.failed { background: var(--fail); color: #fff; }
.badge.not-verified { background: var(--nv-bg); color: var(--nv); }
.badge.breaking { background: var(--fail-bg); color: var(--fail); }
.badge.additive { background: #ddf4ff; color: #0969da; }
.badge.info { background: var(--code); color: var(--muted); }
.clause-id { font-weight: 600; }
.title { color: var(--muted); }
.evidence { margin: 6px 0 0; padding: 0; list-style: none; }
.evidence li { border-left: 3px solid var(--line); padding: 2px 0 2px 10px; margin: 4px 0; }
.evidence li.breaking { border-left-color: var(--fail); }
.evidence li.reason { border-left-color: #d4a72c; }
.evidence .label { color: var(--muted); font-size: 0.85em; }
.notes li, .verdicts li { margin: 4px 0; }
footer { color: var(--muted); font-size: 0.85em; text-align: center; margin: 20px 0; }
@media print { body { background: #fff; } section, header.summary { break-inside: avoid-page; } }
"""


def _html_finding(f: Finding, with_clause: bool = False) -> str:
    clause = f' <span class="label">clause</span> <code>{_h(f.clause)}</code>' if with_clause else ""
    request = f'<br><span class="label">request</span> <code>{_h(f.evidence)}</code>' if f.evidence else ""
    return (
        f'<li class="{_h(f.severity.value)}"><span class="badge {_h(f.severity.value)}">'
        f"{_h(f.severity.value)}</span> <code>{_h(f.path)}</code><br>"
        f'<span class="label">expected</span> <code>{_h(f.expected)}</code> '
        f'<span class="label">observed</span> <code>{_h(f.observed)}</code>{request}{clause}</li>'
    )


def _html_clause(c: ClauseResult) -> str:
    css = c.state.replace(" ", "-")
    items = [_html_finding(f) for f in c.findings]
    if c.state == "not verified":
        items += [
            f'<li class="reason"><span class="label">not verified:</span> {_h(r)}</li>' for r in c.reasons
        ]
    evidence = f'<ul class="evidence">{"".join(items)}</ul>' if items else ""
    return (
        f'<tr class="clause {css}" id="{_h(_anchor(c.id))}">'
        f'<td class="state"><span class="badge {css}">{_h(c.state)}</span></td>'
        f'<td><code class="clause-id">{_h(c.id)}</code> <span class="title">{_h_title(c.title)}</span>'
        f"{evidence}</td>"
        f'<td class="source">{_h(c.source)}</td></tr>'
    )


def render_certification_html(report: Report) -> str:
    n = report.counts
    total = max(len(report.clauses), 1)
    status = report.verdict.lower().replace(" ", "-")
    bar = "".join(
        f'<span class="{s.replace(" ", "-")}" style="width:{100 * n[s] / total:.2f}%"></span>' for s in STATES
    )
    counts = "".join(
        f'<div class="count {s.replace(" ", "-")}"><span class="n">{n[s]}</span>{_h(s)}</div>' for s in STATES
    )
    failed = [c for c in report.clauses if c.state == "failed"]
    broken = (
        '<p class="broken"><b>Broken:</b> '
        + "".join(f'<a href="#{_h(_anchor(c.id))}"><code>{_h(c.id)}</code></a>' for c in failed)
        + "</p>"
        if failed
        else ""
    )
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>runcancel certification: {_h(report.verdict)}, {_h(report.target)}</title>",
        f"<style>{_CSS}</style></head><body><main>",
        f'<header class="summary {status}">',
        f'<p class="eyebrow">runcancel {_h(report.version)} &middot; '
        f"contract of <code>{_h(ENDPOINT)}</code></p>",
        f'<h1 id="verdict">{_h(report.verdict)}</h1>',
        f'<p class="meta">target <b>{_h(report.target)}</b> (from {_h(report.target_source)})</p>',
        f'<p class="meta">{_h(_summary_line(report))}; {_h(report.policy_line())}</p>',
        f'<p class="meta">run {_h(report.started)} to {_h(report.finished)}</p>',
        f'<div class="counts" id="counts">{counts}</div><div class="bar">{bar}</div>{broken}',
        "</header>",
    ]
    if report.target_verdicts:
        items = []
        for v in report.target_verdicts:
            evidence = "".join(f"<li><code>{_h(e)}</code></li>" for e in v.evidence)
            items.append(
                f"<li><b>{_h(v.kind)}</b>: {_h(v.message)}"
                + (f'<ul class="evidence">{evidence}</ul>' if evidence else "")
                + "</li>"
            )
        parts.append(f'<section class="verdicts"><h2>Target verdicts</h2><ul>{"".join(items)}</ul></section>')
    for suite, clauses in report.suites():
        c = Counter(x.state for x in clauses)
        parts += [
            f'<section class="suite" id="suite-{_h(suite)}">',
            f"<h2>{_h(suite)} <small>{c['passed']} passed &middot; {c['failed']} failed &middot; "
            f"{c['not verified']} not verified</small></h2>",
            "<table><thead><tr><th>state</th><th>clause</th><th>source</th></tr></thead><tbody>",
            *(_html_clause(x) for x in clauses),
            "</tbody></table></section>",
        ]
    if report.drift or report.baseline is not None:
        against = f" against <code>{_h(report.baseline)}</code>" if report.baseline else ""
        body = (
            '<ul class="evidence">'
            + "".join(_html_finding(f, with_clause=True) for f in report.drift)
            + "</ul>"
            if report.drift
            else f"<p>No drift was found{against}.</p>"
        )
        parts.append(f'<section class="drift"><h2>Drift{against}</h2>{body}</section>')
    if report.notes:
        notes = "".join(f"<li>{_h(x)}</li>" for x in report.notes)
        parts.append(f'<section class="notes"><h2>Notes</h2><ul>{notes}</ul></section>')
    parts += [
        f"<footer>runcancel {_h(report.version)} &middot; findings.json has the same content, "
        f"machine-readable</footer>",
        "</main></body></html>",
        "",
    ]
    return "\n".join(parts)


# -- the terminal summary ----------------------------------------------------------------------------


def _ids(clauses: list[ClauseResult], limit: int = 8) -> str:
    shown = ", ".join(c.id for c in clauses[:limit])
    return shown + (f" and {len(clauses) - limit} more" if len(clauses) > limit else "")


def format_clause_table(report: Report) -> list[str]:
    """The few lines the terminal summary shows: per suite held/broken/not verified, then the ids."""
    lines = [f"target verdict {v.kind}: {_one_line(v.message)}" for v in report.target_verdicts]
    width = max(len(s) for s, _ in report.suites()) if report.clauses else 5
    lines.append(f"{'clauses':<{width + 2}} held  broken  not verified")
    for suite, clauses in report.suites():
        c = Counter(x.state for x in clauses)
        unchecked = sum(1 for x in clauses if x.reasons == (NOT_CHECKED,))
        extra = f"  ({unchecked} not checked in this run)" if unchecked else ""
        lines.append(f"  {suite:<{width}} {c['passed']:>4}  {c['failed']:>6}  {c['not verified']:>12}{extra}")
    lines.append(f"{report.verdict}: {_summary_line(report)}; {report.policy_line()}")
    failed = [c for c in report.clauses if c.state == "failed"]
    if failed:
        lines.append(f"broken: {_ids(failed)}")
    skipped = [c for c in report.clauses if c.state == "not verified" and c.reasons != (NOT_CHECKED,)]
    if skipped:
        lines.append(f"not verified: {_ids(skipped)}")
    return lines


# -- writing -----------------------------------------------------------------------------------------


def _advice(folder: Path, exc: OSError) -> str:
    blocking = next((p for p in (folder, *folder.parents) if p.exists() and not p.is_dir()), None)
    if blocking is not None:
        return f"{blocking} is a file, not a folder: remove it, or pass --reports-dir with another folder."
    if exc.errno == errno.EROFS:
        return "That file system is read-only: pass --reports-dir with a folder on a writable one."
    if exc.errno == errno.ENOSPC:
        return "The disk is full: free some space, or pass --reports-dir with a folder on another disk."
    return "Make the folder writable, or pass --reports-dir with a folder you can write to."


def _report_error(what: str, path: Path, folder: Path, exc: OSError) -> ReportError:
    cause = exc.strerror or str(exc) or type(exc).__name__
    return ReportError(f"runcancel: cannot {what} {path} ({cause}). {_advice(folder, exc)}")


def _json_bytes(document: dict[str, Any]) -> bytes:
    """UTF-8 JSON; a lone surrogate a server sent (valid in JSON, not in UTF-8) stays escaped."""
    try:
        return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    except UnicodeEncodeError:
        return (json.dumps(document, indent=2) + "\n").encode("ascii")


def _text_bytes(text: str) -> bytes:
    return _SURROGATES.sub("\ufffd", text).encode("utf-8")


def _write_temp(folder: Path, name: str, data: bytes) -> Path:
    fd, temp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
    try:
        with open(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(temp, 0o644)  # mkstemp makes it private; a report is for reading
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    return Path(temp)


def write_reports(report: Report, folder: Path) -> list[Path]:
    """Write the four report files into `folder` (created if missing) and return their paths.

    Every file is written to a temporary file in the folder first; only when all four are written
    do they replace the old ones, so a failure never leaves a half-written report. Any failure is a
    `ReportError` saying what failed, where, why and what to do.
    """
    texts = {
        "findings.json": _json_bytes(findings_json(report)),
        "drift.md": _text_bytes(render_drift_md(report)),
        "certification.md": _text_bytes(render_certification_md(report)),
        "certification.html": _text_bytes(render_certification_html(report)),
    }
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _report_error("create the reports folder", folder, folder, exc) from None
    temps: dict[str, Path] = {}
    try:
        for name, text in texts.items():
            try:
                temps[name] = _write_temp(folder, name, text)
            except OSError as exc:
                raise _report_error("write the report", folder / name, folder, exc) from None
        written = []
        for name, temp in temps.items():
            try:
                os.replace(temp, folder / name)
            except OSError as exc:
                raise _report_error("write the report", folder / name, folder, exc) from None
            written.append(folder / name)
        return written
    finally:
        for temp in temps.values():
            with contextlib.suppress(OSError):
                temp.unlink(missing_ok=True)


def check_writable(folder: Path) -> None:
    """Raise ReportError now, before a run, if the reports could not be written into `folder` later."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _report_error("create the reports folder", folder, folder, exc) from None
    try:
        _write_temp(folder, "probe", b"").unlink()
    except OSError as exc:
        raise _report_error("write into the reports folder", folder, folder, exc) from None
