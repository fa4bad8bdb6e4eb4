"""Errors: unknown ids, missing or wrong credentials, a missing beta header, a wrong method.

A 404 proves nothing on a server that lacks the route, so the positive path is checked first: if
this target cannot cancel a run it has just created, every error clause here is not verified.
Requests that must be refused are aimed at a real, running run, which must stay as it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest

from runcancel.arrange import ArrangedRun
from runcancel.checks import ErrorExpectation, check_error_answer, decode, status_kept
from runcancel.findings import Finding
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
def positive_path(runcancel_arrangers: Any, runcancel_client: Any) -> None:
    """The target creates and cancels a run; otherwise its error answers prove nothing."""
    arrange = runcancel_arrangers()
    try:
        arranged = arrange.run("in_progress")
        exchange = runcancel_client.cancel(arranged.thread_id, arranged.run_id)
        data, _ = decode(exchange)
        ok = exchange.status == 200 and isinstance(data, dict) and data.get("id") == arranged.run_id
        if not ok:
            pytest.skip(
                f"not verified: the target could not cancel a run it had just created ({exchange.evidence}), "
                "so its error answers prove nothing; see the shape and lifecycle suites"
            )
    finally:
        arrange.cleanup()


def _send(client: Any, case: Case, arranged: ArrangedRun) -> Any:
    thread = UNKNOWN_THREAD if case.thread == "unknown" else arranged.thread_id
    run = UNKNOWN_RUN if case.run == "unknown" else arranged.run_id
    return client.send(case.method, cancel_path(thread, run), headers=dict(case.headers))


@pytest.mark.parametrize("clause", list(CASES))
def test_error_answer(
    clause: str, positive_path: None, arrange: Any, runcancel_client: Any, verdict: Any
) -> None:
    """The target refuses the request with the live API's status, envelope, type, code and message."""
    case = CASES[clause]
    arranged = arrange.run("in_progress")
    expectation = ErrorExpectation(
        case.status, code=case.code, message=case.message, message_prefix=case.message_prefix
    )
    findings = check_error_answer(_send(runcancel_client, case, arranged), clause, expectation)
    verdict(
        clause,
        findings + status_kept(clause, arranged.status, arrange.read(arranged.thread_id, arranged.run_id)),
    )


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("clause", ["error.wrong_method"])
def test_wrong_method(
    clause: str, method: str, positive_path: None, arrange: Any, runcancel_client: Any, verdict: Any
) -> None:
    """Another method on the cancel path is an unknown URL: 404 `Invalid URL (<METHOD> <path>)`."""
    arranged = arrange.run("in_progress")
    exchange = _send(runcancel_client, Case(method=method), arranged)
    path = urlsplit(exchange.url).path
    expectation = ErrorExpectation(404, code="unknown_url", message=f"Invalid URL ({method} {path})")
    verdict(
        clause,
        check_error_answer(exchange, clause, expectation)
        + status_kept(clause, arranged.status, arrange.read(arranged.thread_id, arranged.run_id)),
    )


@pytest.mark.parametrize("clause", ["error.envelope"])
def test_error_envelope(clause: str, positive_path: None, runcancel_client: Any, verdict: Any) -> None:
    """Every kind of refusal (not found, no key, no beta header, unknown URL) is the four-key envelope."""
    requests = [
        ("POST", cancel_path(UNKNOWN_THREAD, UNKNOWN_RUN), {}),
        ("POST", cancel_path(UNKNOWN_THREAD, UNKNOWN_RUN), {"Authorization": None}),
        ("POST", cancel_path(UNKNOWN_THREAD, UNKNOWN_RUN), {"OpenAI-Beta": None}),
        ("GET", cancel_path(UNKNOWN_THREAD, UNKNOWN_RUN), {}),
    ]
    findings: list[Finding] = []
    for method, path, headers in requests:
        exchange = runcancel_client.send(method, path, headers=headers)
        data, bad = decode(exchange, clause)
        findings += bad
        if data is not None:
            findings += [f.under(clause).with_evidence(exchange.evidence) for f in envelope_findings(data)]
    verdict(clause, findings)
