"""How runs move through their statuses on the clock, and how inputs steer their outcome."""

from __future__ import annotations

from typing import Any

import pytest
from mock_support import CANCEL_DELAY, ID_PATTERN, STEP, WEATHER, Driver

from runcancel.mock import EXPIRY_SECONDS

TERMINAL = ("completed", "failed", "incomplete", "expired", "cancelled")
TIMESTAMPS = ("created_at", "started_at", "completed_at", "failed_at", "cancelled_at")


def _outcome(driver: Driver, run: dict[str, Any]) -> dict[str, Any]:
    return driver.after(run, 2 * STEP)


def test_run_moves_one_stage_per_step(driver: Driver) -> None:
    """A run is queued, in_progress after one step, and completed after two (no hint)."""
    run = driver.run()
    assert driver.read(run)["status"] == "queued"
    assert driver.after(run, STEP * 0.99)["status"] == "queued"
    in_progress = driver.after(run, STEP * 0.01)
    assert in_progress["status"] == "in_progress"
    assert in_progress["started_at"] is not None
    assert driver.after(run, STEP)["status"] == "completed"


@pytest.mark.parametrize(
    ("scenario", "present", "absent"),
    [
        pytest.param(
            "completed", {"completed_at", "usage"}, {"failed_at", "last_error", "expires_at"}, id="completed"
        ),
        pytest.param(
            "failed", {"failed_at", "last_error", "usage"}, {"completed_at", "expires_at"}, id="failed"
        ),
        pytest.param(
            "incomplete", {"incomplete_details", "usage"}, {"last_error", "expires_at"}, id="incomplete"
        ),
        pytest.param("expired", {"usage"}, {"expires_at", "failed_at", "completed_at"}, id="expired"),
        pytest.param("requires_action", {"required_action", "expires_at"}, {"usage"}, id="requires_action"),
    ],
)
def test_scenario_metadata_steers_the_outcome(
    driver: Driver, scenario: str, present: set[str], absent: set[str]
) -> None:
    """metadata runcancel_scenario=<status> makes the run reach that status after two steps."""
    reached = _outcome(driver, driver.run(scenario=scenario, tools=[WEATHER]))
    assert reached["status"] == scenario
    assert {key for key in present | absent if reached[key] is not None} == present


def test_failed_run_reports_a_server_error(driver: Driver) -> None:
    """A failed run carries last_error {code: server_error, message}."""
    last_error = _outcome(driver, driver.run(scenario="failed"))["last_error"]
    assert last_error["code"] == "server_error"
    assert isinstance(last_error["message"], str)
    assert last_error["message"]


@pytest.mark.parametrize("scenario", ["queued", "in_progress"])
def test_holding_scenarios_keep_the_run_in_that_status(driver: Driver, scenario: str) -> None:
    """Scenarios queued and in_progress hold the run there (until it expires)."""
    run = driver.run(scenario=scenario)
    assert driver.after(run, 100 * STEP)["status"] == scenario


@pytest.mark.parametrize("scenario", ["queued", "in_progress", "requires_action"])
def test_active_run_expires_when_expires_at_passes(driver: Driver, scenario: str) -> None:
    """A run still active EXPIRY_SECONDS after creation reads expired, with expires_at null."""
    run = driver.run(scenario=scenario, tools=[WEATHER])
    before = driver.after(run, EXPIRY_SECONDS - 1)
    assert before["status"] == scenario
    assert before["expires_at"] == run["created_at"] + EXPIRY_SECONDS
    expired = driver.after(run, 1)
    assert (expired["status"], expired["expires_at"]) == ("expired", None)
    assert expired["usage"] is not None


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"tool_choice": {"type": "function", "function": {"name": "get_weather"}}}, id="forced"),
        pytest.param({"tool_choice": "required"}, id="required"),
    ],
)
def test_tool_choice_forcing_a_function_leads_to_requires_action(
    driver: Driver, body: dict[str, Any]
) -> None:
    """A forced function, or 'required' with a function tool, ends in requires_action calling it."""
    run = driver.run(tools=[{"type": "code_interpreter"}, WEATHER], **body)
    reached = _outcome(driver, run)
    assert reached["status"] == "requires_action"
    action = reached["required_action"]
    assert action["type"] == "submit_tool_outputs"
    (call,) = action["submit_tool_outputs"]["tool_calls"]
    assert ID_PATTERN["call"].fullmatch(call["id"])
    assert call["type"] == "function"
    assert call["function"] == {"name": "get_weather", "arguments": "{}"}
    assert driver.read(run)["required_action"] == action


def test_required_without_function_tools_completes(driver: Driver) -> None:
    """tool_choice 'required' with no function tool does not need tool outputs: the run completes."""
    run = driver.run(tools=[{"type": "code_interpreter"}], tool_choice="required")
    assert _outcome(driver, run)["status"] == "completed"


