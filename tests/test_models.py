"""The pydantic models and the contract document describe the same Run and error envelope."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runcancel.contract import contract_findings, load_contract, run_fields
from runcancel.findings import Severity
from runcancel.models import ErrorResponse, Run, envelope_findings, run_findings

# The constraints that apply to each JSON type (a `[integer, "null"]` minimum binds the integer only).
CONSTRAINTS = {
    "integer": ("minimum", "maximum"),
    "number": ("minimum", "maximum"),
    "string": ("maxLength", "pattern"),
    "array": ("maxItems",),
    "object": ("maxProperties",),
    "boolean": (),
    "null": (),
}
Facts = dict[str, Any]


def _resolver(root: dict[str, Any]) -> Any:
    def resolve(schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            node: Any = root
            for part in schema["$ref"].lstrip("#/").split("/"):
                node = node[part]
            schema = node
        return schema

    return resolve


def _alternatives(schema: dict[str, Any], resolve: Any) -> list[dict[str, Any]]:
    """Split a schema into single-type alternatives (anyOf, oneOf and type lists)."""
    schema = resolve(schema)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return [alt for sub in schema[key] for alt in _alternatives(sub, resolve)]
    kind = schema.get("type")
    if isinstance(kind, list):
        return [{**schema, "type": k} for k in kind]
    if kind is None and "const" in schema:
        kind = {str: "string", bool: "boolean", int: "integer"}[type(schema["const"])]
    return [{**schema, "type": kind}]


def _tag(schema: dict[str, Any], resolve: Any) -> list[Any]:
    alt = _alternatives(schema, resolve)[0]
    return list(alt.get("enum", [alt.get("const", "")]))


def describe(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Facts]:
    """Flatten a JSON schema into path -> facts (types, enums, bounds, required), for comparison."""
    resolve = _resolver(root)
    out: dict[str, Facts] = {}

    def walk(node: dict[str, Any], path: str, required: bool | None) -> None:
        facts: Facts = {"required": required, "types": {}}
        objects = []
        for alt in _alternatives(node, resolve):
            kind = alt["type"]
            entry = facts["types"].setdefault(kind, {})
            values = alt.get("enum", [alt["const"]] if "const" in alt else None)
            if values is not None:
                entry["enum"] = sorted({*entry.get("enum", []), *values})
            entry.update({c: alt[c] for c in CONSTRAINTS[kind] if c in alt})
            if kind == "object":
                objects.append(alt)
            elif kind == "array":
                walk(alt["items"], f"{path}[]", None)
        for alt in objects:
            props = alt.get("properties", {})
            tag = _tag(props["type"], resolve) if "type" in props else [""]
            prefix = f"{path}<{'|'.join(map(str, tag))}>" if len(objects) > 1 else path
            for name, sub in props.items():
                walk(sub, f"{prefix}.{name}", name in alt.get("required", []))
            extra = alt.get("additionalProperties")
            if isinstance(extra, dict):
                walk(extra, f"{prefix}{{value}}", None)
            elif extra is True:
                facts["types"]["object"]["open"] = True
            if "propertyNames" in alt:
                walk({"type": "string", **alt["propertyNames"]}, f"{prefix}{{key}}", None)
        out[path] = facts

    walk(schema, "$", None)
    return out


def _contract_side(name: str) -> dict[str, Facts]:
    document = load_contract()
    return describe(document["components"]["schemas"][name], document)


def _model_side(model: type[Run] | type[ErrorResponse]) -> dict[str, Facts]:
    schema = model.model_json_schema()
    return describe(schema, schema)


@pytest.mark.parametrize(
    ("contract_name", "model"),
    [pytest.param("Run", Run, id="Run"), pytest.param("ErrorResponse", ErrorResponse, id="ErrorResponse")],
)
def test_models_and_contract_agree_field_by_field(contract_name: str, model: Any) -> None:
    """Every path has the same types, nullability, enums, bounds and required flag on both sides."""
    contract, models = _contract_side(contract_name), _model_side(model)
    assert sorted(contract) == sorted(models), "the two sides name different fields"
    differing = {p: (contract[p], models[p]) for p in contract if contract[p] != models[p]}
    assert not differing, json.dumps(differing, indent=1, default=str)


def test_run_has_the_27_documented_fields_25_required() -> None:
    """The Run is the reference page's 27 fields; temperature and top_p are the optional ones."""
    facts = _contract_side("Run")
    top = {p[2:]: f for p, f in facts.items() if p.count(".") == 1 and "[" not in p and "{" not in p}
    assert len(run_fields()) == 27 == len(top)
    assert sorted(n for n, f in top.items() if not f["required"]) == ["temperature", "top_p"]


