"""The JSON the mock answers with: runs in the configured era's shape, messages, run steps, and the rest."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from runcancel.eras import ERAS, era_named
from runcancel.mock.config import Timings
from runcancel.mock.encoding import RunAnswer, RunEncoder
from runcancel.mock.fields import JSONObject
from runcancel.mock.inputs import text_block
from runcancel.mock.lifecycle import (
    EXPIRY_SECONDS,
    FAILURE_MESSAGE,
    PENDING,
    Snapshot,
    incomplete_reason,
    usage,
)
from runcancel.mock.records import AssistantRecord, MessageRecord, RunRecord, ThreadRecord

ANSWER_TEXT = "This is the reference mock's answer: the run completed."
"""The text of the assistant message a completed run leaves in its thread."""

Wall = Callable[[float], int]
_NEWEST = ERAS[-1]
_MESSAGE_STEP_STATUS = {
    "completed": "completed",
    "incomplete": "completed",
    "cancelled": "cancelled",
    "failed": "failed",
    "expired": "expired",
}
_MESSAGE_INCOMPLETE = {
    "cancelled": "run_cancelled",
    "failed": "run_failed",
    "expired": "run_expired",
    "incomplete": "max_tokens",
}


@dataclass(frozen=True, slots=True)
class Shape:
    """The Run keys of one era, in its order, whether ``usage`` carries the token details, and the
    encoder of Runs in that shape."""

    name: str
    keys: tuple[str, ...]
    newest: bool
    usage_details: bool
    encoder: RunEncoder

    @classmethod
    def of(cls, era: str) -> Shape:
        found = era_named(era)
        newest = found.name == _NEWEST.name
        return cls(found.name, found.keys, newest, newest, RunEncoder(found.keys))

    def run(self, full: JSONObject, fixed: tuple[bytes, ...]) -> RunAnswer:
        """The Run with this era's keys in this era's order (``file_ids`` for a v1 era); ``fixed`` is
        the run's ``encoded`` parts (empty until the store has encoded them)."""
        if not self.newest:
            full["file_ids"] = []
            full = {key: full[key] for key in self.keys}
        return RunAnswer(full, self.encoder, fixed)


def run_view(run: RunRecord, snap: Snapshot, wall: Wall, shape: Shape) -> RunAnswer:
    """The Run as the live API of the configured era shows it."""
    status = snap.status
    ended = None if snap.ended is None else wall(snap.ended)
    limits = (run.max_prompt_tokens, run.max_completion_tokens)
    used: JSONObject | None = usage(
        status, snap.started is not None, run.instructions, len(run.tools), limits
    )
    if used is not None and shape.usage_details:
        used["prompt_token_details"] = {"cached_tokens": 0}
        used["completion_tokens_details"] = {"reasoning_tokens": 0}
    return shape.run(
        {
            "id": run.id,
            "object": "thread.run",
            "created_at": run.created_at,
            "assistant_id": run.assistant_id,
            "thread_id": run.thread_id,
            "status": status,
            "started_at": None if snap.started is None else wall(snap.started),
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
            "tool_resources": run.tool_resources,
            "metadata": run.metadata,
            "temperature": run.temperature,
            "top_p": run.top_p,
            "reasoning_effort": run.reasoning_effort,
            "max_completion_tokens": run.max_completion_tokens,
            "max_prompt_tokens": run.max_prompt_tokens,
            "truncation_strategy": run.truncation_strategy,
            "incomplete_details": {"reason": incomplete_reason(limits)} if status == "incomplete" else None,
            "usage": used,
            "response_format": run.response_format,
            "tool_choice": run.tool_choice,
            "parallel_tool_calls": run.parallel_tool_calls,
        },
        run.encoded,
    )


def fixed_parts(run: RunRecord, wall: Wall, shape: Shape) -> tuple[bytes, ...]:
    """The encoded keys of the run that do not follow its status (any status will do to read them)."""
    return shape.encoder.fixed(run_view(run, Snapshot("queued"), wall, shape))


def _required_action(run: RunRecord) -> JSONObject:
    call = {
        "id": run.tool_call_id,
        "type": "function",
        "function": {"name": run.plan.function, "arguments": "{}"},
    }
    return {"type": "submit_tool_outputs", "submit_tool_outputs": {"tool_calls": [call]}}


def message_step_start(run: RunRecord, snap: Snapshot, now: float, timings: Timings) -> float | None:
    """When the run began writing its answer (its ``message_creation`` step), or None if it never did."""
    if run.plan.function is None:
        return snap.started
    if snap.resumed is None:
        return None
    start = snap.resumed + timings.queued
    end = now if snap.ended is None else snap.ended
    return start if end >= start else None


def tool_step_start(run: RunRecord, snap: Snapshot, timings: Timings) -> float | None:
    """When the run asked for tool outputs (its ``tool_calls`` step), or None if it never did."""
    if run.plan.function is None or snap.started is None:
        return None
    reached = snap.started + timings.in_progress
    if run.cancel_requested is not None and run.cancel_requested < reached:
        return None
    if snap.status == "in_progress" and snap.resumed is None:
        return None
    if snap.status == "expired" and snap.resumed is None and snap.ended is not None and snap.ended < reached:
        return None
    return reached


