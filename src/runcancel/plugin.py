"""The pytest plugin: options, markers, hooks and thin fixtures. It only wires: the run's state and
settings are in `runcancel.pytest_state`, what the hooks do in `runcancel.pytest_outcome`, the
session's weighing and writing in `runcancel.certify`, the options' table in `runcancel.settings`.

Inert unless used: loading it imports only pytest and the settings table. A run whose tests use
none of the suites' fixtures gets no header line, no output, no folder and no network traffic; the
settings are read, and checked, only once a suite's fixture is collected (or a runcancel option is
given on the command line). Settings follow one chain (see `runcancel.settings`):
option -> environment -> ini -> default.

Under pytest-xdist each worker hands its outcome to the controller (`workeroutput`), which alone
writes the reports.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import gc
from collections.abc import Callable, Generator, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest

from runcancel.pytest_state import (
    CLI_PLUGIN,
    EARLY,
    TALKING_FIXTURES,
    Early,
    Interruptions,
    Suites,
    given_options,
    session_target,
    settings_of,
    suites,
    uses_suites,
)

if TYPE_CHECKING:
    from _pytest.reports import TestReport
    from _pytest.terminal import TerminalReporter

    from runcancel.arrange import Arranger, ProviderState
    from runcancel.findings import Finding
    from runcancel.probe import ProbeRecord
    from runcancel.rules import Outcome
    from runcancel.suite import SuiteArranger
    from runcancel.targets import Target, TargetClient

__all__ = ["CLI_PLUGIN", "EARLY", "Suites"]


def _recording_plugin(pluginmanager: pytest.PytestPluginManager) -> bool:
    """Whether pytest-recording is (or will be) loaded: then `--record-mode` is its option, not ours."""
    if pluginmanager.has_plugin("recording"):
        return True
    if pluginmanager.is_blocked("recording"):
        return False
    import importlib.util

    return importlib.util.find_spec("pytest_recording") is not None


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    from runcancel.settings import SETTINGS

    group = parser.getgroup("runcancel", "runcancel contract suites (every option also as --runcancel-*)")
    recording = _recording_plugin(pluginmanager)
    for spec in SETTINGS:
        names = [spec.option, *([spec.flag] if spec.alias else [])]
        if spec.name == "record_mode" and not recording:
            names.append("--record-mode")  # pytest-recording's name, free while it is not installed
        where = f"Env: {spec.env}. " if spec.env else ""
        default = f"Default: {spec.default}." if spec.default is not None else ""
        kwargs: dict[str, Any] = {"dest": f"runcancel_{spec.name}", "default": None}
        if spec.switch:
            kwargs.update(action="store_const", const=True)
        else:
            kwargs.update(metavar=spec.metavar, action="append" if spec.repeat else "store")
        group.addoption(*names, help=f"{spec.help} {where}{default}".strip(), **kwargs)
        if spec.ini:
            parser.addini(spec.ini, f"runcancel: {spec.help}", default=None)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "clause(id): the contract clause a test checks, e.g. clause('cancel.status')"
    )
    config.stash[EARLY] = Early(started=datetime.now(UTC))
    config.pluginmanager.register(Interruptions(config), "runcancel-interruptions")
    if given_options(config):
        settings_of(config)  # a bad value given on the command line is refused at once


def pytest_deselected(items: list[pytest.Item]) -> None:
    if items:
        early = items[0].config.stash.get(EARLY, None)
        if early is not None:
            early.deselected += sum(1 for item in items if uses_suites(item))


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    """Once the selection is known, a run that uses the suites checks its settings, reports folder,
    cassettes and target, one line each; any other run is left alone."""
    if any(uses_suites(item) for item in items):
        from runcancel.pytest_outcome import check_collected

        check_collected(config, items)


def pytest_report_collectionfinish(config: pytest.Config) -> list[str] | None:
    if config.stash[EARLY].suites is None:
        return None
    from runcancel.pytest_outcome import header_lines

    return header_lines(config)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, TestReport, TestReport]:
    report = yield
    if item.config.stash[EARLY].suites is not None:
        from runcancel.pytest_outcome import judge_report

        judge_report(item, call, report)
    return report


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """pytest-xdist's controller: a worker finished; merge its outcome into the session's."""
    from runcancel.pytest_outcome import merge_worker

    merge_worker(node)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if EARLY not in session.config.stash or session.config.stash[EARLY].suites is None:
        return
    from runcancel.pytest_outcome import finish_session

    finish_session(session, exitstatus)
    _quick_exit()


@functools.cache  # registered once per process
def _quick_exit() -> None:
    """At the interpreter's exit, move every object out of the garbage collector's reach first.

    The suites leave a large heap (schemathesis, Hypothesis, the SDK's types); the collections Python
    makes while it shuts down would walk all of it, about half a second, to free memory the process is
    giving back anyway. Everything the run writes is closed before then; objects are still released as
    their last reference goes. An atexit hook, so a process that goes on after pytest.main is not
    changed until it exits.
    """
    atexit.register(gc.freeze)


def pytest_terminal_summary(
    terminalreporter: TerminalReporter, exitstatus: int, config: pytest.Config
) -> None:
    if config.stash[EARLY].suites is None:
        return
    from runcancel.pytest_outcome import terminal_summary

    terminal_summary(terminalreporter, config)


# -- fixtures ----------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def runcancel_target(pytestconfig: pytest.Config) -> Iterator[Target]:
    """The target of this session: the built-in mock (started here, on a free port), a URL, or the
    cassettes (replay: no server, and the network blocked for the whole session)."""
    with session_target(suites(pytestconfig)) as target:
        yield target


@pytest.fixture(scope="session")
def runcancel_client(runcancel_target: Target, pytestconfig: pytest.Config) -> Iterator[TargetClient]:
    """An httpx client on the target, sending the API key and `OpenAI-Beta: assistants=v2`."""
    state = suites(pytestconfig)
    observers = [state.record.observe, *([state.requests.observe] if state.requests else [])]
    with runcancel_target.client(observers=observers) as client:
        yield client
        # What slowed the run down or went wrong on the way (429s waited out, resets retried, bounded
        # answers), for the terminal and the reports.
        state.transport_lines = client.summary_lines()


@pytest.fixture(scope="session")
def _runcancel_session_arranger(
    runcancel_client: TargetClient, pytestconfig: pytest.Config
) -> Iterator[Arranger]:
    from runcancel.arrange import Arranger

    state = suites(pytestconfig)
    replaying = state.recorder is not None and state.recorder.replaying
    arranger = Arranger(
        runcancel_client,
        wait=state.settings.arrange_timeout.value,
        poll_pause=0.0 if replaying else Arranger.poll_pause,
    )
    yield arranger
    arranger.cleanup()


@pytest.fixture(scope="session")
def runcancel_provider_state(pytestconfig: pytest.Config) -> ProviderState | None:
    """Where runs in statuses the target's public API cannot reach in time come from: the
    `--provider-state URL` of the target's owner, or None (arrange through the public API only).
    Override it in your conftest.py for an in-process setup: return a callable from a status to
    `(thread_id, run_id)`, or None for a status it cannot give (see the README, "Provider states").
    Replay asks the cassettes, at the provider state they were recorded with."""
    from runcancel.suite import provider_state

    state = suites(pytestconfig)
    return provider_state(state.settings, state.recorder)


@pytest.fixture(scope="session")
def runcancel_arrangers(
    _runcancel_session_arranger: Arranger,
    pytestconfig: pytest.Config,
    runcancel_provider_state: ProviderState | None,
) -> Callable[[], SuiteArranger]:
    """A factory of arrangers that share the session's assistant; call `.cleanup()` on each when done.

    With cassettes each arranger creates (and deletes) its own assistant, so that every cassette
    holds all it needs and each test replays on its own.
    """
    from runcancel.arrange import ArrangeError
    from runcancel.suite import SuiteArranger

    shared = _runcancel_session_arranger
    state = suites(pytestconfig)
    own_assistant = state.recorder is not None
    record = state.record

    def make() -> SuiteArranger:
        arranger = SuiteArranger(
            shared.client,
            wait=shared.wait,
            poll_pause=shared.poll_pause,
            provider_state=runcancel_provider_state,
            clean=record.clean,
            record=record,
        )
        if own_assistant:
            return arranger
        try:
            arranger.assistant_id = shared.assistant()
        except ArrangeError as exc:
            arranger.refused(exc)
        return arranger

    return make


# Where requests outside a test's body are recorded. Each test gets `<suite>/<test>.yaml`, active
# from before its first function-scoped fixture until after the last one's teardown (so the threads
# `arrange` deletes are in it). A module-scoped fixture that talks to the target (`cancel_outcomes`,
# `positive_path`) runs before that, once for the module: it gets its own `<suite>/<fixture>.yaml`,
# which replays whichever test of the module comes first, `-k` or not. Arrangers create their own
# assistant while cassettes are in use, so nothing depends on a session-wide request.
@pytest.fixture(autouse=True)
def _runcancel_cassette(request: pytest.FixtureRequest) -> Iterator[None]:
    state = request.config.stash[EARLY].suites
    recorder = state.recorder if state is not None else None
    if recorder is None or not TALKING_FIXTURES.intersection(request.fixturenames):
        yield
        return
    test = request.node.nodeid.split("::", 1)[-1]
    with recorder.cassette(recorder.path(request.node.path.stem, test)):
        yield
        # After Ctrl-C pytest tears the tests down with no exception in flight: say so, so that a
        # cassette being rewritten keeps its old content.
        if state is not None and (state.ctrl_c or state.interrupted is not None):
            recorder.interrupted = True


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None, Any, Any]:
    """The requests a test sends are filed under its node id: the evidence of the clauses it judges."""
    state = item.config.stash[EARLY].suites if EARLY in item.config.stash else None
    log = state.requests if state is not None else None
    if log is None:
        return (yield)
    with log.running(item.nodeid):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(
    fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest
) -> Generator[None, Any, Any]:
    """A module- or session-scoped fixture that talks to the target records into its own cassette,
    and the requests a module's shared fixture sends are filed under that module (the evidence of
    every clause its tests judge from them)."""
    state = request.config.stash[EARLY].suites if EARLY in request.config.stash else None
    talks = bool(TALKING_FIXTURES.intersection(fixturedef.argnames))
    ours = getattr(fixturedef.func, "__module__", None) == __name__
    if state is None or not talks or ours or fixturedef.scope == "function":
        return (yield)
    with contextlib.ExitStack() as stack:
        if state.requests is not None and fixturedef.scope == "module":
            stack.enter_context(state.requests.running(request.node.nodeid.split("::", 1)[0]))
        if state.recorder is not None:
            node_path = getattr(request.node, "path", None)
            suite = node_path.stem if node_path is not None and node_path.is_file() else "session"
            stack.enter_context(state.recorder.cassette(state.recorder.path(suite, fixturedef.argname)))
        return (yield)


@pytest.fixture(scope="session")
def runcancel_probe(pytestconfig: pytest.Config) -> ProbeRecord:
    """The probe suite's settings (seed, budget) and what it sent, for the terminal summary."""
    from runcancel.probe import ProbeRecord, ProbeSettings

    state = suites(pytestconfig)
    settings = state.settings
    state.probe = ProbeRecord(
        ProbeSettings(seed=settings.probe_seed.value, examples=settings.probe_examples.value),
        recorder=state.recorder,
    )
    return state.probe


