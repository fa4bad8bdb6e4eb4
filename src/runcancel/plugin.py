"""The pytest plugin: options, markers and thin fixtures. It only wires; the work is in the library.

Settings follow one chain (see `runcancel.settings`): option -> environment -> ini -> default.
Heavy imports (the mock server, uvicorn) happen inside the fixture that needs them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Generator, Iterator
from typing import TYPE_CHECKING

import pytest

from runcancel.arrange import ArrangedRun, ArrangeError, Arranger, NotArranged
from runcancel.findings import Finding, Severity
from runcancel.rules import Outcome
from runcancel.session import SessionRecord
from runcancel.settings import CHAIN, Settings, SettingsError, resolve_settings
from runcancel.targets import Target, TargetClient, TargetError

if TYPE_CHECKING:
    from _pytest.reports import TestReport
    from _pytest.terminal import TerminalReporter

SESSION = pytest.StashKey[SessionRecord]()
TARGET_FIXTURES = {"runcancel_target", "runcancel_client", "arrange"}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("runcancel", "runcancel contract suites")
    group.addoption(
        "--target",
        default=None,
        metavar="URL",
        help="Server to check: a base URL (http://127.0.0.1:4010 gets /v1 added) or 'mock' for the "
        "built-in reference mock. Env: OPENAI_BASE_URL. Default: mock.",
    )
    group.addoption(
        "--api-key",
        default=None,
        metavar="KEY",
        help="API key sent to the target. Env: OPENAI_API_KEY. Default: the built-in mock's key.",
    )
    group.addoption(
        "--request-timeout",
        default=None,
        metavar="SECONDS",
        help="Time-out of one request. Env: RUNCANCEL_REQUEST_TIMEOUT. Default: 10.",
    )
    group.addoption(
        "--arrange-timeout",
        default=None,
        metavar="SECONDS",
        help="How long to wait for a run to reach a wanted status. "
        "Env: RUNCANCEL_ARRANGE_TIMEOUT. Default: 30.",
    )
    for _flag, _env, key, default in CHAIN.values():
        if key:
            parser.addini(key, f"runcancel setting (default {default})", default=None)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "clause(id): the contract clause a test checks, e.g. clause('cancel.status')"
    )
    options = {name: config.getoption(flag) for name, (flag, *_rest) in CHAIN.items()}
    ini = {key: str(config.getini(key)) for _f, _e, key, _d in CHAIN.values() if key and config.getini(key)}
    try:
        settings = resolve_settings(options, os.environ, ini)
    except SettingsError as exc:
        raise pytest.UsageError(str(exc)) from None
    label = "the built-in reference mock" if settings.uses_mock else settings.target.value
    config.stash[SESSION] = SessionRecord(settings, target_label=label)


def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    """Fail fast, in one line, when the suites are aimed at a target that cannot be used."""
    settings = config.stash[SESSION].settings
    wanted = any(TARGET_FIXTURES & set(getattr(item, "fixturenames", ())) for item in items)
    if not wanted or settings.uses_mock or config.option.collectonly:
        return
    try:
        with _target(settings).client() as client:
            client.check_reachable()
    except TargetError as exc:
        raise pytest.UsageError(str(exc)) from None


def _target(settings: Settings, base_url: str | None = None, label: str = "") -> Target:
    try:
        return Target(
            base_url or settings.target.value,
            api_key=_api_key(settings),
            timeout=settings.request_timeout.value,
            label=label,
        )
    except TargetError as exc:
        raise pytest.UsageError(str(exc)) from None


def _api_key(settings: Settings) -> str:
    from runcancel.mock.config import DEFAULT_API_KEY

    return settings.api_key.value or DEFAULT_API_KEY


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, TestReport, TestReport]:
    """A target that fails mid-run (gone, too slow) reads as one paragraph, not a traceback."""
    report = yield
    if call.excinfo is not None and call.excinfo.errisinstance(TargetError):
        report.longrepr = str(call.excinfo.value)
    return report


def pytest_report_header(config: pytest.Config) -> str | None:
    record = config.stash.get(SESSION, None)
    if record is None:
        return None
    s = record.settings
    key = f"from {s.api_key.source}" if s.api_key.value else "the built-in mock's"
    where = "the built-in reference mock" if s.uses_mock else s.target.value
    return f"runcancel: target {where} (from {s.target.source}), API key {key}"


def pytest_terminal_summary(
    terminalreporter: TerminalReporter, exitstatus: int, config: pytest.Config
) -> None:
    record = config.stash.get(SESSION, None)
    if record is None or not record.verdicts:
        return
    counts = record.counts()
    terminalreporter.section("runcancel")
    terminalreporter.write_line(
        f"target {record.target_label}: {counts['passed']} clauses held, {counts['failed']} broken, "
        f"{counts['not verified']} not verified"
    )
    for finding in record.additive():
        terminalreporter.write_line(f"additive: [{finding.clause}] {finding.path}: {finding.observed}")


# -- fixtures ----------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def runcancel_target(pytestconfig: pytest.Config) -> Iterator[Target]:
    """The target of this session: the built-in mock (started here, on a free port) or a URL."""
    record = pytestconfig.stash[SESSION]
    settings = record.settings
    if not settings.uses_mock:
        target = _target(settings)
        record.target_label = target.label
        yield target
        return
    from runcancel.mock import MockConfig, MockServer, MockStartError

    config = MockConfig(api_key=_api_key(settings), step=0.005, cancel_delay=0.005)
    try:
        server = MockServer(config, port=0)
        server.__enter__()
    except MockStartError as exc:
        pytest.exit(str(exc), returncode=3)
    try:
        target = _target(settings, server.base_url, label=f"the built-in mock at {server.base_url}")
        record.target_label = target.label
        yield target
    finally:
        server.__exit__(None, None, None)


@pytest.fixture(scope="session")
def runcancel_client(runcancel_target: Target, pytestconfig: pytest.Config) -> Iterator[TargetClient]:
    """An httpx client on the target, sending the API key and `OpenAI-Beta: assistants=v2`."""
    with runcancel_target.client(observers=[pytestconfig.stash[SESSION].observe]) as client:
        yield client


@pytest.fixture(scope="session")
def _runcancel_session_arranger(
    runcancel_client: TargetClient, pytestconfig: pytest.Config
) -> Iterator[Arranger]:
    arranger = Arranger(runcancel_client, wait=pytestconfig.stash[SESSION].settings.arrange_timeout.value)
    yield arranger
    arranger.cleanup()


class SuiteArranger(Arranger):
    """An Arranger whose failures speak pytest: not reachable -> skip (not verified), refused -> fail."""

    def run(self, status: str, thread_id: str | None = None) -> ArrangedRun:
        try:
            return super().run(status, thread_id)
        except NotArranged as exc:
            pytest.skip(f"not verified: could not arrange a {status} run: {exc}")
        except ArrangeError as exc:
            pytest.fail(f"runcancel: {exc}", pytrace=False)

    def thread(self) -> str:
        try:
            return super().thread()
        except ArrangeError as exc:
            pytest.fail(f"runcancel: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def runcancel_arrangers(_runcancel_session_arranger: Arranger) -> Callable[[], SuiteArranger]:
    """A factory of arrangers that share the session's assistant; call `.cleanup()` on each when done."""
    shared = _runcancel_session_arranger

    def make() -> SuiteArranger:
        arranger = SuiteArranger(shared.client, wait=shared.wait)
        try:
            arranger.assistant_id = shared.assistant()
        except ArrangeError as exc:
            pytest.fail(f"runcancel: {exc}", pytrace=False)
        return arranger

    return make


@pytest.fixture
def arrange(runcancel_arrangers: Callable[[], SuiteArranger]) -> Iterator[SuiteArranger]:
    """Puts runs into a wanted status through the public API; deletes its threads after the test."""
    arranger = runcancel_arrangers()
    yield arranger
    arranger.cleanup()


@pytest.fixture
def verdict(request: pytest.FixtureRequest) -> Callable[[str, Outcome], None]:
    """Record a clause's outcome and turn it into the test's result: pass, fail or skip (not verified)."""
    record = request.config.stash[SESSION]

    def judge(clause: str, outcome: Outcome | list[Finding]) -> None:
        __tracebackhide__ = True
        result = record.record(clause, outcome, request.node.nodeid)
        if result.not_verified is not None:
            pytest.skip(f"not verified: {result.not_verified}")
        broken = [f for f in result.findings if f.severity is Severity.BREAKING]
        if broken:
            from runcancel.clauses import all_clauses

            title = all_clauses().get(clause)
            heading = f"contract clause {clause} broken" + (f": {title.title}" if title else "")
            pytest.fail(
                "\n".join([heading, *("  " + str(f).replace("\n", "\n  ") for f in broken)]), pytrace=False
            )

    return judge
