"""The contract suites against the catalogue of broken servers: each fault is caught, by its clause.

Every server is a fresh app on its own port; the clause suites in `contracts/` run against it in
process (pytester) with the project's own configuration, as `pytest contracts --target URL` would.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, cast

import pytest

# The suites' library, imported once here: pytester drops what an in-process run imported, and
# building the contract's validators again for every run would cost a fifth of each run.
import runcancel.checks  # noqa: F401
from broken_servers import (
    API_KEY,
    BROKEN_SERVERS,
    KNOWN_GAPS,
    NO_CANCEL_ROUTE,
    NO_ROUTE,
    PROBE_FAULTS,
    REFERENCE,
    SLOW_CANCEL,
    UNDOCUMENTED_FIELDS,
    BrokenServer,
    Served,
    Server,
)
from runcancel.settings import CHAIN

if TYPE_CHECKING:
    from _pytest.mark import ParameterSet

ROOT = Path(__file__).resolve().parents[1]
# pytester runs in a temporary directory: these name the project's rootdir and configuration. This
# process has test modules of its own (tests/test_probe_library.py, say): importlib mode keeps the
# suites' modules (contracts/test_probe.py) apart from them.
PROJECT_RUN = (
    f"--rootdir={ROOT}",
    "-c",
    str(ROOT / "pyproject.toml"),
    "-p",
    "no:cacheprovider",
    "--import-mode=importlib",
)
# The clause suites, in the order `pytest contracts` runs them. The probe suite (generated requests,
# contracts/test_probe.py) runs on its own, against the faults aimed at it: it triples the time of a run.
SUITES = [ROOT / "contracts" / name for name in ("test_errors.py", "test_lifecycle.py", "test_shape.py")]
PROBE = [ROOT / "contracts" / "test_probe.py"]
# The probe's faults show at a small budget; the seed is fixed, so the same cases every time.
PROBE_EXAMPLES = "25"
# The clause table's rows of the suites run (SUITES): every clause held, none broken, none not verified.
SUITE_ROWS_ALL_HELD = [rf"^\s+{suite}\s+\d+\s+0\s+0$" for suite in ("shape", "lifecycle", "errors")]
# Every setting's environment variable (OPENAI_BASE_URL, OPENAI_API_KEY, RUNCANCEL_*): none may leak in.
ENVIRONMENT = tuple(variable for _flag, variable, _key, _default in CHAIN.values())
# On the mock a run reaches any status in milliseconds; a status a broken server never reaches costs
# this long, once a test that waits for it.
ARRANGE_TIMEOUT = "1"
REQUEST_TIMEOUT = "0.5"
# `[clause] <JSON path, header or HTTP status>: expected ...; observed ...`
FINDING = r"\[{clause}\] (\$\S*|header \S+|status): expected .+; observed .+"


def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No runcancel or openai setting of the caller's environment reaches the suites under test."""
    for name in ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)


def stop_served() -> Iterator[list[Served]]:
    """Servers finish stopping while the next test runs; all of them have stopped when the module ends."""
    servers: list[Served] = []
    yield servers
    for served in servers:
        served.join()


# Every module that runs the suites against served apps takes these two, as fixtures of its own.
_clean_environment = pytest.fixture(autouse=True, name="_clean_environment")(clean_environment)
stopping = pytest.fixture(scope="module", name="stopping")(stop_served)


def run_suites(
    pytester: pytest.Pytester,
    stopping: list[Served],
    server: Server,
    *options: str,
    suites: Sequence[Path] = SUITES,
    api_key: str | None = API_KEY,
) -> tuple[str, pytest.RunResult]:
    """Serve a fresh app of `server` and run the contract suites against it: its URL and the result.
    With `api_key` None no key is given (the suites then send none to a served app)."""
    served = Served(server.app())
    url = served.url
    try:
        result = pytester.runpytest_inprocess(
            *map(str, suites),
            *PROJECT_RUN,
            "--target",
            url,
            *(["--api-key", api_key] if api_key is not None else []),
            "--arrange-timeout",
            ARRANGE_TIMEOUT,
            "--reports-dir",
            str(pytester.path / "reports"),
            *options,
        )
    finally:
        served.stop()
        stopping.append(served)
    return url, result


