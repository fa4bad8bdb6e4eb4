"""The mock's state: bounded stores of assistants, threads and runs, and their JSON views."""

from __future__ import annotations

import math
import random
import string
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from runcancel.mock import errors
from runcancel.mock.config import MockConfig
from runcancel.mock.lifecycle import (
    ACTIVE,
    EXPIRY_SECONDS,
    FAILURE_MESSAGE,
    PENDING,
    Plan,
    incomplete_reason,
    plan_run,
    snapshot_at,
    usage,
)
from runcancel.mock.validation import AssistantRequest, JSONObject, RunRequest, ThreadRequest

_ALPHANUMERIC = string.ascii_letters + string.digits
_random = random.Random()


def new_id(prefix: str) -> str:
    """An id as the live API shapes them: a prefix and 24 alphanumerics (``run_``, ``thread_`` ...)."""
    return prefix + "".join(_random.choices(_ALPHANUMERIC, k=24))


@dataclass(slots=True)
class AssistantRecord:
    """A stored assistant."""

    id: str
    created_at: int
    request: AssistantRequest


@dataclass(slots=True)
class ThreadRecord:
    """A stored thread."""

    id: str
    created_at: int
    metadata: dict[str, str]


@dataclass(slots=True)
class RunRecord:
    """A stored run: its inputs as resolved at creation, its plan, and when a cancel was accepted."""

    id: str
    thread_id: str
    assistant_id: str
    created: float
    created_at: int
    model: str
    instructions: str
    tools: list[JSONObject]
    metadata: dict[str, str]
    temperature: float
    top_p: float
    max_prompt_tokens: int | None
    max_completion_tokens: int | None
    truncation_strategy: JSONObject
    tool_choice: str | JSONObject
    parallel_tool_calls: bool
    response_format: str | JSONObject
    plan: Plan
    tool_call_id: str
    cancel_requested: float | None = None
    observed: float = -math.inf


