"""Semantic rules of the cancel answer, each with a stable clause id.

The schema says what each field may hold; these rules say how the fields of one answer must agree
with each other, with the request's path and with the run as it was created. A rule returns its
findings (empty: the clause holds) or `NotVerified` when the answer does not let it decide (for
instance a status outside the cancel set, which `cancel.status` already reports).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from runcancel.findings import Finding, NotVerified, preview
from runcancel.models import TERMINAL_STATUSES

__all__ = ["CONFIGURATION_FIELDS", "RULES", "CancelContext", "Rule", "check_rules"]

Outcome = list[Finding] | NotVerified
RunData = Mapping[str, Any]

# What a run keeps from its creation for its whole life; a cancel must not change any of it.
CONFIGURATION_FIELDS = (
    "assistant_id",
    "created_at",
    "model",
    "instructions",
    "tools",
    "metadata",
    "temperature",
    "top_p",
    "max_prompt_tokens",
    "max_completion_tokens",
    "truncation_strategy",
    "tool_choice",
    "response_format",
    "parallel_tool_calls",
)


@dataclass(frozen=True)
class CancelContext:
    """What the check knows besides the answer: the path's ids and the run as read before the cancel."""

    thread_id: str
    run_id: str
    before: RunData | None = None


@dataclass(frozen=True)
class Rule:
    clause: str
    title: str
    source: str
    check: Callable[[RunData, CancelContext], Outcome]


RULES: dict[str, Rule] = {}


def _rule(clause: str, title: str, source: str) -> Callable[[Callable[..., Outcome]], Callable[..., Outcome]]:
    def register(fn: Callable[[RunData, CancelContext], Outcome]) -> Callable[..., Outcome]:
        RULES[clause] = Rule(clause, title, source, fn)
        return fn

    return register


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _fail(clause: str, field: str, expected: str, observed: Any) -> list[Finding]:
    return [Finding(clause, f"$.{field}", expected, preview(observed))]


def _field(clause: str, run: RunData, name: str) -> Any:
    if name not in run:
        raise _Undecidable(NotVerified(clause, f"the answer has no `{name}` field (see schema.{name})"))
    return run[name]


class _Undecidable(Exception):
    def __init__(self, outcome: NotVerified) -> None:
        self.outcome = outcome


@_rule("cancel.id", "`id` is the run id of the request's path", "docs")
def _cancel_id(run: RunData, ctx: CancelContext) -> Outcome:
    value = _field("cancel.id", run, "id")
    return [] if value == ctx.run_id else _fail("cancel.id", "id", preview(ctx.run_id), value)


@_rule("cancel.thread_id", "`thread_id` is the thread id of the request's path", "docs")
def _cancel_thread_id(run: RunData, ctx: CancelContext) -> Outcome:
    value = _field("cancel.thread_id", run, "thread_id")
    ok = value == ctx.thread_id
    return [] if ok else _fail("cancel.thread_id", "thread_id", preview(ctx.thread_id), value)


@_rule("cancel.status", "status is `cancelling` (or already `cancelled`) after a cancel", "docs example")
def _cancel_status(run: RunData, ctx: CancelContext) -> Outcome:
    status = _field("cancel.status", run, "status")
    if status in ("cancelling", "cancelled"):
        return []
    return _fail("cancel.status", "status", '"cancelling" or "cancelled"', status)


@_rule(
    "cancel.cancelled_at",
    "`cancelled_at` is null while cancelling, and set (>= created_at) once cancelled",
    "docs example; live API",
)
def _cancel_cancelled_at(run: RunData, ctx: CancelContext) -> Outcome:
    status = _field("cancel.cancelled_at", run, "status")
    value = _field("cancel.cancelled_at", run, "cancelled_at")
    if status == "cancelling":
        return (
            []
            if value is None
            else _fail("cancel.cancelled_at", "cancelled_at", "null while cancelling", value)
        )
    if status == "cancelled":
        created = run.get("created_at")
        if not _is_int(value):
            return _fail("cancel.cancelled_at", "cancelled_at", "a timestamp once cancelled", value)
        if _is_int(created) and value < created:
            return _fail("cancel.cancelled_at", "cancelled_at", f">= created_at ({created})", value)
        return []
    return NotVerified(
        "cancel.cancelled_at", f"status is {preview(status)}, neither cancelling nor cancelled"
    )


def _null_after_cancel(field: str) -> Callable[[RunData, CancelContext], Outcome]:
    clause = f"cancel.{field}"

    def check(run: RunData, ctx: CancelContext) -> Outcome:
        value = _field(clause, run, field)
        return [] if value is None else _fail(clause, field, "null for a cancelled run", value)

    return check


for _name in ("completed_at", "failed_at"):
    RULES[f"cancel.{_name}"] = Rule(
        f"cancel.{_name}", f"`{_name}` is null after a cancel", "docs", _null_after_cancel(_name)
    )


