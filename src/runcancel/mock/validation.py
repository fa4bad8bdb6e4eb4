"""Parsing and validation of request bodies, with the live API's error shapes."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from runcancel.mock.errors import ApiError, invalid_json
from runcancel.mock.fields import (
    JSONObject,
    echo,
    kind_of,
    metadata_field,
    number_field,
    reject_unknown,
    response_format_field,
    string_field,
    token_limit,
    tool_choice_field,
    tools_field,
    truncation_strategy_field,
    type_error,
    with_default,
)
from runcancel.mock.inputs import (
    MessageRequest,
    messages_field,
    reasoning_effort_field,
    stream_field,
    tool_resources_field,
)

MAX_BODY_BYTES = 1024 * 1024
MAX_DEPTH = 64
INSTRUCTIONS_MAX = 256_000

SCENARIO_KEY = "runcancel_scenario"
"""Run metadata key that steers a run of the mock to a chosen status."""
SCENARIOS = ("queued", "in_progress", "requires_action", "completed", "failed", "incomplete", "expired")


@dataclass(frozen=True, slots=True)
class AssistantRequest:
    """A validated ``POST /v1/assistants`` body."""

    model: str
    name: str | None
    description: str | None
    instructions: str | None
    tools: list[JSONObject]
    metadata: dict[str, str]
    temperature: float
    top_p: float
    response_format: str | JSONObject
    tool_resources: JSONObject | None = None
    reasoning_effort: str | None = None


@dataclass(frozen=True, slots=True)
class ThreadRequest:
    """A validated ``POST /v1/threads`` body."""

    metadata: dict[str, str]
    messages: tuple[MessageRequest, ...] = ()
    tool_resources: JSONObject | None = None


@dataclass(frozen=True, slots=True)
class RunRequest:
    """A validated ``POST /v1/threads/{thread_id}/runs`` body; ``None`` means "use the default"."""

    assistant_id: str
    model: str | None
    instructions: str | None
    additional_instructions: str | None
    tools: list[JSONObject] | None
    metadata: dict[str, str]
    temperature: float | None
    top_p: float | None
    max_prompt_tokens: int | None
    max_completion_tokens: int | None
    truncation_strategy: JSONObject
    tool_choice: str | JSONObject
    parallel_tool_calls: bool
    response_format: str | JSONObject | None
    reasoning_effort: str | None = None
    tool_resources: JSONObject | None = None
    additional_messages: tuple[MessageRequest, ...] = ()
    stream: bool = False


def parse_json_body(raw: bytes) -> JSONObject:
    """The body as a JSON object; an empty body counts as ``{}``."""
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw, parse_constant=_reject_constant, parse_float=_finite_float)
    except (ValueError, RecursionError):
        raise invalid_json() from None
    if not isinstance(value, dict):
        raise ApiError(
            400,
            f"Invalid type for request body: expected an object, but got {kind_of(value)} instead.",
            code="invalid_type",
        )
    if _depth_exceeds(value, MAX_DEPTH):
        raise ApiError(400, f"Invalid request body: nested more than {MAX_DEPTH} levels deep.")
    return value


def assistant_request(body: JSONObject) -> AssistantRequest:
    """Validate a create-assistant body."""
    reject_unknown(
        body,
        {
            "model",
            "name",
            "description",
            "instructions",
            "tools",
            "metadata",
            "temperature",
            "top_p",
            "response_format",
            "tool_resources",
            "reasoning_effort",
        },
    )
    model = string_field(body, "model", required=True)
    assert model is not None
    return AssistantRequest(
        model=model,
        name=string_field(body, "name", max_length=256),
        description=string_field(body, "description", max_length=512),
        instructions=string_field(body, "instructions", max_length=INSTRUCTIONS_MAX),
        tools=tools_field(body) or [],
        metadata=metadata_field(body),
        temperature=with_default(number_field(body, "temperature", 0.0, 2.0), 1.0),
        top_p=with_default(number_field(body, "top_p", 0.0, 1.0), 1.0),
        response_format=response_format_field(body) or "auto",
        tool_resources=tool_resources_field(body),
        reasoning_effort=reasoning_effort_field(body),
    )


def thread_request(body: JSONObject) -> ThreadRequest:
    """Validate a create-thread body: its messages, metadata and tool resources."""
    reject_unknown(body, {"metadata", "messages", "tool_resources"})
    return ThreadRequest(
        metadata=metadata_field(body),
        messages=messages_field(body, "messages"),
        tool_resources=tool_resources_field(body),
    )


def run_request(body: JSONObject) -> RunRequest:
    """Validate a create-run body, including the value of the steering metadata key."""
    reject_unknown(
        body,
        {
            "assistant_id",
            "model",
            "instructions",
            "additional_instructions",
            "additional_messages",
            "tools",
            "metadata",
            "temperature",
            "top_p",
            "max_prompt_tokens",
            "max_completion_tokens",
            "truncation_strategy",
            "tool_choice",
            "parallel_tool_calls",
            "response_format",
            "reasoning_effort",
            "tool_resources",
            "stream",
        },
    )
    assistant_id = string_field(body, "assistant_id", required=True)
    assert assistant_id is not None
    metadata = metadata_field(body)
    scenario = metadata.get(SCENARIO_KEY)
    if scenario is not None and scenario not in SCENARIOS:
        allowed = ", ".join(f"'{name}'" for name in SCENARIOS)
        raise ApiError(
            400,
            f"Invalid 'metadata.{SCENARIO_KEY}': expected one of {allowed}, but got '{echo(scenario)}'.",
            param="metadata",
            code="invalid_value",
        )
    parallel = body.get("parallel_tool_calls")
    if parallel is not None and not isinstance(parallel, bool):
        raise type_error("parallel_tool_calls", "a boolean", parallel)
    return RunRequest(
        assistant_id=assistant_id,
        model=string_field(body, "model"),
        instructions=string_field(body, "instructions", max_length=INSTRUCTIONS_MAX),
        additional_instructions=string_field(body, "additional_instructions", max_length=INSTRUCTIONS_MAX),
        tools=tools_field(body),
        metadata=metadata,
        temperature=number_field(body, "temperature", 0.0, 2.0),
        top_p=number_field(body, "top_p", 0.0, 1.0),
        max_prompt_tokens=token_limit(body, "max_prompt_tokens"),
        max_completion_tokens=token_limit(body, "max_completion_tokens"),
        truncation_strategy=truncation_strategy_field(body),
        tool_choice=tool_choice_field(body),
        parallel_tool_calls=True if parallel is None else parallel,
        response_format=response_format_field(body),
        reasoning_effort=reasoning_effort_field(body),
        tool_resources=tool_resources_field(body),
        additional_messages=messages_field(body, "additional_messages"),
        stream=stream_field(body),
    )


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is out of range")
    return value


def _depth_exceeds(value: Any, limit: int) -> bool:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(item, dict):
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
    return False