class Store:
    """All objects of one mock app, behind one lock.

    Each kind is an insertion-ordered map capped at ``config.max_objects``: adding one more evicts the
    oldest, which is then not found. Every method takes the lock for its whole run and never awaits,
    so a read-check-write such as a cancel is atomic across threads and tasks.
    """

    def __init__(self, config: MockConfig) -> None:
        self._config = config
        self._lock = threading.Lock()
        self._assistants: OrderedDict[str, AssistantRecord] = OrderedDict()
        self._threads: OrderedDict[str, ThreadRecord] = OrderedDict()
        self._runs: OrderedDict[str, RunRecord] = OrderedDict()
        self._thread_runs: dict[str, dict[str, None]] = {}
        self._wall_origin = time.time()
        self._clock_origin = config.clock()

    def sizes(self) -> dict[str, int]:
        """How many assistants, threads and runs are stored."""
        with self._lock:
            return {
                "assistants": len(self._assistants),
                "threads": len(self._threads),
                "runs": len(self._runs),
            }

    # Assistants

    def create_assistant(self, request: AssistantRequest) -> JSONObject:
        """Store a new assistant and return its view."""
        with self._lock:
            record = AssistantRecord(new_id("asst_"), self._wall(self._config.clock()), request)
            self._assistants[record.id] = record
            if len(self._assistants) > self._config.max_objects:
                self._assistants.popitem(last=False)
            return _assistant_view(record)

    def get_assistant(self, assistant_id: str) -> JSONObject:
        """The view of a stored assistant, or 404."""
        with self._lock:
            return _assistant_view(self._assistant(assistant_id))

    def delete_assistant(self, assistant_id: str) -> JSONObject:
        """Remove an assistant (its runs stay), or 404."""
        with self._lock:
            self._assistant(assistant_id)
            del self._assistants[assistant_id]
            return {"id": assistant_id, "object": "assistant.deleted", "deleted": True}

    # Threads

    def create_thread(self, request: ThreadRequest) -> JSONObject:
        """Store a new thread and return its view."""
        with self._lock:
            record = ThreadRecord(new_id("thread_"), self._wall(self._config.clock()), request.metadata)
            self._threads[record.id] = record
            self._thread_runs[record.id] = {}
            if len(self._threads) > self._config.max_objects:
                oldest, _ = self._threads.popitem(last=False)
                self._drop_runs_of(oldest)
            return _thread_view(record)

    def get_thread(self, thread_id: str) -> JSONObject:
        """The view of a stored thread, or 404."""
        with self._lock:
            return _thread_view(self._thread(thread_id))

    def delete_thread(self, thread_id: str) -> JSONObject:
        """Remove a thread and its runs, or 404."""
        with self._lock:
            self._thread(thread_id)
            del self._threads[thread_id]
            self._drop_runs_of(thread_id)
            return {"id": thread_id, "object": "thread.deleted", "deleted": True}

    # Runs

    def create_run(self, thread_id: str, request: RunRequest) -> JSONObject:
        """Start a run of an assistant on a thread; 404 for an unknown thread or assistant."""
        with self._lock:
            now = self._config.clock()
            self._thread(thread_id)
            assistant = self._assistant(request.assistant_id).request
            instructions = assistant.instructions if request.instructions is None else request.instructions
            instructions = instructions or ""
            if request.additional_instructions:
                instructions = f"{instructions}\n{request.additional_instructions}".lstrip("\n")
            tools = assistant.tools if request.tools is None else request.tools
            plan = plan_run(request.metadata, tools, request.tool_choice)
            record = RunRecord(
                id=new_id("run_"),
                thread_id=thread_id,
                assistant_id=request.assistant_id,
                created=now,
                created_at=self._wall(now),
                model=request.model or assistant.model,
                instructions=instructions,
                tools=tools,
                metadata=request.metadata,
                temperature=assistant.temperature if request.temperature is None else request.temperature,
                top_p=assistant.top_p if request.top_p is None else request.top_p,
                max_prompt_tokens=request.max_prompt_tokens,
                max_completion_tokens=request.max_completion_tokens,
                truncation_strategy=request.truncation_strategy,
                tool_choice=request.tool_choice,
                parallel_tool_calls=request.parallel_tool_calls,
                response_format=request.response_format or assistant.response_format,
                plan=plan,
                tool_call_id=new_id("call_"),
            )
            self._runs[record.id] = record
            self._thread_runs[thread_id][record.id] = None
            if len(self._runs) > self._config.max_objects:
                _, oldest = self._runs.popitem(last=False)
                self._thread_runs.get(oldest.thread_id, {}).pop(oldest.id, None)
            return self._run_view(record, now)

    def get_run(self, thread_id: str, run_id: str) -> JSONObject:
        """The run as it stands now; 404 for an unknown thread, or a run not on that thread."""
        with self._lock:
            now = self._config.clock()
            return self._run_view(self._run(thread_id, run_id), now)

    def list_runs(
        self, thread_id: str, *, limit: int, order: str, after: str | None, before: str | None
    ) -> JSONObject:
        """A page of a thread's runs as a list object, newest first unless ``order`` is ``asc``."""
        with self._lock:
            now = self._config.clock()
            self._thread(thread_id)
            ids = list(self._thread_runs[thread_id])
            if order == "desc":
                ids.reverse()
            if after is not None:
                ids = ids[ids.index(after) + 1 :] if after in ids else []
            if before is not None:
                ids = ids[: ids.index(before)] if before in ids else []
            page = ids[:limit]
            data = [self._run_view(self._runs[run_id], now) for run_id in page]
            return {
                "object": "list",
                "data": data,
                "first_id": page[0] if page else None,
                "last_id": page[-1] if page else None,
                "has_more": len(ids) > limit,
            }

    def cancel_run(self, thread_id: str, run_id: str) -> JSONObject:
        """Accept a cancel of an active run (it reads ``cancelling``), else 400 naming its status."""
        with self._lock:
            now = self._config.clock()
            record = self._run(thread_id, run_id)
            status = self._run_view(record, now)["status"]
            if status not in ACTIVE:
                raise errors.cannot_cancel(status)
            record.cancel_requested = record.observed
            return self._run_view(record, now)

    # Helpers (the lock is held)

    def _wall(self, reading: float) -> int:
        return math.floor(self._wall_origin + (reading - self._clock_origin))

    def _assistant(self, assistant_id: str) -> AssistantRecord:
        record = self._assistants.get(assistant_id)
        if record is None:
            raise errors.not_found("assistant", assistant_id)
        return record

    def _thread(self, thread_id: str) -> ThreadRecord:
        record = self._threads.get(thread_id)
        if record is None:
            raise errors.not_found("thread", thread_id)
        return record

    def _run(self, thread_id: str, run_id: str) -> RunRecord:
        self._thread(thread_id)
        record = self._runs.get(run_id)
        if record is None or record.thread_id != thread_id:
            raise errors.not_found("run", run_id)
        return record

    def _drop_runs_of(self, thread_id: str) -> None:
        for run_id in self._thread_runs.pop(thread_id, {}):
            self._runs.pop(run_id, None)

    def _run_view(self, run: RunRecord, now: float) -> JSONObject:
        # A clock that steps back (a fake one, say) never moves a run back to an earlier status.
        run.observed = max(now, run.observed)
        snap = snapshot_at(
            run.plan,
            run.created,
            run.cancel_requested,
            run.observed,
            self._config.step,
            self._config.cancel_delay,
        )
        status = snap.status
        ended = None if snap.ended is None else self._wall(snap.ended)
        limits = (run.max_prompt_tokens, run.max_completion_tokens)
        return {
            "id": run.id,
            "object": "thread.run",
            "created_at": run.created_at,
            "assistant_id": run.assistant_id,
            "thread_id": run.thread_id,
            "status": status,
            "started_at": None if snap.started is None else self._wall(snap.started),
            "expires_at": run.created_at + EXPIRY_SECONDS if status in PENDING else None,
            "cancelled_at": ended if status == "cancelled" else None,
            "failed_at": ended if status == "failed" else None,
            "completed_at": ended if status == "completed" else None,
            "required_action": _required_action(run) if status == "requires_action" else None,
            "last_error": {"code": "server_error", "message": FAILURE_MESSAGE}
            if status == "failed"
            else None,
            "model": run.model,
            "instructions": run.instructions,
            "tools": run.tools,
            "metadata": run.metadata,
            "temperature": run.temperature,
            "top_p": run.top_p,
            "max_completion_tokens": run.max_completion_tokens,
            "max_prompt_tokens": run.max_prompt_tokens,
            "truncation_strategy": run.truncation_strategy,
            "incomplete_details": {"reason": incomplete_reason(limits)} if status == "incomplete" else None,
            "usage": usage(status, snap.started is not None, run.instructions, len(run.tools), limits),
            "response_format": run.response_format,
            "tool_choice": run.tool_choice,
            "parallel_tool_calls": run.parallel_tool_calls,
        }


def _required_action(run: RunRecord) -> JSONObject:
    call = {
        "id": run.tool_call_id,
        "type": "function",
        "function": {"name": run.plan.function, "arguments": "{}"},
    }
    return {"type": "submit_tool_outputs", "submit_tool_outputs": {"tool_calls": [call]}}


def _assistant_view(record: AssistantRecord) -> JSONObject:
    request = record.request
    return {
        "id": record.id,
        "object": "assistant",
        "created_at": record.created_at,
        "name": request.name,
        "description": request.description,
        "model": request.model,
        "instructions": request.instructions,
        "tools": request.tools,
        "tool_resources": {},
        "metadata": request.metadata,
        "temperature": request.temperature,
        "top_p": request.top_p,
        "response_format": request.response_format,
    }


def _thread_view(record: ThreadRecord) -> JSONObject:
    return {
        "id": record.id,
        "object": "thread",
        "created_at": record.created_at,
        "metadata": record.metadata,
        "tool_resources": {},
    }
