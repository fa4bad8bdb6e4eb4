"""Validation of the bodies an Assistants app sends besides creates: messages, tool outputs, updates."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from runcancel.mock.errors import ApiError
from runcancel.mock.fields import (
    JSONObject,
    check_string,
    invalid_value,
    metadata_field,
    object_keys,
    reject_unknown,
    type_error,
)

MESSAGE_CONTENT_MAX = 256_000
MESSAGES_MAX = 32
ATTACHMENTS_MAX = 10
TOOL_OUTPUT_MAX = 512_000
REASONING_EFFORTS = ("minimal", "low", "medium", "high")
ROLES = ("user", "assistant")


@dataclass(frozen=True, slots=True)
class MessageRequest:
    """A validated message: ``content`` already in the answer's form (a list of content blocks)."""

    role: str
    content: list[JSONObject]
    attachments: list[JSONObject]
    metadata: dict[str, str]


@dataclass(frozen=True, slots=True)
class ToolOutputs:
    """A validated ``submit_tool_outputs`` body."""

    outputs: dict[str, str]
    stream: bool


def missing(param: str) -> ApiError:
    """400 for a required parameter that was not given."""
    return ApiError(
        400, f"Missing required parameter: '{param}'.", param=param, code="missing_required_parameter"
    )


def stream_field(body: JSONObject) -> bool:
    """``stream``: a boolean or null (false)."""
    value = body.get("stream")
    if value is None:
        return False
    if not isinstance(value, bool):
        raise type_error("stream", "a boolean", value)
    return value


def reasoning_effort_field(body: JSONObject) -> str | None:
    """``reasoning_effort``: null or one of the documented levels."""
    value = body.get("reasoning_effort")
    if value is None:
        return None
    if not isinstance(value, str):
        raise type_error("reasoning_effort", "a string", value)
    if value not in REASONING_EFFORTS:
        raise invalid_value("reasoning_effort", value, REASONING_EFFORTS)
    return value


def tool_resources_field(body: JSONObject) -> JSONObject | None:
    """``tool_resources``: null, or ``code_interpreter.file_ids`` and ``file_search.vector_store_ids``."""
    value = body.get("tool_resources")
    if value is None:
        return None
    resources = object_keys(value, "tool_resources", {"code_interpreter", "file_search"})
    kept: JSONObject = {}
    for name, ids_key in (("code_interpreter", "file_ids"), ("file_search", "vector_store_ids")):
        if resources.get(name) is None:
            continue
        part = object_keys(resources[name], f"tool_resources.{name}", {ids_key})
        ids = part.get(ids_key, [])
        param = f"tool_resources.{name}.{ids_key}"
        if not isinstance(ids, list):
            raise type_error(param, "an array", ids)
        kept[name] = {ids_key: [check_string(item, f"{param}[{i}]", 64) for i, item in enumerate(ids)]}
    return kept


def messages_field(body: JSONObject, name: str) -> tuple[MessageRequest, ...]:
    """A list of messages (a thread's ``messages``, a run's ``additional_messages``)."""
    value = body.get(name)
    if value is None:
        return ()
    if not isinstance(value, list):
        raise type_error(name, "an array", value)
    if len(value) > MESSAGES_MAX:
        raise ApiError(
            400,
            f"Invalid '{name}': array too long. Expected an array with maximum length {MESSAGES_MAX}, "
            f"but got an array with length {len(value)} instead.",
            param=name,
            code="array_above_max_length",
        )
    return tuple(message_request(item, f"{name}[{index}]") for index, item in enumerate(value))


def message_request(value: Any, param: str = "") -> MessageRequest:
    """One message: ``role``, ``content`` (a string or content parts), ``attachments``, ``metadata``."""
    prefix = f"{param}." if param else ""
    allowed = {"role", "content", "attachments", "metadata"}
    if param:
        body = object_keys(value, param, allowed)
    else:
        body = value
        reject_unknown(body, allowed)
    role = body.get("role")
    if role is None:
        raise missing(f"{prefix}role")
    if role not in ROLES:
        raise invalid_value(f"{prefix}role", role, ROLES)
    if body.get("content") is None:
        raise missing(f"{prefix}content")
    attachments = body.get("attachments") or []
    if not isinstance(attachments, list):
        raise type_error(f"{prefix}attachments", "an array", attachments)
    if len(attachments) > ATTACHMENTS_MAX:
        raise ApiError(
            400,
            f"Invalid '{prefix}attachments': at most {ATTACHMENTS_MAX} attachments are allowed.",
            param=f"{prefix}attachments",
            code="array_above_max_length",
        )
    kept = [_attachment(item, f"{prefix}attachments[{i}]") for i, item in enumerate(attachments)]
    return MessageRequest(
        role=role,
        content=_content(body["content"], f"{prefix}content"),
        attachments=kept,
        metadata=metadata_field(body),
    )


