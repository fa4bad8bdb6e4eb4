"""Errors: unknown ids, missing or wrong credentials, a missing beta header, a wrong method.

A 404 proves nothing on a server that lacks the route, so the positive path is checked first: if
this target cannot cancel a run it has just created, no error clause here can pass. A failure needs
no gate, though: the requests are still sent (to ids nobody created), and an answer that breaks a
clause by itself (a 2xx or a 5xx where a refusal is due, a 403 where a 401 is due, a 401 that is not
the OpenAI envelope) fails it; everything else is not verified, with the reason.
Requests that must be refused are aimed at a real, running run, which must stay as it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest

from runcancel.arrange import ArrangedRun
from runcancel.checks import ErrorExpectation, check_error_answer, decode, judge_ungated, status_kept
from runcancel.consumer import CLAUSE as CONSUMER
from runcancel.consumer import consume_error
from runcancel.findings import Finding, NotVerified
from runcancel.models import envelope_findings
from runcancel.targets import cancel_path

UNKNOWN_THREAD = "thread_runcancelUnknownThread00"
UNKNOWN_RUN = "run_runcancelUnknownRun000000000"
WRONG_KEY = "sk-wrong-key-0000"


@dataclass(frozen=True)
class Case:
    method: str = "POST"
    thread: str = "run's"  # "run's": the arranged run's thread; "unknown": UNKNOWN_THREAD
    run: str = "run's"
    headers: tuple[tuple[str, str | None], ...] = ()
    status: int = 404
    code: str | None = None
    message: str | None = None
    message_prefix: str | None = None


CASES = {
    "error.unknown_thread": Case(
        thread="unknown", run="unknown", message=f"No thread found with id '{UNKNOWN_THREAD}'."
    ),
    "error.unknown_run": Case(run="unknown", message=f"No run found with id '{UNKNOWN_RUN}'."),
    "error.no_key": Case(
        headers=(("Authorization", None),), status=401, message_prefix="You didn't provide an API key."
    ),
    "error.wrong_key": Case(
        headers=(("Authorization", f"Bearer {WRONG_KEY}"),),
        status=401,
        code="invalid_api_key",
        message_prefix="Incorrect API key provided",
    ),
    "error.no_beta": Case(
        headers=(("OpenAI-Beta", None),),
        status=400,
        code="invalid_beta",
        message_prefix="You must provide the 'OpenAI-Beta' header",
    ),
    "error.beta_v1": Case(headers=(("OpenAI-Beta", "assistants=v1"),), status=400, code="invalid_beta"),
}
METHODS = ["GET", "PUT", "PATCH", "DELETE"]


@pytest.fixture(scope="module")
def positive_path(runcancel_arrangers: Any, runcancel_client: Any) -> str | None:
    """None when the target creates and cancels a run; otherwise why its error answers cannot pass."""
    arrange = None
    try:
        arrange = runcancel_arrangers()
        arranged = arrange.run("in_progress")
        exchange = runcancel_client.cancel(arranged.thread_id, arranged.run_id)
        data, _ = decode(exchange)
        if exchange.status == 200 and isinstance(data, dict) and data.get("id") == arranged.run_id:
            return None
        return (
            f"the target could not cancel a run it had just created ({exchange.evidence}), so an error "
            "answer that holds proves nothing; see the shape and lifecycle suites"
        )
    except (pytest.skip.Exception, pytest.fail.Exception) as exc:
        return (
            f"no run could be arranged to show the target can cancel one ({str(exc.msg).strip()}), so an "
            "error answer that holds proves nothing"
        )
    finally:
        if arrange is not None:
            arrange.cleanup()


# Where requests go when no run could be arranged: ids nobody created.
UNARRANGED = ArrangedRun(UNKNOWN_THREAD, UNKNOWN_RUN, {})


def _send(client: Any, case: Case, arranged: ArrangedRun) -> Any:
    thread = UNKNOWN_THREAD if case.thread == "unknown" else arranged.thread_id
    run = UNKNOWN_RUN if case.run == "unknown" else arranged.run_id
    return client.send(case.method, cancel_path(thread, run), headers=dict(case.headers))


def _arranger(request: Any, gate: str | None) -> Any:
    """The `arrange` fixture, only where runs can be arranged (its set-up creates an assistant)."""
    return request.getfixturevalue("arrange") if gate is None else None


def _judged(
    exchange: Any,
    clause: str,
    expectation: ErrorExpectation,
    gate: str | None,
    arrange: Any,
    arranged: ArrangedRun,
) -> Any:
    if gate is not None:
        return judge_ungated(exchange, clause, expectation, gate)
    return check_error_answer(exchange, clause, expectation) + status_kept(
        clause, arranged.status, arrange.read(arranged.thread_id, arranged.run_id)
    )


@pytest.mark.parametrize("clause", list(CASES))
def test_error_answer(
    clause: str, positive_path: str | None, request: Any, runcancel_client: Any, verdict: Any
) -> None:
    """The target refuses the request with the live API's status, envelope, type, code and message."""
    case = CASES[clause]
    arrange = _arranger(request, positive_path)
    arranged = arrange.run("in_progress") if arrange is not None else UNARRANGED
    expectation = ErrorExpectation(
        case.status, code=case.code, message=case.message, message_prefix=case.message_prefix
    )
    exchange = _send(runcancel_client, case, arranged)
    verdict(clause, _judged(exchange, clause, expectation, positive_path, arrange, arranged))


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("clause", ["error.wrong_method"])
def test_wrong_method(
    clause: str, method: str, positive_path: str | None, request: Any, runcancel_client: Any, verdict: Any
) -> None:
    """Another method on the cancel path is an unknown URL: 404 `Invalid URL (<METHOD> <path>)`."""
    arrange = _arranger(request, positive_path)
    arranged = arrange.run("in_progress") if arrange is not None else UNARRANGED
    exchange = _send(runcancel_client, Case(method=method), arranged)
    path = urlsplit(exchange.url).path
    expectation = ErrorExpectation(404, code="unknown_url", message=f"Invalid URL ({method} {path})")
    verdict(clause, _judged(exchange, clause, expectation, positive_path, arrange, arranged))


