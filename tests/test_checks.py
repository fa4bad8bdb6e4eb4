"""Whole-answer checks: a cancel answer clause by clause, an error answer against its expectation."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from runcancel.checks import (
    ErrorExpectation,
    check_cancel_answer,
    check_error_answer,
    decode,
    header_outcomes,
    judge_ungated,
)
from runcancel.findings import NotVerified
from runcancel.rules import CancelContext
from runcancel.targets import Exchange
from test_rules import BEFORE, CANCELLING

GOOD_HEADERS = {
    "content-type": "application/json",
    "x-request-id": "req_" + "a" * 32,
    "openai-version": "2020-10-01",
    "openai-processing-ms": "12",
}
URL = "http://h/v1/threads/thread_1/runs/run_1/cancel"


def exchange(status: int = 200, body: Any = CANCELLING, headers: dict[str, str] | None = None) -> Exchange:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Exchange("POST", URL, status, httpx.Headers(headers or GOOD_HEADERS), content, 0.01)


CTX = CancelContext("thread_1", "run_1", BEFORE)


def test_a_faithful_cancel_answer_keeps_every_clause() -> None:
    """Status, JSON, headers, each schema field and each rule: nothing breaks, nothing is undecided."""
    outcomes = check_cancel_answer(exchange(), CTX)
    assert {c: o for c, o in outcomes.items() if o and c != "usage.totals"} == {}
    assert isinstance(outcomes["usage.totals"], NotVerified)  # usage is null while cancelling
    assert len(outcomes) == 5 + 28 + 14


def test_html_is_a_json_failure_that_shows_the_first_bytes() -> None:
    """A non-JSON body is a finding with the content type and the first bytes, not a crash."""
    answer = exchange(body=b"<html><body>Bad gateway</body></html>", headers={"content-type": "text/html"})
    data, findings = decode(answer)
    assert data is None
    assert [str(f) for f in findings] == [
        "[answer.json] $: expected a JSON body (content-type application/json); observed content-type "
        "text/html, first bytes '<html><body>Bad gateway</body></html>'\n    request: POST " + URL + " -> 200"
    ]
    outcomes = check_cancel_answer(answer, CTX)
    assert isinstance(outcomes["schema.status"], NotVerified)
    assert isinstance(outcomes["cancel.status"], NotVerified)


def test_json_under_another_content_type_is_a_finding() -> None:
    """JSON sent as text/plain still breaks answer.json; its fields are checked all the same."""
    data, findings = decode(exchange(headers={**GOOD_HEADERS, "content-type": "text/plain"}))
    assert data == CANCELLING
    assert [f.observed for f in findings] == ["text/plain"]


@pytest.mark.parametrize(
    ("headers", "clause"),
    [
        pytest.param({"x-request-id": "abc"}, "headers.x-request-id", id="request-id-shape"),
        pytest.param({"openai-version": "2024-01-01"}, "headers.openai-version", id="version"),
        pytest.param({"openai-processing-ms": "1.5"}, "headers.openai-processing-ms", id="ms"),
    ],
)
def test_each_header_clause_checks_its_header(headers: dict[str, str], clause: str) -> None:
    """A wrong header value breaks its own clause only."""
    outcomes = header_outcomes(exchange(headers={**GOOD_HEADERS, **headers}))
    assert [c for c, o in outcomes.items() if o] == [clause]


def test_a_missing_header_is_absent() -> None:
    """A header the live API always sends, missing, is reported as absent."""
    outcomes = header_outcomes(exchange(headers={"content-type": "application/json"}))
    assert {c: [f.observed for f in o] for c, o in outcomes.items() if isinstance(o, list)} == {
        "headers.x-request-id": ["absent"],
        "headers.openai-version": ["absent"],
        "headers.openai-processing-ms": ["absent"],
    }


def test_a_non_200_cancel_answer_leaves_field_clauses_not_verified() -> None:
    """A 404 breaks answer.status; the fields it does not have are not verified, not passed."""
    outcomes = check_cancel_answer(exchange(404, {"error": {}}), CTX)
    assert [f.observed for f in outcomes["answer.status"]] == ["404"]  # type: ignore[union-attr]
    assert isinstance(outcomes["schema.model"], NotVerified)


ENVELOPE = {
    "error": {
        "message": "No run found with id 'run_x'.",
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }
}


@pytest.mark.parametrize(
    ("status", "body", "paths"),
    [
        pytest.param(404, ENVELOPE, [], id="faithful"),
        pytest.param(400, ENVELOPE, ["status"], id="status"),
        pytest.param(404, {"detail": "Not Found"}, ["$.error"], id="not-an-envelope"),
        pytest.param(404, {"error": {**ENVELOPE["error"], "type": "not_found"}}, ["$.error.type"], id="type"),
        pytest.param(404, {"error": {**ENVELOPE["error"], "code": "x"}}, ["$.error.code"], id="code"),
        pytest.param(
            404, {"error": {**ENVELOPE["error"], "message": "nope"}}, ["$.error.message"], id="message"
        ),
        pytest.param(404, b"Not Found", ["$"], id="plain-text"),
    ],
)
def test_error_answers_are_checked_whole(status: int, body: Any, paths: list[str]) -> None:
    """Status, JSON, envelope, type, code and exact message each give their own finding."""
    expectation = ErrorExpectation(404, message="No run found with id 'run_x'.")
    findings = check_error_answer(exchange(status, body), "error.unknown_run", expectation)
    assert [f.path for f in findings] == paths
    assert all(f.clause == "error.unknown_run" and f.evidence for f in findings)


NO_KEY = ErrorExpectation(401, message_prefix="You didn't provide an API key.")
NO_KEY_ENVELOPE = {
    "error": {
        "message": "You didn't provide an API key. ...",
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }
}


def refused(status: int, body: Any, auth: str = "absent") -> Exchange:
    headers = httpx.Headers({**GOOD_HEADERS})
    return Exchange("POST", URL, status, headers, json.dumps(body).encode(), 0.01, auth=auth)


@pytest.mark.parametrize(
    ("answer", "broken"),
    [
        pytest.param(refused(200, CANCELLING), True, id="200-without-a-key"),
        pytest.param(refused(500, {"error": "boom"}), True, id="5xx"),
        pytest.param(refused(403, {"detail": "Forbidden"}), True, id="403-where-401-is-due"),
        pytest.param(refused(401, {"detail": "Unauthorized"}), True, id="401-not-the-envelope"),
        pytest.param(refused(401, NO_KEY_ENVELOPE), False, id="401-that-holds"),
        pytest.param(refused(404, {"detail": "Not Found"}), False, id="404-no-route"),
        pytest.param(refused(405, {}), False, id="405-no-route"),
        pytest.param(refused(429, {}), False, id="rate-limited"),
    ],
)
def test_without_the_positive_path_only_a_failure_is_judged(answer: Exchange, broken: bool) -> None:
    """A failure needs no gate: an answer that breaks the clause by itself fails it; anything else,
    a holding answer included, is not verified with the gate's reason."""
    outcome = judge_ungated(answer, "error.no_key", NO_KEY, "no run could be cancelled")
    if broken:
        assert isinstance(outcome, list)
        assert outcome
        assert all(f.clause == "error.no_key" and f.evidence for f in outcome)
    else:
        assert outcome == NotVerified("error.no_key", "no run could be cancelled")


def test_the_sessions_own_key_refused_proves_nothing_about_other_clauses() -> None:
    """A 403 to a request with the session's key is the key refused, not an unknown-run answer."""
    expectation = ErrorExpectation(404, message="No run found with id 'run_1'.")
    outcome = judge_ungated(
        refused(403, {"detail": "Forbidden"}, auth="valid"), "error.unknown_run", expectation, "r"
    )
    assert isinstance(outcome, NotVerified)


@pytest.mark.parametrize("status", [pytest.param(401, id="401"), pytest.param(403, id="403")])
def test_no_key_refused_proves_nothing_where_the_clause_is_not_about_a_missing_key(status: int) -> None:
    """With no key given (nothing sent to a foreign target), a 401 or 403 to an unknown-run request is
    the missing key refused, not an unknown-run answer: not verified, never failed."""
    expectation = ErrorExpectation(404, message="No run found with id 'run_1'.")
    outcome = judge_ungated(refused(status, NO_KEY_ENVELOPE), "error.unknown_run", expectation, "r")
    assert outcome == NotVerified("error.unknown_run", "r")
