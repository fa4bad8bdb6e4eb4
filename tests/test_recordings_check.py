"""`runcancel cassettes check`: every Run and error judged on any route, in any format, the era named."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from recordings_data import (
    RUN,
    THREAD,
    era_run,
    error,
    exchange,
    run_traffic,
    sse,
    vcrpy_document,
    write_har,
    write_ruby_vcr,
    write_vcrpy_json,
    write_vcrpy_yaml,
)
from runcancel.cassettes import dump_cassette
from runcancel.cli import main
from runcancel.findings import Severity
from runcancel.recordings.check import as_json, check_recordings, render_text
from runcancel.recordings.reader import find_recordings

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "cassettes"
WRITERS = {
    "vcrpy-yaml": write_vcrpy_yaml,
    "vcrpy-json": write_vcrpy_json,
    "ruby-vcr-yaml": write_ruby_vcr,
    "har": write_har,
}
RETRIEVE = f"/threads/{THREAD}/runs/{RUN}"
MISCOUNTED = era_run("2025-03", "completed")
MISCOUNTED["usage"]["total_tokens"] = 16


def check(*paths: Path, fail_on: str = "breaking") -> Any:
    return check_recordings(list(paths), paths[0].parent, fail_on)


def found(report: Any) -> list[tuple[str, str, Severity, str | None]]:
    return sorted(
        (j.finding.clause, j.finding.path, j.finding.severity, j.note)
        for f in report.files
        for j in f.findings
    )


@pytest.mark.parametrize("kind", list(WRITERS), ids=list(WRITERS))
def test_every_run_and_error_on_every_route_is_judged(tmp_path: Path, kind: str) -> None:
    """create, retrieve, list data[], both stream events, cancel: six Runs; the 400: one error."""
    report = check(WRITERS[kind](tmp_path / "t.rec", run_traffic("2025-03")))
    [file] = report.files
    assert file.problem is None
    assert (file.format, file.exchanges, file.runs, file.errors) == (kind, 6, 6, 1)
    assert file.era is not None
    assert file.era.era.name == "2025-03"
    assert file.era.exact


def _one_run(tmp_path: Path, run: dict[str, Any], writer: Any = write_vcrpy_yaml) -> Any:
    return check(writer(tmp_path / "run.yaml", [exchange("GET", RETRIEVE, 200, run)]))


USAGE_DETAILS = ("$.usage.completion_tokens_details", "$.usage.prompt_token_details")


def test_a_29_key_run_has_additive_findings_only_and_is_of_2025_03(tmp_path: Path) -> None:
    """The live 2025 Run: tool_resources, reasoning_effort, usage details are additive; the check passes."""
    report = _one_run(tmp_path, era_run("2025-03", "completed", usage="2025-09"))
    findings = found(report)
    assert {path for _c, path, _s, _n in findings} == {
        "$.tool_resources",
        "$.reasoning_effort",
        *USAGE_DETAILS,
    }
    assert {severity for _c, _p, severity, _n in findings} == {Severity.ADDITIVE}
    assert all(note for *_rest, note in findings)
    assert not report.fail
    assert report.era.era.name == "2025-03"
    assert report.files[0].usage == {"2025-09": 1}


def test_a_27_key_v2_run_breaks_on_parallel_tool_calls_and_is_of_2024_04(tmp_path: Path) -> None:
    """The v2 launch Run lacks `parallel_tool_calls` (breaking, added upstream 2024-06)."""
    report = _one_run(tmp_path, era_run("2024-04"))
    breaking = [(c, p, n) for c, p, s, n in found(report) if s is Severity.BREAKING]
    assert breaking == [("schema.parallel_tool_calls", "$.parallel_tool_calls", "added upstream 2024-06")]
    assert report.fail
    assert report.era.era.name == "2024-04"
    assert (
        report.era.describe()
        == "27 keys: like 2024-04..2024-05; no `reasoning_effort`, `parallel_tool_calls`"
    )


def test_a_17_key_v1_run_breaks_on_every_field_added_since_and_is_of_2023_11(tmp_path: Path) -> None:
    """Every required field added since 2023-11 is breaking (with its note); `file_ids` is additive."""
    report = _one_run(tmp_path, era_run("2023-11"), write_ruby_vcr)
    breaking = {p.removeprefix("$.") for _c, p, s, _n in found(report) if s is Severity.BREAKING}
    assert breaking == {
        "required_action",
        "usage",
        "incomplete_details",
        "max_completion_tokens",
        "max_prompt_tokens",
        "response_format",
        "tool_choice",
        "truncation_strategy",
        "parallel_tool_calls",
    }  # temperature and top_p came too, but the contract makes them optional
    additive = [(p, n) for _c, p, s, n in found(report) if s is Severity.ADDITIVE]
    assert additive == [("$.file_ids", "removed upstream 2024-04 (v2)")]
    notes = {p: n for _c, p, s, n in found(report) if s is Severity.BREAKING}
    assert notes["$.parallel_tool_calls"] == "added upstream 2024-06"
    assert notes["$.usage"] == "added upstream 2024-01"
    assert report.era.era.name == "2023-11"
    assert report.era.exact


@pytest.mark.parametrize(
    ("answer", "clause", "path"),
    [
        pytest.param(
            exchange("GET", f"/threads/{THREAD}/runs", 200, {"object": "list", "data": [MISCOUNTED]}),
            "usage.totals",
            "$.usage.total_tokens",
            id="listed-run-usage-totals",
        ),
        pytest.param(
            exchange(
                "POST",
                f"/threads/{THREAD}/runs",
                200,
                sse(("thread.run.completed", era_run("2025-03", "incomplete"))),
            ),
            "state.incomplete_details",
            "$.incomplete_details",
            id="streamed-run-state",
        ),
        pytest.param(
            exchange("POST", f"{RETRIEVE}/submit_tool_outputs", 200, era_run("2025-03", expires_at=5)),
            "time.order",
            "$.expires_at",
            id="submit-tool-outputs-time-order",
        ),
        pytest.param(
            exchange("POST", f"{RETRIEVE}/cancel", 200, era_run("2025-03", "queued")),
            "cancel.status",
            "$.status",
            id="cancel-rule",
        ),
        pytest.param(
            exchange("POST", f"/threads/{THREAD}/runs", 400, {"message": "no envelope"}),
            "error.envelope",
            "$.error",
            id="error-envelope",
        ),
    ],
)
def test_a_broken_answer_on_any_route_is_a_finding_with_its_line_and_request(
    tmp_path: Path, answer: dict[str, Any], clause: str, path: str
) -> None:
    """Runs read, listed, streamed or given tool outputs keep the any-status rules; 4xx the envelope."""
    if "usage_totals" in answer["body"]:
        answer["body"] = (
            answer["body"]
            .replace('"usage_totals": true', '"usage_totals": 1')
            .replace('"total_tokens": 15', '"total_tokens": 16')
        )
    recorded = write_vcrpy_yaml(
        tmp_path / "c.yaml", [exchange("GET", RETRIEVE, 200, era_run("2025-03")), answer]
    )
    report = check(recorded)
    hits = [
        j
        for j in report.files[0].findings
        if j.finding.clause == clause and j.finding.severity is Severity.BREAKING
    ]
    assert [j.finding.path for j in hits] == [path]
    [hit] = hits
    assert hit.line > 2  # the second exchange's line, not the file's first
    assert hit.where == f"{recorded}:{hit.line}"
    assert str(hit.finding.evidence) == f"{answer['method']} {answer['url']} -> {answer['status']}"


def test_a_foreign_refusal_on_the_cancel_path_is_judged_by_its_envelope_only(tmp_path: Path) -> None:
    """Another recorder may have filtered the key: a 400 to a cancel is judged by its envelope only."""
    refusal = error("Cannot cancel run with status 'completed'.")
    path = write_vcrpy_yaml(
        tmp_path / "c.yaml", [exchange("POST", f"{RETRIEVE}/cancel", 400, refusal, request_headers={})]
    )
    [file] = check(path).files
    assert file.findings == []
    assert file.errors == 1
    assert {nv.clause for nv, _ in file.not_verified} == {"error.expected_refusal"}


def _ours(path: Path, *exchanges: dict[str, Any]) -> Path:
    document = {"version": 1, **vcrpy_document(list(exchanges))}
    path.write_text(
        dump_cassette(document, {"recorded_from": "a test", "target": "http://127.0.0.1:4010/v1"})
    )
    return path


@pytest.mark.parametrize(
    ("headers", "status", "body", "clause"),
    [
        pytest.param(
            {"openai-beta": ["assistants=v2"]},
            200,
            era_run("2025-03", "cancelling"),
            "error.no_key",
            id="keyless-answered",
        ),
        pytest.param(
            {"authorization": ["Bearer <other-key>"], "openai-beta": ["assistants=v2"]},
            401,
            error("nope"),
            "error.wrong_key",
            id="wrong-key-without-code",
        ),
        pytest.param(
            {"authorization": ["Bearer <valid-key>"]},
            400,
            error("x"),
            "error.no_beta",
            id="no-beta-without-code",
        ),
    ],
)
def test_our_refusals_are_held_to_what_their_request_must_get(
    tmp_path: Path, headers: dict[str, list[str]], status: int, body: Any, clause: str
) -> None:
    """In runcancel's own cassettes the request is known: no key must get 401, another key its code."""
    path = _ours(
        tmp_path / "ours.yaml", exchange("POST", f"{RETRIEVE}/cancel", status, body, request_headers=headers)
    )
    report = check(path)
    assert report.files[0].format == "runcancel"
    assert {
        j.finding.clause for j in report.files[0].findings if j.finding.severity is Severity.BREAKING
    } == {clause}


