"""Accepted deviations: what a target's owner knows and accepts, reported as such, never hidden.

A small YAML or TOML file (`--accept FILE`) lists entries, each naming a clause id, a finding path,
or both, with a required reason:

```yaml
accept:
  - clause: headers.openai-processing-ms
    reason: our gateway strips timing headers
  - clause: schema.undocumented_field
    path: $.tool_resources
    reason: the live API sends it too
  - path: $.tools[].x        # [] matches any index
    reason: vendor extension, read by nobody
```

```toml
[[accept]]
clause = "headers.openai-processing-ms"
reason = "our gateway strips timing headers"
```

What an entry names is *accepted*, with its reason: not passed, not failed. A clause whose findings
are all accepted reads `accepted`; a clause with a breaking finding no entry names still fails.
Entries that named nothing in the run are listed as unused, so the file cannot rot silently.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runcancel.findings import Finding, Severity

__all__ = [
    "ACCEPTED",
    "AcceptError",
    "Acceptance",
    "AcceptedClause",
    "Entry",
    "apply_accepted",
    "load_accepted",
]

ACCEPTED = "accepted"
KEYS = frozenset({"clause", "path", "reason"})
_INDEX = re.compile(r"\[\d+\]")
_EXAMPLE = (
    "Example (YAML): `accept:` then a list of `- clause: headers.openai-version` / `  reason: why`; "
    "in TOML, `[[accept]]` tables with `clause = ...` and `reason = ...`."
)


class AcceptError(ValueError):
    """The accepted-deviations file cannot be used; the message is one paragraph."""


@dataclass(frozen=True)
class Entry:
    """One accepted deviation: a clause, a finding path (`[]` for any list index), or both."""

    reason: str
    clause: str | None = None
    path: str | None = None
    where: str = ""  # file and entry number, for messages

    def names(self, f: Finding) -> bool:
        if self.clause is not None and f.clause != self.clause:
            return False
        if self.path is None:
            return True
        return f.path == self.path or _INDEX.sub("[]", f.path) == self.path

    def __str__(self) -> str:
        named = " ".join(
            part
            for part in (self.clause and f"clause {self.clause}", self.path and f"path {self.path}")
            if part
        )
        return f"{named} ({self.where}): {self.reason}"


def load_accepted(
    path: Path, known_clauses: Iterable[str] | None = None, *, given: str | None = None
) -> list[Entry]:
    """The entries of `path`; AcceptError, in one paragraph, for a file that cannot be used. `given`
    names the setting as the user gave it (`--accept FILE`, `RUNCANCEL_ACCEPT FILE`) in messages."""
    given = given or f"--accept {path}"
    if not path.is_file():
        raise AcceptError(
            f"runcancel: {given}: no such file. Give the path of a YAML (.yaml, .yml) or TOML (.toml) file "
            f"of accepted deviations, or leave --accept out. {_EXAMPLE}"
        )
    import yaml  # here: importing this module stays cheap

    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise AcceptError(
            f"runcancel: {given} cannot be read ({exc.strerror or type(exc).__name__}). Make the file "
            f"readable, or leave --accept out. {_EXAMPLE}"
        ) from None
    suffix = path.suffix.lower()
    try:
        if suffix == ".toml":
            data: Any = tomllib.loads(text)
        elif suffix in (".yaml", ".yml"):
            data = yaml.safe_load(text)
        else:
            raise AcceptError(
                f"runcancel: {given}: the file must end in .yaml, .yml or .toml (it ends in "
                f"{suffix or 'nothing'}), so that its format is known. Rename it. {_EXAMPLE}"
            )
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise AcceptError(
            f"runcancel: {given} is not valid {'TOML' if suffix == '.toml' else 'YAML'} ({first}). Fix the "
            f"file at that place. {_EXAMPLE}"
        ) from None
    items = data.get("accept") if isinstance(data, dict) else None
    if not isinstance(items, list) or not items:
        found = "nothing" if items is None else f"a {type(items).__name__}" if items else "an empty list"
        raise AcceptError(
            f"runcancel: {given} has no `accept` list of entries (found {found} under `accept`). "
            f"Put the accepted deviations in a list under `accept`. {_EXAMPLE}"
        )
    known = set(known_clauses) if known_clauses is not None else None
    return [_entry(item, f"{path.name} entry {i}", given, known) for i, item in enumerate(items, 1)]


def _entry(item: Any, where: str, given: str, known: set[str] | None) -> Entry:
    def bad(what: str) -> AcceptError:
        return AcceptError(
            f"runcancel: {given}: {where} {what}. Each entry has a `reason` (why the deviation is "
            "accepted) and a `clause` (a clause id), a `path` (a finding's JSON path or header, `[]` for any "
            f"index), or both; nothing else. {_EXAMPLE}"
        )

    if not isinstance(item, dict):
        raise bad(f"is {type(item).__name__}, not a table of clause, path and reason")
    extra = sorted(set(item) - KEYS)
    if extra:
        raise bad(f"has unknown keys {', '.join(map(str, extra))}")
    reason, clause, path = item.get("reason"), item.get("clause"), item.get("path")
    if not isinstance(reason, str) or not reason.strip():
        raise bad("has no reason")
    for name, value in (("clause", clause), ("path", path)):
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise bad(f"has a {name} that is not a non-empty string")
    if clause is None and path is None:
        raise bad("names neither a clause nor a path")
    if known is not None and clause is not None and clause not in known:
        raise bad(f"names clause {clause!r}, which is not a clause of the catalogue (see findings.json)")
    return Entry(reason.strip(), clause, path, where)


@dataclass(frozen=True)
class AcceptedClause:
    """One clause after the accepted deviations: its state, what was accepted and why, what remains."""

    id: str
    state: str
    findings: tuple[Finding, ...]  # not accepted: these still weigh under the policy
    accepted: tuple[tuple[Finding, str], ...] = ()  # each accepted finding with its reason
    reasons: tuple[str, ...] = ()  # the reasons of the entries that applied


@dataclass(frozen=True)
class Acceptance:
    clauses: dict[str, AcceptedClause] = field(default_factory=dict)
    unused: tuple[Entry, ...] = ()

    def unused_lines(self) -> list[str]:
        return [f"accepted deviation not seen in this run: {e}" for e in self.unused]


def apply_accepted(
    clauses: Mapping[str, tuple[str, Sequence[Finding]]], entries: Sequence[Entry]
) -> Acceptance:
    """Clause id -> (state, findings) after the entries: a clause whose findings are all accepted is
    `accepted` (failed or passed before); one with a breaking finding left still fails; a not-verified
    clause stays so. An entry that names no finding (nor a failed clause) is unused."""
    used: set[int] = set()
    out: dict[str, AcceptedClause] = {}
    for clause_id, (state, findings) in clauses.items():
        if state == "not verified" or not findings:
            out[clause_id] = AcceptedClause(clause_id, state, tuple(findings))
            continue
        left: list[Finding] = []
        accepted: list[tuple[Finding, str]] = []
        reasons: dict[str, None] = {}
        for f in findings:
            match = next((i for i, e in enumerate(entries) if e.names(f)), None)
            if match is None:
                left.append(f)
            else:
                used.add(match)
                accepted.append((f, entries[match].reason))
                reasons[entries[match].reason] = None
        if not accepted:
            out[clause_id] = AcceptedClause(clause_id, state, tuple(findings))
            continue
        if any(f.severity is Severity.BREAKING for f in left):
            new_state = "failed"
        elif state == "failed" or not left:
            new_state = ACCEPTED  # every breaking finding, or every finding, is accepted
        else:
            new_state = state  # passed, with findings still to show
        out[clause_id] = AcceptedClause(clause_id, new_state, tuple(left), tuple(accepted), tuple(reasons))
    unused = tuple(e for i, e in enumerate(entries) if i not in used)
    return Acceptance(out, unused)
