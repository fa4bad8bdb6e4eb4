"""Exit codes of a run of the suites when the target goes away: 4 (target unreachable), also mid-run.

A target that answered the reachability check and then stopped accepting connections stops the run
at the first test that saw it: the exit code is 4, not 1, and every report says the run was
interrupted, and why.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from broken_servers import API_KEY, GoneAfterFirst
from runcancel.certify import ExitCode
from test_broken_servers import ENVIRONMENT, ROOT


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)


def test_a_target_that_stops_answering_mid_run_exits_4(pytester: pytest.Pytester) -> None:
    """Reachable at the start, gone at the first test: exit 4, the run stops there, and findings.json,
    the Markdown and the HTML say it was interrupted with the reason."""
    with GoneAfterFirst() as server:
        result = pytester.runpytest_inprocess(
            str(ROOT / "contracts" / "test_shape.py"),
            f"--rootdir={ROOT}",
            "-c",
            str(ROOT / "pyproject.toml"),
            "-p",
            "no:cacheprovider",
            "--import-mode=importlib",
            "--target",
            server.url,
            "--api-key",
            API_KEY,
            "--request-timeout",
            "2",
            "--reports-dir",
            str(pytester.path / "reports"),
        )
    assert result.ret == ExitCode.UNREACHABLE == 4
    out = result.stdout.str()
    assert "cannot reach target" in out
    reports = Path(pytester.path / "reports")
    document = json.loads((reports / "findings.json").read_text(encoding="utf-8"))
    interrupted = document["run"]["interrupted"]
    assert interrupted.startswith("the target stopped answering in "), interrupted
    assert "connection refused" in interrupted.lower() or "cannot reach target" in interrupted
    assert document["verdict"] != "CERTIFIED"
    assert document["run"]["full"] is False
    assert "Not a full certificate**: the run was interrupted (the target stopped answering" in (
        reports / "certification.md"
    ).read_text(encoding="utf-8")
    assert 'id="partial" role="alert">Not a full certificate: the run was interrupted' in (
        reports / "certification.html"
    ).read_text(encoding="utf-8")
    assert result.parseoutcomes() == {"errors": 1}  # one test saw it, and the run stopped there
    assert "policy fail_on=breaking: the run fails (and was interrupted)" in out
