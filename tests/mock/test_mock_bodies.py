"""Create bodies: the objects they make, and the 400/404 answers to bad ones."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from mock_support import ID_PATTERN, LIVE_RUN_KEYS, WEATHER, Driver, assert_error
from starlette.applications import Starlette

from runcancel.mock import SCENARIO_KEY
from runcancel.mock.errors import INVALID_JSON_MESSAGE

LONG_KEY = "k" * 65


def test_assistant_has_the_live_shape(driver: Driver) -> None:
    """An assistant: asst_ id, object 'assistant', given values, null instructions, live defaults."""
    assistant = driver.assistant(name="helper", metadata={"team": "qa"})
    assert ID_PATTERN["asst"].fullmatch(assistant["id"])
    assert assistant == {
        "id": assistant["id"],
        "object": "assistant",
        "created_at": assistant["created_at"],
        "name": "helper",
        "description": None,
        "model": "gpt-4o-mini",
        "instructions": None,
        "tools": [],
        "tool_resources": {},
        "metadata": {"team": "qa"},
        "temperature": 1.0,
        "top_p": 1.0,
        "reasoning_effort": None,
        "response_format": "auto",
    }


def test_assistant_can_be_read_and_deleted(driver: Driver) -> None:
    """GET answers the assistant; DELETE answers assistant.deleted; then it is not found."""
    assistant = driver.assistant()
    path = f"/v1/assistants/{assistant['id']}"
    assert driver.ok(driver.client.get(path)) == assistant
    assert driver.ok(driver.client.delete(path)) == {
        "id": assistant["id"],
        "object": "assistant.deleted",
        "deleted": True,
    }
    assert_error(driver.client.get(path), 404, f"No assistant found with id '{assistant['id']}'.")


def test_thread_has_the_live_shape_and_an_empty_body_is_allowed(api: httpx.Client) -> None:
    """POST /v1/threads without a body makes a thread_ with empty metadata and tool_resources."""
    thread = api.post("/v1/threads").json()
    assert ID_PATTERN["thread"].fullmatch(thread["id"])
    assert thread == {
        "id": thread["id"],
        "object": "thread",
        "created_at": thread["created_at"],
        "metadata": {},
        "tool_resources": {},
    }


def test_deleting_a_thread_removes_its_runs(driver: Driver, app: Starlette) -> None:
    """DELETE of a thread answers thread.deleted and its runs go with it."""
    run = driver.run()
    path = f"/v1/threads/{run['thread_id']}"
    assert driver.ok(driver.client.delete(path))["object"] == "thread.deleted"
    assert_error(driver.client.get(path), 404, f"No thread found with id '{run['thread_id']}'.")
    assert app.state.store.sizes()["runs"] == 0


def test_run_has_exactly_the_live_keys_with_live_defaults(driver: Driver) -> None:
    """A new run: the 29 live keys in the live order, status queued, defaults as observed live."""
    run = driver.run()
    assert list(run) == list(LIVE_RUN_KEYS)
    assert (run["tool_resources"], run["reasoning_effort"]) == ({}, None)
    assert ID_PATTERN["run"].fullmatch(run["id"])
    assert run["object"] == "thread.run"
    assert run["status"] == "queued"
    assert run["started_at"] is None
    assert run["expires_at"] == run["created_at"] + 600
    assert run["truncation_strategy"] == {"type": "auto", "last_messages": None}
    assert (run["temperature"], run["top_p"]) == (1.0, 1.0)
    assert (run["response_format"], run["tool_choice"], run["parallel_tool_calls"]) == ("auto", "auto", True)
    assert run["metadata"] == {}
    assert run["instructions"] == "Answer briefly."
    assert run["model"] == "gpt-4o-mini"
    assert run["usage"] is None


def test_run_takes_model_instructions_and_tools_from_the_assistant_unless_given(driver: Driver) -> None:
    """model, instructions, tools come from the assistant unless given; additional_instructions append."""
    assistant = driver.assistant(model="gpt-4o", instructions="Base.", tools=[{"type": "code_interpreter"}])
    inherited = driver.run(assistant_id=assistant["id"], additional_instructions="More.")
    assert (inherited["model"], inherited["tools"]) == ("gpt-4o", [{"type": "code_interpreter"}])
    assert inherited["instructions"] == "Base.\nMore."
    given = driver.run(
        assistant_id=assistant["id"], model="gpt-4o-mini", instructions="Own.", tools=[WEATHER]
    )
    assert (given["model"], given["instructions"], given["tools"]) == ("gpt-4o-mini", "Own.", [WEATHER])


@pytest.mark.parametrize(
    ("field", "value"),
    [
        pytest.param("metadata", {f"k{i}": "v" for i in range(16)}, id="metadata-16-keys"),
        pytest.param("metadata", {"k" * 64: "v" * 512}, id="metadata-longest-key-and-value"),
        pytest.param("max_prompt_tokens", 256, id="max-prompt-256"),
        pytest.param("max_completion_tokens", 256, id="max-completion-256"),
        pytest.param("temperature", 0, id="temperature-0"),
        pytest.param("temperature", 2, id="temperature-2"),
        pytest.param("top_p", 0.0, id="top-p-0"),
        pytest.param("top_p", 1, id="top-p-1"),
        pytest.param(
            "truncation_strategy", {"type": "last_messages", "last_messages": 1}, id="last-messages"
        ),
        pytest.param("response_format", {"type": "json_object"}, id="json-object"),
        pytest.param("parallel_tool_calls", False, id="no-parallel-calls"),
        pytest.param("tool_choice", "none", id="tool-choice-none"),
    ],
)
def test_run_accepts_boundary_values_and_echoes_them(driver: Driver, field: str, value: Any) -> None:
    """Values at the documented limits are accepted and the run echoes them."""
    assert driver.run(**{field: value})[field] == value


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        pytest.param(
            {"assistant_id": None}, "assistant_id", "missing_required_parameter", id="no-assistant-id"
        ),
        pytest.param({"assistant_id": 7}, "assistant_id", "invalid_type", id="assistant-id-integer"),
        pytest.param(
            {"metadata": {f"k{i}": "v" for i in range(17)}}, "metadata", None, id="metadata-17-keys"
        ),
        pytest.param({"metadata": {LONG_KEY: "v"}}, "metadata", None, id="metadata-key-65"),
        pytest.param({"metadata": {"k": 1}}, "metadata", "invalid_type", id="metadata-value-integer"),
        pytest.param({"metadata": {"k": "v" * 513}}, "metadata", None, id="metadata-value-513"),
        pytest.param({"metadata": ["k"]}, "metadata", "invalid_type", id="metadata-array"),
        pytest.param(
            {"metadata": {SCENARIO_KEY: "paused"}}, "metadata", "invalid_value", id="unknown-scenario"
        ),
        pytest.param({"max_prompt_tokens": 255}, "max_prompt_tokens", None, id="max-prompt-255"),
        pytest.param({"max_completion_tokens": 0}, "max_completion_tokens", None, id="max-completion-0"),
        pytest.param(
            {"max_completion_tokens": 300.5}, "max_completion_tokens", "invalid_type", id="max-float"
        ),
        pytest.param({"temperature": 2.01}, "temperature", "decimal_above_max_value", id="temperature-2.01"),
        pytest.param({"temperature": -0.1}, "temperature", "decimal_below_min_value", id="temperature-neg"),
        pytest.param({"temperature": True}, "temperature", "invalid_type", id="temperature-bool"),
        pytest.param({"top_p": 1.5}, "top_p", "decimal_above_max_value", id="top-p-1.5"),
        pytest.param({"tools": {"type": "function"}}, "tools", "invalid_type", id="tools-object"),
        pytest.param({"tools": [{"type": "browser"}]}, "tools[0].type", "invalid_value", id="tool-type"),
        pytest.param(
            {"tools": [{"type": "function", "function": {"name": "a b"}}]},
            "tools[0].function.name",
            "invalid_value",
            id="function-name",
        ),
        pytest.param({"tool_choice": "sometimes"}, "tool_choice", "invalid_value", id="tool-choice-word"),
        pytest.param(
            {"tool_choice": {"type": "function", "function": {"name": "nope"}}},
            "tool_choice",
            "invalid_value",
            id="forced-function-not-a-tool",
        ),
        pytest.param(
            {"truncation_strategy": {"type": "all"}}, "truncation_strategy.type", None, id="truncation"
        ),
        pytest.param(
            {"truncation_strategy": {"type": "last_messages", "last_messages": 0}},
            "truncation_strategy.last_messages",
            None,
            id="last-messages-0",
        ),
        pytest.param(
            {"parallel_tool_calls": "yes"}, "parallel_tool_calls", "invalid_type", id="parallel-string"
        ),
        pytest.param({"response_format": "json"}, "response_format", "invalid_value", id="response-format"),
        pytest.param({"stream": "yes"}, "stream", "invalid_type", id="stream-string"),
        pytest.param({"colour": "blue"}, "colour", "unknown_parameter", id="unknown-parameter"),
        pytest.param(
            {"metadata": {SCENARIO_KEY: "requires_action"}, "tools": []},
            "metadata",
            "invalid_value",
            id="requires-action-without-function",
        ),
    ],
)
def test_invalid_run_body_is_400_naming_the_field(
    driver: Driver, body: dict[str, Any], param: str, code: str | None
) -> None:
    """A bad create-run body: 400 invalid_request_error whose param names the offending field."""
    response = driver.create_run(**body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["type"], error["param"]) == ("invalid_request_error", param)
    if code is not None:
        assert error["code"] == code
    assert error["message"]


def test_unknown_scenario_error_lists_the_allowed_values(driver: Driver) -> None:
    """An unknown runcancel_scenario value is refused with the allowed values named."""
    message = driver.create_run(metadata={SCENARIO_KEY: "paused"}).json()["error"]["message"]
    for name in ("queued", "in_progress", "requires_action", "completed", "failed", "incomplete", "expired"):
        assert f"'{name}'" in message


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"{", id="truncated"),
        pytest.param(b"{'a': 1}", id="single-quotes"),
        pytest.param(b'{"temperature": NaN}', id="nan"),
        pytest.param(b'{"temperature": 1e999}', id="overflowing-float"),
        pytest.param(b"\xff\xfe", id="not-utf8"),
        pytest.param(b"[" * 100_000, id="deep-nesting"),
    ],
)
def test_invalid_json_is_400_could_not_parse(driver: Driver, content: bytes) -> None:
    """A body that is not JSON: 400 'We could not parse the JSON body of your request. ...'."""
    response = driver.client.post(f"/v1/threads/{driver.thread()}/runs", content=content)
    assert_error(response, 400, INVALID_JSON_MESSAGE)


@pytest.mark.parametrize("content", [b"[]", b'"run"', b"3", b"null"])
def test_non_object_json_body_is_400(driver: Driver, content: bytes) -> None:
    """A JSON body that is not an object is refused with 400 invalid_type."""
    response = driver.client.post("/v1/threads", content=content)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_type"


def test_deeply_nested_valid_json_is_400(driver: Driver) -> None:
    """JSON nested deeper than the mock keeps is refused with a 400, not echoed."""
    parameters: Any = {}
    for _ in range(80):
        parameters = {"a": parameters}
    tool = {"type": "function", "function": {"name": "f", "parameters": parameters}}
    assert driver.create_run(tools=[tool]).status_code == 400


def test_oversized_body_is_413(driver: Driver) -> None:
    """A body above 1 MiB is refused with 413 and the envelope."""
    response = driver.client.post("/v1/threads", content=b" " * (1024 * 1024 + 1))
    assert response.status_code == 413
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}


def test_unknown_assistant_is_404(driver: Driver) -> None:
    """A run for an assistant that does not exist: 404 'No assistant found with id ...'."""
    assert_error(driver.create_run(assistant_id="asst_gone"), 404, "No assistant found with id 'asst_gone'.")


def test_unknown_thread_on_create_is_404(driver: Driver) -> None:
    """A run on a thread that does not exist: 404 'No thread found with id ...'."""
    assert_error(driver.create_run("thread_gone"), 404, "No thread found with id 'thread_gone'.")


def test_body_is_checked_before_the_thread(driver: Driver) -> None:
    """A bad body on an unknown thread is reported as the bad body (400), not the thread (404)."""
    assert driver.create_run("thread_gone", temperature=9).status_code == 400
