"""The live Run's history as data: its key-set eras and when each field came or went upstream.

The eras are the key sets (in the live order) that recordings of the live API show, 2023-11 to 2026-03;
the field history is the documented schema's (the upstream OpenAPI description of RunObject). A Run,
a recording or a target is given the era whose key set it matches, or the closest one with the
difference named, so drift findings can say "added upstream 2024-06" instead of only "new field".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ERAS",
    "FIELD_HISTORY",
    "USAGE_ERAS",
    "Era",
    "EraMatch",
    "era_named",
    "era_of",
    "eras_seen",
    "field_note",
    "session_era",
    "usage_era",
]

_V1_CORE = (
    "id",
    "object",
    "created_at",
    "assistant_id",
    "thread_id",
    "status",
    "started_at",
    "expires_at",
    "cancelled_at",
    "failed_at",
    "completed_at",
)
_TAIL_2024_04 = (
    "temperature",
    "top_p",
    "max_completion_tokens",
    "max_prompt_tokens",
    "truncation_strategy",
    "incomplete_details",
    "usage",
    "response_format",
    "tool_choice",
)


@dataclass(frozen=True)
class Era:
    """One key set of the live Run, from the month it was first seen until the next era."""

    name: str  # the month first seen, e.g. "2024-06"; a variant of the same month has a suffix
    api: str  # the OpenAI-Beta version it was answered under: "v1" or "v2"
    keys: tuple[str, ...]  # in the live order
    change: str  # what changed against the era before
    until: str | None  # the month before the next era of the same API line, None for the newest

    @property
    def span(self) -> str:
        if self.until:
            return f"{self.name}..{self.until}"
        return f"{self.name}.." if self.api == "v2" else self.name


def _head(files: str) -> tuple[str, ...]:
    """The keys up to `metadata` from 2024-02 on: v1's `file_ids` or v2's `tool_resources` in one place."""
    return (*_V1_CORE, "required_action", "last_error", "model", "instructions", "tools", files, "metadata")


ERAS: tuple[Era, ...] = (
    Era(
        "2023-11",
        "v1",
        (*_V1_CORE, "last_error", "model", "instructions", "tools", "file_ids", "metadata"),
        "the endpoint's first shape (v1, `file_ids`)",
        "2024-01",
    ),
    Era("2024-02", "v1", (*_head("file_ids"), "usage"), "+ `required_action`, `usage`", "2024-03"),
    Era(
        "2024-04-v1",
        "v1",
        (*_head("file_ids"), *_TAIL_2024_04),
        "+ `incomplete_details`, `max_completion_tokens`, `max_prompt_tokens`, `response_format`, "
        "`temperature`, `tool_choice`, `top_p`, `truncation_strategy` (v1, after the v2 launch)",
        None,
    ),
    Era(
        "2024-04",
        "v2",
        (*_head("tool_resources"), *_TAIL_2024_04),
        "v2: + `tool_resources`, - `file_ids`",
        "2024-05",
    ),
    Era(
        "2024-06",
        "v2",
        (*_head("tool_resources"), *_TAIL_2024_04, "parallel_tool_calls"),
        "+ `parallel_tool_calls`",
        "2025-02",
    ),
    Era(
        "2025-03",
        "v2",
        (
            *_head("tool_resources"),
            "temperature",
            "top_p",
            "reasoning_effort",
            *_TAIL_2024_04[2:],
            "parallel_tool_calls",
        ),
        "+ `reasoning_effort`",
        None,
    ),
)
NEWEST = ERAS[-1]

# `usage` of a finished run, by the month its key set was first seen.
USAGE_ERAS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("2024-02", ("prompt_tokens", "completion_tokens", "total_tokens")),
    ("2025-01", ("prompt_tokens", "completion_tokens", "total_tokens", "prompt_token_details")),
    (
        "2025-09",
        (
            "prompt_tokens",
            "completion_tokens",
            "total_tokens",
            "prompt_token_details",
            "completion_tokens_details",
        ),
    ),
)

# When a field of the Run came or went upstream: the documented schema's history where it names the
# field, else the month live recordings first showed it (said so).
FIELD_HISTORY: dict[str, str] = {
    "file_ids": "removed upstream 2024-04 (v2)",
    "usage": "added upstream 2024-01",
    "required_action": "live since 2024-02",
    "temperature": "added upstream 2024-03",
    "incomplete_details": "added upstream 2024-04",
    "max_prompt_tokens": "added upstream 2024-04",
    "max_completion_tokens": "added upstream 2024-04",
    "response_format": "added upstream 2024-04",
    "tool_choice": "added upstream 2024-04",
    "truncation_strategy": "added upstream 2024-04",
    "top_p": "added upstream 2024-04",
    "tool_resources": "live since 2024-04 (v2), not in the documented Run",
    "parallel_tool_calls": "added upstream 2024-06",
    "reasoning_effort": "live since 2025-03, not in the documented Run",
    "usage.prompt_token_details": "live since 2025-01, not in the documented Run",
    "usage.completion_tokens_details": "live since 2025-09, not in the documented Run",
}


def field_note(path: str) -> str | None:
    """The upstream history of a Run field (`parallel_tool_calls`, `$.usage.prompt_token_details`)."""
    name = path.removeprefix("$.").removeprefix("$")
    return FIELD_HISTORY.get(name)


def era_named(name: str) -> Era:
    for era in ERAS:
        if era.name == name:
            return era
    names = ", ".join(era.name for era in ERAS)
    raise KeyError(f"no era {name!r}; the eras are {names}")


@dataclass(frozen=True)
class EraMatch:
    """The era a Run's key set matches, or the closest one and how it differs."""

    era: Era
    count: int  # keys of the Run
    missing: tuple[str, ...]  # keys of the era the Run lacks
    extra: tuple[str, ...]  # keys the Run has that the era lacks
    in_order: bool  # the Run's keys (those of the era) come in the era's order

    @property
    def exact(self) -> bool:
        return not self.missing and not self.extra

    def describe(self) -> str:
        """`28 keys: like 2024-06..2025-02; no `reasoning_effort`` (the difference to the newest era)."""
        if self.exact:
            head = f"{self.count} keys: like {self.era.span}"
            against = NEWEST
            lacks = [k for k in against.keys if k not in self.era.keys]
            more = [k for k in self.era.keys if k not in against.keys]
        else:
            head = f"{self.count} keys: closest to {self.era.span}"
            lacks, more = list(self.missing), list(self.extra)
        parts = [head]
        if lacks:
            parts.append("no " + ", ".join(f"`{k}`" for k in lacks))
        if more:
            parts.append("also " + ", ".join(f"`{k}`" for k in more))
        if not self.in_order:
            parts.append("keys in another order")
        return "; ".join(parts)

    def as_json(self) -> dict[str, Any]:
        return {
            "era": self.era.name,
            "exact": self.exact,
            "keys": self.count,
            "missing": list(self.missing),
            "extra": list(self.extra),
            "in_order": self.in_order,
            "description": self.describe(),
        }


