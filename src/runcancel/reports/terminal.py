"""The terminal summary's lines: the clause table, the verdict line (coloured when pytest colours) and
the notes (each note's detail lines folded into one unless verbose).

The plugin passes its TerminalWriter's `markup` (`terminalreporter._tw.markup`, which adds colour
only when pytest colours its output); these functions never print.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Protocol

from runcancel.accept import ACCEPTED
from runcancel.reports.markup import one_line
from runcancel.reports.model import NOT_CHECKED, NOT_SELECTED, ClauseResult, Report

__all__ = ["Markup", "format_clause_table", "format_counts_line", "format_notes", "format_verdict_line"]


class Markup(Protocol):
    """`_pytest._io.TerminalWriter.markup`: the text, with colour when the terminal takes it."""

    def __call__(self, text: str, **markup: bool) -> str: ...


# The TerminalWriter's markup names for each verdict
_COLOURS = {"CERTIFIED": "green", "INCOMPLETE": "yellow", "NOT CERTIFIED": "red"}


def _ids(clauses: list[ClauseResult], limit: int = 8) -> str:
    shown = ", ".join(c.id for c in clauses[:limit])
    return shown + (f" and {len(clauses) - limit} more" if len(clauses) > limit else "")


def _verdict_text(report: Report) -> str:
    text = f"{report.verdict}: {report.summary_line()}; {report.policy_line()}"
    if report.partial_reason is not None:
        text += f"; not a full certificate: {report.partial_reason}"
    return text


def format_verdict_line(report: Report, markup: Markup | None = None) -> str:
    """The verdict line; with `markup`, the verdict itself in bold green, yellow or red."""
    text = _verdict_text(report)
    if markup is None:
        return text
    rest = text.removeprefix(report.verdict)
    return markup(report.verdict, bold=True, **{_COLOURS[report.verdict]: True}) + rest


def format_counts_line(report: Report) -> str:
    """`target T: N clauses held, M broken, K not verified`: the report's own counts, so the number not
    verified is the one the verdict line, findings.json and every report give."""
    counts = report.counts
    accepted = f", {counts['accepted']} accepted" if counts.get("accepted") else ""
    return (
        f"target {report.target}: {counts['passed']} clauses held, {counts['failed']} broken{accepted}, "
        f"{counts['not verified']} not verified"
    )


def format_clause_table(report: Report, markup: Markup | None = None) -> list[str]:
    """The few lines the terminal summary shows: per suite held/broken/(accepted)/not verified, then
    the ids, and the accepted deviations: what each accepted, and those that named nothing."""
    lines = [f"target verdict {v.kind}: {one_line(v.message)}" for v in report.target_verdicts]
    width = max(len(s) for s, _ in report.suites()) if report.clauses else 5
    accepting = bool(report.accepted)
    lines.append(f"{'clauses':<{width + 2}} held  broken  {'accepted  ' if accepting else ''}not verified")
    for suite, clauses in report.suites():
        c = Counter(x.state for x in clauses)
        unchecked = sum(1 for x in clauses if x.reasons == (NOT_CHECKED,))
        unselected = sum(1 for x in clauses if x.reasons == (NOT_SELECTED,))
        extra = f"  ({unchecked} not checked in this run)" if unchecked else ""
        extra += f"  ({unselected} not selected)" if unselected else ""
        middle = f"  {c[ACCEPTED]:>8}" if accepting else ""
        lines.append(
            f"  {suite:<{width}} {c['passed']:>4}  {c['failed']:>6}{middle}  {c['not verified']:>12}{extra}"
        )
    lines.append(format_verdict_line(report, markup))
    if report.broken:
        lines.append(f"broken: {_ids(report.broken)}")
    for clause in report.accepted:
        reasons = "; ".join(dict.fromkeys(reason for _f, reason in clause.accepted))
        n = len(clause.accepted)
        lines.append(f"accepted: {clause.id} ({n} finding{'s' if n != 1 else ''}): {reasons}")
    lines += report.unused_lines()
    skipped = [c for c in report.clauses if c.state == "not verified" and not c.unchecked]
    if skipped:
        lines.append(f"not verified: {_ids(skipped)}")
    return lines


def format_notes(notes: Sequence[str], verbose: bool = False) -> list[str]:
    """The notes as the terminal shows them. A note's detail lines (indented by two spaces, such as
    the probe overlay's checks) follow it when `verbose`; otherwise they fold into the note's line."""
    if verbose:
        return list(notes)
    lines: list[str] = []
    folded = 0
    for note in notes:
        if note.startswith("  ") and lines:
            folded += 1
            continue
        if folded:
            lines[-1] += f" ({folded} more lines with -v)"
            folded = 0
        lines.append(note)
    if folded:
        lines[-1] += f" ({folded} more lines with -v)"
    return lines