@pytest.mark.parametrize(
    ("limits", "reason"),
    [
        pytest.param({}, "max_completion_tokens", id="no-limit"),
        pytest.param({"max_prompt_tokens": 300}, "max_prompt_tokens", id="prompt-limit-only"),
        pytest.param({"max_completion_tokens": 300}, "max_completion_tokens", id="completion-limit"),
        pytest.param(
            {"max_prompt_tokens": 300, "max_completion_tokens": 400}, "max_completion_tokens", id="both"
        ),
    ],
)
def test_incomplete_reason_names_the_limit_given(driver: Driver, limits: dict[str, int], reason: str) -> None:
    """incomplete_details.reason is max_prompt_tokens only when that is the one limit given."""
    reached = _outcome(driver, driver.run(None, "incomplete", **limits))
    assert reached["incomplete_details"] == {"reason": reason}
    usage = reached["usage"]
    if reason == "max_prompt_tokens":
        assert usage["prompt_tokens"] == limits["max_prompt_tokens"]
    elif "max_completion_tokens" in limits:
        assert usage["completion_tokens"] == limits["max_completion_tokens"]


@pytest.mark.parametrize("scenario", ["completed", "failed", "incomplete", "expired", "cancelled"])
def test_usage_is_null_until_terminal_then_adds_up(driver: Driver, scenario: str) -> None:
    """usage is null while pending; once finished {prompt, completion, total=sum} and the live details."""
    run = driver.run(scenario="in_progress" if scenario == "cancelled" else scenario, instructions="x" * 40)
    assert driver.after(run, STEP)["usage"] is None
    if scenario == "cancelled":
        assert driver.cancel(run).json()["usage"] is None
        reached = driver.after(run, CANCEL_DELAY)
    else:
        reached = driver.after(run, STEP)
    assert reached["status"] == scenario
    usage = reached["usage"]
    assert list(usage) == [
        "prompt_tokens",
        "completion_tokens",
        "total_tokens",
        "prompt_token_details",
        "completion_tokens_details",
    ]
    assert usage["prompt_token_details"] == {"cached_tokens": 0}
    assert usage["completion_tokens_details"] == {"reasoning_tokens": 0}
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert usage["prompt_tokens"] > 0
    assert driver.read(run)["usage"] == usage


def test_usage_is_deterministic(driver: Driver) -> None:
    """Two runs with the same inputs report the same usage."""
    first, second = driver.run(instructions="same"), driver.run(instructions="same")
    driver.clock.advance(2 * STEP)
    assert driver.read(first)["usage"] == driver.read(second)["usage"]


@pytest.mark.parametrize("scenario", ["completed", "failed", "incomplete", "expired", "requires_action"])
def test_timestamps_are_integers_in_order(driver: Driver, scenario: str) -> None:
    """Timestamps are integer Unix seconds, and created <= started <= the end of the run."""
    driver.clock.advance(0.7)
    run = driver.run(scenario=scenario, tools=[WEATHER])
    reached = driver.after(run, 3 * STEP)
    present = [reached[key] for key in TIMESTAMPS if reached[key] is not None]
    assert all(type(value) is int for value in present)
    assert present == sorted(present)
    assert (
        reached["started_at"] == run["created_at"] + int(STEP) or reached["started_at"] >= run["created_at"]
    )


def test_a_clock_that_steps_back_never_reverts_a_status(driver: Driver) -> None:
    """Once read as completed, a run stays completed even if the clock goes back."""
    run = driver.run()
    assert driver.after(run, 2 * STEP)["status"] == "completed"
    assert driver.after(run, -2 * STEP)["status"] == "completed"


def test_list_runs_newest_first_with_paging(driver: Driver) -> None:
    """GET .../runs lists a thread's runs newest first, with first_id, last_id and has_more."""
    thread_id = driver.thread()
    ids = [driver.run(thread_id)["id"] for _ in range(3)]
    driver.run()  # another thread's run is not listed
    listed = driver.ok(driver.client.get(f"/v1/threads/{thread_id}/runs"))
    assert [run["id"] for run in listed["data"]] == ids[::-1]
    assert (listed["object"], listed["first_id"], listed["last_id"], listed["has_more"]) == (
        "list",
        ids[2],
        ids[0],
        False,
    )
    page = driver.ok(driver.client.get(f"/v1/threads/{thread_id}/runs", params={"limit": 2, "order": "asc"}))
    assert ([run["id"] for run in page["data"]], page["has_more"]) == (ids[:2], True)
    rest = driver.ok(
        driver.client.get(f"/v1/threads/{thread_id}/runs", params={"after": ids[1], "order": "asc"})
    )
    assert [run["id"] for run in rest["data"]] == ids[2:]


@pytest.mark.parametrize(
    ("params", "param"),
    [
        pytest.param({"limit": "0"}, "limit", id="limit-0"),
        pytest.param({"limit": "101"}, "limit", id="limit-101"),
        pytest.param({"limit": "ten"}, "limit", id="limit-word"),
        pytest.param({"order": "newest"}, "order", id="order"),
    ],
)
def test_list_runs_rejects_bad_query(driver: Driver, params: dict[str, str], param: str) -> None:
    """limit outside 1..100 or an order other than asc/desc is a 400 naming the parameter."""
    response = driver.client.get(f"/v1/threads/{driver.thread()}/runs", params=params)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == param