def reports(result: pytest.RunResult) -> list[pytest.TestReport]:
    recorder = cast(pytest.HookRecorder, result.reprec)  # type: ignore[attr-defined]
    return [r for r in recorder.getreports("pytest_runtest_logreport") if isinstance(r, pytest.TestReport)]


def skip_reason(report: pytest.TestReport) -> str:
    return str(report.longrepr[2]) if isinstance(report.longrepr, tuple) else str(report.longrepr)


def carries(nodeid: str, clause: str) -> bool:
    """Whether a test id's parameters include `clause`: `test_x[completed-lifecycle.cancel_finished]`."""
    params = nodeid.partition("[")[2].removesuffix("]")
    return params == clause or params.startswith(f"{clause}-") or params.endswith(f"-{clause}")


def assert_caught(result: pytest.RunResult, clause: str, url: str) -> None:
    """A test of `clause` failed in its call, naming the clause, where, expected and observed, the request."""
    tests = [r for r in reports(result) if carries(r.nodeid, clause)]
    failed = [r for r in tests if r.when == "call" and r.failed]
    assert failed, f"no test of {clause} failed: {[(r.nodeid, r.when, r.outcome) for r in tests]}"
    for report in failed:
        text = report.longreprtext
        assert f"contract clause {clause} broken" in text
        assert re.search(FINDING.format(clause=re.escape(clause)), text), text
        assert re.search(rf"request: [A-Z]+ {re.escape(url)}/v1/\S+", text), text


def _fault(server: BrokenServer) -> ParameterSet:
    marks = [pytest.mark.xfail(reason=f"known gap: {server.gap}", strict=True)] if server.gap else []
    return pytest.param(server, id=server.name, marks=marks)


@pytest.mark.parametrize("server", [_fault(s) for s in (*BROKEN_SERVERS, *KNOWN_GAPS)])
def test_the_suites_catch_the_fault_by_its_clause(
    pytester: pytest.Pytester, stopping: list[Served], server: BrokenServer
) -> None:
    """A server with one fault fails the run, and the test of the fault's clause fails naming it."""
    url, result = run_suites(pytester, stopping, server)
    for clause in (server.clause, *server.also):
        assert_caught(result, clause, url)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    errored = [r.nodeid for r in reports(result) if r.when != "call" and r.failed]
    assert errored == [], "tests errored instead of failing"
    # The written report agrees: the clause failed, with breaking findings, and no certificate.
    document = json.loads((pytester.path / "reports" / "findings.json").read_text())
    clause = next(c for c in document["clauses"] if c["id"] == server.clause)
    assert clause["state"] == "failed"
    assert {f["severity"] for f in clause["findings"]} == {"breaking"}
    assert document["verdict"] == "NOT CERTIFIED"


@pytest.mark.parametrize("server", [pytest.param(s, id=s.name) for s in PROBE_FAULTS])
def test_the_probe_catches_the_fault_by_its_check(
    pytester: pytest.Pytester, stopping: list[Served], server: BrokenServer
) -> None:
    """A fault at the edges of ids or error answers fails the probe check or corpus case that names it."""
    url, result = run_suites(pytester, stopping, server, "--probe-examples", PROBE_EXAMPLES, suites=PROBE)
    for clause in (server.clause, *server.also):
        assert_caught(result, clause, url)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    errored = [r.nodeid for r in reports(result) if r.when != "call" and r.failed]
    assert errored == [], "tests errored instead of failing"


