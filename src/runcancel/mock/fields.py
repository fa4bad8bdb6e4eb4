"""Validation of single request fields, with the live API's error messages and params."""

from __future__ import annotations

import json
import re
from typing import Any

from runcancel.mock.errors import ApiError

METADATA_MAX_KEYS = 16
METADATA_KEY_MAX = 64
METADATA_VALUE_MAX = 512
TOOLS_MAX = 128
MIN_TOKEN_LIMIT = 256

_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_ECHO_MAX = 64

JSONObject = dict[str, Any]


def kind_of(value: Any) -> str:
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


def echo(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= _ECHO_MAX else text[:_ECHO_MAX] + "..."


def type_error(param: str, expected: str, value: Any) -> ApiError:
    return ApiError(
        400,
        f"Invalid type for '{param}': expected {expected}, but got {kind_of(value)} instead.",
        param=param,
        code="invalid_type",
    )


def reject_unknown(body: JSONObject, allowed: set[str]) -> None:
    for key in body:
        if key not in allowed:
            raise ApiError(400, f"Unknown parameter: '{echo(key)}'.", param=key, code="unknown_parameter")


def typed(body: JSONObject, name: str, kind: type, expected: str) -> None:
    value = body.get(name)
    if value is not None and not isinstance(value, kind):
        raise type_error(name, expected, value)


def check_string(value: Any, param: str, max_length: int | None) -> str:
    if not isinstance(value, str):
        raise type_error(param, "a string", value)
    if max_length is not None and len(value) > max_length:
        raise ApiError(
            400,
            f"Invalid '{param}': string too long. Expected a string with maximum length {max_length}, "
            f"but got a string with length {len(value)} instead.",
            param=param,
            code="string_above_max_length",
        )
    return value


def string_field(
    body: JSONObject, name: str, *, required: bool = False, max_length: int | None = None
) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise ApiError(
                400, f"Missing required parameter: '{name}'.", param=name, code="missing_required_parameter"
            )
        return None
    return check_string(value, name, max_length)


def with_default(value: float | None, default: float) -> float:
    return default if value is None else value


def number_field(body: JSONObject, name: str, low: float, high: float) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise type_error(name, "a decimal", value)
    if value < low:
        raise ApiError(
            400,
            f"Invalid '{name}': decimal below minimum value. Expected a value >= {low:g}, "
            f"but got {echo(value)} instead.",
            param=name,
            code="decimal_below_min_value",
        )
    if value > high:
        raise ApiError(
            400,
            f"Invalid '{name}': decimal above maximum value. Expected a value <= {high:g}, "
            f"but got {echo(value)} instead.",
            param=name,
            code="decimal_above_max_value",
        )
    return float(value)


def token_limit(body: JSONObject, name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise type_error(name, "an integer", value)
    if value < MIN_TOKEN_LIMIT:
        raise ApiError(
            400,
            f"Invalid '{name}': integer below minimum value. Expected a value >= {MIN_TOKEN_LIMIT}, "
            f"but got {echo(value)} instead.",
            param=name,
            code="integer_below_min_value",
        )
    return value


def metadata_field(body: JSONObject) -> dict[str, str]:
    value = body.get("metadata")
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise type_error("metadata", "an object", value)
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
                f"Invalid type for 'metadata.{key}': expected a string, but got {kind_of(item)} instead.",
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


def invalid_value(param: str, value: Any, allowed: tuple[str, ...]) -> ApiError:
    supported = ", ".join(f"'{name}'" for name in allowed)
    return ApiError(
        400,
        f"Invalid value: '{echo(value)}'. Supported values are: {supported}.",
        param=param,
        code="invalid_value",
    )


def object_keys(value: Any, param: str, allowed: set[str]) -> JSONObject:
    if not isinstance(value, dict):
        raise type_error(param, "an object", value)
    for key in value:
        if key not in allowed:
            raise ApiError(
                400,
                f"Unknown parameter: '{param}.{echo(key)}'.",
                param=f"{param}.{key}",
                code="unknown_parameter",
            )
    return value


def function_name(value: Any, param: str) -> str:
    name = check_string(value, param, None)
    if not _NAME.fullmatch(name):
        raise ApiError(
            400,
            f"Invalid '{param}': string does not match pattern. Expected a string that matches the "
            f"pattern '^[a-zA-Z0-9_-]{{1,64}}$'.",
            param=param,
            code="invalid_value",
        )
    return name


def tools_field(body: JSONObject) -> list[JSONObject] | None:
    value = body.get("tools")
    if value is None:
        return None
    if not isinstance(value, list):
        raise type_error("tools", "an array", value)
    if len(value) > TOOLS_MAX:
        raise ApiError(
            400,
            f"Invalid 'tools': array too long. Expected an array with maximum length {TOOLS_MAX}, "
            f"but got an array with length {len(value)} instead.",
            param="tools",
            code="array_above_max_length",
        )
    return [tool_item(item, f"tools[{index}]") for index, item in enumerate(value)]


def tool_item(value: Any, param: str) -> JSONObject:
    tool = object_keys(value, param, {"type", "function", "file_search"})
    kind = tool.get("type")
    if kind is None:
        raise ApiError(
            400,
            f"Missing required parameter: '{param}.type'.",
            param=f"{param}.type",
            code="missing_required_parameter",
        )
    if kind not in ("code_interpreter", "file_search", "function"):
        raise invalid_value(f"{param}.type", kind, ("code_interpreter", "file_search", "function"))
    if kind == "function":
        if tool.get("function") is None:
            raise ApiError(
                400,
                f"Missing required parameter: '{param}.function'.",
                param=f"{param}.function",
                code="missing_required_parameter",
            )
        function = object_keys(
            tool["function"], f"{param}.function", {"name", "description", "parameters", "strict"}
        )
        if function.get("name") is None:
            raise ApiError(
                400,
                f"Missing required parameter: '{param}.function.name'.",
                param=f"{param}.function.name",
                code="missing_required_parameter",
            )
        function_name(function["name"], f"{param}.function.name")
        typed(function, "description", str, "a string")
        typed(function, "parameters", dict, "an object")
        typed(function, "strict", bool, "a boolean")
        return {"type": "function", "function": dict(function)}
    if tool.get("function") is not None:
        raise ApiError(
            400,
            f"Unknown parameter: '{param}.function'.",
            param=f"{param}.function",
            code="unknown_parameter",
        )
    if kind == "file_search":
        typed(tool, "file_search", dict, "an object")
        return {"type": "file_search", "file_search": dict(tool.get("file_search") or {})}
    if tool.get("file_search") is not None:
        raise ApiError(
            400,
            f"Unknown parameter: '{param}.file_search'.",
            param=f"{param}.file_search",
            code="unknown_parameter",
        )
    return {"type": "code_interpreter"}


def tool_choice_field(body: JSONObject) -> str | JSONObject:
    value = body.get("tool_choice")
    if value is None:
        return "auto"
    if isinstance(value, str):
        if value not in ("none", "auto", "required"):
            raise invalid_value("tool_choice", value, ("none", "auto", "required"))
        return value
    choice = object_keys(value, "tool_choice", {"type", "function"})
    kind = choice.get("type")
    if kind not in ("function", "code_interpreter", "file_search"):
        raise invalid_value("tool_choice.type", kind, ("function", "code_interpreter", "file_search"))
    if kind != "function":
        return {"type": kind}
    function = object_keys(choice.get("function"), "tool_choice.function", {"name"})
    name = function_name(function.get("name"), "tool_choice.function.name")
    return {"type": "function", "function": {"name": name}}


def response_format_field(body: JSONObject) -> str | JSONObject | None:
    value = body.get("response_format")
    if value is None:
        return None
    if isinstance(value, str):
        if value != "auto":
            raise invalid_value("response_format", value, ("auto",))
        return value
    form = object_keys(value, "response_format", {"type", "json_schema"})
    kind = form.get("type")
    if kind not in ("text", "json_object", "json_schema"):
        raise invalid_value("response_format.type", kind, ("text", "json_object", "json_schema"))
    if kind != "json_schema":
        if form.get("json_schema") is not None:
            raise ApiError(
                400,
                "Unknown parameter: 'response_format.json_schema'.",
                param="response_format.json_schema",
                code="unknown_parameter",
            )
        return {"type": kind}
    schema = object_keys(
        form.get("json_schema"), "response_format.json_schema", {"name", "description", "schema", "strict"}
    )
    function_name(schema.get("name"), "response_format.json_schema.name")
    typed(schema, "description", str, "a string")
    typed(schema, "schema", dict, "an object")
    typed(schema, "strict", bool, "a boolean")
    return {"type": "json_schema", "json_schema": dict(schema)}


def truncation_strategy_field(body: JSONObject) -> JSONObject:
    value = body.get("truncation_strategy")
    if value is None:
        return {"type": "auto", "last_messages": None}
    strategy = object_keys(value, "truncation_strategy", {"type", "last_messages"})
    kind = strategy.get("type")
    if kind not in ("auto", "last_messages"):
        raise invalid_value("truncation_strategy.type", kind, ("auto", "last_messages"))
    last = strategy.get("last_messages")
    if last is not None:
        if isinstance(last, bool) or not isinstance(last, int):
            raise type_error("truncation_strategy.last_messages", "an integer", last)
        if last < 1:
            raise ApiError(
                400,
                "Invalid 'truncation_strategy.last_messages': integer below minimum value. "
                f"Expected a value >= 1, but got {echo(last)} instead.",
                param="truncation_strategy.last_messages",
                code="integer_below_min_value",
            )
    return {"type": kind, "last_messages": last}
