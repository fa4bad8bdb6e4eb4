"""Cassette files: reading with clear errors, writing with provenance, and `runcancel cassettes check`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from runcancel.cassettes import (
    CassetteError,
    check_cassettes,
    dump_cassette,
    find_cassettes,
    read_cassette,
    render_check,
)
from runcancel.cli import main

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "cassettes"
CANCEL = "http://127.0.0.1:4010/v1/threads/thread_a/runs/run_b/cancel"
PROVENANCE = {"recorded_from": "a test", "target": "http://127.0.0.1:4010/v1"}


def interaction(
    uri: str = CANCEL,
    status: int = 200,
    body: Any = None,
    method: str = "POST",
    headers: dict[str, list[str]] | None = None,
) -> dict[str, Any]:
    sent = {"authorization": ["Bearer <valid-key>"], "openai-beta": ["assistants=v2"]}
    return {
        "request": {
            "method": method,
            "uri": uri,
            "body": None,
            "headers": sent if headers is None else headers,
        },
        "response": {
            "status": {"code": status, "message": ""},
            "headers": {"content-type": ["application/json"]},
            "body": {"string": json.dumps(body if body is not None else {})},
        },
    }


def write(path: Path, *interactions: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dump_cassette({"version": 1, "interactions": list(interactions)}, PROVENANCE))
    return path


def shipped_answer(path: str = "test_shape/cancel_outcomes.yaml") -> dict[str, Any]:
    """The recorded 200 cancel answer of a shipped cassette, to doctor."""
    document = yaml.safe_load((SHIPPED / path).read_text())
    cancel = next(
        i
        for i in document["interactions"]
        if i["request"]["uri"].endswith("/cancel") and i["response"]["status"]["code"] == 200
    )
    result: dict[str, Any] = cancel
    return result


# -- reading -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "problem", "line"),
    [
        pytest.param("", "is empty: it holds no recorded interactions", None, id="empty"),
        pytest.param("  \n\n", "is empty: it holds no recorded interactions", None, id="blank"),
        pytest.param(
            "version: 1\ninteractions:\n  - request: [1, 2\n", "is not valid YAML", 4, id="yaml-error"
        ),
        pytest.param("- just\n- a list\n", "is not a cassette: its top level is a list", 1, id="a-list"),
        pytest.param(
            "version: 1\ninteractions: []\n", "is empty: `interactions` is an empty list", 1, id="none"
        ),
        pytest.param("version: 2\ninteractions: []\n", "has cassette format version 2", 1, id="version"),
        pytest.param(
            "version: 1\ninteractions:\n- request: {method: POST, uri: 'http://x/v1/threads'}\n",
            "interaction 1 has no `response` mapping",
            3,
            id="no-response",
        ),
        pytest.param(
            "version: 1\ninteractions:\n- request: {method: GET, uri: 'http://x/v1/threads'}\n"
            "  response: {status: {code: 200}}\n- request: {method: GET, uri: 'http://x/v1/threads'}\n"
            "  response: {status: {code: OK}}\n",
            "interaction 2: the response has no `status.code` number",
            6,
            id="bad-status",
        ),
        pytest.param(
            "version: 1\ninteractions:\n- request: {method: POST, uri: 'http://x/v1/chat/completions'}\n"
            "  response: {status: {code: 200}, body: {string: '{}'}}\n",
            "was recorded from another endpoint: none of its requests goes to the Assistants API's threads, "
            "runs and cancel (it has POST /v1/chat/completions)",
            3,
            id="other-endpoint",
        ),
    ],
)
def test_an_unusable_cassette_says_which_file_which_line_and_why(
    tmp_path: Path, content: str, problem: str, line: int | None
) -> None:
    """Each unusable cassette raises CassetteError with its file, the line at fault and what to do."""
    path = tmp_path / "bad.yaml"
    path.write_text(content)
    with pytest.raises(CassetteError) as caught:
        read_cassette(path)
    assert caught.value.problem.startswith(problem)
    assert caught.value.line == line
    assert caught.value.path == path
    assert "--record-mode rewrite" in str(caught.value)


def test_a_cassette_that_is_not_text_is_a_clear_error(tmp_path: Path) -> None:
    """Bytes that are not UTF-8 are reported as such, not as a decoding traceback."""
    path = tmp_path / "binary.yaml"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(CassetteError, match="is not UTF-8 text"):
        read_cassette(path)


def test_a_missing_cassette_is_file_not_found(tmp_path: Path) -> None:
    """A cassette that does not exist is not an unusable one: the caller decides (record it, or say so)."""
    with pytest.raises(FileNotFoundError):
        read_cassette(tmp_path / "absent.yaml")


def test_provenance_comes_first_and_reads_back(tmp_path: Path) -> None:
    """The writer puts provenance at the top; the reader returns it with the interactions and their lines."""
    path = write(tmp_path / "c.yaml", interaction(), interaction(status=400))
    assert path.read_text().startswith("provenance:\n  recorded_from: a test\n")
    cassette = read_cassette(path)
    assert cassette.provenance == PROVENANCE
    assert [(i.status, i.is_cancel) for i in cassette.interactions] == [(200, True), (400, True)]
    assert cassette.interactions[0].line < cassette.interactions[1].line


@given(body=st.text(), header=st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",))))
def test_any_body_and_header_survive_writing_and_reading(body: str, header: str) -> None:
    """Whatever text a server answered comes back byte for byte from the written cassette."""
    recorded = interaction()
    recorded["response"]["body"]["string"] = body
    recorded["response"]["headers"]["x-anything"] = [header]
    text = dump_cassette({"version": 1, "interactions": [recorded]}, PROVENANCE)
    document = yaml.safe_load(text)
    assert document["interactions"][0]["response"]["body"]["string"] == body
    assert document["interactions"][0]["response"]["headers"]["x-anything"] == [header]


def test_long_lines_are_never_folded(tmp_path: Path) -> None:
    """A long body stays on one line, so searching the file for a string finds it."""
    marker = "needle-" + "x" * 500
    path = write(tmp_path / "long.yaml", interaction(body={"message": "a " * 200 + marker}))
    assert any(marker in line for line in path.read_text().splitlines())


@pytest.mark.parametrize(
    ("layout", "expected"),
    [
        pytest.param(["a.yaml", "sub/b.yml", "sub/c.txt"], ["a.yaml", "sub/b.yml"], id="folder"),
        pytest.param([], [], id="empty-folder"),
    ],
)
def test_cassettes_are_found_below_a_folder(tmp_path: Path, layout: list[str], expected: list[str]) -> None:
    """Every .yaml/.yml file below the folder is a cassette; other files are not."""
    for name in layout:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    assert [p.relative_to(tmp_path).as_posix() for p in find_cassettes(tmp_path)] == expected


# -- checking ----------------------------------------------------------------------------------------


def test_the_shipped_cassettes_keep_the_contract() -> None:
    """Every cancel answer recorded from the reference mock keeps every clause it can decide."""
    report = check_cassettes(find_cassettes(SHIPPED), SHIPPED)
    assert report.errors == []
    assert report.broken == {}
    assert report.answers > 20
    assert report.without_provenance == []


@pytest.mark.parametrize(
    ("doctor", "clause", "expected"),
    [
        pytest.param(lambda run: run.update(status="queued"), "cancel.status", "$.status", id="status"),
        pytest.param(lambda run: run.pop("model"), "schema.model", "$.model", id="missing-field"),
        pytest.param(lambda run: run.update(model=7), "schema.model", "$.model", id="wrong-type"),
    ],
)
def test_a_doctored_cancel_answer_is_a_finding_under_its_clause(
    tmp_path: Path, doctor: Any, clause: str, expected: str
) -> None:
    """A recorded 200 answer that breaks a clause is reported under that clause, with file and line."""
    recorded = shipped_answer()
    run = json.loads(recorded["response"]["body"]["string"])
    doctor(run)
    recorded["response"]["body"]["string"] = json.dumps(run)
    path = write(tmp_path / "doctored.yaml", interaction(uri="http://127.0.0.1:4010/v1/threads"), recorded)
    report = check_cassettes([path], tmp_path)
    found = report.broken[clause]
    assert [x.finding.path for x in found] == [expected]
    assert found[0].where == f"{path}:{read_cassette(path).interactions[1].line}"
    assert f"{clause} (" in render_check(report)


@pytest.mark.parametrize(
    ("headers", "status", "body", "clause"),
    [
        pytest.param({"openai-beta": ["assistants=v2"]}, 200, None, "error.no_key", id="keyless-answered"),
        pytest.param(
            {"authorization": ["Bearer <other-key>"], "openai-beta": ["assistants=v2"]},
            401,
            {"error": {"message": "nope", "type": "invalid_request_error", "param": None, "code": None}},
            "error.wrong_key",
            id="wrong-key-without-code",
        ),
        pytest.param(
            {"authorization": ["Bearer <valid-key>"]},
            400,
            {"error": {"message": "x", "type": "invalid_request_error", "param": None, "code": None}},
            "error.no_beta",
            id="no-beta-without-code",
        ),
        pytest.param(
            None,
            404,
            {
                "error": {
                    "message": "No run found with id 'run_z'.",
                    "type": "invalid_request_error",
                    "param": None,
                }
            },
            "error.unknown_run",
            id="envelope-and-message",
        ),
    ],
)
def test_a_refusal_is_checked_against_what_its_request_must_get(
    tmp_path: Path, headers: dict[str, list[str]] | None, status: int, body: Any, clause: str
) -> None:
    """The expectation follows from the recorded request: no key must get 401, another key its code."""
    path = write(tmp_path / "c.yaml", interaction(headers=headers, status=status, body=body))
    report = check_cassettes([path], tmp_path)
    assert list(report.broken) == [clause]


def test_a_bad_cassette_does_not_stop_the_others(tmp_path: Path) -> None:
    """An unreadable cassette is listed with its line, and the good ones are still checked."""
    write(tmp_path / "good.yaml", shipped_answer())
    (tmp_path / "broken.yaml").write_text("version: 1\ninteractions:\n  - request: [1\n")
    report = check_cassettes(find_cassettes(tmp_path), tmp_path)
    assert report.answers == 1
    assert [(e.path.name, e.line) for e in report.errors] == [("broken.yaml", 4)]
    assert not report.ok


# -- the command line --------------------------------------------------------------------------------


def test_check_of_the_shipped_cassettes_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    """`runcancel cassettes check cassettes` prints the summary and exits 0 when every clause holds."""
    assert main(["cassettes", "check", str(SHIPPED)]) == 0
    out = capsys.readouterr().out
    assert "0 broken" in out
    assert "cassettes readable" in out


def test_check_prints_findings_by_clause_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A broken clause is printed under its id with the cassette line; the exit code is 1."""
    recorded = shipped_answer()
    run = json.loads(recorded["response"]["body"]["string"])
    run["status"] = "completed"
    recorded["response"]["body"]["string"] = json.dumps(run)
    path = write(tmp_path / "c.yaml", recorded)
    (tmp_path / "empty.yaml").write_text("")
    assert main(["cassettes", "check", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "\ncancel.status (" in out
    assert f"  {path}:{read_cassette(path).interactions[0].line}: $.status: expected" in out
    assert f"  {tmp_path / 'empty.yaml'}: is empty" in out
    assert "Traceback" not in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(
            ["cassettes", "check", "/nonexistent/cassettes"],
            "no cassettes at '/nonexistent/cassettes'",
            id="missing",
        ),
        pytest.param(["cassettes"], "choose a command, e.g. 'runcancel cassettes check'", id="no-subcommand"),
    ],
)
def test_nothing_to_check_is_a_usage_error(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A missing path, or no subcommand, exits 2 with one line saying what to do."""
    assert main(args) == 2
    assert f"runcancel: {message}" in capsys.readouterr().err


def test_an_empty_folder_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A folder without cassettes exits 2 and says how to record some."""
    assert main(["cassettes", "check", str(tmp_path)]) == 2
    assert "--record-mode once" in capsys.readouterr().err
