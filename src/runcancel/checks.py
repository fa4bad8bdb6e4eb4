"""Checks of whole answers: a cancel answer (status, JSON, headers, schema, rules) or an error answer.

Each check returns clause -> outcome, where an outcome is a list of findings (empty: the clause
holds) or `NotVerified`. Evidence (the request and the status) is attached to every finding here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from runcancel.clauses import schema_clauses
from runcancel.contract import contract_findings
from runcancel.findings import Evidence, Finding, NotVerified, preview
from runcancel.models import envelope_findings, run_findings
from runcancel.rules import CancelContext, Outcome, check_rules
from runcancel.targets import Exchange

__all__ = [
    "ErrorExpectation",
    "check_cancel_answer",
    "check_error_answer",
    "decode",
    "header_outcomes",
    "judge_ungated",
    "run_object_findings",
    "status_kept",
]

# The rules that hold for a run in any status, read back or created (the cancel.* rules hold for a
# cancel answer only).
RUN_RULES = (
    "state.required_action",
    "state.last_error",
    "state.incomplete_details",
    "state.usage",
    "state.expires_at",
    "usage.totals",
    "time.order",
)

REQUEST_ID = re.compile(r"^req_[0-9a-f]{32}$")


def decode(exchange: Exchange, clause: str = "answer.json") -> tuple[Any, list[Finding]]:
    """The answer's JSON, or a finding that shows the content type and the first bytes.

    An answer the transport cut off (beyond `--max-answer-bytes` or the request's time-out) is not
    judged by its first bytes: the transport's own finding stands, under the clause asked about.
    """
    if not exchange.complete:
        return None, [f.under(clause) for f in exchange.findings]
    kind = exchange.content_type.split(";")[0].strip().lower()
    try:
        data = exchange.json()
    except ValueError:
        return None, [
            Finding(
                clause,
                "$",
                "a JSON body (content-type application/json)",
                f"content-type {kind or 'absent'}, first bytes {preview(exchange.content, 80)}",
                evidence=exchange.evidence,
            )
        ]
    if kind != "application/json":
        return data, [
            Finding(
                clause, "$", "content-type application/json", kind or "absent", evidence=exchange.evidence
            )
        ]
    return data, []


def header_outcomes(exchange: Exchange) -> dict[str, Outcome]:
    """The live API's response headers, by clause."""
    headers = exchange.headers
    expectations: dict[str, tuple[Callable[[str], bool], str]] = {
        "headers.x-request-id": (lambda v: bool(REQUEST_ID.match(v)), "`req_` and 32 hex digits"),
        "headers.openai-version": (lambda v: v == "2020-10-01", '"2020-10-01"'),
        "headers.openai-processing-ms": (str.isdigit, "a whole number of milliseconds"),
    }
    outcomes: dict[str, Outcome] = {}
    for clause, (ok, expected) in expectations.items():
        name = clause.removeprefix("headers.")
        value = headers.get(name)
        if value is None:
            outcomes[clause] = [
                Finding(clause, f"header {name}", expected, "absent", evidence=exchange.evidence)
            ]
        elif not ok(value):
            outcomes[clause] = [
                Finding(clause, f"header {name}", expected, preview(value), evidence=exchange.evidence)
            ]
        else:
            outcomes[clause] = []
    return outcomes


def _group(findings: Iterable[Finding], clauses: Iterable[str]) -> dict[str, list[Finding]]:
    grouped: dict[str, list[Finding]] = {c: [] for c in clauses}
    seen: set[tuple[str, str]] = set()
    for f in findings:
        if (f.clause, f.path) in seen:
            continue
        seen.add((f.clause, f.path))
        grouped.setdefault(f.clause, []).append(f)
    return grouped


def check_cancel_answer(exchange: Exchange, ctx: CancelContext) -> dict[str, Outcome]:
    """Every clause of a 200 cancel answer: status, JSON, headers, each schema field, each rule."""
    outcomes: dict[str, Outcome] = {}
    schema_ids = [c.id for c in schema_clauses()]
    if exchange.status != 200:
        outcomes["answer.status"] = [
            Finding("answer.status", "status", "200", str(exchange.status), evidence=exchange.evidence)
        ]
    else:
        outcomes["answer.status"] = []
    data, json_findings = decode(exchange)
    outcomes["answer.json"] = json_findings
    outcomes.update(header_outcomes(exchange))
    if exchange.status != 200 or data is None:
        reason = f"the answer was {exchange.status} " + ("without a JSON body" if data is None else "not 200")
        for clause in [*schema_ids, *check_rules({}, ctx)]:
            outcomes[clause] = NotVerified(clause, reason)
        return outcomes
    # The models and the contract document are both applied; a field either one rejects fails.
    both = [*run_findings(data), *contract_findings(data)]
    outcomes.update(_group((f.with_evidence(exchange.evidence) for f in both), schema_ids))
    for clause, outcome in check_rules(data, ctx).items():
        if isinstance(outcome, NotVerified):
            outcomes[clause] = outcome
        else:
            outcomes[clause] = [f.with_evidence(exchange.evidence) for f in outcome]
    return outcomes


@dataclass(frozen=True)
class ErrorExpectation:
    """What an error answer must be: status, `error.type`, `error.code`, and its message."""

    status: int
    type: str = "invalid_request_error"
    code: str | None = None
    message: str | None = None  # exact text
    message_prefix: str | None = None


def check_error_answer(exchange: Exchange, clause: str, expect: ErrorExpectation) -> list[Finding]:
    """Findings of one error answer: its status, content type, envelope and message, under `clause`."""
    evidence = exchange.evidence
    findings: list[Finding] = []
    if exchange.status != expect.status:
        findings.append(
            Finding(clause, "status", str(expect.status), str(exchange.status), evidence=evidence)
        )
    data, bad_json = decode(exchange, clause)
    findings += bad_json
    if data is None:
        return findings
    envelope = envelope_findings(data)
    findings += [
        Finding(clause, f.path, f.expected, f.observed, f.severity, evidence)
        for f in envelope
        if f.clause != "error.envelope.undocumented_field"
    ]
    # The live API sends its request id on refusals too (and the contract documents it there).
    request_id = header_outcomes(exchange)["headers.x-request-id"]
    findings += [f.under(clause) for f in request_id] if isinstance(request_id, list) else []
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, dict):
        return findings
    if error.get("type") != expect.type:
        findings.append(
            Finding(
                clause, "$.error.type", preview(expect.type), preview(error.get("type")), evidence=evidence
            )
        )
    if "code" in error and error.get("code") != expect.code:
        findings.append(
            Finding(
                clause, "$.error.code", preview(expect.code), preview(error.get("code")), evidence=evidence
            )
        )
    message = error.get("message")
    if isinstance(message, str):
        if expect.message is not None and message != expect.message:
            findings.append(
                Finding(
                    clause, "$.error.message", preview(expect.message), preview(message), evidence=evidence
                )
            )
        if expect.message_prefix is not None and not message.startswith(expect.message_prefix):
            findings.append(
                Finding(
                    clause,
                    "$.error.message",
                    f"starting {preview(expect.message_prefix)}",
                    preview(message),
                    evidence=evidence,
                )
            )
    return findings


