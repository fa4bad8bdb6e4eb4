"""Whole-target verdicts: each kind drawn from the answers that prove it, and only from those."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from runcancel.settings import DEFAULT_API_KEY
from runcancel.verdicts import BLOCKING, KINDS, MOCK_KEY, blocking_verdict, key_for, route_of, target_verdicts

BASE = "http://127.0.0.1:4010/v1"


@dataclass(frozen=True)
class Seen:
    method: str
    url: str
    status: int
    body: Any = None
    auth: str = "valid"


def cancel(thread: str, run: str, status: int, body: Any = None, auth: str = "valid") -> Seen:
    return Seen("POST", f"{BASE}/threads/{thread}/runs/{run}/cancel", status, body, auth)


def unknown_url(method: str, path: str) -> dict[str, Any]:
    return {"error": {"message": f"Invalid URL ({method} {path})", "type": "invalid_request_error",
                      "param": None, "code": "unknown_url"}}  # fmt: skip


ASSISTANT = Seen("POST", f"{BASE}/assistants", 200, {"id": "asst_1"})
THREAD = Seen("POST", f"{BASE}/threads", 200, {"id": "thread_1"})
RUN = Seen("POST", f"{BASE}/threads/thread_1/runs", 200, {"id": "run_1", "status": "queued"})
CANCELLING = {"id": "run_1", "thread_id": "thread_1", "status": "cancelling"}
FAITHFUL = [ASSISTANT, THREAD, RUN, cancel("thread_1", "run_1", 200, CANCELLING)]
EXAMPLE_RUN = {"id": "string", "object": "thread.run", "thread_id": "string", "status": "queued"}
NOT_FOUND = {"detail": "Not Found"}


def kinds(answers: list[Seen], **kwargs: Any) -> list[str]:
    return [v.kind for v in target_verdicts(answers, **kwargs)]


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        pytest.param(FAITHFUL, [], id="faithful"),
        pytest.param([], [], id="nothing-seen"),
        pytest.param(
            [Seen("POST", f"{BASE}/assistants", 404, NOT_FOUND)], ["cannot-arrange"], id="no-assistants"
        ),
        pytest.param(
            [
                Seen("POST", f"{BASE}/assistants", 404, unknown_url("POST", "/v2/assistants")),
                cancel("t", "r", 404, unknown_url("POST", "/v2/threads/t/runs/r/cancel")),
            ],
            ["endpoint-retired"],
            id="everything-unknown-url",
        ),
        pytest.param(
            [Seen("POST", f"{BASE}/assistants", 403, {"detail": "Forbidden"}), cancel("t", "r", 403)],
            ["auth-refused"],
            id="403-everywhere",
        ),
        pytest.param(
            [*FAITHFUL[:3], cancel("thread_1", "run_1", 500), cancel("x", "y", 500)],
            ["cancel-server-error"],
            id="cancel-500",
        ),
        pytest.param(
            [*FAITHFUL[:3], cancel("thread_1", "run_1", 404, unknown_url("POST", "/v1/x"))],
            ["route-not-implemented"],
            id="no-cancel-route",
        ),
        pytest.param(
            [
                Seen("POST", f"{BASE}/assistants", 404, NOT_FOUND),
                cancel("thread_unknown", "run_unknown", 200, EXAMPLE_RUN),
            ],
            ["cannot-arrange", "stateless-mock"],
            id="cancel-only-stub",
        ),
        pytest.param(
            [*FAITHFUL[:3], cancel("thread_1", "run_1", 200, {**CANCELLING, "status": "queued"})],
            ["stateless-mock"],
            id="static-status",
        ),
        pytest.param(
            [*FAITHFUL, cancel("thread_1", "", 200, {"id": "", "status": "cancelling"})],
            [],
            id="one-odd-2xx-among-real-cancels",
        ),
        pytest.param(
            [
                Seen("GET", f"{BASE}/threads/thread_p/runs/run_p", 200, {"id": "run_p", "status": "failed"}),
                cancel("thread_p", "run_p", 200, {**CANCELLING, "id": "run_p"}),
            ],
            [],
            id="runs-from-a-provider-state",
        ),
        pytest.param(
            [
                Seen("GET", f"{BASE}/threads/thread_p/runs/run_p", 200, EXAMPLE_RUN),
                cancel("thread_p", "run_p", 200, EXAMPLE_RUN),
            ],
            ["stateless-mock"],
            id="read-back-run-not-its-own",
        ),
    ],
)
def test_each_kind_is_drawn_from_its_evidence(answers: list[Seen], expected: list[str]) -> None:
    """The verdicts drawn are exactly the ones the answers prove."""
    assert kinds(answers) == expected


def test_no_cancel_answered_is_never_endpoint_retired() -> None:
    """A wrong base path where no cancel was sent at all is `cannot-arrange`, not `endpoint-retired`."""
    answers = [Seen("POST", f"{BASE}/assistants", 404, unknown_url("POST", "/v1/assistants"))]
    assert kinds(answers) == ["cannot-arrange"]
    verdict = target_verdicts(answers)[0]
    assert "create an assistant (POST /assistants) was answered 404" in verdict.message
    assert "base path" in verdict.message
    assert verdict.evidence == (f"POST {BASE}/assistants -> 404",)


def test_refusals_of_deliberately_wrong_keys_do_not_count() -> None:
    """Only requests sent with the session's key weigh: the no-key and wrong-key probes are expected 401s."""
    answers = [*FAITHFUL, cancel("t", "r", 401, auth="absent"), cancel("t", "r", 401, auth="other")]
    assert kinds(answers) == []


