"""Accepted deviations end to end: `--accept FILE` against a broken server, as a user runs the suites.

Without the file the clause the server breaks fails the run (exit 1); with an entry naming it, the
clause reads `accepted` with its reason in the terminal, findings.json, the Markdown, the HTML and the
badge, and the run passes (exit 0); an entry that named nothing is listed; a file that cannot be used
stops the run before any test, in one paragraph, with exit 2.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from broken_servers import BROKEN_SERVERS, Served
from runcancel.reports import findings_schema
from test_broken_servers import ROOT, clean_environment, run_suites, stop_served

PROCESSING_MS = next(s for s in BROKEN_SERVERS if s.name == "processing-ms-fraction")
SHAPE = [ROOT / "contracts" / "test_shape.py"]
REASON = "our gateway measures in fractions of a millisecond"
ACCEPT = f"""\
accept:
  - clause: headers.openai-processing-ms
    reason: {REASON}
  - clause: error.no_key
    reason: nobody sends requests without a key here
"""


_clean_environment = pytest.fixture(autouse=True, name="_clean_environment")(clean_environment)


stopping = pytest.fixture(scope="module", name="stopping")(stop_served)


def _reports(pytester: pytest.Pytester) -> Path:
    return pytester.path / "reports"


def _findings(pytester: pytest.Pytester) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((_reports(pytester) / "findings.json").read_text(encoding="utf-8"))
    jsonschema.validate(document, findings_schema())
    return document


def _clause(document: dict[str, Any], clause: str) -> dict[str, Any]:
    return next(c for c in document["clauses"] if c["id"] == clause)


def test_without_the_file_the_broken_clause_fails_the_run(
    pytester: pytest.Pytester, stopping: list[Served]
) -> None:
    """The server's fault fails its clause, and the run exits 1."""
    _, result = run_suites(pytester, stopping, PROCESSING_MS, suites=SHAPE)
    assert result.ret == 1
    assert _clause(_findings(pytester), "headers.openai-processing-ms")["state"] == "failed"


def test_an_accepted_clause_reads_accepted_with_its_reason_and_the_run_passes(
    pytester: pytest.Pytester, stopping: list[Served]
) -> None:
    """Named in the file, the broken clause is accepted (not passed, not failed) with its reason in
    every report and the terminal; nothing else fails, so the run passes; the unused entry is listed."""
    (pytester.path / "accepted.yaml").write_text(ACCEPT, encoding="utf-8")
    _, result = run_suites(
        pytester, stopping, PROCESSING_MS, "--runcancel-accept", "accepted.yaml", suites=SHAPE
    )
    out = result.stdout.str()
    assert result.ret == 0, out
    document = _findings(pytester)
    status = _clause(document, "headers.openai-processing-ms")
    assert status["state"] == "accepted"
    assert status["findings"] == []
    assert [f["reason"] for f in status["accepted"]] == [REASON]
    assert document["summary"]["accepted"] == 1
    assert document["summary"]["failed"] == 0
    assert document["policy"]["fail"] is False
    assert document["accepted"]["file"] == "accepted.yaml"
    assert [e["clause"] for e in document["accepted"]["unused"]] == ["error.no_key"]
    result.stdout.fnmatch_lines(
        [
            "*clauses held, 0 broken, 1 accepted, * not verified",
            f"accepted: headers.openai-processing-ms (1 finding): {REASON}",
            "accepted deviation not seen in this run: clause error.no_key (accepted.yaml entry 2): *",
        ]
    )
    assert f"{document['verdict']}: " in out
    assert ", 0 failed, 1 accepted, " in out
    markdown = (_reports(pytester) / "certification.md").read_text(encoding="utf-8")
    assert "## Accepted deviations" in markdown
    assert re.search(r"^## shape: \d+ passed, 0 failed, 1 accepted, 0 not verified$", markdown, re.MULTILINE)
    assert f"accepted because {REASON}" in markdown
    assert "**unused entry** (accepted.yaml entry 2): clause `error.no_key`" in markdown
    assert "| *accepted* | `headers.openai-processing-ms` |" in markdown
    page = (_reports(pytester) / "certification.html").read_text(encoding="utf-8")
    assert '<span class="badge accepted">accepted</span>' in page
    assert f'<span class="label">accepted because</span> {REASON}' in page
    assert "clause <code>error.no_key</code>" in page
    badge = json.loads((_reports(pytester) / "badge.json").read_text(encoding="utf-8"))
    assert badge["message"].endswith(", 1 accepted")


def test_a_clause_the_file_does_not_name_still_fails(
    pytester: pytest.Pytester, stopping: list[Served]
) -> None:
    """An entry for another clause accepts nothing here: the broken clause fails, the run exits 1."""
    (pytester.path / "accepted.toml").write_text(
        '[[accept]]\nclause = "cancel.id"\nreason = "not this one"\n', encoding="utf-8"
    )
    _, result = run_suites(
        pytester, stopping, PROCESSING_MS, "--runcancel-accept", "accepted.toml", suites=SHAPE
    )
    assert result.ret == 1
    document = _findings(pytester)
    assert _clause(document, "headers.openai-processing-ms")["state"] == "failed"
    assert [e["clause"] for e in document["accepted"]["unused"]] == ["cancel.id"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            "accept:\n  - clause: headers.openai-processing-ms\n", "entry 1 has no reason", id="no-reason"
        ),
        pytest.param(
            "accept:\n  - {clause: cancel.nothing, reason: r}\n",
            "not a clause of the catalogue",
            id="unknown",
        ),
        pytest.param("accept: [\n", "is not valid YAML", id="syntax"),
    ],
)
def test_a_bad_file_stops_the_run_in_one_paragraph(
    pytester: pytest.Pytester, stopping: list[Served], text: str, message: str
) -> None:
    """A file that cannot be used stops the run before any test: exit 2, one paragraph, no traceback."""
    (pytester.path / "accepted.yaml").write_text(text, encoding="utf-8")
    _, result = run_suites(
        pytester, stopping, PROCESSING_MS, "--runcancel-accept", "accepted.yaml", suites=SHAPE
    )
    assert result.ret == 2
    out = result.stdout.str() + result.stderr.str()
    (line,) = [
        line for line in out.splitlines() if line.startswith("runcancel: --runcancel-accept accepted.yaml")
    ]
    assert message in line
    assert "Traceback" not in out
    assert not (_reports(pytester) / "findings.json").exists()