# Statuses a server without the route answers: without the positive path they prove nothing.
ROUTE_MISSING = frozenset({404, 405, 410, 501})


def judge_ungated(exchange: Exchange, clause: str, expect: ErrorExpectation, reason: str) -> Outcome:
    """An error answer judged without the positive path (the target could not cancel a run it had
    just created): a failure needs no gate, a pass does.

    What breaks the clause by itself is reported: a 2xx or a 5xx where a refusal is due, another
    refusal than the one due (a 403 or a 400 where a 401 is due), or the due status with a wrong body
    (a 401 that is not the OpenAI envelope). What a server without the route would answer anyway (404,
    405, 410, 501), a rate limit, or the session's own credentials refused, proves nothing: not verified, with
    `reason`; and so is an answer that holds, since a pass needs the gate."""
    status = exchange.status
    if 200 <= status < 300 or status >= 500:
        kind = "a success" if status < 300 else "a server error"
        observed = f"{status}, {kind}: {preview(exchange.content, 60)}"
        expected = f"{expect.status} (a refusal)"
        return [Finding(clause, "status", expected, observed, evidence=exchange.evidence)]
    if status == expect.status and status not in ROUTE_MISSING:
        return check_error_answer(exchange, clause, expect) or NotVerified(clause, reason)
    # A refusal of the credentials the session sends anyway (its key, or no key where none is given
    # and the clause is not about a missing one) says the key is wrong, not the clause.
    own_credentials = exchange.auth == "valid" or (exchange.auth == "absent" and expect.status != 401)
    if status in ROUTE_MISSING or status == 429 or (own_credentials and status in (401, 403)):
        return NotVerified(clause, reason)
    return check_error_answer(exchange, clause, expect)


def status_kept(clause: str, status_before: Any, read_back: Exchange) -> list[Finding]:
    """A refused request left the run as it was: the run read back afterwards has its old status."""
    data, bad = decode(read_back, clause)
    if bad:
        return bad
    status = data.get("status") if isinstance(data, dict) else None
    if status == status_before:
        return []
    expected = f"unchanged ({preview(status_before)})"
    return [Finding(clause, "$.status", expected, preview(status), evidence=read_back.evidence)]


def run_object_findings(data: Any, evidence: Evidence) -> list[Finding]:
    """Every finding on a Run read or created while arranging: its schema and the rules of any run."""
    run_id = data.get("id") if isinstance(data, dict) else None
    thread_id = data.get("thread_id") if isinstance(data, dict) else None
    ctx = CancelContext(str(thread_id), str(run_id))
    found = [*run_findings(data), *contract_findings(data)]
    for outcome in check_rules(data, ctx, RUN_RULES).values():
        if isinstance(outcome, list):
            found += outcome
    unique = {(f.clause, f.path): f.with_evidence(evidence) for f in found}
    return list(unique.values())
