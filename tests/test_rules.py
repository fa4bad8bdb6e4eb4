"""The semantic rules of a cancel answer, one clause at a time."""

from __future__ import annotations

from typing import Any

import pytest

from runcancel.findings import NotVerified
from runcancel.rules import RULES, CancelContext, check_rules

BEFORE: dict[str, Any] = {
    "id": "run_1",
    "thread_id": "thread_1",
    "assistant_id": "asst_1",
    "object": "thread.run",
    "status": "in_progress",
    "created_at": 100,
    "started_at": 101,
    "expires_at": 700,
    "cancelled_at": None,
    "completed_at": None,
    "failed_at": None,
    "required_action": None,
    "last_error": None,
    "incomplete_details": None,
    "usage": None,
    "model": "gpt-4o-mini",
    "instructions": "Be brief.",
    "tools": [],
    "metadata": {"k": "v"},
    "temperature": 1.0,
    "top_p": 1.0,
    "max_prompt_tokens": None,
    "max_completion_tokens": None,
    "truncation_strategy": {"type": "auto", "last_messages": None},
    "tool_choice": "auto",
    "response_format": "auto",
    "parallel_tool_calls": True,
}
CANCELLING = {**BEFORE, "status": "cancelling"}
CANCELLED = {
    **BEFORE,
    "status": "cancelled",
    "cancelled_at": 102,
    "expires_at": None,
    "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
}
CTX = CancelContext("thread_1", "run_1", before=BEFORE)


@pytest.mark.parametrize(
    "answer", [pytest.param(CANCELLING, id="cancelling"), pytest.param(CANCELLED, id="cancelled")]
)
def test_a_faithful_answer_breaks_no_rule(answer: dict[str, Any]) -> None:
    """A cancelling or cancelled answer that follows the docs keeps every rule it can decide."""
    outcomes = check_rules(answer, CTX)
    assert {c: o for c, o in outcomes.items() if o and not isinstance(o, NotVerified)} == {}


@pytest.mark.parametrize(
    ("change", "clause", "path"),
    [
        pytest.param({"id": "run_2"}, "cancel.id", "$.id", id="id"),
        pytest.param({"thread_id": "thread_2"}, "cancel.thread_id", "$.thread_id", id="thread_id"),
        pytest.param({"status": "queued"}, "cancel.status", "$.status", id="status"),
        pytest.param({"cancelled_at": 102}, "cancel.cancelled_at", "$.cancelled_at", id="cancelled_at-early"),
        pytest.param({"completed_at": 103}, "cancel.completed_at", "$.completed_at", id="completed_at"),
        pytest.param({"failed_at": 103}, "cancel.failed_at", "$.failed_at", id="failed_at"),
        pytest.param(
            {"required_action": {"type": "submit_tool_outputs"}},
            "state.required_action",
            "$.required_action",
            id="ra",
        ),
        pytest.param(
            {"last_error": {"code": "server_error", "message": "m"}},
            "state.last_error",
            "$.last_error",
            id="le",
        ),
        pytest.param(
            {"incomplete_details": {"reason": "max_prompt_tokens"}},
            "state.incomplete_details",
            "$.incomplete_details",
            id="incomplete",
        ),
        pytest.param(
            {"usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}},
            "state.usage",
            "$.usage",
            id="usage",
        ),
        pytest.param({"started_at": 99}, "time.order", "$.started_at", id="started-before-created"),
        pytest.param({"expires_at": 50}, "time.order", "$.expires_at", id="expires-before-created"),
        pytest.param({"model": "gpt-4o"}, "cancel.keeps_config", "$.model", id="model"),
        pytest.param({"metadata": {}}, "cancel.keeps_config", "$.metadata", id="metadata"),
        pytest.param({"tools": [{"type": "code_interpreter"}]}, "cancel.keeps_config", "$.tools", id="tools"),
    ],
)
def test_each_rule_names_its_breach(change: dict[str, Any], clause: str, path: str) -> None:
    """One wrong field in a cancelling answer breaks exactly its rule, at its path."""
    outcomes = check_rules({**CANCELLING, **change}, CTX)
    broken = {c: o for c, o in outcomes.items() if isinstance(o, list) and o}
    assert list(broken) == [clause]
    assert [f.path for f in broken[clause]] == [path]


@pytest.mark.parametrize(
    ("answer", "clause", "path"),
    [
        pytest.param(
            {**CANCELLED, "cancelled_at": None}, "cancel.cancelled_at", "$.cancelled_at", id="unset"
        ),
        pytest.param(
            {**CANCELLED, "cancelled_at": 99}, "cancel.cancelled_at", "$.cancelled_at", id="before-created"
        ),
        pytest.param(
            {**CANCELLED, "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 6}},
            "usage.totals",
            "$.usage.total_tokens",
            id="totals",
        ),
    ],
)
def test_cancelled_answers_are_checked_too(answer: dict[str, Any], clause: str, path: str) -> None:
    """Once cancelled, cancelled_at must be set and not before created_at; usage must add up."""
    outcome = check_rules(answer, CTX, (clause,))[clause]
    assert isinstance(outcome, list)
    assert [f.path for f in outcome] == [path]


def test_undecidable_rules_are_not_verified_never_passed() -> None:
    """A rule the answer cannot decide says why instead of passing."""
    outcomes = check_rules({**CANCELLING, "status": "completed"}, CancelContext("thread_1", "run_1"))
    assert isinstance(outcomes["cancel.cancelled_at"], NotVerified)
    assert isinstance(outcomes["cancel.keeps_config"], NotVerified)
    assert isinstance(outcomes["usage.totals"], NotVerified)
    missing = check_rules({k: v for k, v in CANCELLING.items() if k != "id"}, CTX, ("cancel.id",))
    assert isinstance(missing["cancel.id"], NotVerified)
    assert "schema.id" in missing["cancel.id"].reason
    assert all(isinstance(o, NotVerified) for o in check_rules(["not", "an", "object"], CTX).values())


def test_every_rule_has_a_unique_dotted_clause_id() -> None:
    """Clause ids are stable, dotted and unique; each rule has a one-line title and a source."""
    for clause, rule in RULES.items():
        assert clause == rule.clause
        assert clause.count(".") == 1
        assert rule.title
        assert "\n" not in rule.title
        assert rule.source
