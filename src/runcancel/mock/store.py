"""The mock's state: assistants, threads, messages and runs behind one lock, bounded in count and bytes."""

from __future__ import annotations

import math
import random
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, replace

from runcancel.mock import errors
from runcancel.mock.config import MockConfig
from runcancel.mock.fields import JSONObject
from runcancel.mock.inputs import MessageRequest, ToolOutputs
from runcancel.mock.lifecycle import ACTIVE, PENDING, Snapshot, plan_run, snapshot_at
from runcancel.mock.records import (
    AssistantRecord,
    MessageRecord,
    RunRecord,
    ThreadRecord,
    new_id,
    size_of,
)
from runcancel.mock.validation import AssistantRequest, RunRequest, ThreadRequest
from runcancel.mock.views import (
    Shape,
    answer_message,
    assistant_view,
    fixed_parts,
    message_step_start,
    message_view,
    page,
    run_view,
    steps_view,
    thread_view,
)

KINDS = ("assistants", "threads", "messages", "runs")


@dataclass(frozen=True, slots=True)
class Listing:
    """The query of a list request."""

    limit: int = 20
    order: str = "desc"
    after: str | None = None
    before: str | None = None


@dataclass(frozen=True, slots=True)
class RunState:
    """A run as a stream reports it: the Run, its steps, and the message it left once finished."""

    run: JSONObject
    steps: list[JSONObject]
    message: JSONObject | None
    message_started: bool