def steps_view(run: RunRecord, snap: Snapshot, now: float, wall: Wall, timings: Timings) -> list[JSONObject]:
    """The run's steps, oldest first: a ``tool_calls`` step if it called a function, then its answer."""
    steps: list[JSONObject] = []
    ended = None if snap.ended is None else wall(snap.ended)
    tool_start = tool_step_start(run, snap, timings)
    if tool_start is not None:
        call = {
            "id": run.tool_call_id,
            "type": "function",
            "function": {"name": run.plan.function, "arguments": "{}", "output": run.tool_output},
        }
        if snap.resumed is not None:
            status, finished = "completed", wall(snap.resumed)
        elif snap.status in PENDING:
            status, finished = "in_progress", None
        else:
            status, finished = _MESSAGE_STEP_STATUS.get(snap.status, "failed"), ended
        calls: JSONObject = {"type": "tool_calls", "tool_calls": [call]}
        steps.append(_step(run, run.tool_step_id, "tool_calls", wall(tool_start), status, finished, calls))
    message_start = message_step_start(run, snap, now, timings)
    if message_start is not None:
        if snap.status in PENDING:
            status, finished = "in_progress", None
        else:
            status, finished = _MESSAGE_STEP_STATUS.get(snap.status, "failed"), ended
        details: JSONObject = {"type": "message_creation", "message_creation": {"message_id": run.message_id}}
        steps.append(
            _step(
                run, run.message_step_id, "message_creation", wall(message_start), status, finished, details
            )
        )
    return steps


def _step(
    run: RunRecord,
    step_id: str,
    kind: str,
    created_at: int,
    status: str,
    finished: int | None,
    details: JSONObject,
) -> JSONObject:
    done = status == "completed"
    return {
        "id": step_id,
        "object": "thread.run.step",
        "created_at": created_at,
        "run_id": run.id,
        "assistant_id": run.assistant_id,
        "thread_id": run.thread_id,
        "type": kind,
        "status": status,
        "cancelled_at": finished if status == "cancelled" else None,
        "completed_at": finished if done else None,
        "expires_at": None if finished is not None else run.created_at + EXPIRY_SECONDS,
        "expired_at": finished if status == "expired" else None,
        "failed_at": finished if status == "failed" else None,
        "last_error": {"code": "server_error", "message": FAILURE_MESSAGE} if status == "failed" else None,
        "step_details": details,
        "usage": {"prompt_tokens": 40, "completion_tokens": 8, "total_tokens": 48} if done else None,
        "metadata": {},
    }


def answer_message(run: RunRecord, snap: Snapshot, wall: Wall) -> MessageRecord:
    """The assistant message a finished run leaves: the fixed answer, or empty and incomplete."""
    finished = wall(snap.ended if snap.ended is not None else run.created)
    completed = snap.status == "completed"
    return MessageRecord(
        id=run.message_id,
        thread_id=run.thread_id,
        created_at=finished,
        role="assistant",
        content=[text_block(ANSWER_TEXT)] if completed else [],
        attachments=[],
        metadata={},
        assistant_id=run.assistant_id,
        run_id=run.id,
        status="completed" if completed else "incomplete",
        incomplete_reason=None if completed else _MESSAGE_INCOMPLETE.get(snap.status, "run_failed"),
    )


def message_view(record: MessageRecord) -> JSONObject:
    """A ``thread.message``."""
    done = record.status == "completed"
    return {
        "id": record.id,
        "object": "thread.message",
        "created_at": record.created_at,
        "assistant_id": record.assistant_id,
        "thread_id": record.thread_id,
        "run_id": record.run_id,
        "role": record.role,
        "content": record.content,
        "attachments": record.attachments,
        "metadata": record.metadata,
        "status": record.status,
        "incomplete_details": None if done else {"reason": record.incomplete_reason},
        "completed_at": record.created_at if done else None,
        "incomplete_at": None if done else record.created_at,
    }


def assistant_view(record: AssistantRecord) -> JSONObject:
    """An ``assistant``."""
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
        "tool_resources": request.tool_resources or {},
        "metadata": request.metadata,
        "temperature": request.temperature,
        "top_p": request.top_p,
        "reasoning_effort": request.reasoning_effort,
        "response_format": request.response_format,
    }


def thread_view(record: ThreadRecord) -> JSONObject:
    """A ``thread``."""
    return {
        "id": record.id,
        "object": "thread",
        "created_at": record.created_at,
        "metadata": record.metadata,
        "tool_resources": record.tool_resources,
    }


def page(items: list[JSONObject], ids: list[str], limit: int) -> JSONObject:
    """A list object: ``data`` and the cursors, ``has_more`` when more ids follow the page."""
    return {
        "object": "list",
        "data": items[:limit],
        "first_id": ids[0] if ids else None,
        "last_id": ids[min(limit, len(ids)) - 1] if ids else None,
        "has_more": len(ids) > limit,
    }
