"""The contract document, `contracts/cancel_run.openapi.yaml`, loaded once and validated against.

The file lives in `contracts/` of the source tree and is shipped inside the wheel next to this module.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import referencing
import yaml
from referencing.jsonschema import DRAFT202012

from runcancel.findings import Finding, Severity, json_path, preview
from runcancel.models import READ_ONLY_ENUMS

__all__ = [
    "CONTRACT_FILENAME",
    "OPERATION_ID",
    "contract_findings",
    "contract_path",
    "load_contract",
    "run_fields",
]

CONTRACT_FILENAME = "cancel_run.openapi.yaml"
OPERATION_ID = "cancelRun"
OPERATION_PATH = "/threads/{thread_id}/runs/{run_id}/cancel"
_URI = "urn:runcancel:contract"


def contract_path() -> Path:
    """Where the contract document is: inside the installed package, else in the source tree."""
    packaged = resources.files("runcancel").joinpath(CONTRACT_FILENAME)
    if packaged.is_file():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[2] / "contracts" / CONTRACT_FILENAME


@functools.cache
def load_contract() -> dict[str, Any]:
    with contract_path().open(encoding="utf-8") as fh:
        # libyaml's loader where PyYAML was built with it: the same document, a tenth of the time.
        document: dict[str, Any] = yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return document


def component(name: str) -> dict[str, Any]:
    schema: dict[str, Any] = load_contract()["components"]["schemas"][name]
    return schema


def run_fields() -> dict[str, dict[str, Any]]:
    """The Run object's documented fields, name -> schema, in the document's order."""
    properties: dict[str, dict[str, Any]] = component("Run")["properties"]
    return properties


@functools.cache
def _validator(name: str) -> jsonschema.protocols.Validator:
    resource = referencing.Resource.from_contents(load_contract(), default_specification=DRAFT202012)
    registry: referencing.Registry[Any] = referencing.Registry().with_resource(_URI, resource)
    schema = {"$ref": f"{_URI}#/components/schemas/{name}"}
    return jsonschema.Draft202012Validator(schema, registry=registry)


def contract_findings(instance: Any, schema: str = "Run", clause_prefix: str = "schema") -> list[Finding]:
    """Validate `instance` against a schema of the contract document; one finding per violation.

    The clause is `<prefix>.<top-level field>` (`schema.status`), or `<prefix>.body` when the
    instance as a whole is wrong (not an object at all).
    """
    findings = []
    for error in _judged(_validator(schema).iter_errors(instance)):
        parts = list(error.absolute_path)
        top = str(parts[0]) if parts else None
        if error.validator == "required":
            # `required` reports on the parent: name the missing field instead.
            missing = str(error.message).split("'")[1] if "'" in error.message else "?"
            clause = f"{clause_prefix}.{top or missing}"
            findings.append(Finding(clause, json_path([*parts, missing]), "the field present", "absent"))
            continue
        clause = f"{clause_prefix}.{top}" if top else f"{clause_prefix}.body"
        read_only_enum = error.validator == "enum" and top in READ_ONLY_ENUMS
        findings.append(
            Finding(
                clause,
                json_path(parts),
                _expected_text(error),
                preview(error.instance),
                Severity.ADDITIVE if read_only_enum else Severity.BREAKING,
            )
        )
    return findings


def _judged(errors: Iterable[jsonschema.ValidationError]) -> Iterator[jsonschema.ValidationError]:
    """Errors as a client sees them: a union (`anyOf`/`oneOf`) of objects over an object whose `type`
    one member accepts is judged by that member alone, so its errors are the member's, with their
    own paths; a `type` no member accepts stays one error at the union."""
    for error in errors:
        member = _member_errors(error)
        if member is None:
            yield error
        else:
            yield from _judged(member)


def _member_errors(error: jsonschema.ValidationError) -> list[jsonschema.ValidationError] | None:
    if error.validator not in ("anyOf", "oneOf") or not isinstance(error.instance, dict):
        return None
    if not isinstance(error.instance.get("type"), str):
        return None
    by_branch: dict[int, list[jsonschema.ValidationError]] = {}
    for sub in error.context or ():
        by_branch.setdefault(int(sub.schema_path[0]), []).append(sub)
    branches = len(error.validator_value) if isinstance(error.validator_value, list) else 0
    # A branch that says nothing against `type` (and is an object schema) is the member named.
    named = [
        i
        for i in range(branches)
        if i in by_branch
        and not any(
            list(sub.relative_path) == ["type"] or (not sub.relative_path and sub.validator == "type")
            for sub in by_branch[i]
        )
    ]
    if len(named) != 1:
        return None
    return by_branch[named[0]]


def _expected_text(error: jsonschema.ValidationError) -> str:
    keyword, value = error.validator, error.validator_value
    match keyword:
        case "type":
            kinds = value if isinstance(value, list) else [value]
            return "type " + " or ".join(str(k) for k in kinds)
        case "enum":
            return "one of " + ", ".join(preview(v) for v in value) if isinstance(value, list) else str(value)
        case "const":
            return f"exactly {preview(value)}"
        case "minimum" | "maximum" | "maxLength" | "maxItems" | "maxProperties" | "pattern":
            return f"{keyword} {value}"
        case _:
            return f"{keyword}: {preview(value, 80)}"
