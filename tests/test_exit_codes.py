"""Exit codes of a run of the suites when the target goes away: 4 (target unreachable), also mid-run.

A target that answered the reachability check and then stopped accepting connections stops the run
at the first test that saw it: the exit code is 4, not 1, and every report says the run was
interrupted, and why.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from broken_servers import API_KEY, GoneAfterFirst
from runcancel.accept import Entry
from runcancel.certify import ExitCode, exit_code
from runcancel.clauses import all_clauses
from runcancel.findings import Finding
from runcancel.reports import Report, build_report
from runcancel.runinfo import RunInfo
from runcancel.session import SessionRecord
from runcancel.settings import resolve_settings
from test_broken_servers import PROJECT_RUN, ROOT, clean_environment

_clean_environment = pytest.fixture(autouse=True, name="_clean_environment")(clean_environment)


def test_a_target_that_stops_answering_mid_run_exits_4(pytester: pytest.Pytester) -> None:
    """Reachable at the start, gone at the first test: exit 4, the run stops there, and findings.json,
    the Markdown and the HTML say it was interrupted with the reason."""
    with GoneAfterFirst() as server:
        result = pytester.runpytest_inprocess(
            str(ROOT / "contracts" / "test_shape.py"),
            *PROJECT_RUN,
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


def _report(
    fail_on: str = "breaking", interrupted: str | None = None, accepted: tuple[Entry, ...] = ()
) -> Report:
    """Every clause held but cancel.status, which broke; the run as given."""
    record = SessionRecord(resolve_settings({}, {}, {}), target_label="http://127.0.0.1:4010/v1")
    for clause in all_clauses():
        findings = (
            [Finding(clause, "$.status", '"cancelling"', '"queued"')] if clause == "cancel.status" else []
        )
        record.record(clause, findings, f"contracts/test_shape.py::test_cancel_answer[{clause}]")
    run = RunInfo(
        started=datetime(2026, 3, 1, tzinfo=UTC),
        finished=datetime(2026, 3, 1, 0, 1, tzinfo=UTC),
        command="pytest contracts",
        seed=1,
        budget=1,
        settings={},
        interrupted=interrupted,
    )
    return build_report(record, fail_on=fail_on, run=run, accepted=accepted)


@pytest.mark.parametrize(
    ("fail_on", "interrupted", "accepted", "fail", "code"),
    [
        pytest.param("breaking", None, (), True, ExitCode.FAILED, id="broken"),
        pytest.param(
            "breaking", None, (Entry("known", "cancel.status"),), False, ExitCode.PASSED, id="accepted"
        ),
        pytest.param("never", None, (), False, ExitCode.PASSED, id="never"),
        pytest.param("never", "-x", (), True, ExitCode.INTERRUPTED, id="never-interrupted"),
        pytest.param("breaking", "-x", (), True, ExitCode.FAILED, id="broken-interrupted"),
        pytest.param(
            "breaking",
            "-x",
            (Entry("known", "cancel.status"),),
            True,
            ExitCode.INTERRUPTED,
            id="accepted-interrupted",
        ),
    ],
)
def test_policy_fail_and_the_exit_code_agree(
    fail_on: str, interrupted: str | None, accepted: tuple[Entry, ...], fail: bool, code: ExitCode
) -> None:
    """`policy.fail` is true exactly when the exit code is not 0: accepted findings weigh nothing, an
    interrupted run never passes, and a failure under the policy keeps exit 1 even when interrupted."""
    report = _report(fail_on, interrupted, accepted)
    assert report.fail is fail
    assert exit_code(report, None, interrupted=interrupted, unreachable=False, ctrl_c=False) == code
    assert (code != ExitCode.PASSED) is fail