def test_auth_refused_names_the_key_source_and_how_to_give_one() -> None:
    """The auth verdict says which key was sent and where a key is given."""
    source = key_for(None, "default", target=BASE)[1]
    answers = [Seen("POST", f"{BASE}/assistants", 401, auth="absent"), cancel("t", "r", 401, auth="absent")]
    (verdict,) = target_verdicts(answers, key_source=source, key_sent=False)
    assert verdict.kind == "auth-refused"
    assert "all 2 requests sent with no key: none was given" in verdict.message
    assert "--api-key KEY or the OPENAI_API_KEY" in verdict.message


def test_a_server_answering_with_success_somewhere_is_not_retired() -> None:
    """One success anywhere rules `endpoint-retired` out."""
    answers = [ASSISTANT, cancel("t", "r", 404, unknown_url("POST", "/v1/x"))]
    assert "endpoint-retired" not in kinds(answers)


def test_stateless_evidence_says_why_each_answer_reflects_no_run() -> None:
    """Each evidence line of a stateless mock names what the answer got wrong."""
    (verdict,) = target_verdicts([cancel("thread_a", "run_a", 200, EXAMPLE_RUN)])
    assert verdict.evidence == (
        f'POST {BASE}/threads/thread_a/runs/run_a/cancel -> 200: the run was never created, id "string" '
        'not echoed, status "queued"',
    )


@pytest.mark.parametrize(
    ("given", "source", "target", "expected_key", "described"),
    [
        pytest.param("sk-live", "--api-key", BASE, "sk-live", "the key from --api-key", id="given"),
        pytest.param(None, "default", "mock", MOCK_KEY, "the built-in mock's key", id="mock"),
        pytest.param(None, "default", "replay", MOCK_KEY, "the built-in mock's key", id="replay"),
        pytest.param(None, "default", BASE, None, "no key: none was given", id="foreign-without-key"),
        pytest.param(MOCK_KEY, "OPENAI_API_KEY", BASE, MOCK_KEY, "the key from OPENAI_API_KEY", id="asked"),
    ],
)
def test_the_mock_key_goes_only_to_the_mock_unless_given(
    given: str | None, source: str, target: str, expected_key: str | None, described: str
) -> None:
    """A foreign target never gets the built-in mock's key unless it is given explicitly."""
    key, description = key_for(given, source, target=target)
    assert key == expected_key
    assert description.startswith(described)
    assert "sk-" not in description


def test_the_mock_key_is_the_settings_default() -> None:
    """verdicts' copy of the built-in mock's key is the one settings defines."""
    assert MOCK_KEY == DEFAULT_API_KEY


@pytest.mark.parametrize(
    ("url", "route"),
    [
        pytest.param(f"{BASE}/threads/t/runs/r/cancel", "/threads/{id}/runs/{id}/cancel", id="cancel"),
        pytest.param("http://h/api/v1/assistants", "/assistants", id="other-base"),
        pytest.param("http://h/v1/models", "/v1/models", id="no-api-route"),
    ],
)
def test_routes_drop_the_base_path_and_ids(url: str, route: str) -> None:
    """Routes are named below the base path, ids replaced."""
    assert route_of(url) == route


def test_blocking_verdicts_explain_a_failed_arrangement() -> None:
    """Only the verdicts that explain why nothing could be arranged block; every kind is documented."""
    verdicts = target_verdicts([Seen("POST", f"{BASE}/assistants", 404, NOT_FOUND)])
    assert blocking_verdict(verdicts) == verdicts[0]
    assert blocking_verdict(target_verdicts(FAITHFUL)) is None
    assert set(BLOCKING) <= set(KINDS)


def test_every_kind_is_documented_in_the_reports_readme() -> None:
    """reports/README.md's table of target verdicts names every kind, and no other."""
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "reports" / "README.md").read_text(encoding="utf-8")
    section = text.split("### Target verdicts", 1)[1].split("\n## ", 1)[0]
    import re

    documented = set(re.findall(r"^\| `([a-z-]+)` \|", section, re.MULTILINE))
    assert documented == set(KINDS)