def text_block(text: str) -> JSONObject:
    """A text content block as answers carry it."""
    return {"type": "text", "text": {"value": text, "annotations": []}}


def _content(value: Any, param: str) -> list[JSONObject]:
    if isinstance(value, str):
        return [text_block(check_string(value, param, MESSAGE_CONTENT_MAX))]
    if not isinstance(value, list):
        raise type_error(param, "a string or an array of content parts", value)
    if not value:
        raise ApiError(
            400,
            f"Invalid '{param}': empty array. Expected an array with minimum length 1, but got an empty "
            "array instead.",
            param=param,
            code="empty_array",
        )
    blocks: list[JSONObject] = []
    for index, item in enumerate(value):
        where = f"{param}[{index}]"
        part = object_keys(item, where, {"type", "text", "image_file", "image_url"})
        kind = part.get("type")
        if kind == "text":
            blocks.append(text_block(check_string(part.get("text"), f"{where}.text", MESSAGE_CONTENT_MAX)))
        elif kind == "image_file":
            image = object_keys(part.get("image_file"), f"{where}.image_file", {"file_id", "detail"})
            file_id = check_string(image.get("file_id"), f"{where}.image_file.file_id", 64)
            blocks.append({"type": "image_file", "image_file": {"file_id": file_id, "detail": "auto"}})
        elif kind == "image_url":
            image = object_keys(part.get("image_url"), f"{where}.image_url", {"url", "detail"})
            url = check_string(image.get("url"), f"{where}.image_url.url", 2048)
            blocks.append({"type": "image_url", "image_url": {"url": url, "detail": "auto"}})
        else:
            raise invalid_value(f"{where}.type", kind, ("text", "image_file", "image_url"))
    return blocks


def _attachment(value: Any, param: str) -> JSONObject:
    item = object_keys(value, param, {"file_id", "tools"})
    file_id = check_string(item.get("file_id"), f"{param}.file_id", 64)
    tools = item.get("tools") or []
    if not isinstance(tools, list):
        raise type_error(f"{param}.tools", "an array", tools)
    kinds = []
    for index, tool in enumerate(tools):
        kind = object_keys(tool, f"{param}.tools[{index}]", {"type"}).get("type")
        if kind not in ("code_interpreter", "file_search"):
            raise invalid_value(f"{param}.tools[{index}].type", kind, ("code_interpreter", "file_search"))
        kinds.append({"type": kind})
    return {"file_id": file_id, "tools": kinds}


def tool_outputs_request(body: JSONObject) -> ToolOutputs:
    """A ``submit_tool_outputs`` body: ``tool_outputs`` [{tool_call_id, output}], ``stream``."""
    reject_unknown(body, {"tool_outputs", "stream"})
    value = body.get("tool_outputs")
    if value is None:
        raise missing("tool_outputs")
    if not isinstance(value, list):
        raise type_error("tool_outputs", "an array", value)
    outputs: dict[str, str] = {}
    for index, item in enumerate(value):
        where = f"tool_outputs[{index}]"
        output = object_keys(item, where, {"tool_call_id", "output"})
        call_id = check_string(output.get("tool_call_id"), f"{where}.tool_call_id", 64)
        text = output.get("output")
        outputs[call_id] = "" if text is None else check_string(text, f"{where}.output", TOOL_OUTPUT_MAX)
    return ToolOutputs(outputs, stream_field(body))


def metadata_update(body: JSONObject) -> dict[str, str] | None:
    """An update body with only ``metadata`` (runs, messages)."""
    reject_unknown(body, {"metadata"})
    return None if body.get("metadata") is None else metadata_field(body)


def thread_update(body: JSONObject) -> tuple[dict[str, str] | None, JSONObject | None]:
    """A thread update: its ``metadata`` and ``tool_resources`` (each null when not given)."""
    reject_unknown(body, {"metadata", "tool_resources"})
    metadata = None if body.get("metadata") is None else metadata_field(body)
    return metadata, tool_resources_field(body)