@pytest.mark.parametrize("server", [pytest.param(REFERENCE, id=REFERENCE.name)])
def test_the_reference_mock_fails_no_probe(
    pytester: pytest.Pytester, stopping: list[Served], server: Server
) -> None:
    """Every probe check and corpus case holds on the reference mock, none left unverified."""
    _, result = run_suites(pytester, stopping, server, "--probe-examples", PROBE_EXAMPLES, suites=PROBE)
    assert result.ret == pytest.ExitCode.OK
    assert [r.nodeid for r in reports(result) if not r.passed] == []
    # The probe suite's row of the clause table: every clause held, none broken, none not verified.
    result.stdout.re_match_lines([r"^\s+probe\s+\d+\s+0\s+0$", r"^probe: .* generated cases sent \("])


@pytest.mark.parametrize("server", [pytest.param(REFERENCE, id=REFERENCE.name)])
def test_the_reference_mock_fails_nothing(
    pytester: pytest.Pytester, stopping: list[Served], server: Server
) -> None:
    """The unbroken reference mock keeps every clause: nothing fails, nothing is left unverified."""
    _, result = run_suites(pytester, stopping, server)
    assert result.ret == pytest.ExitCode.OK
    assert [r.nodeid for r in reports(result) if not r.passed] == []
    result.stdout.re_match_lines(SUITE_ROWS_ALL_HELD)


@pytest.mark.parametrize("server", [pytest.param(UNDOCUMENTED_FIELDS, id=UNDOCUMENTED_FIELDS.name)])
def test_undocumented_fields_alone_fail_nothing(
    pytester: pytest.Pytester, stopping: list[Served], server: Server
) -> None:
    """Fields beyond the documented ones are additive drift: the run passes and the summary names them."""
    _, result = run_suites(pytester, stopping, server)
    assert result.ret == pytest.ExitCode.OK
    assert [r.nodeid for r in reports(result) if not r.passed] == []
    result.stdout.re_match_lines(SUITE_ROWS_ALL_HELD)
    result.stdout.fnmatch_lines(
        [
            "additive: [[]schema.undocumented_field[]] $.tool_resources: undocumented field with value {}",
            "additive: [[]schema.undocumented_field[]] $.reasoning_effort: undocumented field with value *",
        ]
    )


@pytest.mark.parametrize("server", [pytest.param(s, id=s.name) for s in (NO_ROUTE, NO_CANCEL_ROUTE)])
def test_without_the_cancel_route_no_error_clause_passes(
    pytester: pytest.Pytester, stopping: list[Served], server: Server
) -> None:
    """A 404 proves nothing where no run can be cancelled: the run fails and no error clause passes."""
    _, result = run_suites(pytester, stopping, server)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    error_tests = [r for r in reports(result) if "test_errors.py" in r.nodeid and r.when == "call"]
    assert error_tests
    # Each is skipped as not verified (a failure needs no gate, but these answers break nothing by
    # themselves: a server without the route answers 404 to anything).
    for report in error_tests:
        assert report.skipped, report.longrepr
        assert "not verified" in skip_reason(report)
    document = json.loads((pytester.path / "reports" / "findings.json").read_text())
    states = {c["id"]: c["state"] for c in document["clauses"] if c["suite"] == "errors"}
    assert "passed" not in states.values(), states


@pytest.mark.parametrize("server", [pytest.param(SLOW_CANCEL, id=SLOW_CANCEL.name)])
def test_a_slow_target_fails_in_one_paragraph(
    pytester: pytest.Pytester, stopping: list[Served], server: Server
) -> None:
    """A cancel slower than --request-timeout fails the run with the URL and the time-out, no traceback."""
    url, result = run_suites(pytester, stopping, server, "--request-timeout", REQUEST_TIMEOUT)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            f"runcancel: target {url}/v1 did not answer POST {url}/v1/threads/*/runs/*/cancel within "
            f"{REQUEST_TIMEOUT} s (*). Check the server, or allow more time with --request-timeout."
        ]
    )
    failed = [r for r in reports(result) if r.failed]
    assert failed
    assert [r.longreprtext for r in failed if "\n" in r.longreprtext.strip()] == []
    assert "Traceback" not in result.stdout.str()
