"""A small Assistants app on the official openai SDK against the mock; every answer strictly validated."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import httpx2
import openai
import pytest
from openai.types.beta import Assistant, AssistantStreamEvent, Thread
from openai.types.beta.threads import Message, Run
from openai.types.beta.threads.runs import RunStep
from pydantic import BaseModel, TypeAdapter

from runcancel.mock import DEFAULT_API_KEY, SCENARIO_KEY, MockConfig, MockServer
from runcancel.mock.views import ANSWER_TEXT

# The SDK marks every Assistants call deprecated (the API it serves is); that is not what these tests pin.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

WEATHER = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {}}},
}
MODELS: dict[str, type[BaseModel]] = {
    "assistant": Assistant,
    "thread": Thread,
    "thread.message": Message,
    "thread.run": Run,
    "thread.run.step": RunStep,
}
EVENTS: TypeAdapter[Any] = TypeAdapter(AssistantStreamEvent)


class Answers:
    """Every JSON answer the client received, validated strictly against the SDK's model for its object."""

    def __init__(self) -> None:
        self.statuses: list[int] = []
        self.checked = 0

    def __call__(self, response: httpx2.Response) -> None:
        self.statuses.append(response.status_code)
        if not response.headers.get("content-type", "").startswith("application/json"):
            return
        response.read()
        body = response.json()
        if response.status_code >= 400:
            assert set(body["error"]) == {"message", "type", "param", "code"}
            return
        for item in body["data"] if body.get("object") == "list" else [body]:
            model = MODELS.get(item.get("object"))
            if model is not None:
                model.model_validate_json(json.dumps(item), strict=True)
                self.checked += 1


def sdk_client(server: MockServer, answers: Answers, **options: Any) -> openai.OpenAI:
    http = httpx2.Client(event_hooks={"response": [answers]})
    return openai.OpenAI(
        base_url=server.base_url,
        api_key=DEFAULT_API_KEY,
        http_client=http,
        _strict_response_validation=True,
        **options,
    )


@pytest.fixture(scope="module")
def server() -> Iterator[MockServer]:
    with MockServer(MockConfig(step=0.03, cancel_delay=0.03)) as running:
        yield running


@pytest.fixture
def answers() -> Answers:
    return Answers()


@pytest.fixture
def client(server: MockServer, answers: Answers) -> Iterator[openai.OpenAI]:
    with sdk_client(server, answers) as sdk:
        yield sdk
    assert answers.checked > 0


def test_an_app_with_a_forced_tool_call_gets_its_answer(client: openai.OpenAI) -> None:
    """Post a question, run with a forced tool call, submit the output, read the answer and the steps."""
    assistant = client.beta.assistants.create(model="gpt-4o-mini", instructions="Be brief.", tools=[WEATHER])
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "Weather?"}])
    client.beta.threads.messages.create(thread.id, role="user", content="In Paris, please.")
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id,
        assistant_id=assistant.id,
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
        reasoning_effort="low",
        poll_interval_ms=10,
    )
    assert run.status == "requires_action"
    assert run.required_action is not None
    call = run.required_action.submit_tool_outputs.tool_calls[0]
    assert call.function.name == "get_weather"
    done = client.beta.threads.runs.submit_tool_outputs_and_poll(
        tool_outputs=[{"tool_call_id": call.id, "output": "sunny"}],
        run_id=run.id,
        thread_id=thread.id,
        poll_interval_ms=10,
    )
    assert done.status == "completed"
    assert done.reasoning_effort == "low"  # type: ignore[attr-defined]
    assert done.tool_resources == {}  # type: ignore[attr-defined]
    assert done.usage is not None
    assert done.usage.prompt_token_details == {"cached_tokens": 0}  # type: ignore[attr-defined]
    messages = client.beta.threads.messages.list(thread.id, order="asc")
    texts = [(m.role, m.content[0].text.value) for m in messages.data]  # type: ignore[union-attr]
    assert texts == [("user", "Weather?"), ("user", "In Paris, please."), ("assistant", ANSWER_TEXT)]
    steps = client.beta.threads.runs.steps.list(run.id, thread_id=thread.id, order="asc").data
    assert [(s.type, s.status) for s in steps] == [
        ("tool_calls", "completed"),
        ("message_creation", "completed"),
    ]
    assert steps[0].step_details.tool_calls[0].function.output == "sunny"  # type: ignore[union-attr]
    updated = client.beta.threads.runs.update(run.id, thread_id=thread.id, metadata={"seen": "yes"})
    assert updated.metadata == {"seen": "yes"}
    assert client.beta.assistants.update(assistant.id, name="helper").name == "helper"
    assert assistant.id in [a.id for a in client.beta.assistants.list().data]
    assert client.beta.threads.update(thread.id, metadata={"k": "v"}).metadata == {"k": "v"}
    assert client.beta.threads.delete(thread.id).deleted
    assert client.beta.assistants.delete(assistant.id).deleted


