"""Pydantic models of the Run object and of the OpenAI error envelope.

They are strict (no coercion: `"1"` is not an integer) and forbid extra fields, so that a field the
documentation does not name comes out of `run_findings` as an *additive* finding rather than being
silently accepted, and a violation as a *breaking* one. They never raise on a bad answer.
A test proves they agree with `contracts/cancel_run.openapi.yaml` field by field.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    MISSING,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
    ValidationError,
)

from runcancel.findings import Finding, Severity, json_path, preview

__all__ = [
    "ErrorResponse",
    "Run",
    "RunStatus",
    "envelope_findings",
    "run_findings",
]

RunStatus = Literal[
    "queued",
    "in_progress",
    "requires_action",
    "cancelling",
    "cancelled",
    "failed",
    "completed",
    "incomplete",
    "expired",
]
# Enums clients only display, never branch on: a value beyond the documented ones is additive drift.
# Every other enum (status, object, tool types, ...) steers client code: a new value there is breaking.
READ_ONLY_ENUMS = frozenset({"last_error", "incomplete_details"})
TERMINAL_STATUSES = frozenset({"cancelled", "failed", "completed", "incomplete", "expired"})
CANCELLABLE_STATUSES = frozenset({"queued", "in_progress", "requires_action"})

Timestamp = int
TokenLimit = Annotated[int, Field(ge=256)]
Name = Annotated[str, StringConstraints(max_length=64, pattern=r"^[a-zA-Z0-9_-]+$")]
MetadataKey = Annotated[str, StringConstraints(max_length=64)]
MetadataValue = Annotated[str, StringConstraints(max_length=512)]
Metadata = Annotated[dict[MetadataKey, MetadataValue], Field(max_length=16)]


class _Strict(BaseModel):
    """Strict, frozen, no extra fields. An optional field that may not be null defaults to MISSING."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class IncompleteDetails(_Strict):
    reason: Literal["max_completion_tokens", "max_prompt_tokens"] | MISSING = MISSING


class LastError(_Strict):
    code: Literal["server_error", "rate_limit_exceeded", "invalid_prompt"]
    message: str


class FunctionCall(_Strict):
    arguments: str
    name: str


class RequiredActionFunctionToolCall(_Strict):
    id: str
    function: FunctionCall
    type: Literal["function"]


class SubmitToolOutputs(_Strict):
    tool_calls: list[RequiredActionFunctionToolCall]


class RequiredAction(_Strict):
    submit_tool_outputs: SubmitToolOutputs
    type: Literal["submit_tool_outputs"]


class ResponseFormatText(_Strict):
    type: Literal["text"]


class ResponseFormatJSONObject(_Strict):
    type: Literal["json_object"]


class JSONSchemaFormat(_Strict):
    name: Name
    description: str | MISSING = MISSING
    schema_: dict[str, Any] | MISSING = Field(default=MISSING, alias="schema")
    strict: bool | None = None


class ResponseFormatJSONSchema(_Strict):
    json_schema: JSONSchemaFormat
    type: Literal["json_schema"]


class ToolChoiceFunction(_Strict):
    name: str


class AssistantToolChoice(_Strict):
    type: Literal["function", "code_interpreter", "file_search"]
    function: ToolChoiceFunction | MISSING = MISSING


class RankingOptions(_Strict):
    ranker: Literal["auto", "default_2024_08_21"] | MISSING = MISSING
    score_threshold: Annotated[float, Field(ge=0, le=1)]


class FileSearchOptions(_Strict):
    max_num_results: Annotated[int, Field(ge=1, le=50)] | MISSING = MISSING
    ranking_options: RankingOptions | MISSING = MISSING


class CodeInterpreterTool(_Strict):
    type: Literal["code_interpreter"]


class FileSearchTool(_Strict):
    type: Literal["file_search"]
    file_search: FileSearchOptions | MISSING = MISSING


class FunctionDefinition(_Strict):
    name: Name
    description: str | MISSING = MISSING
    parameters: dict[str, Any] | MISSING = MISSING
    strict: bool | None = None


class FunctionTool(_Strict):
    function: FunctionDefinition
    type: Literal["function"]


