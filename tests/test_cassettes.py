"""runcancel's cassette files: reading for replay with clear errors, writing with provenance."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from runcancel.cassettes import CassetteError, dump_cassette, find_cassettes, read_cassette

ROOT = Path(__file__).resolve().parents[1]
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
    assert cassette.provenance == {**PROVENANCE, "interactions": 2}
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


def test_provenance_counts_the_interactions_written(tmp_path: Path) -> None:
    """The writer records how many interactions it wrote, so a reader can tell a file cut short."""
    path = write(tmp_path / "c.yaml", interaction(), interaction(status=400), interaction(status=404))
    assert yaml.safe_load(path.read_text())["provenance"] == {**PROVENANCE, "interactions": 3}


def test_a_cassette_written_during_ctrl_c_says_it_was_interrupted() -> None:
    """Written while a KeyboardInterrupt unwinds (vcrpy saving on the way out), the provenance says so."""
    document = {"version": 1, "interactions": [interaction()]}
    try:
        raise KeyboardInterrupt
    except KeyboardInterrupt:
        interrupted = yaml.safe_load(dump_cassette(document, PROVENANCE))["provenance"]
    try:
        raise ValueError("a failing fixture is not an interruption")
    except ValueError:
        failed = yaml.safe_load(dump_cassette(document, PROVENANCE))["provenance"]
    assert interrupted["interrupted"] == "KeyboardInterrupt (Ctrl-C)"
    assert "interrupted" not in failed
