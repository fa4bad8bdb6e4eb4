"""Parsing and validation of request bodies, with the live API's error shapes."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from runcancel.mock.errors import ApiError, invalid_json

MAX_BODY_BYTES = 1024 * 1024
MAX_DEPTH = 64
METADATA_MAX_KEYS = 16
METADATA_KEY_MAX = 64
METADATA_VALUE_MAX = 512
INSTRUCTIONS_MAX = 256_000
TOOLS_MAX = 128
MIN_TOKEN_LIMIT = 256

SCENARIO_KEY = "runcancel_scenario"
"""Run metadata key that steers a run of the mock to a chosen status."""
SCENARIOS = ("queued", "in_progress", "requires_action", "completed", "failed", "incomplete", "expired")

_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_ECHO_MAX = 64

JSONObject = dict[str, Any]


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


@dataclass(frozen=True, slots=True)
class ThreadRequest:
    """A validated ``POST /v1/threads`` body."""

    metadata: dict[str, str]


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
            f"Invalid type for request body: expected an object, but got {_kind(value)} instead.",
            code="invalid_type",
        )
    if _depth_exceeds(value, MAX_DEPTH):
        raise ApiError(400, f"Invalid request body: nested more than {MAX_DEPTH} levels deep.")
    return value


def assistant_request(body: JSONObject) -> AssistantRequest:
    """Validate a create-assistant body."""
    _reject_unknown(
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
    model = _string(body, "model", required=True)
    assert model is not None
    return AssistantRequest(
        model=model,
        name=_string(body, "name", max_length=256),
        description=_string(body, "description", max_length=512),
        instructions=_string(body, "instructions", max_length=INSTRUCTIONS_MAX),
        tools=_tools(body) or [],
        metadata=_metadata(body),
        temperature=_with_default(_number(body, "temperature", 0.0, 2.0), 1.0),
        top_p=_with_default(_number(body, "top_p", 0.0, 1.0), 1.0),
        response_format=_response_format(body) or "auto",
    )


def thread_request(body: JSONObject) -> ThreadRequest:
    """Validate a create-thread body (messages and tool_resources are accepted and not kept)."""
    _reject_unknown(body, {"metadata", "messages", "tool_resources"})
    _typed(body, "messages", list, "an array")
    _typed(body, "tool_resources", dict, "an object")
    return ThreadRequest(metadata=_metadata(body))


def run_request(body: JSONObject) -> RunRequest:
    """Validate a create-run body, including the value of the steering metadata key."""
    _reject_unknown(
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
            "stream",
        },
    )
    assistant_id = _string(body, "assistant_id", required=True)
    assert assistant_id is not None
    _typed(body, "additional_messages", list, "an array")
    if body.get("stream") not in (None, False):
        raise ApiError(400, "Streaming is not supported by this mock: send 'stream': false.", param="stream")
    metadata = _metadata(body)
    scenario = metadata.get(SCENARIO_KEY)
    if scenario is not None and scenario not in SCENARIOS:
        allowed = ", ".join(f"'{name}'" for name in SCENARIOS)
        raise ApiError(
            400,
            f"Invalid 'metadata.{SCENARIO_KEY}': expected one of {allowed}, but got '{_echo(scenario)}'.",
            param="metadata",
            code="invalid_value",
        )
    parallel = body.get("parallel_tool_calls")
    if parallel is not None and not isinstance(parallel, bool):
        raise _type_error("parallel_tool_calls", "a boolean", parallel)
    return RunRequest(
        assistant_id=assistant_id,
        model=_string(body, "model"),
        instructions=_string(body, "instructions", max_length=INSTRUCTIONS_MAX),
        additional_instructions=_string(body, "additional_instructions", max_length=INSTRUCTIONS_MAX),
        tools=_tools(body),
        metadata=metadata,
        temperature=_number(body, "temperature", 0.0, 2.0),
        top_p=_number(body, "top_p", 0.0, 1.0),
        max_prompt_tokens=_token_limit(body, "max_prompt_tokens"),
        max_completion_tokens=_token_limit(body, "max_completion_tokens"),
        truncation_strategy=_truncation_strategy(body),
        tool_choice=_tool_choice(body),
        parallel_tool_calls=True if parallel is None else parallel,
        response_format=_response_format(body),
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


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _echo(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= _ECHO_MAX else text[:_ECHO_MAX] + "..."


def _type_error(param: str, expected: str, value: Any) -> ApiError:
    return ApiError(
        400,
        f"Invalid type for '{param}': expected {expected}, but got {_kind(value)} instead.",
        param=param,
        code="invalid_type",
    )


def _reject_unknown(body: JSONObject, allowed: set[str]) -> None:
    for key in body:
        if key not in allowed:
            raise ApiError(400, f"Unknown parameter: '{_echo(key)}'.", param=key, code="unknown_parameter")


def _typed(body: JSONObject, name: str, kind: type, expected: str) -> None:
    value = body.get(name)
    if value is not None and not isinstance(value, kind):
        raise _type_error(name, expected, value)


def _check_string(value: Any, param: str, max_length: int | None) -> str:
    if not isinstance(value, str):
        raise _type_error(param, "a string", value)
    if max_length is not None and len(value) > max_length:
        raise ApiError(
            400,
            f"Invalid '{param}': string too long. Expected a string with maximum length {max_length}, "
            f"but got a string with length {len(value)} instead.",
            param=param,
            code="string_above_max_length",
        )
    return value


def _string(
    body: JSONObject, name: str, *, required: bool = False, max_length: int | None = None
) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise ApiError(
                400, f"Missing required parameter: '{name}'.", param=name, code="missing_required_parameter"
            )
        return None
    return _check_string(value, name, max_length)


def _with_default(value: float | None, default: float) -> float:
    return default if value is None else value


def _number(body: JSONObject, name: str, low: float, high: float) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _type_error(name, "a decimal", value)
    if value < low:
        raise ApiError(
            400,
            f"Invalid '{name}': decimal below minimum value. Expected a value >= {low:g}, "
            f"but got {_echo(value)} instead.",
            param=name,
            code="decimal_below_min_value",
        )
    if value > high:
        raise ApiError(
            400,
            f"Invalid '{name}': decimal above maximum value. Expected a value <= {high:g}, "
            f"but got {_echo(value)} instead.",
            param=name,
            code="decimal_above_max_value",
        )
    return float(value)


def _token_limit(body: JSONObject, name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _type_error(name, "an integer", value)
    if value < MIN_TOKEN_LIMIT:
        raise ApiError(
            400,
            f"Invalid '{name}': integer below minimum value. Expected a value >= {MIN_TOKEN_LIMIT}, "
            f"but got {_echo(value)} instead.",
            param=name,
            code="integer_below_min_value",
        )
    return value


def _metadata(body: JSONObject) -> dict[str, str]:
    value = body.get("metadata")
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _type_error("metadata", "an object", value)
    if len(value) > METADATA_MAX_KEYS:
        raise ApiError(
            400,
            f"Invalid 'metadata': too many properties. Expected an object with at most {METADATA_MAX_KEYS} "
            f"properties, but got an object with {len(value)} properties instead.",
            param="metadata",
            code="object_above_max_properties",
        )
    for key, item in value.items():
        if len(key) > METADATA_KEY_MAX:
            raise ApiError(
                400,
                f"Invalid 'metadata': key too long. Expected a key with maximum length {METADATA_KEY_MAX}, "
                f"but got a key with length {len(key)} instead.",
                param="metadata",
                code="string_above_max_length",
            )
        if not isinstance(item, str):
            raise ApiError(
                400,
                f"Invalid type for 'metadata.{key}': expected a string, but got {_kind(item)} instead.",
                param="metadata",
                code="invalid_type",
            )
        if len(item) > METADATA_VALUE_MAX:
            raise ApiError(
                400,
                f"Invalid 'metadata.{key}': string too long. Expected a string with maximum length "
                f"{METADATA_VALUE_MAX}, but got a string with length {len(item)} instead.",
                param="metadata",
                code="string_above_max_length",
            )
    return dict(value)


def _invalid_value(param: str, value: Any, allowed: tuple[str, ...]) -> ApiError:
    supported = ", ".join(f"'{name}'" for name in allowed)
    return ApiError(
        400,
        f"Invalid value: '{_echo(value)}'. Supported values are: {supported}.",
        param=param,
        code="invalid_value",
    )


def _object_keys(value: Any, param: str, allowed: set[str]) -> JSONObject:
    if not isinstance(value, dict):
        raise _type_error(param, "an object", value)
    for key in value:
        if key not in allowed:
            raise ApiError(
                400,
                f"Unknown parameter: '{param}.{_echo(key)}'.",
                param=f"{param}.{key}",
                code="unknown_parameter",
            )
    return value


def _function_name(value: Any, param: str) -> str:
    name = _check_string(value, param, None)
    if not _NAME.fullmatch(name):
        raise ApiError(
            400,
            f"Invalid '{param}': string does not match pattern. Expected a string that matches the "
            f"pattern '^[a-zA-Z0-9_-]{{1,64}}$'.",
            param=param,
            code="invalid_value",
        )
    return name


def _tools(body: JSONObject) -> list[JSONObject] | None:
    value = body.get("tools")
    if value is None:
        return None
    if not isinstance(value, list):
        raise _type_error("tools", "an array", value)
    if len(value) > TOOLS_MAX:
        raise ApiError(
            400,
            f"Invalid 'tools': array too long. Expected an array with maximum length {TOOLS_MAX}, "
            f"but got an array with length {len(value)} instead.",
            param="tools",
            code="array_above_max_length",
        )
    return [_tool(item, f"tools[{index}]") for index, item in enumerate(value)]


def _tool(value: Any, param: str) -> JSONObject:
    tool = _object_keys(value, param, {"type", "function", "file_search"})
    kind = tool.get("type")
    if kind is None:
        raise ApiError(
            400,
            f"Missing required parameter: '{param}.type'.",
            param=f"{param}.type",
            code="missing_required_parameter",
        )
    if kind not in ("code_interpreter", "file_search", "function"):
        raise _invalid_value(f"{param}.type", kind, ("code_interpreter", "file_search", "function"))
    if kind == "function":
        if tool.get("function") is None:
            raise ApiError(
                400,
                f"Missing required parameter: '{param}.function'.",
                param=f"{param}.function",
                code="missing_required_parameter",
            )
        function = _object_keys(
            tool["function"], f"{param}.function", {"name", "description", "parameters", "strict"}
        )
        if function.get("name") is None:
            raise ApiError(
                400,
                f"Missing required parameter: '{param}.function.name'.",
                param=f"{param}.function.name",
                code="missing_required_parameter",
            )
        _function_name(function["name"], f"{param}.function.name")
        _typed(function, "description", str, "a string")
        _typed(function, "parameters", dict, "an object")
        _typed(function, "strict", bool, "a boolean")
        return {"type": "function", "function": dict(function)}
    if tool.get("function") is not None:
        raise ApiError(
            400,
            f"Unknown parameter: '{param}.function'.",
            param=f"{param}.function",
            code="unknown_parameter",
        )
    if kind == "file_search":
        _typed(tool, "file_search", dict, "an object")
        return {"type": "file_search", "file_search": dict(tool.get("file_search") or {})}
    if tool.get("file_search") is not None:
        raise ApiError(
            400,
            f"Unknown parameter: '{param}.file_search'.",
            param=f"{param}.file_search",
            code="unknown_parameter",
        )
    return {"type": "code_interpreter"}


def _tool_choice(body: JSONObject) -> str | JSONObject:
    value = body.get("tool_choice")
    if value is None:
        return "auto"
    if isinstance(value, str):
        if value not in ("none", "auto", "required"):
            raise _invalid_value("tool_choice", value, ("none", "auto", "required"))
        return value
    choice = _object_keys(value, "tool_choice", {"type", "function"})
    kind = choice.get("type")
    if kind not in ("function", "code_interpreter", "file_search"):
        raise _invalid_value("tool_choice.type", kind, ("function", "code_interpreter", "file_search"))
    if kind != "function":
        return {"type": kind}
    function = _object_keys(choice.get("function"), "tool_choice.function", {"name"})
    name = _function_name(function.get("name"), "tool_choice.function.name")
    return {"type": "function", "function": {"name": name}}


def _response_format(body: JSONObject) -> str | JSONObject | None:
    value = body.get("response_format")
    if value is None:
        return None
    if isinstance(value, str):
        if value != "auto":
            raise _invalid_value("response_format", value, ("auto",))
        return value
    form = _object_keys(value, "response_format", {"type", "json_schema"})
    kind = form.get("type")
    if kind not in ("text", "json_object", "json_schema"):
        raise _invalid_value("response_format.type", kind, ("text", "json_object", "json_schema"))
    if kind != "json_schema":
        if form.get("json_schema") is not None:
            raise ApiError(
                400,
                "Unknown parameter: 'response_format.json_schema'.",
                param="response_format.json_schema",
                code="unknown_parameter",
            )
        return {"type": kind}
    schema = _object_keys(
        form.get("json_schema"), "response_format.json_schema", {"name", "description", "schema", "strict"}
    )
    _function_name(schema.get("name"), "response_format.json_schema.name")
    _typed(schema, "description", str, "a string")
    _typed(schema, "schema", dict, "an object")
    _typed(schema, "strict", bool, "a boolean")
    return {"type": "json_schema", "json_schema": dict(schema)}


def _truncation_strategy(body: JSONObject) -> JSONObject:
    value = body.get("truncation_strategy")
    if value is None:
        return {"type": "auto", "last_messages": None}
    strategy = _object_keys(value, "truncation_strategy", {"type", "last_messages"})
    kind = strategy.get("type")
    if kind not in ("auto", "last_messages"):
        raise _invalid_value("truncation_strategy.type", kind, ("auto", "last_messages"))
    last = strategy.get("last_messages")
    if last is not None:
        if isinstance(last, bool) or not isinstance(last, int):
            raise _type_error("truncation_strategy.last_messages", "an integer", last)
        if last < 1:
            raise ApiError(
                400,
                "Invalid 'truncation_strategy.last_messages': integer below minimum value. "
                f"Expected a value >= 1, but got {_echo(last)} instead.",
                param="truncation_strategy.last_messages",
                code="integer_below_min_value",
            )
    return {"type": kind, "last_messages": last}