def test_tool_outputs_on_a_run_that_is_not_waiting_are_refused_as_live(client: openai.OpenAI) -> None:
    """Tool outputs for a completed run: BadRequestError 'Runs in status "completed" do not accept ...'."""
    assistant = client.beta.assistants.create(model="gpt-4o-mini")
    run = client.beta.threads.create_and_run_poll(assistant_id=assistant.id, poll_interval_ms=10)
    assert run.status == "completed"
    with pytest.raises(
        openai.BadRequestError, match=r'Runs in status "completed" do not accept tool outputs\.'
    ):
        client.beta.threads.runs.submit_tool_outputs(
            run.id, thread_id=run.thread_id, tool_outputs=[{"tool_call_id": "call_x", "output": "x"}]
        )
    with pytest.raises(openai.BadRequestError, match=r"Cannot cancel run with status 'completed'\."):
        client.beta.threads.runs.cancel(run.id, thread_id=run.thread_id)
    with pytest.raises(openai.NotFoundError, match=r"No run found with id 'run_none'\."):
        client.beta.threads.runs.cancel("run_none", thread_id=run.thread_id)


def test_a_stream_reaches_the_answer_with_the_live_events_in_order(client: openai.OpenAI) -> None:
    """stream=True: the live event names in the live order, and the SDK's helpers read the answer."""
    assistant = client.beta.assistants.create(model="gpt-4o-mini")
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "Hi"}])
    names: list[str] = []
    with client.beta.threads.runs.stream(thread_id=thread.id, assistant_id=assistant.id) as stream:
        for event in stream:
            EVENTS.validate_json(
                json.dumps({"event": event.event, "data": event.data.model_dump()}), strict=True
            )
            names.append(event.event)
        final = stream.get_final_messages()
    assert names == [
        "thread.run.created",
        "thread.run.queued",
        "thread.run.in_progress",
        "thread.run.step.created",
        "thread.run.step.in_progress",
        "thread.message.created",
        "thread.message.in_progress",
        "thread.message.delta",
        "thread.message.completed",
        "thread.run.step.completed",
        "thread.run.completed",
    ]
    assert final[0].content[0].text.value == ANSWER_TEXT  # type: ignore[union-attr]


def test_a_cancel_during_a_stream_shows_cancelling_then_cancelled(client: openai.OpenAI) -> None:
    """A cancel while streaming: the stream goes on with thread.run.cancelling, then thread.run.cancelled."""
    assistant = client.beta.assistants.create(model="gpt-4o-mini")
    thread = client.beta.threads.create()
    names: list[str] = []
    with client.beta.threads.runs.stream(
        thread_id=thread.id, assistant_id=assistant.id, metadata={SCENARIO_KEY: "in_progress"}
    ) as stream:
        for event in stream:
            names.append(event.event)
            if event.event == "thread.run.in_progress":
                cancelling = client.beta.threads.runs.cancel(event.data.id, thread_id=thread.id)
                assert cancelling.status == "cancelling"
    runs = [n for n in names if n.startswith("thread.run.") and ".step." not in n]
    assert runs == [
        "thread.run.created",
        "thread.run.queued",
        "thread.run.in_progress",
        "thread.run.cancelling",
        "thread.run.cancelled",
    ]
    assert names[-1] == "thread.run.cancelled"


class SteppedClock:
    """A clock the app moves forward when it waits (so a live-paced run takes no real time)."""

    def __init__(self) -> None:
        self.now = 1_000.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


def test_cancel_if_slow_under_the_live_pace(answers: Answers) -> None:
    """--pace live: a run still in progress after 3 s is cancelled by the app and ends cancelled."""
    clock = SteppedClock()
    with MockServer(MockConfig(pace="live", clock=clock)) as live, sdk_client(live, answers) as client:
        assistant = client.beta.assistants.create(model="gpt-4o-mini")
        run = client.beta.threads.create_and_run(assistant_id=assistant.id)
        waited = 0.0
        seen = [run.status]
        while run.status in ("queued", "in_progress", "cancelling"):
            if waited >= 3.0 and run.status != "cancelling":
                run = client.beta.threads.runs.cancel(run.id, thread_id=run.thread_id)
            clock.sleep(0.5)
            waited += 0.5
            run = client.beta.threads.runs.retrieve(run.id, thread_id=run.thread_id)
            seen.append(run.status)
    assert "in_progress" in seen
    assert run.status == "cancelled"
    assert run.started_at is not None
    assert run.started_at - run.created_at >= 1
    assert run.cancelled_at is not None


def _create_assistants(client: openai.OpenAI, count: int) -> None:
    for _ in range(count):
        client.beta.assistants.create(model="gpt-4o-mini")


def test_a_429_is_retried_by_the_sdk(answers: Answers) -> None:
    """--rate-limit: a 429 with Retry-After; the SDK waits and retries; with no retries it raises."""
    with MockServer(MockConfig(rate_limit=2)) as limited:
        with sdk_client(limited, answers, max_retries=2) as client:
            for _ in range(3):
                client.beta.assistants.create(model="gpt-4o-mini")
        assert 429 in answers.statuses
        assert answers.statuses[-1] == 200
        with (
            sdk_client(limited, answers, max_retries=0) as client,
            pytest.raises(openai.RateLimitError) as caught,
        ):
            _create_assistants(client, 4)
    assert int(caught.value.response.headers["retry-after"]) >= 1
    assert caught.value.code == "rate_limit_exceeded"