def era_of(keys: Iterable[str]) -> EraMatch:
    """The era whose key set the given keys match; otherwise the closest (fewest differences, newest)."""
    seen = list(keys)
    present = set(seen)
    best: EraMatch | None = None
    best_score = 0
    for era in ERAS:
        wanted = set(era.keys)
        missing = tuple(k for k in era.keys if k not in present)
        extra = tuple(k for k in seen if k not in wanted)
        order = [k for k in seen if k in wanted]
        in_order = order == [k for k in era.keys if k in present]
        score = len(missing) + len(extra)
        if best is None or score <= best_score:
            best, best_score = EraMatch(era, len(seen), missing, extra, in_order), score
    assert best is not None
    return best


def usage_era(usage: Mapping[str, Any]) -> str | None:
    """The month the key set of a finished run's `usage` was first seen, or None for another set."""
    keys = tuple(usage)
    for name, wanted in reversed(USAGE_ERAS):
        if set(keys) == set(wanted):
            return name
    return None


def eras_seen(runs: Iterable[Mapping[str, Any]]) -> list[tuple[EraMatch, int]]:
    """The era of each key set the given Runs show, with how many Runs showed it, most first."""
    counts: dict[tuple[str, ...], int] = {}
    for run in runs:
        keys = tuple(run)
        counts[keys] = counts.get(keys, 0) + 1
    ranked = sorted(counts.items(), key=lambda item: -item[1])
    return [(era_of(keys), count) for keys, count in ranked]


def session_era(runs: Iterable[Mapping[str, Any]]) -> EraMatch | None:
    """The era of the Runs a session (or a recording) saw: that of the key set most of them show;
    None when there was no Run."""
    seen = eras_seen(runs)
    return seen[0][0] if seen else None