def _set_only_with_status(field: str, status_value: str) -> Callable[[RunData, CancelContext], Outcome]:
    clause = f"state.{field}"

    def check(run: RunData, ctx: CancelContext) -> Outcome:
        status = _field(clause, run, "status")
        value = _field(clause, run, field)
        if status == status_value and value is None:
            return _fail(clause, field, f"set while status is {status_value}", value)
        if status != status_value and value is not None:
            return _fail(clause, field, f"null unless status is {status_value} (status is {status})", value)
        return []

    return check


for _name, _status in (
    ("required_action", "requires_action"),
    ("last_error", "failed"),
    ("incomplete_details", "incomplete"),
):
    RULES[f"state.{_name}"] = Rule(
        f"state.{_name}",
        f"`{_name}` is set exactly when status is `{_status}`",
        "docs",
        _set_only_with_status(_name, _status),
    )


@_rule("state.usage", "`usage` is null while the run is not in a terminal state", "docs")
def _state_usage(run: RunData, ctx: CancelContext) -> Outcome:
    status = _field("state.usage", run, "status")
    usage = _field("state.usage", run, "usage")
    if status not in TERMINAL_STATUSES and usage is not None:
        return _fail("state.usage", "usage", f"null while status is {status}", usage)
    return []


@_rule("state.expires_at", "`expires_at` is null once the run has finished", "live API")
def _state_expires_at(run: RunData, ctx: CancelContext) -> Outcome:
    status = _field("state.expires_at", run, "status")
    expires = _field("state.expires_at", run, "expires_at")
    if status in TERMINAL_STATUSES and expires is not None:
        return _fail("state.expires_at", "expires_at", f"null once {status}", expires)
    return []


@_rule("usage.totals", "`usage.total_tokens` is prompt_tokens + completion_tokens", "docs")
def _usage_totals(run: RunData, ctx: CancelContext) -> Outcome:
    usage = _field("usage.totals", run, "usage")
    if usage is None:
        return NotVerified("usage.totals", "usage is null in this answer")
    counts = usage if isinstance(usage, Mapping) else {}
    prompt, completion, total = (
        counts.get(k) for k in ("prompt_tokens", "completion_tokens", "total_tokens")
    )
    if not (isinstance(prompt, int) and isinstance(completion, int) and isinstance(total, int)):
        return NotVerified("usage.totals", "usage counts are not integers (see schema.usage)")
    if prompt < 0 or completion < 0 or total != prompt + completion:
        return _fail(
            "usage.totals", "usage.total_tokens", f"{prompt} + {completion} = {prompt + completion}", total
        )
    return []


@_rule("time.order", "timestamps are ordered: created <= started <= ended, expires_at >= created", "docs")
def _time_order(run: RunData, ctx: CancelContext) -> Outcome:
    created = _field("time.order", run, "created_at")
    if not _is_int(created):
        return NotVerified("time.order", "created_at is not an integer (see schema.created_at)")
    findings: list[Finding] = []
    started = run.get("started_at")
    floor, floor_name = created, "created_at"
    if _is_int(started):
        if started < created:
            findings += _fail("time.order", "started_at", f">= created_at ({created})", started)
        else:
            floor, floor_name = started, "started_at"
    for name in ("cancelled_at", "completed_at", "failed_at"):
        value = run.get(name)
        if _is_int(value) and value < floor:
            findings += _fail("time.order", name, f">= {floor_name} ({floor})", value)
    expires = run.get("expires_at")
    if _is_int(expires) and expires < created:
        findings += _fail("time.order", "expires_at", f">= created_at ({created})", expires)
    return findings


@_rule("cancel.keeps_config", "the run keeps the configuration it was created with", "docs")
def _keeps_config(run: RunData, ctx: CancelContext) -> Outcome:
    if ctx.before is None:
        return NotVerified("cancel.keeps_config", "the run was not read before the cancel")
    findings: list[Finding] = []
    for name in CONFIGURATION_FIELDS:
        if name in ctx.before and run.get(name, _MISSING) != ctx.before[name]:
            findings += _fail("cancel.keeps_config", name, preview(ctx.before[name]), run.get(name, "absent"))
    return findings


_MISSING = object()


def check_rules(run: Any, ctx: CancelContext, clauses: tuple[str, ...] | None = None) -> dict[str, Outcome]:
    """Run every rule (or the named ones) on a decoded cancel answer; clause -> outcome."""
    selected = [RULES[c] for c in clauses] if clauses is not None else list(RULES.values())
    outcomes: dict[str, Outcome] = {}
    for rule in selected:
        if not isinstance(run, Mapping):
            outcomes[rule.clause] = NotVerified(rule.clause, "the answer is not a JSON object")
            continue
        try:
            outcomes[rule.clause] = rule.check(run, ctx)
        except _Undecidable as exc:
            outcomes[rule.clause] = exc.outcome
    return outcomes