def test_the_comparison_notices_a_difference() -> None:
    """The agreement check is not vacuous: a changed bound, enum or nullability shows up."""
    document = load_contract()
    schema = json.loads(json.dumps(document["components"]["schemas"]["Run"]))
    schema["properties"]["max_prompt_tokens"]["minimum"] = 1
    schema["properties"]["status"]["enum"].append("paused")
    schema["properties"]["expires_at"]["type"] = "integer"
    changed = describe(schema, document)
    original = _contract_side("Run")
    assert {p for p in original if original[p] != changed[p]} == {
        "$.max_prompt_tokens",
        "$.status",
        "$.expires_at",
    }


ANCHOR = {
    "id": "run_abc",
    "object": "thread.run",
    "created_at": 1700000000,
    "assistant_id": "asst_abc",
    "thread_id": "thread_abc",
    "status": "cancelling",
    "started_at": 1700000001,
    "expires_at": 1700000600,
    "cancelled_at": None,
    "failed_at": None,
    "completed_at": None,
    "required_action": None,
    "last_error": None,
    "model": "gpt-4o-mini",
    "instructions": "Be brief.",
    "tools": [{"type": "code_interpreter"}],
    "metadata": {},
    "temperature": 1.0,
    "top_p": 1.0,
    "max_completion_tokens": None,
    "max_prompt_tokens": None,
    "truncation_strategy": {"type": "auto", "last_messages": None},
    "incomplete_details": None,
    "usage": None,
    "response_format": "auto",
    "tool_choice": "auto",
    "parallel_tool_calls": True,
}


def test_a_documented_run_has_no_findings() -> None:
    """A run with exactly the documented fields passes both the models and the contract."""
    assert run_findings(ANCHOR) == []
    assert contract_findings(ANCHOR) == []


def test_undocumented_fields_are_additive_findings_not_errors() -> None:
    """`tool_resources` and `reasoning_effort` come out as additive drift, each with its path."""
    findings = run_findings({**ANCHOR, "tool_resources": {}, "reasoning_effort": None})
    assert [(f.clause, f.path, f.severity) for f in findings] == [
        ("schema.undocumented_field", "$.tool_resources", Severity.ADDITIVE),
        ("schema.undocumented_field", "$.reasoning_effort", Severity.ADDITIVE),
    ]


@pytest.mark.parametrize(
    ("change", "clause", "path"),
    [
        pytest.param({"status": "paused"}, "schema.status", "$.status", id="unknown-enum"),
        pytest.param(
            {"created_at": "1700000000"}, "schema.created_at", "$.created_at", id="string-timestamp"
        ),
        pytest.param({"created_at": 1.5}, "schema.created_at", "$.created_at", id="float-timestamp"),
        pytest.param({"instructions": None}, "schema.instructions", "$.instructions", id="null-instructions"),
        pytest.param(
            {"max_prompt_tokens": 255}, "schema.max_prompt_tokens", "$.max_prompt_tokens", id="below-min"
        ),
        pytest.param({"metadata": {"k": 1}}, "schema.metadata", "$.metadata.k", id="metadata-value-type"),
        pytest.param({"tools": [{"type": "browser"}]}, "schema.tools", "$.tools[0]", id="unknown-tool"),
        pytest.param(
            {"parallel_tool_calls": 1}, "schema.parallel_tool_calls", "$.parallel_tool_calls", id="int-bool"
        ),
        pytest.param(
            {"tool_choice": {"type": "function", "function": {}}},
            "schema.tool_choice",
            "$.tool_choice.function.name",
            id="nested-missing",
        ),
    ],
)
def test_a_violation_is_a_breaking_finding_on_both_sides(
    change: dict[str, Any], clause: str, path: str
) -> None:
    """Models and contract both report the violated field, as a breaking finding of its clause."""
    data = {**ANCHOR, **change}
    from_models = [(f.clause, f.path, f.severity) for f in run_findings(data)]
    assert from_models == [(clause, path, Severity.BREAKING)]
    assert clause in {f.clause for f in contract_findings(data)}