class Store:
    """All objects of one mock app, behind one lock.

    Each kind is capped at ``config.max_objects``, and everything stored at ``config.max_bytes``
    (each object counted at the estimated memory of its contents plus a fixed overhead): adding one more
    evicts the oldest objects, which are then not found. Every method takes the lock for its whole run
    and never awaits, so a read-check-write such as a cancel is atomic across threads and tasks.
    """

    def __init__(self, config: MockConfig) -> None:
        self._config = config
        self._timings = config.timings
        self._shape = Shape.of(config.era)
        self._race = random.Random(config.seed)
        self._lock = threading.Lock()
        self._assistants: dict[str, AssistantRecord] = {}
        self._threads: dict[str, ThreadRecord] = {}
        self._messages: dict[str, MessageRecord] = {}
        self._runs: dict[str, RunRecord] = {}
        self._ledger: OrderedDict[tuple[str, str], int] = OrderedDict()
        self._counts = dict.fromkeys(KINDS, 0)
        self._bytes = 0
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

    def stored_bytes(self) -> int:
        """The bytes counted against ``max_bytes``."""
        with self._lock:
            return self._bytes

    # Assistants

    def create_assistant(self, request: AssistantRequest) -> JSONObject:
        """Store a new assistant and return its view."""
        with self._lock:
            record = AssistantRecord(new_id("asst_"), self._now_wall(), request)
            self._assistants[record.id] = record
            self._admit("assistants", record.id, size_of(request))
            return assistant_view(record)

    def get_assistant(self, assistant_id: str) -> JSONObject:
        """The view of a stored assistant, or 404."""
        with self._lock:
            return assistant_view(self._assistant(assistant_id))

    def update_assistant(self, assistant_id: str, changes: dict[str, object]) -> JSONObject:
        """Change the given fields of an assistant, or 404."""
        with self._lock:
            record = self._assistant(assistant_id)
            record.request = replace(record.request, **changes)  # type: ignore[arg-type]
            return assistant_view(record)

    def list_assistants(self, listing: Listing) -> JSONObject:
        """A page of the assistants."""
        with self._lock:
            ids = _paginate(list(self._assistants), listing)
            return page(
                [assistant_view(self._assistants[i]) for i in ids[: listing.limit]], ids, listing.limit
            )

    def delete_assistant(self, assistant_id: str) -> JSONObject:
        """Remove an assistant (its runs stay), or 404."""
        with self._lock:
            self._assistant(assistant_id)
            self._remove("assistants", assistant_id)
            return {"id": assistant_id, "object": "assistant.deleted", "deleted": True}

    # Threads

    def create_thread(self, request: ThreadRequest) -> JSONObject:
        """Store a new thread with its messages and return its view."""
        with self._lock:
            return thread_view(self._new_thread(request))

    def get_thread(self, thread_id: str) -> JSONObject:
        """The view of a stored thread, or 404."""
        with self._lock:
            return thread_view(self._thread(thread_id))

    def update_thread(
        self, thread_id: str, metadata: dict[str, str] | None, tool_resources: JSONObject | None
    ) -> JSONObject:
        """Replace a thread's metadata and tool resources (those given), or 404."""
        with self._lock:
            record = self._thread(thread_id)
            if metadata is not None:
                record.metadata = metadata
            if tool_resources is not None:
                record.tool_resources = tool_resources
            return thread_view(record)

    def delete_thread(self, thread_id: str) -> JSONObject:
        """Remove a thread, its messages and its runs, or 404."""
        with self._lock:
            self._thread(thread_id)
            self._remove("threads", thread_id)
            return {"id": thread_id, "object": "thread.deleted", "deleted": True}

    # Messages

    def create_message(self, thread_id: str, request: MessageRequest) -> JSONObject:
        """Add a message to a thread; 400 while a run of the thread is active, as live."""
        with self._lock:
            thread = self._thread(thread_id)
            now = self._config.clock()
            for run_id in thread.runs:
                status = self._snapshot(self._runs[run_id], now).status
                if status in PENDING:
                    raise errors.ApiError(
                        400,
                        f"Can't add messages to {thread_id} while a run {run_id} is active.",
                    )
            return message_view(self._add_message(thread, request))

    def list_messages(self, thread_id: str, listing: Listing, run_id: str | None) -> JSONObject:
        """A page of a thread's messages (those of one run, if given)."""
        with self._lock:
            thread = self._settled(thread_id)
            ids = [i for i in thread.messages if run_id is None or self._messages[i].run_id == run_id]
            ids = _paginate(ids, listing)
            views = [message_view(self._messages[i]) for i in ids[: listing.limit]]
            return page(views, ids, listing.limit)

    def get_message(self, thread_id: str, message_id: str) -> JSONObject:
        """One message of a thread, or 404."""
        with self._lock:
            return message_view(self._message(self._settled(thread_id), message_id))

    def update_message(self, thread_id: str, message_id: str, metadata: dict[str, str] | None) -> JSONObject:
        """Replace a message's metadata, or 404."""
        with self._lock:
            record = self._message(self._settled(thread_id), message_id)
            if metadata is not None:
                record.metadata = metadata
            return message_view(record)

    # Runs

    def create_run(self, thread_id: str, request: RunRequest) -> JSONObject:
        """Start a run of an assistant on a thread; 404 for an unknown thread or assistant."""
        with self._lock:
            thread = self._thread(thread_id)
            return self._run_view(self._new_run(thread, request), self._config.clock())

    def create_thread_and_run(self, thread: ThreadRequest, request: RunRequest) -> JSONObject:
        """Create a thread and start a run on it, checking the assistant first (nothing is kept on 404)."""
        with self._lock:
            self._assistant(request.assistant_id)
            record = self._new_thread(thread)
            return self._run_view(self._new_run(record, request), self._config.clock())

    def get_run(self, thread_id: str, run_id: str) -> JSONObject:
        """The run as it stands now; 404 for an unknown thread, or a run not on that thread."""
        with self._lock:
            return self._run_view(self._run(thread_id, run_id), self._config.clock())

    def run_state(self, thread_id: str, run_id: str) -> RunState:
        """The run, its steps and (once finished) its message, read at one moment."""
        with self._lock:
            now = self._config.clock()
            run = self._run(thread_id, run_id)
            view = self._run_view(run, now)
            snap = self._snapshot(run, now)
            steps = steps_view(run, snap, run.observed, self._wall, self._timings)
            message = self._messages.get(run.message_id)
            started = message_step_start(run, snap, run.observed, self._timings) is not None
            return RunState(view, steps, None if message is None else message_view(message), started)

    def list_runs(self, thread_id: str, listing: Listing) -> JSONObject:
        """A page of a thread's runs as a list object, newest first unless ``order`` is ``asc``."""
        with self._lock:
            now = self._config.clock()
            ids = _paginate(list(self._thread(thread_id).runs), listing)
            views = [self._run_view(self._runs[i], now) for i in ids[: listing.limit]]
            return page(views, ids, listing.limit)

    def update_run(self, thread_id: str, run_id: str, metadata: dict[str, str] | None) -> JSONObject:
        """Replace a finished run's metadata; 400 while it is active, as live."""
        with self._lock:
            now = self._config.clock()
            run = self._run(thread_id, run_id)
            status = self._snapshot(run, now).status
            if status in PENDING:
                raise errors.ApiError(400, f"Cannot update run with status '{status}'.")
            if metadata is not None:
                run.metadata = metadata
                run.encoded = fixed_parts(run, self._wall, self._shape)
            return self._run_view(run, now)

    def cancel_run(self, thread_id: str, run_id: str, facts: list[str] | None = None) -> JSONObject:
        """Accept a cancel of an active run (it reads ``cancelling``), else 400 naming its status.

        ``facts`` (if given) receives the status change, and whether the cancel lost the race.
        """
        with self._lock:
            now = self._config.clock()
            record = self._run(thread_id, run_id)
            snap = self._snapshot(record, now)
            self._settle(record, snap)
            status = snap.status
            if status not in ACTIVE:
                if facts is not None:
                    facts.append(f"{run_id} {status}: not cancelled")
                raise errors.cannot_cancel(status)
            record.cancel_requested = record.observed
            race = self._config.cancel_race
            record.cancel_lost = race > 0 and self._race.random() < race
            if facts is not None:
                lost = " (loses the race: it will complete)" if record.cancel_lost else ""
                facts.append(f"{run_id} {status} -> cancelling{lost}")
            return self._run_view(record, now)

    def submit_tool_outputs(self, thread_id: str, run_id: str, request: ToolOutputs) -> JSONObject:
        """Give a ``requires_action`` run its tool outputs: it goes on to ``completed``; else 400."""
        with self._lock:
            now = self._config.clock()
            run = self._run(thread_id, run_id)
            status = self._snapshot(run, now).status
            if status != "requires_action":
                raise errors.ApiError(400, f'Runs in status "{status}" do not accept tool outputs.')
            if set(request.outputs) != {run.tool_call_id}:
                given = sorted(request.outputs)
                raise errors.ApiError(
                    400,
                    f"Expected tool outputs for call_ids {[run.tool_call_id]}, got {given}",
                    param="tool_outputs",
                )
            run.resumed = run.observed
            run.tool_output = request.outputs[run.tool_call_id]
            return self._run_view(run, now)

    def list_steps(self, thread_id: str, run_id: str, listing: Listing) -> JSONObject:
        """A page of a run's steps."""
        with self._lock:
            now = self._config.clock()
            run = self._run(thread_id, run_id)
            self._run_view(run, now)
            steps = steps_view(run, self._snapshot(run, now), run.observed, self._wall, self._timings)
            by_id = {step["id"]: step for step in steps}
            ids = _paginate(list(by_id), listing)
            return page([by_id[i] for i in ids[: listing.limit]], ids, listing.limit)

    def get_step(self, thread_id: str, run_id: str, step_id: str) -> JSONObject:
        """One step of a run, or 404."""
        with self._lock:
            now = self._config.clock()
            run = self._run(thread_id, run_id)
            self._run_view(run, now)
            for step in steps_view(run, self._snapshot(run, now), run.observed, self._wall, self._timings):
                if step["id"] == step_id:
                    return step
            raise errors.ApiError(404, f"No run step found with id '{step_id}'.")

    # Helpers (the lock is held)

    def _now_wall(self) -> int:
        return self._wall(self._config.clock())

    def _wall(self, reading: float) -> int:
        return math.floor(self._wall_origin + (reading - self._clock_origin))

    def _new_thread(self, request: ThreadRequest) -> ThreadRecord:
        record = ThreadRecord(
            new_id("thread_"), self._now_wall(), request.metadata, request.tool_resources or {}
        )
        self._threads[record.id] = record
        self._admit("threads", record.id, size_of(request.metadata, request.tool_resources))
        for message in request.messages:
            self._add_message(record, message)
        return record

    def _add_message(self, thread: ThreadRecord, request: MessageRequest) -> MessageRecord:
        record = MessageRecord(
            id=new_id("msg_"),
            thread_id=thread.id,
            created_at=self._now_wall(),
            role=request.role,
            content=request.content,
            attachments=request.attachments,
            metadata=request.metadata,
        )
        return self._store_message(thread, record, size_of(request))

    def _store_message(self, thread: ThreadRecord, record: MessageRecord, size: int) -> MessageRecord:
        self._messages[record.id] = record
        thread.messages[record.id] = None
        self._admit("messages", record.id, size, thread.id)
        return record

    def _new_run(self, thread: ThreadRecord, request: RunRequest) -> RunRecord:
        now = self._config.clock()
        assistant = self._assistant(request.assistant_id).request
        instructions = assistant.instructions if request.instructions is None else request.instructions
        instructions = instructions or ""
        if request.additional_instructions:
            instructions = f"{instructions}\n{request.additional_instructions}".lstrip("\n")
        tools = assistant.tools if request.tools is None else request.tools
        plan = plan_run(request.metadata, tools, request.tool_choice)
        for message in request.additional_messages:
            self._add_message(thread, message)
        resources = request.tool_resources
        record = RunRecord(
            id=new_id("run_"),
            thread_id=thread.id,
            assistant_id=request.assistant_id,
            created=now,
            created_at=self._wall(now),
            model=request.model or assistant.model,
            instructions=instructions,
            tools=tools,
            tool_resources=resources if resources is not None else {},
            metadata=request.metadata,
            temperature=assistant.temperature if request.temperature is None else request.temperature,
            top_p=assistant.top_p if request.top_p is None else request.top_p,
            reasoning_effort=request.reasoning_effort,
            max_prompt_tokens=request.max_prompt_tokens,
            max_completion_tokens=request.max_completion_tokens,
            truncation_strategy=request.truncation_strategy,
            tool_choice=request.tool_choice,
            parallel_tool_calls=request.parallel_tool_calls,
            response_format=request.response_format or assistant.response_format,
            plan=plan,
            tool_call_id=new_id("call_"),
            tool_step_id=new_id("step_"),
            message_step_id=new_id("step_"),
            message_id=new_id("msg_"),
        )
        record.encoded = fixed_parts(record, self._wall, self._shape)
        self._runs[record.id] = record
        thread.runs[record.id] = None
        size = size_of(instructions, tools, request.metadata, resources, record.encoded)
        self._admit("runs", record.id, size, thread.id)
        return record

    def _admit(self, kind: str, object_id: str, size: int, parent: str | None = None) -> None:
        """Count a new object, evicting the oldest others (never it, nor the thread it belongs to)."""
        kept = {(kind, object_id), ("threads", parent)}
        self._ledger[(kind, object_id)] = size
        self._bytes += size
        self._counts[kind] += 1
        while self._counts[kind] > self._config.max_objects and self._evict_oldest(kind, kept):
            pass
        while self._bytes > self._config.max_bytes and self._evict_oldest(None, kept):
            pass

    def _evict_oldest(self, kind: str | None, kept: set[tuple[str, str | None]]) -> bool:
        for key in self._ledger:
            if (kind is None or key[0] == kind) and key not in kept:
                self._remove(*key)
                return True
        return False

    def _remove(self, kind: str, object_id: str) -> None:
        size = self._ledger.pop((kind, object_id), None)
        if size is None:
            return
        self._bytes -= size
        self._counts[kind] -= 1
        if kind == "assistants":
            del self._assistants[object_id]
        elif kind == "threads":
            thread = self._threads.pop(object_id)
            for message_id in list(thread.messages):
                self._remove("messages", message_id)
            for run_id in list(thread.runs):
                self._remove("runs", run_id)
        elif kind == "messages":
            message = self._messages.pop(object_id)
            owner = self._threads.get(message.thread_id)
            if owner is not None:
                owner.messages.pop(object_id, None)
        else:
            run = self._runs.pop(object_id)
            owner = self._threads.get(run.thread_id)
            if owner is not None:
                owner.runs.pop(object_id, None)

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

    def _settled(self, thread_id: str) -> ThreadRecord:
        """The thread, with the messages its finished runs left added."""
        thread = self._thread(thread_id)
        now = self._config.clock()
        for run_id in list(thread.runs):
            run = self._runs[run_id]
            if not run.answered:
                self._run_view(run, now)
        return thread

    def _message(self, thread: ThreadRecord, message_id: str) -> MessageRecord:
        if message_id not in thread.messages:
            raise errors.not_found("message", message_id)
        return self._messages[message_id]

    def _run(self, thread_id: str, run_id: str) -> RunRecord:
        self._thread(thread_id)
        record = self._runs.get(run_id)
        if record is None or record.thread_id != thread_id:
            raise errors.not_found("run", run_id)
        return record

    def _snapshot(self, run: RunRecord, now: float) -> Snapshot:
        # A clock that steps back (a fake one, say) never moves a run back to an earlier status.
        if now > run.observed:
            run.observed = now
        return snapshot_at(run, run.observed, self._timings)

    def _run_view(self, run: RunRecord, now: float) -> JSONObject:
        snap = self._snapshot(run, now)
        self._settle(run, snap)
        return run_view(run, snap, self._wall, self._shape)

    def _settle(self, run: RunRecord, snap: Snapshot) -> None:
        """Once a run has finished, leave the message it wrote in its thread (once)."""
        if not run.answered and snap.status not in PENDING:
            run.answered = True
            if message_step_start(run, snap, run.observed, self._timings) is not None:
                thread = self._threads.get(run.thread_id)
                if thread is not None:
                    self._store_message(thread, answer_message(run, snap, self._wall), size_of(None))


def _paginate(ids: list[str], listing: Listing) -> list[str]:
    """The ids from the cursor on, in the listing's order (the page is the first ``limit``)."""
    if listing.order == "desc":
        ids = ids[::-1]
    if listing.after is not None:
        ids = ids[ids.index(listing.after) + 1 :] if listing.after in ids else []
    if listing.before is not None:
        ids = ids[: ids.index(listing.before)] if listing.before in ids else []
    return ids
