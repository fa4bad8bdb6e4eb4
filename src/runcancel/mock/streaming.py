"""Server-sent events for a run, with the live event names in the live order.

A stream follows the run as the store derives it from the clock, polling it a few times per stage:
``thread.run.created``, ``.queued``, ``.in_progress``, ``thread.run.step.created``/``.in_progress``,
``thread.message.created``/``.in_progress``/``.delta``/``.completed``, ``thread.run.step.completed``,
the terminal event (or ``thread.run.requires_action``), then ``done``. A cancel during the stream shows
as ``thread.run.cancelling`` then ``thread.run.cancelled``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from runcancel.mock.config import Timings
from runcancel.mock.errors import ApiError
from runcancel.mock.fields import JSONObject
from runcancel.mock.lifecycle import PENDING
from runcancel.mock.store import RunState, Store

ENDS = frozenset({"completed", "failed", "incomplete", "expired", "cancelled", "requires_action"})
_POLL_MIN = 0.002
_POLL_MAX = 0.05


def event(name: str, data: JSONObject | str) -> bytes:
    """One encoded event: ``event: <name>`` and one ``data:`` line of JSON (or ``[DONE]``)."""
    payload = data if isinstance(data, str) else json.dumps(data)
    return f"event: {name}\ndata: {payload}\n\n".encode("ascii", "backslashreplace")


def poll_interval(timings: Timings) -> float:
    """How often a stream reads its run: four times per stage, within 2 to 50 ms."""
    shortest = min(timings.queued, timings.in_progress, timings.cancelling)
    return min(_POLL_MAX, max(_POLL_MIN, shortest / 4))


class RunEvents:
    """The events of one run from a starting point (created, or given tool outputs)."""

    def __init__(self, store: Store, thread_id: str, run_id: str, poll: float) -> None:
        self.store = store
        self.thread_id = thread_id
        self.run_id = run_id
        self.poll = poll
        self.status: str | None = None
        self.steps: dict[str, str] = {}
        self.message_sent = False
        self.message_done = False

    def resume_from(self, state: RunState) -> None:
        """Start after what a client already saw: the run's status and its steps so far."""
        self.status = state.run["status"]
        self.steps = {step["id"]: step["status"] for step in state.steps}

    async def stream(self, first: list[bytes]) -> AsyncIterator[bytes]:
        for chunk in first:
            yield chunk
        while True:
            try:
                state = self.store.run_state(self.thread_id, self.run_id)
            except ApiError as error:  # deleted while streaming
                yield event("error", error.envelope()["error"])
                break
            for chunk in self.changes(state):
                yield chunk
            if self.status in ENDS:
                break
            await asyncio.sleep(self.poll)
        yield event("done", "[DONE]")

    def changes(self, state: RunState) -> list[bytes]:
        """The events that bring a client from what it saw to ``state``."""
        run = state.run
        status = run["status"]
        out: list[bytes] = []
        moved = status != self.status
        if moved and status in PENDING:
            if self.status is None and status != "queued":
                out.append(event("thread.run.queued", {**run, "status": "queued"}))
            out.append(event(f"thread.run.{status}", run))
        out.extend(self._step_events(state, status))
        if moved and status not in PENDING:
            out.append(event(f"thread.run.{status}", run))
        self.status = status
        return out

    def _step_events(self, state: RunState, status: str) -> list[bytes]:
        out: list[bytes] = []
        for step in state.steps:
            seen = self.steps.get(step["id"])
            if seen is None:
                out.append(event("thread.run.step.created", {**step, "status": "in_progress"}))
                out.append(event("thread.run.step.in_progress", {**step, "status": "in_progress"}))
                seen = "in_progress"
            is_message = step["type"] == "message_creation"
            if is_message and not self.message_sent and state.message_started:
                self.message_sent = True
                pending = _pending_message(state, step)
                out.append(event("thread.message.created", pending))
                out.append(event("thread.message.in_progress", pending))
            if is_message and state.message is not None and not self.message_done:
                self.message_done = True
                message = state.message
                for index, block in enumerate(message["content"]):
                    delta = {"content": [{"index": index, **block}]}
                    out.append(
                        event(
                            "thread.message.delta",
                            {"id": message["id"], "object": "thread.message.delta", "delta": delta},
                        )
                    )
                out.append(event(f"thread.message.{message['status']}", message))
            if step["status"] != seen:
                out.append(event(f"thread.run.step.{step['status']}", step))
            self.steps[step["id"]] = step["status"]
        return out


def _pending_message(state: RunState, step: JSONObject) -> JSONObject:
    run = state.run
    return {
        "id": step["step_details"]["message_creation"]["message_id"],
        "object": "thread.message",
        "created_at": step["created_at"],
        "assistant_id": run["assistant_id"],
        "thread_id": run["thread_id"],
        "run_id": run["id"],
        "role": "assistant",
        "content": [],
        "attachments": [],
        "metadata": {},
        "status": "in_progress",
        "incomplete_details": None,
        "completed_at": None,
        "incomplete_at": None,
    }


def created_events(run: JSONObject, thread: JSONObject | None) -> list[bytes]:
    """What a stream of a new run starts with."""
    first = [] if thread is None else [event("thread.created", thread)]
    first.append(event("thread.run.created", run))
    return first