def _member(value: Any) -> str | None:
    """The union member an object names with its discriminator, `type`: its tag, `type=<value>`.

    Tags are not identifiers, so an error location never mistakes a tag for a field (a function
    tool's tag `function` would read as its `function` key)."""
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return f"type={kind}" if isinstance(kind, str) else None


def _discriminator(*kinds: str) -> Discriminator:
    """Tells a union's members apart by `type` before any member's fields are judged."""
    return Discriminator(
        _member,
        custom_error_type="union_member",
        custom_error_message="an object whose `type` is " + " or ".join(repr(k) for k in kinds),
    )


Tool = Annotated[
    Annotated[CodeInterpreterTool, Tag("type=code_interpreter")]
    | Annotated[FileSearchTool, Tag("type=file_search")]
    | Annotated[FunctionTool, Tag("type=function")],
    _discriminator("code_interpreter", "file_search", "function"),
]
ResponseFormat = Annotated[
    Annotated[ResponseFormatText, Tag("type=text")]
    | Annotated[ResponseFormatJSONObject, Tag("type=json_object")]
    | Annotated[ResponseFormatJSONSchema, Tag("type=json_schema")],
    _discriminator("text", "json_object", "json_schema"),
]


class TruncationStrategy(_Strict):
    type: Literal["auto", "last_messages"]
    last_messages: Annotated[int, Field(ge=1)] | None = None


class Usage(_Strict):
    completion_tokens: int
    prompt_tokens: int
    total_tokens: int


class Run(_Strict):
    """A `thread.run` object: the 27 documented fields, 25 of them required."""

    id: str
    assistant_id: str
    cancelled_at: Timestamp | None
    completed_at: Timestamp | None
    created_at: Timestamp
    expires_at: Timestamp | None
    failed_at: Timestamp | None
    incomplete_details: IncompleteDetails | None
    instructions: str
    last_error: LastError | None
    max_completion_tokens: TokenLimit | None
    max_prompt_tokens: TokenLimit | None
    metadata: Metadata | None
    model: str
    object: Literal["thread.run"]
    parallel_tool_calls: bool
    required_action: RequiredAction | None
    response_format: Literal["auto"] | ResponseFormat | None
    started_at: Timestamp | None
    status: RunStatus
    thread_id: str
    tool_choice: Literal["none", "auto", "required"] | AssistantToolChoice | None
    tools: Annotated[list[Tool], Field(max_length=20)]
    truncation_strategy: TruncationStrategy | None
    usage: Usage | None
    temperature: float | None = None
    top_p: float | None = None


class Error(_Strict):
    message: str
    type: str
    param: str | None
    code: str | None


class ErrorResponse(_Strict):
    error: Error


def _located(data: Any, loc: tuple[str | int, ...]) -> tuple[str | int, ...]:
    """Keep the parts of a pydantic error location that are real keys of `data` (drop union tags)."""
    parts: list[str | int] = []
    current = data
    for part in loc:
        if _has(current, part):
            current = current[part]
            parts.append(part)
        elif isinstance(current, dict) and isinstance(part, str) and _is_field_name(part):
            # A missing or extra key at this level: it is the last meaningful part.
            parts.append(part)
            break
    return tuple(parts)


def _has(container: Any, part: str | int) -> bool:
    if isinstance(container, dict):
        return part in container
    return isinstance(container, list) and isinstance(part, int) and 0 <= part < len(container)


def _is_field_name(part: str) -> bool:
    """Field names are snake_case; pydantic's union tags are class names or `literal[...]`."""
    return part.isidentifier() and not part[:1].isupper()


def _expected(message: str) -> str:
    return message.removeprefix("Input should be ")


def _errors(model: type[BaseModel], data: Any) -> list[Any]:
    try:
        model.model_validate(data)
    except ValidationError as exc:
        return list(exc.errors(include_url=False))
    return []


def _extras(data: Any, errors: list[Any]) -> list[tuple[str | int, ...]]:
    """Where the undocumented keys are: each `extra_forbidden` location that names a real key."""
    found = []
    for error in errors:
        if error["type"] == "extra_forbidden":
            loc = _located(data, error["loc"])
            if loc and _has_path(data, loc) and loc not in found:
                found.append(loc)
    return found