@pytest.mark.parametrize(
    ("field", "value", "severity"),
    [
        pytest.param(
            "last_error", {"code": "quota_exceeded", "message": "m"}, Severity.ADDITIVE, id="last_error.code"
        ),
        pytest.param(
            "incomplete_details", {"reason": "time_limit"}, Severity.ADDITIVE, id="incomplete.reason"
        ),
        pytest.param("status", "paused", Severity.BREAKING, id="status"),
        pytest.param("tools", [{"type": "browser"}], Severity.BREAKING, id="tool-type"),
    ],
)
def test_a_new_enum_value_is_additive_only_where_clients_just_read(
    field: str, value: Any, severity: Severity
) -> None:
    """A new last_error code or incomplete reason is additive; a new status or tool type breaks clients."""
    data = {**ANCHOR, field: value}
    assert {f.severity for f in run_findings(data)} == {severity}
    assert {f.severity for f in contract_findings(data)} == {severity}


@pytest.mark.parametrize("field", sorted(k for k in ANCHOR if k not in ("temperature", "top_p")))
def test_a_missing_required_field_is_named(field: str) -> None:
    """A required field that is absent is a finding of that field's clause on both sides."""
    data = {k: v for k, v in ANCHOR.items() if k != field}
    assert [f.clause for f in run_findings(data)] == [f"schema.{field}"]
    assert [f.clause for f in contract_findings(data)] == [f"schema.{field}"]


def test_the_error_envelope_needs_all_four_keys() -> None:
    """An error body without `param` or `code`, or with another shape, breaks the envelope."""
    good = {"error": {"message": "m", "type": "invalid_request_error", "param": None, "code": None}}
    assert envelope_findings(good) == []
    assert [f.path for f in envelope_findings({"error": {"message": "m", "type": "t"}})] == [
        "$.error.param",
        "$.error.code",
    ]
    assert envelope_findings({"detail": "Not Found"})[0].path == "$.error"


# Integral floats (1.0) are left out: JSON Schema counts them as integers, the models do not (see
# test_an_integral_float_is_not_an_integer), and that is the one place the two sides differ.
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False).filter(lambda x: not x.is_integer())
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=12,
)


@given(field=st.sampled_from(sorted(ANCHOR)), value=json_values)
def test_models_and_contract_accept_and_reject_the_same_values(field: str, value: Any) -> None:
    """For any JSON value put into any field, models and contract agree on which fields break."""
    data = {**ANCHOR, field: value}
    model_clauses = {f.clause for f in run_findings(data) if f.severity is Severity.BREAKING}
    contract_clauses = {f.clause for f in contract_findings(data)}
    assert model_clauses == contract_clauses


def test_an_integral_float_is_not_an_integer() -> None:
    """`created_at: 1.0` breaks typed clients (an int64 will not parse it): the models report it,
    even though JSON Schema, and so the contract document alone, counts 1.0 as an integer."""
    assert [f.clause for f in run_findings({**ANCHOR, "created_at": 1700000000.0})] == ["schema.created_at"]
    assert contract_findings({**ANCHOR, "created_at": 1700000000.0}) == []


def test_the_contract_document_is_the_one_in_contracts() -> None:
    """The document the library loads is `contracts/cancel_run.openapi.yaml` of this tree."""
    from runcancel.contract import contract_path

    here = Path(__file__).resolve().parents[1] / "contracts" / "cancel_run.openapi.yaml"
    assert contract_path().read_text() == here.read_text()


REQUIRES_ACTION = {
    "status": "requires_action",
    "required_action": {
        "type": "submit_tool_outputs",
        "submit_tool_outputs": {
            "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]
        },
    },
}
FUNCTION_TOOL = {"type": "function", "function": {"name": "get_weather", "parameters": {}}}


