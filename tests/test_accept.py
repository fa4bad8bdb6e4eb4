"""Accepted deviations: loaded from YAML or TOML, applied to clause results, unused entries listed."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runcancel.accept import ACCEPTED, AcceptError, Entry, apply_accepted, load_accepted
from runcancel.clauses import all_clauses
from runcancel.findings import Finding, Severity

YAML = """\
accept:
  - clause: headers.openai-processing-ms
    reason: our gateway strips timing headers
  - clause: schema.undocumented_field
    path: $.tool_resources
    reason: the live API sends it too
  - path: $.tools[].x
    reason: vendor extension
"""
TOML = """\
[[accept]]
clause = "headers.openai-processing-ms"
reason = "our gateway strips timing headers"

[[accept]]
clause = "schema.undocumented_field"
path = "$.tool_resources"
reason = "the live API sends it too"

[[accept]]
path = "$.tools[].x"
reason = "vendor extension"
"""
HEADER = Finding("headers.openai-processing-ms", "header openai-processing-ms", "a whole number", "absent")
EXTRA = Finding("schema.undocumented_field", "$.tool_resources", "only documented", "{}", Severity.ADDITIVE)
TOOL_EXTRA = Finding("schema.undocumented_field", "$.tools[2].x", "only documented", "1", Severity.ADDITIVE)
STATUS = Finding("cancel.status", "$.status", '"cancelling"', '"queued"')


@pytest.mark.parametrize(
    ("name", "text"), [pytest.param("a.yaml", YAML, id="yaml"), pytest.param("a.toml", TOML, id="toml")]
)
def test_yaml_and_toml_files_say_the_same(tmp_path: Path, name: str, text: str) -> None:
    """Both formats give the same entries: clause, path or both, each with its reason."""
    (tmp_path / name).write_text(text)
    entries = load_accepted(tmp_path / name, all_clauses())
    assert [(e.clause, e.path, e.reason) for e in entries] == [
        ("headers.openai-processing-ms", None, "our gateway strips timing headers"),
        ("schema.undocumented_field", "$.tool_resources", "the live API sends it too"),
        (None, "$.tools[].x", "vendor extension"),
    ]


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        pytest.param(
            "a.yaml", "accept:\n  - clause: answer.status\n", "entry 1 has no reason", id="no-reason"
        ),
        pytest.param(
            "a.yaml", "accept:\n  - reason: r\n", "names neither a clause nor a path", id="nothing-named"
        ),
        pytest.param(
            "a.yaml",
            "accept:\n  - {clause: x.y, reason: r}\n",
            "not a clause of the catalogue",
            id="unknown-clause",
        ),
        pytest.param(
            "a.yaml",
            "accept:\n  - {clause: answer.status, reason: r, why: w}\n",
            "unknown keys why",
            id="extra-key",
        ),
        pytest.param("a.yaml", "accept: [\n", "is not valid YAML", id="yaml-syntax"),
        pytest.param("a.toml", "[[accept]\n", "is not valid TOML", id="toml-syntax"),
        pytest.param("a.yaml", "other: 1\n", "has no `accept` list of entries (found nothing", id="no-list"),
        pytest.param("a.json", "{}", "must end in .yaml, .yml or .toml", id="suffix"),
        pytest.param("a.yaml", "accept:\n  - just a string\n", "is str, not a table", id="not-a-table"),
    ],
)
def test_a_bad_file_is_one_paragraph(tmp_path: Path, name: str, text: str, message: str) -> None:
    """A file that cannot be used says what failed, where, what is allowed and shows an example."""
    (tmp_path / name).write_text(text)
    with pytest.raises(AcceptError) as caught:
        load_accepted(tmp_path / name, all_clauses())
    error = str(caught.value)
    assert message in error
    assert error.startswith(f"runcancel: --accept {tmp_path / name}")
    assert "Example (YAML)" in error
    assert "\n" not in error


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    """A path that is no file fails before anything runs, naming it."""
    with pytest.raises(AcceptError, match="no such file"):
        load_accepted(tmp_path / "nope.yaml")


def test_accepted_findings_are_neither_passed_nor_failed(tmp_path: Path) -> None:
    """A clause whose findings are all named reads `accepted` with the reasons; a breaking finding no
    entry names still fails; an entry that named nothing is unused."""
    (tmp_path / "a.yaml").write_text(YAML + "  - clause: error.no_key\n    reason: our proxy answers 403\n")
    entries = load_accepted(tmp_path / "a.yaml")
    result = apply_accepted(
        {
            "headers.openai-processing-ms": ("failed", [HEADER]),
            "schema.undocumented_field": ("passed", [EXTRA, TOOL_EXTRA]),
            "cancel.status": ("failed", [STATUS]),
            "answer.status": ("passed", []),
        },
        entries,
    )
    header = result.clauses["headers.openai-processing-ms"]
    assert (header.state, header.findings, header.reasons) == (
        ACCEPTED,
        (),
        ("our gateway strips timing headers",),
    )
    assert header.accepted == ((HEADER, "our gateway strips timing headers"),)
    assert result.clauses["schema.undocumented_field"].state == ACCEPTED
    assert result.clauses["cancel.status"].state == "failed"
    assert result.clauses["answer.status"].state == "passed"
    assert [e.clause for e in result.unused] == ["error.no_key"]
    assert result.unused_lines() == [
        "accepted deviation not seen in this run: clause error.no_key (a.yaml entry 4): our proxy answers 403"
    ]


def test_a_breaking_finding_left_keeps_a_clause_failed() -> None:
    """Accepting one of two breaking findings of a clause does not accept the clause."""
    other = Finding("cancel.status", "$.id", "x", "y")
    result = apply_accepted({"cancel.status": ("failed", [STATUS, other])}, [Entry("r", path="$.status")])
    clause = result.clauses["cancel.status"]
    assert (clause.state, clause.findings) == ("failed", (other,))


def test_not_verified_stays_not_verified() -> None:
    """An entry cannot turn a clause nobody judged into anything but not verified (and is unused)."""
    result = apply_accepted({"answer.status": ("not verified", [])}, [Entry("r", clause="answer.status")])
    assert result.clauses["answer.status"].state == "not verified"
    assert len(result.unused) == 1


@settings(max_examples=25)
@given(
    reason=st.text(st.characters(codec="utf-8"), min_size=1).filter(str.strip),
    clause=st.sampled_from(sorted(all_clauses())),
)
def test_any_entry_written_in_toml_reads_back(reason: str, clause: str) -> None:
    """Whatever reason and clause an entry holds, written as TOML it loads back the same."""
    import json
    import tempfile

    quoted = json.dumps(reason, ensure_ascii=False).replace(chr(0x7F), "\\u007f")  # TOML escapes DEL
    text = f"[[accept]]\nclause = {json.dumps(clause)}\nreason = {quoted}\n"
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "a.toml"
        path.write_text(text, encoding="utf-8")
        (entry,) = load_accepted(path, all_clauses())
    assert (entry.clause, entry.reason) == (clause, reason.strip())
