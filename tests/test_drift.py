"""Drift against a baseline, compared by shape; and verdicts on the target as a whole."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from runcancel.drift import (
    Answer,
    BaselineError,
    compare,
    load_baseline,
    message_template,
    signature_path,
    target_verdicts,
)
from runcancel.findings import Severity

RUN = {
    "id": "run_1",
    "status": "cancelling",
    "created_at": 1,
    "cancelled_at": None,
    "usage": None,
    "metadata": {"runcancel_scenario": "in_progress"},
    "tools": [{"type": "code_interpreter"}],
}
CANCEL = "/v1/threads/thread_1/runs/run_1/cancel"
HEADERS = ("content-type", "openai-version", "x-request-id")


def answer(
    body: Any = RUN, status: int = 200, path: str = CANCEL, headers: tuple[str, ...] = HEADERS, **kw: Any
) -> Answer:
    fields = {"method": "POST", "auth": "valid", "beta": "assistants=v2", **kw}
    return Answer(
        path=path, status=status, header_names=frozenset(headers), body=body, url="http://h" + path, **fields
    )


def drift(old: list[Answer], new: list[Answer]) -> list[tuple[str, str, Severity]]:
    return [(f.clause, f.path.rsplit(" ", 1)[-1], f.severity) for f in compare(old, new)]


def test_values_that_differ_every_time_are_not_drift() -> None:
    """Other ids, timestamps and metadata values with the same shape give no finding."""
    other = {**RUN, "id": "run_2", "created_at": 99, "metadata": {"other_key": "x"}}
    assert compare([answer()], [answer(other, path="/v1/threads/thread_9/runs/run_2/cancel")]) == []


@pytest.mark.parametrize(
    ("new", "expected"),
    [
        pytest.param(
            {**RUN, "tool_resources": {}},
            [("drift.field_added", "$.tool_resources", Severity.ADDITIVE)],
            id="added",
        ),
        pytest.param(
            {k: v for k, v in RUN.items() if k != "usage"},
            [("drift.field_removed", "$.usage", Severity.BREAKING)],
            id="removed",
        ),
        pytest.param(
            {**RUN, "created_at": "1"}, [("drift.type", "$.created_at", Severity.BREAKING)], id="type"
        ),
        pytest.param(
            {**RUN, "id": None}, [("drift.nullability", "$.id", Severity.BREAKING)], id="newly-null"
        ),
        pytest.param(
            {**RUN, "usage": {"total_tokens": 1}},
            [
                ("drift.field_added", "$.usage.total_tokens", Severity.ADDITIVE),
            ],
            id="null-to-object",
        ),
    ],
)
def test_fields_are_compared_by_shape(new: dict[str, Any], expected: list[tuple[str, str, Severity]]) -> None:
    """Added fields are additive; removed ones, type changes and new nulls are breaking."""
    assert sorted(drift([answer()], [answer(new)])) == sorted(expected)


def test_status_codes_messages_and_headers_are_compared() -> None:
    """A new status, a changed error message, a header gone or added: each is named."""
    error = {
        "error": {
            "message": "Cannot cancel run with status 'completed'.",
            "type": "t",
            "param": None,
            "code": None,
        }
    }
    changed = {"error": {**error["error"], "message": "Run run_1 cannot be cancelled."}}
    old = [answer(), answer(error, 400)]
    new = [answer(headers=("content-type", "x-request-id", "x-new")), answer(changed, 400), answer({}, 500)]
    assert drift(old, new) == [
        (
            "drift.status",
            "status 200/400/500" and ["POST", "/threads/{id}/runs/{id}/cancel"][-1],
            Severity.BREAKING,
        ),
        ("drift.header_removed", "openai-version", Severity.BREAKING),
        ("drift.header_added", "x-new", Severity.ADDITIVE),
        ("drift.message", "$.error.message", Severity.BREAKING),
    ]


def test_requests_are_paired_by_signature() -> None:
    """A request without a key is compared with the recorded keyless request, not the keyed one."""
    keyless_error = {
        "error": {"message": "You didn't provide an API key.", "type": "t", "param": None, "code": None}
    }
    old = [answer(), answer(keyless_error, 401, auth="absent")]
    assert compare(old, [answer(keyless_error, 401, auth="absent")]) == []
    assert compare(old, [answer(auth="absent")])[0].clause == "drift.status"


def test_signature_paths_drop_the_base_and_the_ids() -> None:
    """Ids become {id} and whatever precedes /threads (/v1, /openai) is dropped."""
    assert signature_path("/v1/threads/thread_a/runs/run_b/cancel") == "/threads/{id}/runs/{id}/cancel"
    assert signature_path("/openai/threads/a%2Fb/runs") == "/threads/{id}/runs"
    assert message_template("No run found with id 'run_abc'.") == "No run found with id '<value>'."


def _cassette(path: Path, interactions: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({"interactions": interactions, "version": 1}))


def _interaction(uri: str, status: int, body: str) -> dict[str, Any]:
    return {
        "request": {
            "method": "POST",
            "uri": uri,
            "headers": {"Authorization": ["Bearer <valid-key>"]},
            "body": None,
        },
        "response": {
            "status": {"code": status, "message": ""},
            "headers": {"content-type": ["application/json"]},
            "body": {"string": body},
        },
    }


def test_a_baseline_is_read_from_cassettes(tmp_path: Path) -> None:
    """Cassettes give their answers; a broken file is left out with a note, the rest still count."""
    _cassette(
        tmp_path / "shape" / "a.yaml", [_interaction("http://h/v1" + CANCEL[3:], 200, '{"id": "run_1"}')]
    )
    (tmp_path / "shape" / "broken.yaml").write_text("interactions: [\n")
    answers, notes = load_baseline(tmp_path)
    assert [(a.signature, a.status, a.body) for a in answers] == [
        (("POST", "/threads/{id}/runs/{id}/cancel", "valid", None), 200, {"id": "run_1"})
    ]
    assert len(notes) == 1
    assert "broken.yaml: left out" in notes[0]


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        pytest.param(lambda p: None, "is not a folder", id="missing"),
        pytest.param(lambda p: p.mkdir(), "holds no recorded cancel answer (0 YAML files read)", id="empty"),
        pytest.param(
            lambda p: _cassette(p / "x.yaml", [_interaction("http://h/v1/chat/completions", 200, "{}")]),
            "holds no recorded cancel answer (1 YAML files read)",
            id="other-endpoint",
        ),
    ],
)
def test_an_unusable_baseline_says_why_and_what_to_do(tmp_path: Path, setup: Any, message: str) -> None:
    """A missing folder, an empty one, or one for another endpoint is refused with a clear message."""
    folder = tmp_path / "baseline"
    setup(folder)
    with pytest.raises(BaselineError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_baseline(folder)


def test_an_endpoint_that_answers_nothing_but_404_is_retired() -> None:
    """Every request answered 404 unknown_url: one verdict, endpoint retired or not implemented."""
    unknown = {
        "error": {
            "message": "Invalid URL",
            "type": "invalid_request_error",
            "param": None,
            "code": "unknown_url",
        }
    }
    verdicts = target_verdicts([answer(unknown, 404, path="/v1/threads"), answer(unknown, 404)] * 20)
    assert [v.kind for v in verdicts] == ["endpoint-retired"]
    assert "all 40 authenticated requests were answered 404" in verdicts[0].message


def test_a_404_for_a_run_just_created_is_a_missing_route() -> None:
    """Runs are created but cancelling them answers 404: the cancel route is not implemented."""
    created = answer({"id": "run_1", "status": "queued"}, path="/v1/threads/thread_1/runs")
    verdicts = target_verdicts([created, answer({"detail": "Not Found"}, 404)])
    assert [v.kind for v in verdicts] == ["route-not-implemented"]


def test_a_mock_that_answers_examples_is_stateless() -> None:
    """Cancel answers that never reflect the run (status queued, id 'string') name a stateless mock."""
    verdicts = target_verdicts([answer({**RUN, "status": "queued", "id": "string"})] * 3)
    assert [v.kind for v in verdicts] == ["stateless-mock"]
    assert target_verdicts([answer()]) == []
