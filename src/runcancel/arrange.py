"""Arranging: putting runs into a wanted status through the target's public API, and cleaning up.

Runs are created the way any client creates them (assistant, thread, run) and steered with inputs
the real API accepts too: a `tool_choice` that forces a function call leads to `requires_action` on
any faithful server, and the metadata key `runcancel_scenario` names the outcome on the reference
mock (the live API stores it and ignores it). Waiting is bounded; a status the target does not reach
in time raises `NotArranged`, which a suite reports as "not verified", never as passed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from runcancel.findings import preview
from runcancel.models import TERMINAL_STATUSES
from runcancel.targets import Exchange, TargetClient, TargetError

__all__ = ["SCENARIO_KEY", "ArrangeError", "ArrangedRun", "Arranger", "NotArranged"]

SCENARIO_KEY = "runcancel_scenario"
FUNCTION_NAME = "get_weather"
ARRANGEABLE = (
    "queued",
    "in_progress",
    "requires_action",
    "cancelling",
    "cancelled",
    "completed",
    "failed",
    "incomplete",
    "expired",
)
_WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": FUNCTION_NAME,
        "description": "Current weather for a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


class NotArranged(Exception):
    """The target did not reach the wanted status; the clause is not verified on this target."""


class ArrangeError(Exception):
    """The target refused the public API calls arranging needs (create assistant, thread, run)."""


@dataclass(frozen=True)
class ArrangedRun:
    thread_id: str
    run_id: str
    run: dict[str, Any]

    @property
    def status(self) -> Any:
        return self.run.get("status")


@dataclass
class Arranger:
    """Creates runs in a wanted status on one target and deletes what it created."""

    client: TargetClient
    wait: float = 30.0
    # First pause between two reads of a run (doubling up to 0.5 s); 0 when answers come from cassettes.
    poll_pause: float = 0.005
    assistant_id: str | None = None
    created_threads: list[str] = field(default_factory=list)
    owns_assistant: bool = False

    # -- public API --------------------------------------------------------------------------------

    def thread(self) -> str:
        answer = self._expect_ok(self.client.send("POST", "/threads", json_body={}), "create a thread")
        thread_id = str(answer["id"])
        self.created_threads.append(thread_id)
        return thread_id

    def run(self, status: str, thread_id: str | None = None) -> ArrangedRun:
        """A fresh run in `status`, read back from the target."""
        if status not in ARRANGEABLE:
            raise ValueError(f"cannot arrange status {status!r}; choose one of {', '.join(ARRANGEABLE)}")
        if status in ("cancelling", "cancelled"):
            return self._cancelled_run(status, thread_id)
        thread_id = thread_id or self.thread()
        body: dict[str, Any] = {"assistant_id": self.assistant(), "metadata": {SCENARIO_KEY: status}}
        if status == "requires_action":
            body["tools"] = [_WEATHER_TOOL]
            body["tool_choice"] = {"type": "function", "function": {"name": FUNCTION_NAME}}
        created = self._expect_ok(
            self.client.send("POST", f"/threads/{thread_id}/runs", json_body=body), "create a run"
        )
        run_id = str(created["id"])
        if status == "queued":
            if created.get("status") != "queued":
                raise NotArranged(
                    f"the run was created with status {preview(created.get('status'))}, not queued"
                )
            return ArrangedRun(thread_id, run_id, created)
        return ArrangedRun(thread_id, run_id, self.wait_for(thread_id, run_id, status))

    def read(self, thread_id: str, run_id: str) -> Exchange:
        return self.client.send("GET", f"/threads/{thread_id}/runs/{run_id}")

    def wait_for(self, thread_id: str, run_id: str, status: str) -> dict[str, Any]:
        """Poll the run until it has `status`; NotArranged if it settles elsewhere or time runs out."""
        deadline = time.monotonic() + self.wait
        pause = self.poll_pause
        last: Any = None
        while True:
            run = self._expect_ok(self.read(thread_id, run_id), "read the run back")
            last = run.get("status")
            if last == status:
                return run
            if last in TERMINAL_STATUSES:
                raise NotArranged(f"the run ended {preview(last)} instead of reaching {status}")
            if time.monotonic() + pause > deadline:
                raise NotArranged(
                    f"the run did not reach {status} within {self.wait:g} s (last status {preview(last)}); "
                    "raise --arrange-timeout if the target is slow"
                )
            time.sleep(pause)
            pause = min(pause * 2, 0.5)

    def cleanup(self) -> list[str]:
        """Delete every thread (and the assistant) this arranger created; the problems, if any."""
        problems = []
        for thread_id in self.created_threads:
            problems += self._delete(f"/threads/{thread_id}")
        self.created_threads.clear()
        if self.owns_assistant and self.assistant_id:
            problems += self._delete(f"/assistants/{self.assistant_id}")
            self.assistant_id = None
        return problems

    # -- helpers -----------------------------------------------------------------------------------

    def _cancelled_run(self, status: str, thread_id: str | None) -> ArrangedRun:
        arranged = self.run("in_progress", thread_id)
        answer = self._expect_ok(
            self.client.cancel(arranged.thread_id, arranged.run_id), "cancel the run (arranging)"
        )
        if status == "cancelling":
            if answer.get("status") != "cancelling":
                raise NotArranged(
                    f"the cancel answered status {preview(answer.get('status'))}, not cancelling"
                )
            return ArrangedRun(arranged.thread_id, arranged.run_id, answer)
        return ArrangedRun(
            arranged.thread_id, arranged.run_id, self.wait_for(arranged.thread_id, arranged.run_id, status)
        )

    def assistant(self) -> str:
        """The id of the assistant runs are created with (created on first use)."""
        if self.assistant_id is None:
            body = {
                "model": "gpt-4o-mini",
                "name": "runcancel contract suite",
                "instructions": "Answer briefly.",
                "tools": [{"type": "code_interpreter"}, _WEATHER_TOOL],
            }
            answer = self._expect_ok(
                self.client.send("POST", "/assistants", json_body=body), "create an assistant"
            )
            self.assistant_id = str(answer["id"])
            self.owns_assistant = True
        return self.assistant_id

    def _expect_ok(self, exchange: Exchange, what: str) -> dict[str, Any]:
        try:
            data = exchange.json()
        except ValueError:
            data = None
        if exchange.status == 200 and isinstance(data, dict) and isinstance(data.get("id"), str):
            return data
        detail = data.get("error", {}).get("message") if isinstance(data, dict) else None
        shown = preview(detail) if isinstance(detail, str) else preview(exchange.content, 80)
        raise ArrangeError(
            f"could not {what}: {exchange.method} {exchange.url} answered {exchange.status} ({shown}). "
            "Arranging runs needs the target's assistants, threads and runs endpoints."
        )

    def _delete(self, path: str) -> list[str]:
        try:
            exchange = self.client.send("DELETE", path)
        except TargetError as exc:
            return [str(exc)]
        if exchange.status not in (200, 404):
            return [f"DELETE {path} answered {exchange.status}"]
        return []