@pytest.fixture
def arrange(
    runcancel_arrangers: Callable[[], SuiteArranger], _runcancel_cassette: None
) -> Iterator[SuiteArranger]:
    """Puts runs into a wanted status through the public API; deletes its threads after the test."""
    arranger = runcancel_arrangers()
    yield arranger
    arranger.cleanup()


@pytest.fixture
def verdict(request: pytest.FixtureRequest) -> Callable[[str, Outcome], None]:
    """Record a clause's outcome and turn it into the test's result: pass, fail, skip (not verified) or
    xfail (every breaking finding an accepted deviation, `--accept`)."""
    state = suites(request.config)
    record = state.record

    def judge(clause: str, outcome: Outcome | list[Finding]) -> None:
        __tracebackhide__ = True
        from runcancel.findings import NotVerified, Severity
        from runcancel.suite import accepted_reasons
        from runcancel.targets import get_profile

        not_applicable = get_profile(record.settings.profile.value).not_applicable_reason(clause)
        if not_applicable is not None:  # e.g. the beta clauses under --profile azure
            outcome = NotVerified(clause, not_applicable)
        result = record.record(clause, outcome, request.node.nodeid)
        if result.not_verified is not None:
            pytest.skip(f"not verified: {result.not_verified}")
        broken = [f for f in result.findings if f.severity is Severity.BREAKING]
        accepted = accepted_reasons(broken, state.finish.accepted if state.finish else ())
        if accepted:  # every breaking finding is an accepted deviation: neither passed nor failed
            pytest.xfail(f"accepted: {accepted}")
        if broken:
            from runcancel.clauses import all_clauses

            title = all_clauses().get(clause)
            heading = f"contract clause {clause} broken" + (f": {title.title}" if title else "")
            pytest.fail(
                "\n".join([heading, *("  " + str(f).replace("\n", "\n  ") for f in broken)]), pytrace=False
            )

    return judge
