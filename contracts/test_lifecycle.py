"""Lifecycle: which runs can be cancelled, what a cancelled run reads back, and what cannot be done.

Each test arranges its runs through the target's public API. A status the target could not be put
into is reported as not verified (skipped with the reason), never as passed.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from runcancel.checks import ErrorExpectation, check_cancel_answer, check_error_answer, decode, status_kept
from runcancel.consumer import CLAUSE as CONSUMER
from runcancel.consumer import consume_run
from runcancel.findings import Finding, Severity, preview
from runcancel.models import run_findings
from runcancel.rules import CancelContext, check_rules


def clause(clause_id: str) -> Any:
    """Mark a test with its clause and make the clause its test id."""

    def mark(fn: Any) -> Any:
        fn = pytest.mark.clause(clause_id)(fn)
        return pytest.mark.parametrize("clause", [pytest.param(clause_id, id=clause_id)])(fn)

    return mark


def _restated(clause_id: str, outcomes: dict[str, Any]) -> list[Finding]:
    """Every breaking finding among the outcomes, reported under this lifecycle clause."""
    return [
        f.under(clause_id)
        for outcome in outcomes.values()
        if isinstance(outcome, list)
        for f in outcome
        if f.severity is Severity.BREAKING
    ]


def _cancel_findings(clause_id: str, client: Any, arranged: Any) -> list[Finding]:
    """A cancel of a cancellable run: a 200 Run that keeps every clause of the shape suite, and that
    the official openai package reads."""
    exchange = client.cancel(arranged.thread_id, arranged.run_id)
    ctx = CancelContext(arranged.thread_id, arranged.run_id, arranged.run)
    outcomes = check_cancel_answer(exchange, ctx)
    if 200 <= exchange.status < 300:
        outcomes[CONSUMER] = consume_run(exchange)
    return _restated(clause_id, outcomes)


@clause("lifecycle.cancel_queued")
def test_cancel_queued(clause: str, arrange: Any, runcancel_client: Any, verdict: Any) -> None:
    """A queued run can be cancelled."""
    verdict(clause, _cancel_findings(clause, runcancel_client, arrange.run("queued")))


@clause("lifecycle.cancel_in_progress")
def test_cancel_in_progress(clause: str, arrange: Any, runcancel_client: Any, verdict: Any) -> None:
    """An in-progress run can be cancelled."""
    verdict(clause, _cancel_findings(clause, runcancel_client, arrange.run("in_progress")))


@clause("lifecycle.cancel_requires_action")
def test_cancel_requires_action(clause: str, arrange: Any, runcancel_client: Any, verdict: Any) -> None:
    """A run waiting for tool outputs can be cancelled, and its required_action clears."""
    arranged = arrange.run("requires_action")
    findings = _cancel_findings(clause, runcancel_client, arranged)
    answer = arrange.read(arranged.thread_id, arranged.run_id)
    data, _ = decode(answer)
    if isinstance(data, dict) and data.get("required_action") is not None:
        findings.append(
            Finding(
                clause,
                "$.required_action",
                "null once cancelling",
                preview(data["required_action"]),
                evidence=answer.evidence,
            )
        )
    verdict(clause, findings)


@clause("lifecycle.read_back_cancelled")
def test_read_back_cancelled(clause: str, arrange: Any, runcancel_client: Any, verdict: Any) -> None:
    """After a cancel the run reads back `cancelled`: cancelled_at set (>= created_at), completed_at
    and failed_at null, its configuration kept, and every other rule of a run held."""
    arranged = arrange.run("in_progress")
    exchange = runcancel_client.cancel(arranged.thread_id, arranged.run_id)
    if exchange.status != 200:
        verdict(clause, [Finding(clause, "status", "200", str(exchange.status), evidence=exchange.evidence)])
    deadline, pause = time.monotonic() + arrange.wait, arrange.poll_pause
    while True:
        answer = arrange.read(arranged.thread_id, arranged.run_id)
        data, bad = decode(answer)
        status = data.get("status") if isinstance(data, dict) else None
        if bad or status != "cancelling" or time.monotonic() > deadline:
            break
        time.sleep(pause)
        pause = min(pause * 2, 0.5)
    findings = [f.under(clause) for f in bad]
    if not bad and status != "cancelled":
        findings.append(Finding(clause, "$.status", '"cancelled"', preview(status), evidence=answer.evidence))
    elif not bad:
        ctx = CancelContext(arranged.thread_id, arranged.run_id, arranged.run)
        outcomes: dict[str, Any] = {
            **check_rules(data, ctx),
            "schema": run_findings(data),
            CONSUMER: consume_run(answer),
        }
        findings += [f.with_evidence(answer.evidence) for f in _restated(clause, outcomes)]
    verdict(clause, findings)


def _not_cancellable(status: str) -> ErrorExpectation:
    return ErrorExpectation(400, message=f"Cannot cancel run with status '{status}'.")


@clause("lifecycle.cancel_twice")
def test_cancel_twice(clause: str, arrange: Any, runcancel_client: Any, verdict: Any) -> None:
    """A second cancel is refused with 400 naming the run's status (cancelling, or cancelled)."""
    arranged = arrange.run("in_progress")
    first = runcancel_client.cancel(arranged.thread_id, arranged.run_id)
    second = runcancel_client.cancel(arranged.thread_id, arranged.run_id)
    if first.status != 200:
        verdict(
            clause,
            [
                Finding(
                    clause, "status", "200 for the first cancel", str(first.status), evidence=first.evidence
                )
            ],
        )
    data, _ = decode(second)
    message = (
        data.get("error", {}).get("message", "")
        if isinstance(data, dict) and isinstance(data.get("error"), dict)
        else ""
    )
    status = "cancelled" if "'cancelled'" in str(message) else "cancelling"
    verdict(clause, check_error_answer(second, clause, _not_cancellable(status)))


