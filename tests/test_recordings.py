"""Readers of recorded traffic: every format to one list of exchanges, told from content, read in a stream."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from recordings_data import (
    era_run,
    exchange,
    run_traffic,
    vcrpy_document,
    write_har,
    write_ruby_vcr,
    write_vcrpy_json,
    write_vcrpy_yaml,
)
from runcancel.cassettes import dump_cassette
from runcancel.recordings import json_stream
from runcancel.recordings.model import RecordingError
from runcancel.recordings.reader import find_recordings, read_recording

WRITERS = {
    "vcrpy-yaml": write_vcrpy_yaml,
    "vcrpy-json": write_vcrpy_json,
    "ruby-vcr-yaml": write_ruby_vcr,
    "har": write_har,
}


def read_all(path: Path) -> tuple[str, list[Any]]:
    recording = read_recording(path)
    return recording.format, list(recording.exchanges)


@pytest.mark.parametrize("kind", list(WRITERS), ids=list(WRITERS))
def test_each_format_is_told_from_its_content_and_read_whole(tmp_path: Path, kind: str) -> None:
    """The format comes from what the file holds (all are named .rec here); every exchange is read."""
    traffic = run_traffic()
    path = WRITERS[kind](tmp_path / "traffic.rec", traffic)
    found, exchanges = read_all(path)
    assert found == kind
    assert [(e.method, e.url, e.status) for e in exchanges] == [
        (t["method"], t["url"], t["status"]) for t in traffic
    ]
    assert [e.body.decode() for e in exchanges] == [t["body"] for t in traffic]
    assert exchanges[0].request_headers["openai-beta"] == "assistants=v2"
    assert exchanges[0].headers["x-request-id"].startswith("req_")


@pytest.mark.parametrize("kind", ["vcrpy-yaml", "ruby-vcr-yaml", "vcrpy-json", "har"])
def test_each_exchange_knows_the_line_it_starts_on(tmp_path: Path, kind: str) -> None:
    """The line of an exchange is where its entry starts in the file, so findings point at it."""
    path = WRITERS[kind](tmp_path / "traffic.rec", run_traffic())
    lines = path.read_text().splitlines()
    _, exchanges = read_all(path)
    starts = [e.line for e in exchanges]
    assert starts == sorted(starts)
    assert len(set(starts)) == len(starts)
    for e in exchanges:
        window = "\n".join(lines[e.line - 1 : e.line + 40])
        assert e.url in window or e.url.replace("/", "\\/") in window


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_compressed_binary_bodies_are_decoded(tmp_path: Path, encoding: str) -> None:
    """A vcrpy `!!binary` body still compressed as `Content-Encoding` says reads as the JSON it was."""
    run = era_run("2024-06", "queued")
    path = write_vcrpy_yaml(
        tmp_path / "c.yaml", [exchange("POST", "/threads/t/runs", 200, run, encoding=encoding)]
    )
    assert "!!binary" in path.read_text()
    _, [recorded] = read_all(path)
    assert json.loads(recorded.body) == run
    assert recorded.undecoded is None


def test_a_brotli_body_without_brotli_is_not_verified(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the optional brotli package a `br` body is left undecoded, and the reason says so."""
    monkeypatch.setitem(sys.modules, "brotli", None)
    document = vcrpy_document([exchange("GET", "/threads/t/runs/r", 200, era_run("2025-03"))])
    response = document["interactions"][0]["response"]
    response["headers"]["Content-Encoding"] = ["br"]
    response["body"]["string"] = b"\x8b\x01\x80not-really-brotli"
    path = tmp_path / "br.yaml"
    path.write_text(yaml.safe_dump(document))
    _, [recorded] = read_all(path)
    assert recorded.undecoded == "not verified: brotli not installed (pip install brotli to read `br` bodies)"


@pytest.mark.parametrize("kind", ["ruby-vcr-yaml", "har"])
def test_base64_bodies_are_decoded(tmp_path: Path, kind: str) -> None:
    """Ruby VCR's `base64_string` and HAR's `encoding: base64` give the body's bytes."""
    traffic = run_traffic()
    path = WRITERS[kind](tmp_path / "b.rec", traffic, base64_bodies=True)
    _, exchanges = read_all(path)
    assert [e.body.decode() for e in exchanges] == [t["body"] for t in traffic]


