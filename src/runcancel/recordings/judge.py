"""Every Run and every error answer of a recording judged by the suites' own checks, on any route.

A Run (created, read, listed, updated, cancelled, given tool outputs, or an event of a stream) is
checked against the schema and the rules that hold in any status (`checks.run_object_findings`); a
200 to a cancel also clause by clause like the shape suite's answer (`checks.check_cancel_answer`);
every 4xx body against the OpenAI error envelope. For a cassette runcancel recorded, the request is
known exactly (its key class and beta header survive scrubbing), so a refusal on the cancel path is
held to the answer that request must get (no key: 401, no beta: 400, ...). Another project's recorder
may have filtered those headers, so there only the envelope is checked and that is said.

Findings carry the scrubbed request, the file and line, and for a field that came or went upstream
the era note (`parallel_tool_calls`: added upstream 2024-06).
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from runcancel.eras import field_note
from runcancel.findings import Evidence, Finding, NotVerified
from runcancel.recordings.model import Recorded
from runcancel.recordings.runs import is_run, looks_like_sse, runs_in, sse_runs
from runcancel.scrub import ACCOUNT_HEADERS, Scrubber, scrub_url

__all__ = ["CANCEL_PATH", "ExchangeVerdict", "Judged", "era_note", "judge"]

CANCEL_PATH = re.compile(r"/threads/(?P<thread>[^/]+)/runs/(?P<run>[^/]+)/cancel/?$")
FOREIGN_REFUSALS = (
    "the expected refusal (no key, wrong key, no beta header, ...) on the cancel path is judged for "
    "runcancel's own cassettes only: another recorder may have filtered the request headers"
)


@dataclass(frozen=True)
class Judged:
    """A finding, where it was found, and the upstream history of the field it is about."""

    finding: Finding
    where: str
    line: int
    note: str | None = None


@dataclass
class ExchangeVerdict:
    """What judging one exchange gave: findings, clauses held or not verified, the Runs, the errors."""

    findings: list[Judged] = field(default_factory=list)
    held: set[str] = field(default_factory=set)
    not_verified: list[tuple[NotVerified, str]] = field(default_factory=list)
    runs: list[dict[str, Any]] = field(default_factory=list)
    errors: int = 0


def era_note(finding: Finding) -> str | None:
    """The upstream history of the field a finding names, when the finding is its presence or absence."""
    if finding.clause.endswith("undocumented_field") or finding.observed == "absent":
        return field_note(finding.path)
    return None


def _clean(finding: Finding, scrubber: Scrubber, evidence: Evidence) -> Finding:
    text = scrubber.text
    return Finding(
        finding.clause,
        text(finding.path),
        text(finding.expected),
        text(finding.observed),
        finding.severity,
        evidence,
    )


class _Collector:
    def __init__(self, rec: Recorded, scrubber: Scrubber, verdict: ExchangeVerdict) -> None:
        self.rec, self.scrubber, self.verdict = rec, scrubber, verdict
        url = scrubber.text(scrub_url(rec.url))
        self.evidence = Evidence(rec.method, url, rec.status)
        self.where = rec.where

    def findings(self, clause_ids: set[str], found: list[Finding]) -> None:
        for f in found:
            clean = _clean(f, self.scrubber, self.evidence)
            self.verdict.findings.append(Judged(clean, self.where, self.rec.line, era_note(clean)))
        self.verdict.held |= clause_ids - {f.clause for f in found}

    def outcomes(self, outcomes: dict[str, Any]) -> None:
        for clause, outcome in outcomes.items():
            if isinstance(outcome, NotVerified):
                self.not_verified(outcome)
            else:
                self.findings({clause}, list(outcome))

    def not_verified(self, outcome: NotVerified) -> None:
        self.verdict.not_verified.append(
            (NotVerified(outcome.clause, self.scrubber.text(outcome.reason)), self.where)
        )


def judge(rec: Recorded, *, ours: bool, scrubber: Scrubber) -> ExchangeVerdict:
    """Judge one recorded exchange; nothing is printed, everything is returned."""
    for name, placeholder in ACCOUNT_HEADERS.items():
        for value in rec.headers.get_list(name):
            scrubber.learn(value, placeholder)
    verdict = ExchangeVerdict()
    out = _Collector(rec, scrubber, verdict)
    if rec.undecoded is not None:
        out.not_verified(NotVerified("answer.body", rec.undecoded.removeprefix("not verified: ")))
        return verdict
    cancel = CANCEL_PATH.search(rec.path)
    if cancel and (rec.method == "POST" or ours):
        _cancel(rec, cancel, ours, out)
        return verdict
    if looks_like_sse(rec.content_type, rec.body) and 200 <= rec.status < 300:
        text = rec.body.decode("utf-8", "replace")
        for event, data in sse_runs(text):
            if is_run(data):
                _run(data, out)
            else:
                out.not_verified(NotVerified("answer.json", f"the `{event}` event's data is not a Run"))
        return verdict
    try:
        data = json.loads(rec.body) if rec.body else None
    except ValueError:
        data = None
    if 400 <= rec.status < 500:
        _envelope(rec, data, out)
    elif 200 <= rec.status < 300:
        for run in runs_in(data):
            _run(run, out)
    return verdict


def _run(run: dict[str, Any], out: _Collector) -> None:
    out.verdict.runs.append(run)
    found, not_verified, checked = _judged_run(run)
    for outcome in not_verified:
        out.not_verified(outcome)
    out.findings(checked, [f.with_evidence(out.evidence) for f in found])


# Runs of one recording differ mostly in their ids and timestamps. The contract gives those fields a
# type and nothing more, and the rules of any status only compare timestamps with each other: so two
# Runs equal but for their ids and for timestamps shifted together get the same findings, and the
# judgement of one serves the other. A judgement naming one of those fields is not shared (its text
# shows the value), nor is one of a Run whose fields are not of their type.
_IDS = ("id", "assistant_id", "thread_id")
_TIMES = ("created_at", "started_at", "expires_at", "cancelled_at", "failed_at", "completed_at")
_TYPE_ONLY = frozenset({"type", "description", "x-source", "title"})
_CACHE: dict[str, tuple[list[Finding], list[NotVerified], set[str]]] = {}
_CACHE_SIZE = 4096


@functools.cache
def _shared_fields() -> tuple[tuple[str, ...], tuple[str, ...]]:
    from runcancel.contract import run_fields

    fields = run_fields()
    free = {name for name in (*_IDS, *_TIMES) if name in fields and set(fields[name]) <= _TYPE_ONLY}
    return tuple(n for n in _IDS if n in free), tuple(n for n in _TIMES if n in free)


def _shared_key(run: dict[str, Any], path_ids: dict[str, str] | None = None) -> str | None:
    """The Run with its ids and timestamps taken out (relative to `created_at`), or None when it
    cannot be shared. With `path_ids` (a cancel's path), an id must equal the path's to be taken out."""
    ids, times = _shared_fields()
    created = run.get("created_at")
    if "created_at" not in times or not isinstance(created, int) or isinstance(created, bool):
        return None
    key = dict(run)
    for name in ids:
        if not isinstance(key.get(name), str):
            return None
        if path_ids is not None and name in path_ids:
            if key[name] != path_ids[name]:
                return None
            key[name] = f"<path {name}>"
            continue
        key[name] = "<id>"
    for name in times:
        value = key.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            key[name] = value - created
        elif value is not None and name in key:
            return None
    try:
        return json.dumps(key, sort_keys=True)
    except (TypeError, ValueError):
        return None


def _judged_run(run: dict[str, Any]) -> tuple[list[Finding], list[NotVerified], set[str]]:
    """The schema and any-status rule findings of a Run (no evidence), its rules not verified, and
    the clauses it was checked on."""
    from runcancel.checks import RUN_RULES, run_object_findings
    from runcancel.clauses import schema_clauses
    from runcancel.rules import CancelContext, check_rules

    key = _shared_key(run)
    if key is not None and key in _CACHE:
        return _CACHE[key]
    found = [f.with_evidence(None) for f in run_object_findings(run, Evidence("", ""))]
    checked = {c.id for c in schema_clauses()} | set(RUN_RULES)
    ctx = CancelContext(str(run.get("thread_id")), str(run.get("id")))
    not_verified = [o for o in check_rules(run, ctx, RUN_RULES).values() if isinstance(o, NotVerified)]
    checked -= {o.clause for o in not_verified}
    judged = (found, not_verified, checked)
    named = {f"$.{name}" for name in (*_IDS, *_TIMES)}
    if key is not None and not any(f.path in named for f in found):
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.clear()
        _CACHE[key] = judged
    return judged


def _envelope(rec: Recorded, data: Any, out: _Collector) -> None:
    from runcancel.checks import decode
    from runcancel.models import envelope_findings

    out.verdict.errors += 1
    decoded, bad = decode(rec.exchange(), "error.envelope")
    if decoded is None:
        out.findings({"error.envelope"}, bad)
        return
    out.findings({"error.envelope"}, [f.under("error.envelope") for f in envelope_findings(data)])


def _cancel(rec: Recorded, match: re.Match[str], ours: bool, out: _Collector) -> None:
    from runcancel.checks import check_error_answer
    from runcancel.targets import SHORTENED_SEGMENT

    thread_id, run_id = unquote(match["thread"]), unquote(match["run"])
    exchange = rec.exchange()
    refused = _refusal(rec) if ours else None
    if refused is None and rec.status == 200 and rec.method == "POST":
        try:
            data = json.loads(rec.body)
        except ValueError:
            data = None
        if is_run(data):
            out.verdict.runs.append(data)
        out.outcomes(_cancel_outcomes(exchange, data, thread_id, run_id))
        return
    if not ours:
        if not 400 <= rec.status < 500:
            return
        try:
            data = json.loads(rec.body)
        except ValueError:
            data = None
        _envelope(rec, data, out)
        out.not_verified(NotVerified("error.expected_refusal", FOREIGN_REFUSALS))
        return
    out.verdict.errors += 1
    clause, expectation = refused or _error_expectation(rec, thread_id, run_id)
    if SHORTENED_SEGMENT.search(match["thread"]) or SHORTENED_SEGMENT.search(match["run"]):
        reason = (
            "the recorded URI shortens an id too long for a URL (targets.send_raw), so it cannot be compared"
        )
        out.not_verified(NotVerified(clause, reason))
        return
    out.findings({clause}, check_error_answer(exchange, clause, expectation))


_CANCEL_CACHE: dict[str, dict[str, Any]] = {}
_PATH_IDS = ("id", "thread_id")
_NOT_SHARED_CLAUSES = frozenset({"cancel.id", "cancel.thread_id"})


def _cancel_outcomes(exchange: Any, data: Any, thread_id: str, run_id: str) -> dict[str, Any]:
    """`checks.check_cancel_answer`, shared between answers that differ only in ids (each the one
    its path names) and timestamps shifted together, and whose headers hold (their values differ)."""
    from runcancel.checks import REQUEST_ID, check_cancel_answer
    from runcancel.rules import CancelContext

    key = None
    headers = exchange.headers
    if (
        is_run(data)
        and REQUEST_ID.match(headers.get("x-request-id", ""))
        and str(headers.get("openai-processing-ms", "")).isdigit()
    ):
        run_key = _shared_key(data, {"id": run_id, "thread_id": thread_id})
        if run_key is not None:
            head = [exchange.status, exchange.content_type, headers.get("openai-version")]
            key = json.dumps(head) + run_key
    if key is not None and key in _CANCEL_CACHE:
        return {
            clause: [f.with_evidence(exchange.evidence) for f in o] if isinstance(o, list) else o
            for clause, o in _CANCEL_CACHE[key].items()
        }
    outcomes = dict(check_cancel_answer(exchange, CancelContext(thread_id, run_id)))
    named = {f"$.{name}" for name in (*_IDS, *_TIMES)}
    found = [f for o in outcomes.values() if isinstance(o, list) for f in o]
    if key is not None and not any(f.path in named or f.clause in _NOT_SHARED_CLAUSES for f in found):
        if len(_CANCEL_CACHE) >= _CACHE_SIZE:
            _CANCEL_CACHE.clear()
        _CANCEL_CACHE[key] = outcomes
    return outcomes


def _refusal(rec: Recorded) -> tuple[str, Any] | None:
    """The answer a request must get whatever the run: no key, another key, no or old beta, wrong method."""
    from runcancel.checks import ErrorExpectation

    headers = rec.request_headers
    auth = headers.get("authorization") or headers.get("api-key")
    beta = headers.get("openai-beta")
    if rec.method != "POST":
        message = f"Invalid URL ({rec.method} {rec.path})"
        return "error.wrong_method", ErrorExpectation(404, code="unknown_url", message=message)
    if auth is None:
        return "error.no_key", ErrorExpectation(401, message_prefix="You didn't provide an API key.")
    if "<other-key>" in auth:
        return "error.wrong_key", ErrorExpectation(
            401, code="invalid_api_key", message_prefix="Incorrect API key provided"
        )
    if beta is None:
        return "error.no_beta", ErrorExpectation(
            400, code="invalid_beta", message_prefix="You must provide the 'OpenAI-Beta' header"
        )
    if beta != "assistants=v2":
        return "error.beta_v1", ErrorExpectation(400, code="invalid_beta")
    return None


def _error(rec: Recorded) -> dict[str, Any]:
    try:
        data = json.loads(rec.body)
    except ValueError:
        return {}
    error = data.get("error") if isinstance(data, dict) else None
    return error if isinstance(error, dict) else {}


def _error_expectation(rec: Recorded, thread_id: str, run_id: str) -> tuple[str, Any]:
    """The refusal a well-formed cancel may get: 404 not found, 400 cannot cancel, or 429."""
    from runcancel.checks import ErrorExpectation

    message = _error(rec).get("message")
    message = message if isinstance(message, str) else ""
    if rec.status == 404 and message.startswith("No thread found"):
        return "error.unknown_thread", ErrorExpectation(
            404, message=f"No thread found with id '{thread_id}'."
        )
    if rec.status == 404:
        return "error.unknown_run", ErrorExpectation(404, message=f"No run found with id '{run_id}'.")
    if rec.status == 429:
        kind = _error(rec).get("type")
        return "error.envelope", ErrorExpectation(429, type=kind if isinstance(kind, str) else "requests")
    refused = re.fullmatch(r"Cannot cancel run with status '(\w+)'\.", message)
    status = refused[1] if refused else None
    clause = (
        "lifecycle.cancel_twice" if status in ("cancelling", "cancelled") else "lifecycle.cancel_finished"
    )
    known = ("cancelling", "cancelled", "completed", "failed", "expired", "incomplete")
    expected = f"Cannot cancel run with status '{status if status in known else '<status>'}'."
    return clause, ErrorExpectation(400, message=expected)