@clause("lifecycle.cancel_finished")
@pytest.mark.parametrize("status", ["cancelled", "completed", "failed", "expired", "incomplete"])
def test_cancel_finished(clause: str, status: str, arrange: Any, runcancel_client: Any, verdict: Any) -> None:
    """A finished (or already cancelled) run cannot be cancelled: 400 `Cannot cancel run with status
    '<status>'.`, and the run is left as it was."""
    arranged = arrange.run(status)
    exchange = runcancel_client.cancel(arranged.thread_id, arranged.run_id)
    findings = check_error_answer(exchange, clause, _not_cancellable(status))
    findings += status_kept(clause, arranged.status, arrange.read(arranged.thread_id, arranged.run_id))
    verdict(clause, findings)


@clause("lifecycle.wrong_thread")
def test_wrong_thread(clause: str, arrange: Any, runcancel_client: Any, verdict: Any) -> None:
    """A run cancelled through another thread's path is not found (404), and is left running."""
    arranged = arrange.run("in_progress")
    other_thread = arrange.thread()
    exchange = runcancel_client.cancel(other_thread, arranged.run_id)
    expected = ErrorExpectation(404, message=f"No run found with id '{arranged.run_id}'.")
    findings = check_error_answer(exchange, clause, expected)
    findings += status_kept(clause, arranged.status, arrange.read(arranged.thread_id, arranged.run_id))
    verdict(clause, findings)


@clause("lifecycle.concurrent_cancel")
def test_concurrent_cancel(clause: str, arrange: Any, runcancel_client: Any, verdict: Any) -> None:
    """Of eight simultaneous cancels of one run exactly one answers 200; the others answer 400."""
    arranged = arrange.run("in_progress")
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(
            pool.map(lambda _: runcancel_client.cancel(arranged.thread_id, arranged.run_id), range(8))
        )
    statuses = sorted(a.status for a in answers)
    findings = []
    if statuses != [200] + [400] * 7:
        findings.append(
            Finding(
                clause,
                "status",
                "one 200 and seven 400",
                ", ".join(map(str, statuses)),
                evidence=answers[0].evidence,
            )
        )
    verdict(clause, findings)
