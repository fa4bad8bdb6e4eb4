"""What the mock stores: one record per assistant, thread, message and run, and their ids and sizes."""

from __future__ import annotations

import math
import random
import string
import sys
from dataclasses import dataclass, field
from typing import Any

from runcancel.mock.fields import JSONObject
from runcancel.mock.lifecycle import Plan
from runcancel.mock.validation import AssistantRequest

_ALPHANUMERIC = string.ascii_letters + string.digits
_random = random.Random()

RECORD_OVERHEAD = 1024
"""Bytes counted for each record besides its contents (the record, its ids, its place in the maps)."""


def new_id(prefix: str) -> str:
    """An id as the live API shapes them: a prefix and 24 alphanumerics (``run_``, ``thread_`` ...)."""
    return prefix + "".join(_random.choices(_ALPHANUMERIC, k=24))


def size_of(*values: Any) -> int:
    """The memory the given JSON values take, estimated as their Python objects' sizes, plus overhead."""
    total = RECORD_OVERHEAD
    stack = list(values)
    while stack:
        item = stack.pop()
        total += sys.getsizeof(item)
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
        elif hasattr(item, "__slots__") and not isinstance(item, str | int | float | bool):
            stack.extend(getattr(item, name) for name in item.__slots__)
    return total


@dataclass(slots=True)
class AssistantRecord:
    """A stored assistant."""

    id: str
    created_at: int
    request: AssistantRequest


@dataclass(slots=True)
class ThreadRecord:
    """A stored thread: its messages and runs by id, in creation order."""

    id: str
    created_at: int
    metadata: dict[str, str]
    tool_resources: JSONObject
    messages: dict[str, None] = field(default_factory=dict)
    runs: dict[str, None] = field(default_factory=dict)


@dataclass(slots=True)
class MessageRecord:
    """A stored message (a user's, or the answer a finished run left)."""

    id: str
    thread_id: str
    created_at: int
    role: str
    content: list[JSONObject]
    attachments: list[JSONObject]
    metadata: dict[str, str]
    assistant_id: str | None = None
    run_id: str | None = None
    status: str = "completed"
    incomplete_reason: str | None = None


@dataclass(slots=True)
class RunRecord:
    """A stored run: its inputs as resolved at creation, its plan, what happened to it since, and the
    encoded parts of its JSON that never change."""

    id: str
    thread_id: str
    assistant_id: str
    created: float
    created_at: int
    model: str
    instructions: str
    tools: list[JSONObject]
    tool_resources: JSONObject
    metadata: dict[str, str]
    temperature: float
    top_p: float
    reasoning_effort: str | None
    max_prompt_tokens: int | None
    max_completion_tokens: int | None
    truncation_strategy: JSONObject
    tool_choice: str | JSONObject
    parallel_tool_calls: bool
    response_format: str | JSONObject
    plan: Plan
    tool_call_id: str
    tool_step_id: str
    message_step_id: str
    message_id: str
    resumed: float | None = None
    tool_output: str | None = None
    cancel_requested: float | None = None
    cancel_lost: bool = False
    observed: float = -math.inf
    answered: bool = False
    encoded: tuple[bytes, ...] = ()
    """The JSON of the keys that never change, in the store's era (see :class:`RunEncoder`)."""
