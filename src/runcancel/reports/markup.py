"""The filters the templates use: text from anywhere made literal Markdown, clause titles as HTML,
anchors, durations. Escaping lives here once, so no template can forget it."""

from __future__ import annotations

import re

from markupsafe import Markup, escape

from runcancel.findings import Finding, Severity

__all__ = [
    "anchor",
    "duration_text",
    "html_title",
    "md_code",
    "md_finding",
    "md_text",
    "md_title",
    "one_line",
]

_LINE_BREAKS = re.compile(r"[\r\n\t\v\f\x1c-\x1e\x85\u2028\u2029]+")
_MD_SPECIAL = re.compile(r"[\\`*\[\]<>|~&]|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])|^[#+=-]")
_MD_ORDERED = re.compile(r"^(\d+)([.)])")


def one_line(text: str) -> str:
    return _LINE_BREAKS.sub(" ", text)


def md_text(text: object) -> str:
    """Text from anywhere (a server, too) as literal Markdown text on one line, safe in a table."""
    escaped = _MD_SPECIAL.sub(lambda m: "\\" + m.group(0), one_line(str(text)).strip())
    return _MD_ORDERED.sub(r"\1\\\2", escaped)


def md_code(value: object, table: bool = True) -> str:
    """A code span showing `text` literally (on one line; in a table, pipes escaped)."""
    text = one_line(str(value))
    if not text.strip():
        return "*(empty)*" if not text else f"`{text}`"
    fence = "`" * (max((len(r) for r in re.findall(r"`+", text)), default=0) + 1)
    if text.startswith("`") or text.endswith("`"):
        text = f" {text} "
    if table:
        text = text.replace("|", "\\|")
    return f"{fence}{text}{fence}"


def md_title(title: str) -> str:
    """A clause title (ours, with `code` in backticks) in a table cell."""
    return one_line(title).replace("|", "\\|")


def md_finding(f: Finding, table: bool = True, severity: bool = True) -> str:
    text = (
        f"{md_code(f.path, table)}: expected {md_code(f.expected, table)}; "
        f"observed {md_code(f.observed, table)}"
    )
    if severity and f.severity is not Severity.BREAKING:
        text += f" ({f.severity.value})"
    if f.evidence is not None:
        text += f"; request {md_code(str(f.evidence), table)}"
    return text


def html_title(title: str) -> Markup:
    """A clause title (ours): escaped, with `code` in backticks shown as code."""
    return Markup(re.sub(r"`([^`]+)`", r"<code>\1</code>", str(escape(title))))


def anchor(clause_id: str) -> str:
    return "clause-" + re.sub(r"[^0-9A-Za-z_.-]", "-", clause_id)


def duration_text(seconds: float | None) -> str:
    """`0.42 s`, `42.5 s`, `3 min 12 s`, `1 h 02 min`; `unknown` when the start was not known."""
    if seconds is None:
        return "unknown"
    if seconds < 10:
        return f"{seconds:.2f} s"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
