"""The probe's checks: the project's own, on one answer, and the table of every generated check.

`envelope_problem` and `echo_problem` judge one answer and serve both halves of the probe (the
generated cases and the corpus). The `runcancel_*` functions wrap them in schemathesis's check
signature. `GENERATED_CHECKS` names every check applied to a generated answer, with its clause id.
Nothing here imports schemathesis.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_to_bytes

from runcancel.findings import preview
from runcancel.models import envelope_findings

__all__ = [
    "ANSWERED",
    "GENERATED_CHECKS",
    "NOT_FOUND_MESSAGE",
    "OWN_CHECKS",
    "GeneratedCheck",
    "decoded",
    "echo_problem",
    "envelope_problem",
    "error_message",
    "path_ids",
]

NOT_FOUND_MESSAGE = re.compile(r"No (thread|run) found with id '(.*)'\.", re.DOTALL)


def envelope_problem(status: int, content: bytes) -> str | None:
    """An answer that is not 2xx must be the OpenAI error envelope with a string `error.type`."""
    if 200 <= status < 300:
        return None
    try:
        data = json.loads(content)
    except ValueError:
        return f"a {status} answer that is not JSON: {preview(content, 80)}"
    broken = [f for f in envelope_findings(data) if f.clause != "error.envelope.undocumented_field"]
    if broken:
        return f"a {status} answer without the OpenAI error envelope ({broken[0].path}: {broken[0].observed})"
    return None


def echo_problem(content: bytes, sent: Mapping[str, str]) -> str | None:
    """A `No thread|run found with id '<id>'.` message must quote the id that was sent, decoded.

    `sent` maps "thread" and "run" to the ids the request carried. None when the message quotes the
    right id or is not such a message.
    """
    message = error_message(content)
    match = NOT_FOUND_MESSAGE.fullmatch(message) if message is not None else None
    if match is None or match.group(1) not in sent:
        return None
    kind, quoted = match.groups()
    if quoted != sent[kind]:
        return (
            f"the message quotes {kind} id {preview(quoted, 60)}, the request sent {preview(sent[kind], 60)}"
        )
    return None


def error_message(content: bytes) -> str | None:
    """`error.message` of an error envelope, or None when the body is not one."""
    try:
        data = json.loads(content)
    except ValueError:
        return None
    error = data.get("error") if isinstance(data, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    return message if isinstance(message, str) else None


def decoded(segment: bytes) -> str:
    """A path segment percent-decoded as a server reads it (bytes that are not UTF-8 replaced)."""
    return unquote_to_bytes(segment).decode("utf-8", "replace")


def path_ids(path: bytes) -> dict[str, str]:
    """The ids a server reads from `/threads/{thread_id}/runs/{run_id}/cancel`, each segment decoded."""
    segments = path.split(b"?")[0].split(b"/")
    ids = {}
    for i, segment in enumerate(segments[:-1]):
        if segment == b"threads":
            ids["thread"] = decoded(segments[i + 1])
        elif segment == b"runs":
            ids["run"] = decoded(segments[i + 1])
    return ids


# Schemathesis calls these with (ctx, response, case); True means "not applicable", None "held", and
# AssertionError a failure. They are not registered with `schemathesis.check`: that would switch
# them on for every other schemathesis test in the process. The probe passes them explicitly.


def runcancel_error_envelope(ctx: Any, response: Any, case: Any) -> bool | None:
    """Every answer that is not 2xx is the OpenAI error envelope, with a string `error.type`."""
    if 200 <= response.status_code < 300:
        return True
    problem = envelope_problem(response.status_code, response.content)
    if problem:
        raise AssertionError(problem)
    return None


def runcancel_echoed_id(ctx: Any, response: Any, case: Any) -> bool | None:
    """A 404 `No thread|run found with id '<id>'.` quotes the id the request sent (decoded)."""
    message = error_message(response.content) if response.status_code == 404 else None
    if message is None or NOT_FOUND_MESSAGE.fullmatch(message) is None:
        return True
    problem = echo_problem(response.content, path_ids(case.formatted_path.encode("utf-8")))
    if problem:
        raise AssertionError(problem)
    return None


def runcancel_never_created(ctx: Any, response: Any, case: Any) -> bool | None:
    """Ids nobody created are never answered 2xx: there is no such run to cancel."""
    if 200 <= response.status_code < 300:
        raise AssertionError(f"{response.status_code} for ids that were never created")
    return None


OWN_CHECKS: dict[str, Callable[[Any, Any, Any], bool | None]] = {
    f.__name__: f for f in (runcancel_error_envelope, runcancel_echoed_id, runcancel_never_created)
}


@dataclass(frozen=True)
class GeneratedCheck:
    """One check applied to every generated answer, under its clause id."""

    clause: str
    check: str  # schemathesis's name of a built-in check, or one of OWN_CHECKS
    title: str
    path: str  # where its findings point: status, a header, a JSON path
    expected: str  # what an answer must be, as a finding says it
    overlay: str | None = None  # what it takes from the answers the contract adds upstream
    applies: str = "every answer"  # or "2xx answers", "other methods": where it can fail at all
    anchor: bool = True  # it applies to the anchor's answer too (ids that exist)

    def applies_to(self, method: str, status: int) -> bool:
        if self.applies == "2xx answers":
            return 200 <= status < 300
        if self.applies == "other methods":
            return method != "POST"
        return True


GENERATED_CHECKS = (
    GeneratedCheck(
        "probe.not_a_server_error", "not_a_server_error", "no answer is a 5xx", "status", "a status below 500"
    ),
    GeneratedCheck(
        "probe.status_code_conformance",
        "status_code_conformance",
        "every status is one the contract documents",
        "status",
        "a documented status (200, 400, 401, 404, 429)",
        overlay="accepts 400, 401 and 404 only because the contract adds them",
    ),
    GeneratedCheck(
        "probe.content_type_conformance",
        "content_type_conformance",
        "every answer has its documented content type",
        "header content-type",
        "the documented content type (application/json)",
        overlay="the content type of 400, 401 and 404 answers comes from the added responses",
    ),
    GeneratedCheck(
        "probe.response_schema_conformance",
        "response_schema_conformance",
        "every answer's body fits its documented schema",
        "$",
        "a body that fits the documented schema (Run, ErrorResponse)",
        overlay="400, 401 and 404 bodies are judged against the added ErrorResponse",
    ),
    GeneratedCheck(
        "probe.response_headers_conformance",
        "response_headers_conformance",
        "every answer carries its documented headers",
        "header x-request-id",
        "the documented headers (x-request-id, openai-version, openai-processing-ms)",
        overlay="every header it checks (x-request-id, openai-version, openai-processing-ms) is added",
    ),
    GeneratedCheck(
        "probe.ignored_auth",
        "ignored_auth",
        "a request that succeeded with the key fails without it, and with a wrong one (401)",
        "status",
        "401 for the same request without the key and with a wrong one",
        applies="2xx answers",
    ),
    GeneratedCheck(
        "probe.unsupported_method",
        "unsupported_method",
        "a method the path does not serve is refused (405, or 404 for ids that do not exist)",
        "status",
        "405, or 404 for ids that do not exist",
        applies="other methods",
    ),
    GeneratedCheck(
        "probe.error_envelope",
        "runcancel_error_envelope",
        "every answer that is not 2xx is the OpenAI error envelope, with error.type",
        "$.error",
        "the OpenAI error envelope with a string error.type",
        overlay="the envelope on 400, 401 and 404 is the live API's",
    ),
    GeneratedCheck(
        "probe.echoed_id",
        "runcancel_echoed_id",
        "a 404 `No thread|run found with id '<id>'.` quotes the id sent, decoded",
        "$.error.message",
        "the id sent, percent-decoded",
        overlay="the message is the live API's 404, added by the contract",
    ),
    GeneratedCheck(
        "probe.never_created",
        "runcancel_never_created",
        "ids nobody created are never answered 2xx",
        "status",
        "no 2xx: these ids were never created",
        anchor=False,
    ),
)
ANSWERED = GeneratedCheck(
    "probe.answered",
    "",
    "every generated request is answered within --request-timeout",
    "status",
    "an answer within --request-timeout",
)
