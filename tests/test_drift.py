"""Drift against a baseline, compared by shape; and verdicts on the target as a whole."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from recordings_data import (
    era_run,
    run_traffic,
    write_har,
    write_ruby_vcr,
    write_vcrpy_json,
    write_vcrpy_yaml,
)
from runcancel.drift import (
    SKIP_BROKEN_ENV,
    Answer,
    BaselineError,
    compare,
    load_baseline,
    message_template,
    signature_path,
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
WRITERS = {
    "vcrpy-yaml": write_vcrpy_yaml,
    "vcrpy-json": write_vcrpy_json,
    "ruby-vcr-yaml": write_ruby_vcr,
    "har": write_har,
}
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


@pytest.mark.parametrize("kind", list(WRITERS), ids=list(WRITERS))
def test_a_baseline_is_read_from_any_format(tmp_path: Path, kind: str) -> None:
    """Every answer of every route is kept, its Runs (lists and streams too) and errors; the era is noted."""
    WRITERS[kind](tmp_path / "base" / "t.rec", run_traffic("2024-06"))
    (tmp_path / "base" / "t.rec").rename(tmp_path / "base" / ("t.har" if kind == "har" else "t.yaml"))
    answers, notes = load_baseline(tmp_path / "base")
    assert len(answers) == 6
    assert sum(len(a.runs) for a in answers) == 6
    assert answers[0].auth == "valid"  # the foreign recorder dropped the key; the answer was a 200
    assert "6 answers, 6 Runs, 1 error answers" in notes[0]
    assert notes[1] == "drift baseline era: 28 keys: like 2024-06..2025-02; no `reasoning_effort`"


def test_a_baseline_can_be_one_file(tmp_path: Path) -> None:
    """A single recording is a baseline too."""
    path = write_har(tmp_path / "one.har", run_traffic())
    answers, _ = load_baseline(path)
    assert len(answers) == 6


def test_a_broken_baseline_file_fails_with_its_name_unless_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A corrupt or cut-short file stops the baseline by name; --skip-broken leaves it out with a note."""
    write_vcrpy_yaml(tmp_path / "good.yaml", run_traffic())
    (tmp_path / "broken.yaml").write_text("interactions: [\n")
    cut = write_vcrpy_yaml(tmp_path / "cut.yaml", run_traffic())
    cut.write_text(cut.read_text().replace("\nversion: 1\n", "\n"))
    with pytest.raises(BaselineError) as caught:
        load_baseline(tmp_path)
    message = str(caught.value)
    assert "has 2 file(s) that cannot be used" in message
    assert "broken.yaml:2: is not valid YAML" in message
    assert "cut.yaml" in message
    assert "is incomplete" in message
    assert "--skip-broken" in message
    answers, notes = load_baseline(tmp_path, skip_broken=True)
    assert len(answers) == 6
    assert sum("left out (--skip-broken)" in n for n in notes) == 2
    monkeypatch.setenv(SKIP_BROKEN_ENV, "1")
    assert len(load_baseline(tmp_path)[0]) == 6


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        pytest.param(lambda p: None, "is not a folder", id="missing"),
        pytest.param(
            lambda p: p.mkdir(),
            "holds no recorded Run and no error answer of the Assistants API (0 files",
            id="empty",
        ),
        pytest.param(
            lambda p: _cassette(p / "x.yaml", [_interaction("http://h/v1/chat/completions", 200, "{}")]),
            "holds no recorded Run and no error answer of the Assistants API (1 files",
            id="other-endpoint",
        ),
    ],
)
def test_an_unusable_baseline_says_why_and_what_to_do(tmp_path: Path, setup: Any, message: str) -> None:
    """A missing folder, an empty one, or one for another endpoint is refused with a clear message."""
    folder = tmp_path / "baseline"
    setup(folder)
    with pytest.raises(BaselineError, match=re.escape(message)):
        load_baseline(folder)


def _runs(era: str, path: str = "/v1/threads/thread_1/runs/run_1", status: str = "in_progress") -> Answer:
    return answer(era_run(era, status), path=path, method="GET")


def test_the_run_is_compared_across_routes_with_era_notes() -> None:
    """Runs recorded on retrieve are compared with Runs answered on create; new fields say when they came."""
    old = [_runs("2024-04")]
    new = [answer(era_run("2025-03", "queued"), path="/v1/threads/thread_1/runs")]
    findings = {(f.clause, f.path.rsplit(" ", 1)[-1]): f for f in compare(old, new)}
    added = findings[("drift.field_added", "$.parallel_tool_calls")]
    assert added.severity is Severity.ADDITIVE
    assert added.observed == "present: boolean (parallel_tool_calls: added upstream 2024-06)"
    assert findings[("drift.field_added", "$.reasoning_effort")].severity is Severity.ADDITIVE
    era = findings[("drift.era", "route)")]
    assert era.severity is Severity.INFO
    assert "2024-04..2024-05" in era.expected
    assert "2025-03.." in era.observed


def test_a_field_the_target_no_longer_answers_is_breaking_with_its_history() -> None:
    """A field every recorded Run had and the target's Runs lack is breaking; its note says when it came."""
    findings = compare([_runs("2025-03")], [_runs("2024-04")])
    removed = [f for f in findings if f.clause == "drift.field_removed"]
    assert [f.path.rsplit(" ", 1)[-1] for f in removed] == ["$.parallel_tool_calls", "$.reasoning_effort"]
    assert all(f.severity is Severity.BREAKING for f in removed)
    assert "parallel_tool_calls: added upstream 2024-06" in removed[0].observed


def test_run_types_are_compared_status_by_status() -> None:
    """`usage` null while in progress and an object once completed is not drift; metadata keys are values."""
    old = [_runs("2025-03", status="in_progress")]
    completed = era_run("2025-03", "completed", metadata={"user": "x"})
    new = [answer(completed, path="/v1/threads/thread_1/runs/run_1", method="GET"), _runs("2025-03")]
    assert compare(old, new) == []
    newly_null = era_run("2025-03", "in_progress", model=None)
    assert [f.clause for f in compare(old, [answer(newly_null, method="GET")])] == ["drift.nullability"]


def test_drift_that_compared_nothing_says_so_and_fails() -> None:
    """No answer paired and no Runs on both sides: one breaking finding, not a silent pass."""
    old = [answer({"id": "asst_1", "object": "assistant"}, path="/v1/assistants")]
    new = [answer(RUN, path="/v1/threads")]
    [finding] = compare(old, new)
    assert finding.clause == "drift.nothing_compared"
    assert finding.severity is Severity.BREAKING
    assert "POST /assistants" in finding.observed
    assert "POST /threads" in finding.observed


def test_another_documented_member_of_a_union_is_not_type_drift() -> None:
    """`tool_choice` recorded as a string, answered as an object: within the contract; a number is not."""
    old = [_runs("2025-03")]
    forced = era_run("2025-03", tool_choice={"type": "function", "function": {"name": "f"}})
    assert [f.clause for f in compare(old, [answer(forced, method="GET")])] == []
    wrong = era_run("2025-03", tool_choice=3)
    assert [f.clause for f in compare(old, [answer(wrong, method="GET")])] == ["drift.type"]