def _has_path(data: Any, loc: tuple[str | int, ...]) -> bool:
    current = data
    for part in loc:
        if not _has(current, part):
            return False
        current = current[part]
    return True


def _without(data: Any, locs: list[tuple[str | int, ...]]) -> Any:
    """A copy of `data` with the keys at `locs` taken out."""
    if not locs:
        return data
    if isinstance(data, dict):
        gone = {loc[0] for loc in locs if len(loc) == 1}
        return {
            k: _without(v, [loc[1:] for loc in locs if len(loc) > 1 and loc[0] == k])
            for k, v in data.items()
            if k not in gone
        }
    if isinstance(data, list):
        return [
            _without(v, [loc[1:] for loc in locs if len(loc) > 1 and loc[0] == i]) for i, v in enumerate(data)
        ]
    return data


def _findings(model: type[BaseModel], data: Any, clause_prefix: str) -> list[Finding]:
    """Undocumented keys (at any depth) are additive; what is wrong once they are taken out breaks.

    Unions of objects are told apart by `type` first, so an extra key is reported once, in the member
    the object names, and the object is then judged without it: never as breaking against another
    member."""
    errors = _errors(model, data)
    extras: list[tuple[str | int, ...]] = []
    judged = data
    # Extras inside an object that is itself wrong are only seen once it is right: a few rounds.
    for _ in range(_EXTRA_ROUNDS):
        found = [loc for loc in _extras(judged, errors) if loc not in extras]
        if not found:
            break
        extras += found
        judged = _without(data, extras)
        errors = _errors(model, judged)
    findings: dict[tuple[str, str], Finding] = {}
    for error in errors:
        loc = _located(judged, error["loc"])
        path = json_path(loc)
        if error["type"] == "extra_forbidden":
            finding = Finding(
                f"{clause_prefix}.undocumented_field",
                path,
                "only documented fields",
                f"undocumented field with value {preview(error['input'], 60)}",
                Severity.ADDITIVE,
            )
        elif not loc:
            finding = Finding(f"{clause_prefix}.body", "$", _expected(error["msg"]), preview(judged))
        elif error["type"] == "missing":
            finding = Finding(f"{clause_prefix}.{loc[0]}", path, "the field present", "absent")
        else:
            severity = Severity.BREAKING
            if error["type"] == "literal_error" and loc[0] in READ_ONLY_ENUMS:
                severity = Severity.ADDITIVE
            finding = Finding(
                f"{clause_prefix}.{loc[0]}", path, _expected(error["msg"]), preview(error["input"]), severity
            )
        # A union reports once per branch: one finding per clause and path, naming every branch.
        known = findings.get((finding.clause, finding.path))
        if known is not None and finding.expected not in known.expected:
            finding = Finding(
                known.clause,
                known.path,
                f"{known.expected} or {finding.expected}",
                known.observed,
                known.severity,
            )
        elif known is not None:
            continue
        findings[(finding.clause, finding.path)] = finding
    for loc in extras:
        path = json_path(loc)
        findings[(f"{clause_prefix}.undocumented_field", path)] = Finding(
            f"{clause_prefix}.undocumented_field",
            path,
            "only documented fields",
            f"undocumented field with value {preview(_at(data, loc), 60)}",
            Severity.ADDITIVE,
        )
    # ... and the branch that got deepest into the value is the one that names the fault.
    return [
        f
        for f in findings.values()
        if not any(o.clause == f.clause and _within(o.path, f.path) for o in findings.values())
    ]


_EXTRA_ROUNDS = 4


def _at(data: Any, loc: tuple[str | int, ...]) -> Any:
    for part in loc:
        data = data[part]
    return data


def _within(inner: str, outer: str) -> bool:
    return inner != outer and inner.startswith(outer) and inner[len(outer)] in ".["


def run_findings(data: Any) -> list[Finding]:
    """Check a decoded JSON answer against the Run model: breaking violations and additive extras."""
    return _findings(Run, data, "schema")


def envelope_findings(data: Any) -> list[Finding]:
    """Check a decoded JSON error answer against the OpenAI error envelope."""
    return _findings(ErrorResponse, data, "error.envelope")