def test_ruby_vcr_gzip_bodies_are_decoded(tmp_path: Path) -> None:
    """A gzip body Ruby VCR kept as base64 is decompressed as its header says."""
    run = era_run("2024-04", "queued")
    path = write_ruby_vcr(
        tmp_path / "r.yml", [exchange("POST", "/threads/t/runs", 200, run, encoding="gzip")]
    )
    _, [recorded] = read_all(path)
    assert json.loads(recorded.body) == run
    assert recorded.method == "POST"


def test_items_sharing_yaml_anchors_are_read_whole(tmp_path: Path) -> None:
    """Interactions that share an anchor (PyYAML writes one for a repeated object) are still all read."""
    headers = {"content-type": ["application/json"]}
    document = vcrpy_document(
        [exchange("GET", f"/threads/t/runs/r{i}", 200, era_run("2025-03")) for i in range(3)]
    )
    for item in document["interactions"]:
        item["response"]["headers"] = headers  # the same object: yaml.dump writes &id001 and *id001
    path = tmp_path / "anchors.yaml"
    path.write_text(yaml.dump(document))
    assert "*id001" in path.read_text()
    _, exchanges = read_all(path)
    assert [e.url.rsplit("/", 1)[-1] for e in exchanges] == ["r0", "r1", "r2"]


@settings(max_examples=40, deadline=None)
@given(
    bodies=st.lists(st.text(max_size=80), min_size=1, max_size=4),
    header=st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=20),
)
def test_the_streaming_yaml_reader_agrees_with_a_whole_parse(
    tmp_path_factory: pytest.TempPathFactory, bodies: list[str], header: str
) -> None:
    """Parsing item by item gives exactly what parsing the whole document gives."""
    document = vcrpy_document(
        [exchange("GET", f"/threads/t/runs/r{i}", 200, b) for i, b in enumerate(bodies)]
    )
    for item in document["interactions"]:
        item["response"]["headers"]["x-anything"] = [header]
    path = tmp_path_factory.mktemp("prop") / "c.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True))
    _, exchanges = read_all(path)
    whole = yaml.safe_load(path.read_text())["interactions"]
    assert [e.body.decode() for e in exchanges] == [i["response"]["body"]["string"] for i in whole]
    recorded = [i["response"]["headers"]["x-anything"][0] for i in whole]
    assert [e.headers.get_list("x-anything")[0] for e in exchanges] == recorded