@pytest.mark.parametrize(
    ("change", "path"),
    [
        pytest.param(
            {"response_format": {"type": "json_object", "x": 1}}, "$.response_format.x", id="json_object"
        ),
        pytest.param({"response_format": {"type": "text", "x": 1}}, "$.response_format.x", id="text"),
        pytest.param(
            {"tool_choice": {"type": "function", "function": {"name": "f"}, "x": 1}},
            "$.tool_choice.x",
            id="tool_choice",
        ),
        pytest.param(
            {"tool_choice": {"type": "function", "function": {"name": "f", "x": 1}}},
            "$.tool_choice.function.x",
            id="tool_choice.function",
        ),
        pytest.param({"tools": [{"type": "code_interpreter", "x": 1}]}, "$.tools[0].x", id="tools[0]"),
        pytest.param(
            {"tools": [FUNCTION_TOOL, {**FUNCTION_TOOL, "function": {"name": "g", "x": 1}}]},
            "$.tools[1].function.x",
            id="tools[1].function",
        ),
        pytest.param(
            {"truncation_strategy": {"type": "auto", "last_messages": None, "x": 1}},
            "$.truncation_strategy.x",
            id="truncation_strategy",
        ),
        pytest.param(
            {
                "status": "completed",
                "usage": {
                    "prompt_tokens": 1,
                    "completion_tokens": 1,
                    "total_tokens": 2,
                    "prompt_token_details": {"cached_tokens": 0},
                },
            },
            "$.usage.prompt_token_details",
            id="usage",
        ),
        pytest.param(
            {**REQUIRES_ACTION, "required_action": {**REQUIRES_ACTION["required_action"], "x": 1}},
            "$.required_action.x",
            id="required_action",
        ),
    ],
)
def test_an_extra_key_in_a_nested_object_is_additive_at_its_path(change: dict[str, Any], path: str) -> None:
    """An undocumented key inside any nested object, union members included, is one additive finding
    named with its JSON path; the member `type` names is judged without it, never another member."""
    data = {**ANCHOR, **change}
    assert [(f.clause, f.path, f.severity) for f in run_findings(data)] == [
        ("schema.undocumented_field", path, Severity.ADDITIVE)
    ]
    assert contract_findings(data) == []


@pytest.mark.parametrize(
    ("change", "path", "expected"),
    [
        pytest.param(
            {"response_format": {"type": "json_schema", "x": 1}},
            "$.response_format.json_schema",
            "the field present",
            id="member-missing-field",
        ),
        pytest.param(
            {"tools": [{"type": "function", "function": {"name": "bad name"}}]},
            "$.tools[0].function.name",
            "pattern",
            id="member-bad-field",
        ),
        pytest.param(
            {"response_format": {"type": "xml"}}, "$.response_format", "'json_object'", id="unknown-member"
        ),
    ],
)
def test_a_union_member_is_judged_by_the_member_its_type_names(
    change: dict[str, Any], path: str, expected: str
) -> None:
    """A fault inside a union member is reported inside that member, on both sides; an unknown `type`
    is reported at the union, naming the members there are."""
    data = {**ANCHOR, **change}
    breaking = [f for f in run_findings(data) if f.severity is Severity.BREAKING]
    assert [f.path for f in breaking] == [path]
    assert expected in breaking[0].expected or expected == "pattern"
    assert path in {f.path for f in contract_findings(data)}


def test_identical_findings_fold_into_one_with_a_count() -> None:
    """The same fault seen in a thousand answers is one finding counted a thousand times."""
    from runcancel.findings import fold, folded_lines

    findings = [f for i in range(1000) for f in run_findings({**ANCHOR, "tool_resources": {"n": i}})]
    findings += run_findings({**ANCHOR, "tools": [{"type": "code_interpreter", "x": 1}] * 3})
    folded = fold(findings)
    assert [(f.path, n) for f, n in folded] == [("$.tool_resources", 1000), ("$.tools[0].x", 3)]
    assert folded_lines(findings, prefix="additive: ") == [
        'additive: [schema.undocumented_field] $.tool_resources: undocumented field with value {"n": 0} '
        "(1000 times)",
        "additive: [schema.undocumented_field] $.tools[].x: undocumented field with value 1 (3 times)",
    ]
    assert (
        folded_lines(findings, limit=1)[-1]
        == "... and 1 more distinct findings (3 in all): see findings.json"
    )


def test_a_passed_clause_with_findings_says_so() -> None:
    """`passed` alone never stands beside findings: the state text counts them."""
    from runcancel.findings import state_text

    extras = run_findings({**ANCHOR, "tool_resources": {}, "reasoning_effort": None})
    assert state_text("passed", extras) == "passed, with 2 additive findings"
    assert state_text("passed", []) == "passed"
    assert state_text("failed", extras) == "failed"


def test_many_invented_keys_under_one_object_are_one_line() -> None:
    """A mock that invents keys (Prism's dynamic mode) gets one line an object, not one a key."""
    from runcancel.findings import folded_lines

    usage = {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
    findings = [
        f
        for i in range(50)
        for f in run_findings({**ANCHOR, "status": "completed", "usage": {**usage, f"Lorem_{i}": i}})
    ]
    assert folded_lines(findings, prefix="additive: ") == [
        "additive: [schema.undocumented_field] $.usage: 50 undocumented keys "
        "(e.g. Lorem_0, Lorem_1, Lorem_2, ...)"
    ]
