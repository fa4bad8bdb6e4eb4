"""POST /v1/threads/{thread_id}/runs/{run_id}/cancel: what it answers and what the run becomes."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from mock_support import CANCEL_DELAY, HEADERS, RUN_FIELDS, STEP, WEATHER, Driver, assert_error

ACTIVE = ("queued", "in_progress", "requires_action")


def _arrive(driver: Driver, status: str) -> dict[str, Any]:
    run = driver.run(scenario=status, tools=[WEATHER])
    reached = driver.after(run, 2 * STEP)
    assert reached["status"] == status
    return reached


@pytest.mark.parametrize("status", ACTIVE)
def test_cancel_of_an_active_run_answers_cancelling(driver: Driver, status: str) -> None:
    """From queued, in_progress or requires_action a cancel answers 200 cancelling, cancelled_at null."""
    run = _arrive(driver, status)
    answer = driver.ok(driver.cancel(run))
    assert set(answer) == RUN_FIELDS
    assert (answer["id"], answer["status"]) == (run["id"], "cancelling")
    assert answer["cancelled_at"] is None
    assert answer["required_action"] is None
    assert answer["expires_at"] == run["created_at"] + 600
    assert answer["usage"] is None
    assert driver.read(run)["status"] == "cancelling"


@pytest.mark.parametrize("status", ACTIVE)
def test_cancelling_run_reads_cancelled_after_the_delay(driver: Driver, status: str) -> None:
    """cancel_delay after the cancel the run reads cancelled, cancelled_at set, usage set, expires_at null."""
    run = _arrive(driver, status)
    driver.cancel(run)
    assert driver.after(run, CANCEL_DELAY * 0.99)["status"] == "cancelling"
    cancelled = driver.after(run, CANCEL_DELAY * 0.01)
    assert cancelled["status"] == "cancelled"
    assert isinstance(cancelled["cancelled_at"], int)
    assert cancelled["cancelled_at"] >= cancelled["created_at"]
    assert cancelled["expires_at"] is None
    assert cancelled["usage"] is not None
    assert (cancelled["completed_at"], cancelled["failed_at"], cancelled["required_action"]) == (
        None,
        None,
        None,
    )


def test_run_cancelled_while_queued_never_starts(driver: Driver) -> None:
    """A run cancelled while queued keeps started_at null and uses no tokens."""
    run = driver.run()
    driver.cancel(run)
    cancelled = driver.after(run, 10 * STEP)
    assert (cancelled["status"], cancelled["started_at"]) == ("cancelled", None)
    assert cancelled["usage"] == {
        "prompt_tokens": 0,
        "completion_tokens": 0,
        "total_tokens": 0,
        "prompt_token_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }


def test_cancel_beats_the_planned_outcome(driver: Driver) -> None:
    """A run cancelled in progress ends cancelled, not in the outcome it was heading for."""
    run = driver.run(scenario="completed")
    driver.clock.advance(STEP)
    driver.cancel(run)
    assert driver.after(run, 10 * STEP)["status"] == "cancelled"


@pytest.mark.parametrize(
    "status", ["cancelling", "cancelled", "completed", "failed", "incomplete", "expired"]
)
def test_cancel_of_a_run_not_active_is_400(driver: Driver, status: str) -> None:
    """Any other status: 400 invalid_request_error, code null, 'Cannot cancel run with status ...'."""
    if status in ("cancelling", "cancelled"):
        run = _arrive(driver, "in_progress")
        driver.cancel(run)
        run = driver.after(run, CANCEL_DELAY if status == "cancelled" else 0)
    else:
        run = _arrive(driver, status)
    assert run["status"] == status
    assert_error(driver.cancel(run), 400, f"Cannot cancel run with status '{status}'.")
    assert driver.read(run)["status"] == status


def test_cancel_on_an_unknown_thread_is_404(driver: Driver) -> None:
    """Unknown thread: 404 'No thread found with id ...'."""
    run = driver.run()
    response = driver.cancel({**run, "thread_id": "thread_nope"})
    assert_error(response, 404, "No thread found with id 'thread_nope'.")


def test_cancel_of_an_unknown_run_is_404(driver: Driver) -> None:
    """Unknown run on a known thread: 404 'No run found with id ...'."""
    response = driver.cancel({"thread_id": driver.thread(), "id": "run_nope"})
    assert_error(response, 404, "No run found with id 'run_nope'.")


def test_cancel_through_another_threads_path_is_404(driver: Driver) -> None:
    """A run cancelled through another thread's path is not found, and stays as it was."""
    run = driver.run()
    response = driver.cancel({**run, "thread_id": driver.thread()})
    assert_error(response, 404, f"No run found with id '{run['id']}'.")
    assert driver.read(run)["status"] == "queued"


@pytest.mark.parametrize(
    ("raw", "decoded"),
    [
        pytest.param("a%2Fb", "a/b", id="encoded-slash"),
        pytest.param("%E2%9C%93", "\u2713", id="unicode"),
        pytest.param("a%20b", "a b", id="space"),
        pytest.param("%00", "\x00", id="nul"),
        pytest.param("%2E%2E", "..", id="dot-dot"),
        pytest.param("%FF", "\ufffd", id="invalid-utf8"),
        pytest.param("x" * 5000, "x" * 5000, id="very-long"),
    ],
)
def test_ids_in_not_found_messages_are_the_decoded_path_values(
    driver: Driver, raw: str, decoded: str
) -> None:
    """The id echoed in a 404 is the percent-decoded path segment as sent."""
    thread_id = driver.thread()
    run_path = f"/v1/threads/{thread_id}/runs/{raw}/cancel"
    assert_error(driver.client.post(run_path), 404, f"No run found with id '{decoded}'.")
    assert_error(
        driver.client.post(f"/v1/threads/{raw}/runs/run_x/cancel"),
        404,
        f"No thread found with id '{decoded}'.",
    )


@pytest.mark.parametrize(
    "content", [b"", b"{}", b"not json", b'{"reason": "because"}', b"\x00\xff"], ids=repr
)
def test_cancel_ignores_the_request_body(driver: Driver, content: bytes) -> None:
    """The cancel request body is ignored: any body, or none, gives the same 200."""
    run = driver.run()
    response = driver.client.post(f"/v1/threads/{run['thread_id']}/runs/{run['id']}/cancel", content=content)
    assert driver.ok(response)["status"] == "cancelling"


def test_cancel_checks_authentication_first(driver: Driver, raw_client: httpx.Client) -> None:
    """Without a key a cancel of a real run is 401 and the run is untouched."""
    run = driver.run()
    path = f"/v1/threads/{run['thread_id']}/runs/{run['id']}/cancel"
    assert raw_client.post(path, headers={"OpenAI-Beta": HEADERS["OpenAI-Beta"]}).status_code == 401
    assert driver.read(run)["status"] == "queued"