def test_the_json_reader_refills_its_buffer_between_and_inside_items(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a tiny buffer every item still decodes whole, on the line it starts."""
    monkeypatch.setattr(json_stream, "_READ", 7)
    traffic = run_traffic()
    path = write_har(tmp_path / "t.har", traffic)
    _, exchanges = read_all(path)
    assert [e.body.decode() for e in exchanges] == [t["body"] for t in traffic]
    lines = path.read_text().splitlines()
    assert all(lines[e.line - 1].strip() == "{" for e in exchanges)


# -- files that cannot be used -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "problem", "line"),
    [
        pytest.param("e.yaml", "", "is empty", None, id="empty"),
        pytest.param(
            "o.yaml",
            "openapi: 3.1.0\npaths: {}\n",
            "is not a recording runcancel understands",
            1,
            id="other-yaml",
        ),
        pytest.param("o.json", '{"a": 1}', "is not a recording runcancel understands", 1, id="other-json"),
        pytest.param("l.json", "[1, 2]", "is not a recording: its top level is not", 1, id="json-list"),
        pytest.param(
            "bad.yaml",
            "interactions:\n- request: {method: GET, uri: 'http://h/v1/threads'}\n"
            "  response: [1\nversion: 1\n",
            "is not valid YAML",
            4,
            id="yaml-error-in-an-item",
        ),
        pytest.param(
            "bad.har", '{"log": {"entries": [{"request": ', "is not valid JSON", 1, id="har-cut-short"
        ),
        pytest.param(
            "nores.yaml",
            "interactions:\n- request: {method: GET, uri: 'http://h/v1/threads'}\nversion: 1\n",
            "interaction 1 has no `response` mapping",
            2,
            id="no-response",
        ),
    ],
)
def test_an_unusable_file_names_itself_its_line_and_the_formats_understood(
    tmp_path: Path, name: str, content: str, problem: str, line: int | None
) -> None:
    """One paragraph: the file, the line where known, the problem, what is understood; no re-record advice."""
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(RecordingError) as caught:
        read_all(path)
    error = caught.value
    assert error.problem.startswith(problem)
    assert error.line == line
    assert "vcrpy cassettes (YAML or JSON" in error.hint
    assert "--record-mode" not in str(error)


def test_only_our_own_cassettes_get_the_advice_to_record_again(tmp_path: Path) -> None:
    """A broken cassette with runcancel's provenance is told how to record it again."""
    path = tmp_path / "ours.yaml"
    path.write_text("provenance: {recorded_from: a test}\nversion: 1\ninteractions:\n- request: [1\n")
    with pytest.raises(RecordingError) as caught:
        read_all(path)
    assert caught.value.ours
    assert "pytest contracts --target mock --record-mode rewrite" in caught.value.hint


def _ours(tmp_path: Path, count: int, provenance: dict[str, Any] | None = None) -> Path:
    document = vcrpy_document(
        [exchange("GET", f"/threads/t/runs/r{i}", 200, era_run("2025-03")) for i in range(count)]
    )
    text = dump_cassette({"version": 1, **document}, provenance or {"recorded_from": "a test"})
    path = tmp_path / "ours.yaml"
    path.write_text(text)
    return path


def test_our_cassette_cut_short_at_an_interaction_is_incomplete(tmp_path: Path) -> None:
    """Fewer interactions than the provenance counts: the cassette is incomplete, not readable."""
    path = _ours(tmp_path, 3)
    text = path.read_text()
    path.write_text(text[: text.rindex("\n- request:") + 1])
    with pytest.raises(RecordingError, match="provenance says 3 interactions, the file holds 2") as caught:
        read_all(path)
    assert caught.value.incomplete


def test_our_cassette_written_while_interrupted_is_incomplete(tmp_path: Path) -> None:
    """A cassette vcrpy saved while Ctrl-C unwound the recording says so, and is incomplete."""
    try:
        raise KeyboardInterrupt
    except KeyboardInterrupt:
        path = _ours(tmp_path, 2)
    with pytest.raises(RecordingError, match="its recording was interrupted") as caught:
        read_all(path)
    assert caught.value.incomplete


@pytest.mark.parametrize(
    ("writer", "cut", "message"),
    [
        pytest.param(write_vcrpy_yaml, "\nversion: 1\n", "without vcrpy's closing `version: 1`", id="vcrpy"),
        pytest.param(
            write_ruby_vcr, "\nrecorded_with: VCR 6.1.0\n", "without Ruby VCR's closing", id="ruby-vcr"
        ),
    ],
)
def test_a_foreign_cassette_without_its_closing_key_is_incomplete(
    tmp_path: Path, writer: Any, cut: str, message: str
) -> None:
    """vcrpy writes `version` and Ruby VCR `recorded_with` after the interactions: without them it was cut."""
    path = writer(tmp_path / "c.yaml", run_traffic())
    path.write_text(path.read_text().replace(cut, "\n"))
    with pytest.raises(RecordingError, match=message) as caught:
        read_all(path)
    assert caught.value.incomplete


def test_recordings_are_found_by_suffix_below_a_folder(tmp_path: Path) -> None:
    """.yaml, .yml, .json and .har files below a folder are read; others, and the probe's cases files, not."""
    for name in ("a.yaml", "sub/b.yml", "c.json", "d.HAR", "e.txt", "sub/probed.cases.json"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    found = [p.relative_to(tmp_path).as_posix() for p in find_recordings(tmp_path)]
    assert found == ["a.yaml", "c.json", "d.HAR", "sub/b.yml"]