# Every kind of refusal, with the answer it must be: unknown ids, no key, no beta header, unknown URL.
REFUSALS = [
    ("POST", {}, ErrorExpectation(404)),
    ("POST", {"Authorization": None}, ErrorExpectation(401)),
    ("POST", {"OpenAI-Beta": None}, ErrorExpectation(400, code="invalid_beta")),
    ("GET", {}, ErrorExpectation(404, code="unknown_url")),
]


@pytest.mark.parametrize("clause", ["error.envelope"])
def test_error_envelope(clause: str, positive_path: str | None, runcancel_client: Any, verdict: Any) -> None:
    """Every kind of refusal (not found, no key, no beta header, unknown URL) is the four-key envelope."""
    findings: list[Finding] = []
    for method, headers, expectation in REFUSALS:
        exchange = runcancel_client.send(method, cancel_path(UNKNOWN_THREAD, UNKNOWN_RUN), headers=headers)
        if positive_path is not None:
            ungated = judge_ungated(exchange, clause, expectation, positive_path)
            findings += (
                [f for f in ungated if f.path == "status" or f.path.startswith("$")]
                if isinstance(ungated, list)
                else []
            )
            continue
        data, bad = decode(exchange, clause)
        findings += bad
        if data is not None:
            findings += [f.under(clause).with_evidence(exchange.evidence) for f in envelope_findings(data)]
    if positive_path is not None and not findings:
        verdict(clause, NotVerified(clause, positive_path))
    verdict(clause, findings)


@pytest.mark.parametrize("clause", [CONSUMER])
def test_error_answers_read_with_the_sdk(
    clause: str, positive_path: str | None, runcancel_client: Any, verdict: Any
) -> None:
    """The official openai package maps every refusal to its exception, with `type`, `code`, `param`.

    Where the profile sends no `OpenAI-Beta` (Azure), a request without one is no refusal there."""
    findings: list[Finding] = []
    beta_sent = bool(runcancel_client.target.rules.beta)
    for method, headers, expectation in REFUSALS:
        if not beta_sent and "OpenAI-Beta" in headers:
            continue
        exchange = runcancel_client.send(method, cancel_path(UNKNOWN_THREAD, UNKNOWN_RUN), headers=headers)
        if positive_path is not None and not (200 <= exchange.status < 300 or exchange.status >= 500):
            continue  # without the positive path only an answer that breaks by itself is judged
        outcome = consume_error(exchange, expectation.status, expectation.type, expectation.code)
        if isinstance(outcome, NotVerified):
            verdict(clause, outcome)
        findings += outcome
    if positive_path is not None and not findings:
        verdict(clause, NotVerified(clause, positive_path))
    verdict(clause, findings)