def test_requests_in_findings_are_scrubbed(tmp_path: Path) -> None:
    """A key in the query and a masked key echoed in a 401 never reach the output."""
    leaked = exchange(
        "POST",
        f"/threads/{THREAD}/runs?api-key=sk-secretsecret1234",
        401,
        {"error": {"message": "Incorrect API key provided: sk-proj-****abcd.", "type": 7}},
    )
    report = check(write_vcrpy_yaml(tmp_path / "c.yaml", [leaked]))
    text = render_text(report) + json.dumps(as_json(report))
    assert "secretsecret" not in text
    assert "****abcd" not in text
    assert f"POST https://api.openai.com/v1/threads/{THREAD}/runs -> 401" in text


def test_a_broken_file_is_named_and_the_others_are_still_judged(tmp_path: Path) -> None:
    """One unreadable file fails the check with its line; the good one is still judged."""
    good = write_har(tmp_path / "a.har", run_traffic())
    (tmp_path / "b.yaml").write_text("interactions:\n- request: [1\n")
    report = check_recordings(find_recordings(tmp_path), tmp_path)
    assert [f.runs for f in report.files] == [6, 0]
    assert report.files[0].path == good
    assert report.files[1].problem is not None
    assert report.files[1].problem.line == 3
    assert report.fail
    assert "b.yaml:3: is not valid YAML" in render_text(report)


