"""Shape: every clause of a cancel answer, checked on one cancel of an in-progress run.

The answer is checked against the contract document and the models (one clause a documented
field), against the semantic rules (ids echoed, status, timestamps, usage, configuration kept), and
for the live API's headers, and read with the official openai package's own Run type. Test ids are
the clause ids.
"""

from __future__ import annotations

from typing import Any

import pytest

from runcancel.arrange import NotArranged
from runcancel.checks import check_cancel_answer
from runcancel.clauses import schema_clauses
from runcancel.consumer import CLAUSE as CONSUMER
from runcancel.consumer import consume_run
from runcancel.findings import Evidence, NotVerified
from runcancel.rules import RULES, CancelContext, check_rules

CLAUSES = [
    "answer.status",
    "answer.json",
    "headers.x-request-id",
    "headers.openai-version",
    "headers.openai-processing-ms",
    *(c.id for c in schema_clauses()),
    *RULES,
    CONSUMER,
]

READ_BACK = ("usage.totals", "time.order", "state.usage", "cancel.id", "cancel.thread_id")


@pytest.fixture(scope="module")
def cancel_outcomes(runcancel_arrangers: Any, runcancel_client: Any) -> dict[str, Any]:
    """Cancel one in-progress run and check every clause of the answer, once for the module."""
    arrange = runcancel_arrangers()
    try:
        arranged = arrange.run("in_progress")
        exchange = runcancel_client.cancel(arranged.thread_id, arranged.run_id)
        ctx = CancelContext(arranged.thread_id, arranged.run_id, before=arranged.run)
        outcomes = check_cancel_answer(exchange, ctx)
        outcomes[CONSUMER] = (
            consume_run(exchange)
            if 200 <= exchange.status < 300
            else NotVerified(CONSUMER, f"the cancel answered {exchange.status}, not a Run")
        )
        if exchange.status == 200:
            # The run's own rules (usage totals, say) hold once it is cancelled too: a clause the
            # `cancelling` answer cannot decide is decided on the run read back `cancelled`.
            try:
                cancelled = arrange.wait_for(arranged.thread_id, arranged.run_id, "cancelled")
            except NotArranged:
                return outcomes
            read = Evidence(
                "GET", f"{runcancel_client.target.base_url}/threads/{ctx.thread_id}/runs/{ctx.run_id}", 200
            )
            for clause, later in check_rules(cancelled, ctx, READ_BACK).items():
                if isinstance(outcomes[clause], NotVerified):
                    outcomes[clause] = (
                        later if isinstance(later, NotVerified) else [f.with_evidence(read) for f in later]
                    )
        return outcomes
    finally:
        arrange.cleanup()


@pytest.mark.parametrize("clause", CLAUSES)
def test_cancel_answer(clause: str, cancel_outcomes: dict[str, Any], verdict: Any) -> None:
    """The cancel answer keeps this clause of the contract."""
    verdict(clause, cancel_outcomes[clause])
