"""Findings: what a check says about one answer of a target.

Data flows one way: target -> response -> checks -> findings -> reports. Checks return findings and
never print; writers format findings and never check.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Evidence",
    "Finding",
    "NotVerified",
    "Severity",
    "TargetVerdict",
    "fold",
    "folded_lines",
    "json_path",
    "preview",
    "state_text",
]


class Severity(enum.StrEnum):
    """How much a deviation matters to a client written against the documented endpoint."""

    BREAKING = "breaking"
    ADDITIVE = "additive"
    INFO = "info"


@dataclass(frozen=True)
class Evidence:
    """The request that produced an answer, and the answer's status (never headers: they hold keys)."""

    method: str
    url: str
    status: int | None = None

    def __str__(self) -> str:
        answered = f" -> {self.status}" if self.status is not None else ""
        return f"{self.method} {self.url}{answered}"


@dataclass(frozen=True)
class Finding:
    """One deviation from the contract: which clause, where, what was expected and what was seen."""

    clause: str
    path: str
    expected: str
    observed: str
    severity: Severity = Severity.BREAKING
    evidence: Evidence | None = field(default=None, compare=False)

    def with_evidence(self, evidence: Evidence | None) -> Finding:
        return Finding(self.clause, self.path, self.expected, self.observed, self.severity, evidence)

    def under(self, clause: str) -> Finding:
        """The same finding reported under another clause, naming the one it came from."""
        if clause == self.clause:
            return self
        observed = f"{self.observed} ({self.clause})"
        return Finding(clause, self.path, self.expected, observed, self.severity, self.evidence)

    def __str__(self) -> str:
        text = f"[{self.clause}] {self.path}: expected {self.expected}; observed {self.observed}"
        if self.severity is not Severity.BREAKING:
            text += f" ({self.severity.value})"
        if self.evidence is not None:
            text += f"\n    request: {self.evidence}"
        return text


def preview(value: Any, limit: int = 120) -> str:
    """A short, single-line rendering of an observed value."""
    if isinstance(value, bytes | bytearray):
        text = bytes(value[:limit]).decode("utf-8", errors="replace")
        return repr(text) + ("..." if len(value) > limit else "")
    try:
        text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def json_path(parts: tuple[str | int, ...] | list[str | int]) -> str:
    """`('tools', 0, 'type')` -> `$.tools[0].type`."""
    out = "$"
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


@dataclass(frozen=True)
class NotVerified:
    """A clause that could not be checked on this answer or target, and why. Never a pass."""

    clause: str
    reason: str

    def __str__(self) -> str:
        return f"[{self.clause}] not verified: {self.reason}"


@dataclass(frozen=True)
class TargetVerdict:
    """A statement about the whole target (say `endpoint-retired`), reported once and first."""

    kind: str
    message: str
    evidence: Sequence[str] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "evidence", tuple(self.evidence))


_INDEX = re.compile(r"\[\d+\]")


def _fold_key(f: Finding) -> tuple[str, str, str, Severity]:
    """What makes two findings the same fault: clause, path (any list index), expectation, severity.

    The observed value and the request may differ (each answer of a mock names other values)."""
    return (f.clause, _INDEX.sub("[]", f.path), f.expected, f.severity)


def fold(findings: Iterable[Finding]) -> list[tuple[Finding, int]]:
    """Identical findings once each, with how many times they came, in the order first seen."""
    first: dict[tuple[str, str, str, Severity], Finding] = {}
    counts: dict[tuple[str, str, str, Severity], int] = {}
    for f in findings:
        key = _fold_key(f)
        first.setdefault(key, f)
        counts[key] = counts.get(key, 0) + 1
    return [(first[key], counts[key]) for key in first]


_LEAF = re.compile(r"^(?P<parent>.+)\.(?P<key>[^.\[\]]+)$")
# More distinct undocumented keys than this under one object are one line (a mock inventing keys).
KEYS_SHOWN = 3


def folded_lines(findings: Iterable[Finding], *, prefix: str = "", limit: int = 20) -> list[str]:
    """One line a distinct finding, with its count, at most `limit` of them, then how many more.

    Many distinct undocumented keys under one object (`$.usage.x1`, `$.usage.x2`, ...) are one line
    naming the object, how many keys, and a few of them."""
    folded = fold(findings)
    by_parent: dict[tuple[str, str], list[tuple[Finding, int]]] = {}
    for f, count in folded:
        leaf = _LEAF.match(_INDEX.sub("[]", f.path))
        if f.clause.endswith("undocumented_field") and leaf:
            by_parent.setdefault((f.clause, leaf["parent"]), []).append((f, count))
    entries: list[tuple[str, int]] = []
    grouped: set[tuple[str, str]] = set()
    for f, count in folded:
        leaf = _LEAF.match(_INDEX.sub("[]", f.path))
        group = (f.clause, leaf["parent"]) if leaf else None
        if group is not None and len(by_parent.get(group, [])) > KEYS_SHOWN:
            if group not in grouped:
                grouped.add(group)
                members = by_parent[group]
                keys = ", ".join(m.path.rsplit(".", 1)[-1] for m, _ in members[:KEYS_SHOWN])
                seen = sum(c for _, c in members)
                text = f"[{f.clause}] {group[1]}: {len(members)} undocumented keys (e.g. {keys}, ...)"
                text += f", {seen} findings in all" if seen > len(members) else ""
                entries.append((text, 1))
            continue
        path = _INDEX.sub("[]", f.path) if count > 1 else f.path
        entries.append((f"[{f.clause}] {path}: {f.observed}", count))
    lines = [
        f"{prefix}{text}" + (f" ({count} times)" if count > 1 else "") for text, count in entries[:limit]
    ]
    if len(entries) > limit:
        rest = entries[limit:]
        lines.append(
            f"{prefix}... and {len(rest)} more distinct findings ({sum(c for _, c in rest)} in all): "
            "see findings.json"
        )
    return lines


def state_text(state: str, findings: Sequence[Finding]) -> str:
    """A clause's state as shown to people: a passed clause that carries findings says how many.

    A clause holds when none of its findings is breaking; its additive and info findings are
    still findings, and `passed` alone beside them would hide them."""
    if state != "passed" or not findings:
        return state
    by = {s: sum(1 for f in findings if f.severity is s) for s in (Severity.ADDITIVE, Severity.INFO)}
    counted = [f"{n} {s.value}" for s, n in by.items() if n]
    return f"passed, with {' and '.join(counted)} finding{'s' if len(findings) > 1 else ''}"