# -- the command line and its JSON ----------------------------------------------------------------------


def _schema() -> dict[str, Any]:
    text = resources.files("runcancel.recordings").joinpath("check.schema.json").read_text()
    document: dict[str, Any] = json.loads(text)
    return document


def test_json_output_is_one_document_valid_against_the_shipped_schema(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--format json` prints one document: per file its format, counts, era, findings with file:line."""
    write_ruby_vcr(
        tmp_path / "old.yml", [exchange("POST", f"{RETRIEVE}/cancel", 200, era_run("2023-11", "cancelling"))]
    )
    write_vcrpy_json(tmp_path / "new.json", run_traffic())
    (tmp_path / "cut.yaml").write_text(write_vcrpy_yaml(tmp_path / "x.yml", run_traffic()).read_text()[:-11])
    (tmp_path / "x.yml").unlink()
    assert main(["cassettes", "check", str(tmp_path), "--format", "json"]) == 1
    document = json.loads(capsys.readouterr().out)
    jsonschema.Draft202012Validator(_schema()).validate(document)
    files = {Path(f["path"]).name: f for f in document["files"]}
    assert files["old.yml"]["format"] == "ruby-vcr-yaml"
    assert files["old.yml"]["era"]["era"] == "2023-11"
    assert files["new.json"]["format"] == "vcrpy-json"
    assert files["new.json"]["runs"] == 6
    assert files["cut.yaml"]["problem"]["incomplete"] is True
    finding = next(f for f in files["old.yml"]["findings"] if f["path"] == "$.parallel_tool_calls")
    assert finding == {
        **finding,
        "clause": "schema.parallel_tool_calls",
        "severity": "breaking",
        "note": "added upstream 2024-06",
        "location": f"{tmp_path / 'old.yml'}:{finding['line']}",
    }
    assert document["summary"]["incomplete"] == 1
    assert document["policy"]["fail"] is True


def test_the_shipped_cassettes_keep_the_contract(capsys: pytest.CaptureFixture[str]) -> None:
    """Every Run and error recorded from the reference mock keeps every clause; exit 0."""
    assert main(["cassettes", "check", str(SHIPPED)]) == 0
    out = capsys.readouterr().out
    assert " 0 broken" in out
    count = len(find_recordings(SHIPPED))
    assert f"{count} of {count} files readable" in out


@pytest.mark.parametrize(
    ("fail_on", "code"),
    [
        pytest.param("breaking", 0, id="breaking"),
        pytest.param("additive", 1, id="additive"),
        pytest.param("never", 0, id="never"),
    ],
)
def test_the_policy_decides_the_exit_code(tmp_path: Path, fail_on: str, code: int) -> None:
    """Additive findings alone fail only under --fail-on additive."""
    path = write_vcrpy_yaml(tmp_path / "c.yaml", [exchange("GET", RETRIEVE, 200, era_run("2025-03"))])
    assert main(["cassettes", "check", str(path), "--fail-on", fail_on]) == code


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(
            ["cassettes", "check", "/nonexistent/x"], "no recordings at '/nonexistent/x'", id="missing"
        ),
        pytest.param(["cassettes"], "choose a command, e.g. 'runcancel cassettes check'", id="no-subcommand"),
    ],
)
def test_nothing_to_check_is_a_usage_error(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A missing path, or no subcommand, exits 2 with one paragraph saying what to do."""
    assert main(args) == 2
    assert f"runcancel: {message}" in capsys.readouterr().err


def test_an_empty_folder_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A folder without recordings exits 2 and names the suffixes read."""
    (tmp_path / "notes.txt").write_text("x")
    assert main(["cassettes", "check", str(tmp_path)]) == 2
    assert "*.yaml, *.yml, *.json, *.har" in capsys.readouterr().err


def test_runs_that_differ_only_in_ids_and_timestamps_are_judged_alike_and_exactly(tmp_path: Path) -> None:
    """A shared judgement never hides a value: a finding naming a timestamp shows each Run's own value."""
    early = era_run("2025-03", "in_progress", started_at=era_run("2025-03")["created_at"] - 7)
    shifted = {
        **era_run("2025-03", "in_progress", id="run_bbbbbbbbbbbbbbbbbbbbbbbb"),
        **{k: early[k] + 100 for k in ("created_at", "started_at", "expires_at")},
    }
    miscounted = dict(MISCOUNTED, id="run_cccccccccccccccccccccccc", created_at=MISCOUNTED["created_at"] + 50)
    miscounted["started_at"] = MISCOUNTED["started_at"] + 50
    miscounted["completed_at"] = MISCOUNTED["completed_at"] + 50
    path = write_vcrpy_yaml(
        tmp_path / "c.yaml",
        [exchange("GET", RETRIEVE, 200, run) for run in (early, shifted, MISCOUNTED, miscounted)],
    )
    [file] = check(path).files
    order = [(j.finding.path, j.finding.observed) for j in file.findings if j.finding.clause == "time.order"]
    assert order == [("$.started_at", str(early["started_at"])), ("$.started_at", str(shifted["started_at"]))]
    totals = [j for j in file.findings if j.finding.clause == "usage.totals"]
    assert [j.line for j in totals] == sorted({j.line for j in totals})
    assert len(totals) == 2


def test_many_files_give_the_same_report_over_worker_processes(tmp_path: Path) -> None:
    """Judging files in worker processes gives the same report, in the same order, as one process."""
    for i in range(6):
        write_vcrpy_yaml(tmp_path / f"{i}.yaml", run_traffic("2024-06" if i % 2 else "2025-03"))
    (tmp_path / "broken.yaml").write_text("interactions:\n- request: [1\n")
    paths = find_recordings(tmp_path)
    serial = as_json(check_recordings(paths, tmp_path, workers=1))
    parallel = as_json(check_recordings(paths, tmp_path, workers=2))
    assert parallel == serial
    assert serial["summary"]["broken"] == 1


def test_many_files_are_summed_up_by_format_and_era(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past LISTED_FILES files the text gives counts by format and era, not a line per file."""
    from runcancel.recordings import check as check_module

    monkeypatch.setattr(check_module, "LISTED_FILES", 2)
    write_vcrpy_yaml(tmp_path / "a.yaml", run_traffic("2025-03"))
    write_har(tmp_path / "b.har", run_traffic("2025-03"))
    write_ruby_vcr(tmp_path / "c.yml", [exchange("GET", RETRIEVE, 200, era_run("2023-11"))])
    text = render_text(check_recordings(find_recordings(tmp_path), tmp_path))
    assert "  1 files: HAR 1.2 (HTTP Archive)" in text
    assert "  12 Runs: 29 keys: like 2025-03.." in text
    assert "  1 Runs: 17 keys: like 2023-11" in text
    assert "a.yaml: vcrpy" not in text


def test_cancel_answers_alike_but_for_ids_are_each_held_to_their_own_path(tmp_path: Path) -> None:
    """Sharing the judgement of cancel answers never lets one answer's ids stand for another's."""
    answers = []
    for run_id in ("run_aaaaaaaaaaaaaaaaaaaaaaaa", "run_bbbbbbbbbbbbbbbbbbbbbbbb"):
        body = era_run("2025-03", "cancelling", id=run_id)
        answers.append(exchange("POST", f"/threads/{THREAD}/runs/{run_id}/cancel", 200, body))
    stray = era_run("2025-03", "cancelling", id="run_cccccccccccccccccccccccc")
    answers.append(
        exchange("POST", f"/threads/{THREAD}/runs/run_dddddddddddddddddddddddd/cancel", 200, stray)
    )
    [file] = check(write_vcrpy_yaml(tmp_path / "c.yaml", answers)).files
    broken = [
        (j.finding.clause, j.finding.expected, j.finding.observed)
        for j in file.findings
        if j.finding.severity is Severity.BREAKING
    ]
    assert broken == [("cancel.id", '"run_dddddddddddddddddddddddd"', '"run_cccccccccccccccccccccccc"')]
    assert "cancel.status" in file.held
