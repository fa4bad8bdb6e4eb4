"""The consumer clause: the official openai package reads the answers with its own types and errors."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from runcancel import consumer
from runcancel.consumer import CLAUSE, consume_error, consume_run
from runcancel.findings import NotVerified
from runcancel.targets import Exchange
from test_rules import CANCELLING

URL = "http://h/v1/threads/thread_1/runs/run_1/cancel"


def exchange(status: int, body: Any, content_type: str = "application/json") -> Exchange:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Exchange("POST", URL, status, httpx.Headers({"content-type": content_type}), content, 0.01)


def envelope(message: str, code: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "error": {"message": message, "type": "invalid_request_error", "param": None, "code": code, **extra}
    }


def test_a_documented_run_reads_with_the_sdks_run_type() -> None:
    """A faithful cancel answer parses with openai.types.beta.threads.Run, strictly."""
    assert consume_run(exchange(200, CANCELLING)) == []


@pytest.mark.parametrize(
    ("change", "path"),
    [
        pytest.param({"created_at": "1700000000"}, "$.created_at", id="string-timestamp"),
        pytest.param({"status": "paused"}, "$.status", id="unknown-status"),
        pytest.param({"object": "run"}, "$.object", id="object"),
    ],
)
def test_a_run_the_sdk_cannot_read_strictly_is_a_finding(change: dict[str, Any], path: str) -> None:
    """What the SDK's own Run type rejects is a breaking finding of consumer.openai_sdk, at its path."""
    findings = consume_run(exchange(200, {**CANCELLING, **change}))
    assert isinstance(findings, list)
    assert [(f.clause, f.path) for f in findings] == [(CLAUSE, path)]
    assert findings[0].evidence is not None


def test_a_missing_field_is_named() -> None:
    """A required Run field absent is named by the SDK's validation."""
    body = {k: v for k, v in CANCELLING.items() if k != "model"}
    findings = consume_run(exchange(200, body))
    assert [f.path for f in findings] == ["$.model"]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("status", "body", "expect", "paths"),
    [
        pytest.param(404, envelope("No run found with id 'run_1'."), (404, None), [], id="404"),
        pytest.param(
            401,
            envelope("Incorrect API key provided", "invalid_api_key"),
            (401, "invalid_api_key"),
            [],
            id="401",
        ),
        pytest.param(400, envelope("x", "invalid_beta"), (400, "invalid_beta"), [], id="400"),
        pytest.param(
            403,
            {"detail": "Forbidden"},
            (401, None),
            ["status", "$.error.type", "$.error.param"],
            id="403-detail",
        ),
        pytest.param(
            404, {"detail": "Not Found"}, (404, None), ["$.error.type", "$.error.param"], id="not-an-envelope"
        ),
        pytest.param(404, envelope("m", "other"), (404, None), ["$.error.code"], id="wrong-code"),
        pytest.param(200, CANCELLING, (404, None), ["status"], id="success-instead"),
    ],
)
def test_error_answers_map_to_the_sdks_exceptions(
    status: int, body: Any, expect: tuple[int, str | None], paths: list[str]
) -> None:
    """An error answer raises the SDK's class for the expected status, with its type, code and param."""
    findings = consume_error(exchange(status, body), expect[0], "invalid_request_error", expect[1])
    assert isinstance(findings, list)
    assert [f.path for f in findings] == paths
    assert all(f.clause == CLAUSE for f in findings)


def test_without_the_package_the_clause_is_not_verified(monkeypatch: pytest.MonkeyPatch) -> None:
    """No openai package: not verified, saying so (never passed)."""
    monkeypatch.setattr(consumer.importlib.util, "find_spec", lambda name: None)
    for outcome in (consume_run(exchange(200, CANCELLING)), consume_error(exchange(404, {}), 404, "t", None)):
        assert isinstance(outcome, NotVerified)
        assert "openai package is not installed" in outcome.reason
