"""The pytest plugin: options, markers and thin fixtures. It only wires; the work is in the library
(`runcancel.certify` weighs and writes, `runcancel.settings` holds the options' table).

Inert unless used: loading it imports only pytest and the settings table. A run whose tests use
none of the suites' fixtures gets no header line, no output, no folder and no network traffic; the
settings are read, and checked, only once a suite's fixture is collected (or a runcancel option is
given on the command line). Settings follow one chain (see `runcancel.settings`):
option -> environment -> ini -> default.

Under pytest-xdist each worker hands its outcome to the controller (`workeroutput`), which alone
writes the reports.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NoReturn

import pytest

if TYPE_CHECKING:
    from pathlib import Path

    from _pytest.reports import TestReport
    from _pytest.terminal import TerminalReporter

    from runcancel.arrange import Arranger
    from runcancel.certify import Finish, Selection
    from runcancel.findings import Finding
    from runcancel.probe import ProbeRecord
    from runcancel.recording import Recorder
    from runcancel.reports.requests import RequestLog
    from runcancel.rules import Outcome
    from runcancel.session import SessionRecord
    from runcancel.settings import Settings
    from runcancel.suite import SuiteArranger
    from runcancel.targets import Target, TargetClient

TARGET_FIXTURES = {"runcancel_target", "runcancel_client", "arrange"}
# Fixtures through which a test or a fixture reaches the target: its requests go to a cassette.
TALKING_FIXTURES = TARGET_FIXTURES | {"runcancel_arrangers"}
SUITE_FIXTURES = TALKING_FIXTURES | {"verdict"}
# The plugin the command line registers around its pytest run (it knows the command to show).
CLI_PLUGIN = "runcancel-cli"


@dataclass
class Suites:
    """This session's use of the suites, once a test uses them: settings, record, cassettes, reports."""

    record: SessionRecord
    finish: Finish | None = None
    recorder: Recorder | None = None
    probe: ProbeRecord | None = None
    selection: Selection | None = None
    interrupted: str | None = None
    ctrl_c: bool = False
    unreachable: bool = False
    workers: int = 0
    transport_lines: list[str] = field(default_factory=list)
    requests: RequestLog | None = None  # the requests each test (or shared fixture) sent
    worker_requests: dict[str, Any] = field(default_factory=dict)  # the same, from pytest-xdist workers

    @property
    def settings(self) -> Settings:
        return self.record.settings


@dataclass
class _Early:
    """What the plugin keeps before it knows whether the suites are used."""

    started: datetime
    deselected: int = 0
    suites: Suites | None = None


EARLY = pytest.StashKey[_Early]()


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
    config.stash[EARLY] = _Early(started=datetime.now(UTC))
    config.pluginmanager.register(_Interruptions(config), "runcancel-interruptions")
    if _given_options(config):
        _settings(config)  # a bad value given on the command line is refused at once


def _given_options(config: pytest.Config) -> dict[str, Any]:
    from runcancel.settings import SETTINGS

    given = {spec.name: config.getoption(f"runcancel_{spec.name}") for spec in SETTINGS}
    recording = config.getoption("record_mode", None)  # pytest-recording's, when it is installed
    if given["record_mode"] is None and recording is not None:
        given["record_mode"] = recording
    return {name: value for name, value in given.items() if value is not None}


def _labels(config: pytest.Config) -> dict[str, str]:
    """The flag each given option was typed as (an alias or the --runcancel- name), for messages."""
    from runcancel.settings import SETTINGS

    typed = {arg.split("=", 1)[0] for arg in config.invocation_params.args if arg.startswith("--")}
    labels = {}
    for spec in SETTINGS:
        for name in (spec.flag, "--record-mode") if spec.name == "record_mode" else (spec.flag,):
            if name in typed and (spec.alias or name == "--record-mode"):
                labels[spec.name] = name
    return labels


def _usage(message: str, code: int = 2, config: pytest.Config | None = None) -> NoReturn:
    """Stop the run with one paragraph: 2 for a bad setting or folder, 4 for an unreachable target.

    Once the terminal is set up (collection), the paragraph is written there in full and pytest's
    own stop line only points at it.
    """
    reporter = config.pluginmanager.get_plugin("terminalreporter") if config is not None else None
    if reporter is None:
        pytest.exit(message, returncode=code)
    reporter.write_line(message, red=True)
    pytest.exit("runcancel: the run cannot go on (see above)", returncode=code)


def _settings(config: pytest.Config) -> Settings:
    from runcancel.settings import SettingsError, resolve_settings

    ini = {}
    for spec_ini in _ini_keys():
        value = config.getini(spec_ini)
        if value:
            ini[spec_ini] = str(value)
    try:
        return resolve_settings(
            _given_options(config), os.environ, ini, style="pytest", labels=_labels(config)
        )
    except SettingsError as exc:
        _usage(str(exc), config=config)


def _ini_keys() -> list[str]:
    from runcancel.settings import SETTINGS

    return [spec.ini for spec in SETTINGS if spec.ini]


def _suites(config: pytest.Config) -> Suites:
    """The suites' state, set up the first time a suite needs it."""
    early = config.stash[EARLY]
    if early.suites is not None:
        return early.suites
    from runcancel.scrub import Scrubber
    from runcancel.session import SessionRecord

    settings = _settings(config)
    label = "the built-in reference mock" if settings.uses_mock else settings.target.value
    scrubber = Scrubber(
        _api_key(settings),
        organization=os.environ.get("OPENAI_ORG_ID"),
        project=os.environ.get("OPENAI_PROJECT_ID"),
    )
    from runcancel.reports.requests import RequestLog

    record = SessionRecord(settings, target_label=label, scrubber=scrubber)
    suites = Suites(record, requests=RequestLog(clean=record.clean))
    if settings.replays or settings.records:
        from runcancel.recording import Recorder

        suites.recorder = Recorder.from_environment(
            _cassette_dir(config, settings),
            settings.record_mode.value or "none",
            _api_key(settings),
            os.environ,
        )
        config.add_cleanup(suites.recorder.scrub_logs())
    early.suites = suites
    return suites


def _prepare(config: pytest.Config, suites: Suites) -> None:
    from runcancel.certify import CertifyError, prepare

    if suites.finish is None:
        try:
            suites.finish = prepare(suites.settings, config.rootpath, config.invocation_params.dir)
        except CertifyError as exc:
            _usage(str(exc), config=config)


def _cassette_dir(config: pytest.Config, settings: Settings) -> Path:
    """A folder given on the command line or in the environment is relative to where pytest was started;
    the configured or default one to the rootdir."""
    from pathlib import Path

    given = Path(settings.cassette_dir.value).expanduser()
    if settings.cassette_dir.source == "default" or settings.cassette_dir.source.startswith("config"):
        return config.rootpath / given
    return config.invocation_params.dir / given


def _uses_suites(item: pytest.Item) -> bool:
    return bool(SUITE_FIXTURES.intersection(getattr(item, "fixturenames", ())))


def pytest_deselected(items: list[pytest.Item]) -> None:
    if items:
        early = items[0].config.stash.get(EARLY, None)
        if early is not None:
            early.deselected += sum(1 for item in items if _uses_suites(item))


def _item_clauses(item: pytest.Item) -> set[str]:
    params = getattr(getattr(item, "callspec", None), "params", {})
    found = {m.args[0] for m in item.iter_markers("clause") if m.args}
    if isinstance(params.get("clause"), str):
        found.add(params["clause"])
    case = getattr(params.get("case"), "id", None)
    if isinstance(case, str):
        found.add(case)
    return found


def _selection(config: pytest.Config, items: list[pytest.Item]) -> Selection:
    from runcancel.certify import Selection

    early = config.stash[EARLY]
    reasons = []
    if early.deselected:
        how = [f"-k {config.option.keyword!r}"] if config.option.keyword else []
        how += [f"-m {config.option.markexpr!r}"] if config.option.markexpr else []
        how += ["--lf"] if getattr(config.option, "lf", False) else []
        reasons.append(f"{early.deselected} tests deselected" + (f" ({', '.join(how)})" if how else ""))
    named = [arg for arg in config.args if "::" in arg]
    if named:
        reasons.append(f"tests named: {', '.join(named[:3])}" + (" ..." if len(named) > 3 else ""))
    clauses = {clause for item in items for clause in _item_clauses(item)}
    if any(TALKING_FIXTURES.intersection(getattr(item, "fixturenames", ())) for item in items):
        from runcancel.arrange import CREATE_CLAUSE

        clauses.add(CREATE_CLAUSE)  # judged at the session's end on every create the tests sent
    return Selection.of(clauses, reasons)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    """Once the selection is known: if a test uses the suites, read the settings, check the reports
    folder, the cassettes and the target, in one line each. Otherwise do nothing at all."""
    used = [item for item in items if _uses_suites(item)]
    if not used or config.option.collectonly:
        return
    suites = _suites(config)
    suites.selection = _selection(config, used)
    _prepare(config, suites)
    settings = suites.settings
    wanted = any(TARGET_FIXTURES.intersection(getattr(item, "fixturenames", ())) for item in used)
    if wanted and suites.recorder is not None and settings.replays:
        from runcancel.cassettes import CassetteError

        try:
            suites.recorder.check_ready()
        except CassetteError as exc:
            _usage(f"runcancel: --target replay: {exc}", config=config)
    if not wanted or settings.uses_mock or settings.replays:
        return
    from runcancel.targets import TargetError

    try:
        with _target(settings, config=config).client() as client:
            client.check_reachable()
    except TargetError as exc:
        suites.unreachable = True
        _usage(str(exc), code=4, config=config)


def pytest_report_collectionfinish(config: pytest.Config) -> list[str] | None:
    """The suites' header: the target, where the key came from, the probe's seed and budget."""
    suites = config.stash[EARLY].suites
    if suites is None:
        return None
    s = suites.settings
    key = f"from {s.api_key.source}" if s.api_key.value else "the built-in mock's"
    where = "the built-in reference mock" if s.uses_mock else s.target.value
    probe = (
        f"runcancel probe: seed {s.probe_seed.value} (from {s.probe_seed.source}), "
        f"{s.probe_examples.value} examples (from {s.probe_examples.source})"
    )
    recorder = suites.recorder
    if recorder is not None and recorder.replaying:
        return [
            f"runcancel: replaying {recorder.cassette_dir}, network blocked (from {s.target.source})",
            probe,
        ]
    recording = f"; recording into {recorder.cassette_dir} (record mode {recorder.mode})" if recorder else ""
    return [f"runcancel: target {where} (from {s.target.source}), API key {key}{recording}", probe]


def _target(
    settings: Settings, base_url: str | None = None, label: str = "", config: pytest.Config | None = None
) -> Target:
    from runcancel.targets import Target, TargetError, account_headers

    try:
        return Target.from_spec(
            base_url or settings.target.value,
            api_key=_api_key(settings),
            timeout=settings.request_timeout.value,
            **({"label": label} if label else {}),
            profile=settings.profile.value,
            # --header on top of the SDK's account headers (OPENAI_ORG_ID, OPENAI_PROJECT_ID): a name
            # given with --header wins.
            headers={**account_headers(os.environ), **dict(settings.header.value)},
            max_answer_bytes=settings.max_answer_bytes.value,
            rate_limit=settings.rate_limit.value,
            verify=False if settings.insecure.value else (settings.ca_bundle.value or True),
        )
    except TargetError as exc:
        _usage(str(exc), config=config)


def _learn_secrets(suites: Suites, target: Target) -> None:
    """Every credential of the target (key, URL user info, auth-like and account header values) is
    scrubbed from what the session shows and writes, and from the cassettes."""
    secrets = target.secrets()
    for scrubber in (suites.record.scrubber, suites.recorder.scrubber if suites.recorder else None):
        if scrubber is not None:
            scrubber.learn_all(secrets)


def _api_key(settings: Settings) -> str:
    from runcancel.settings import DEFAULT_API_KEY

    return settings.api_key.value or DEFAULT_API_KEY


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, TestReport, TestReport]:
    """A target that fails mid-run (gone, too slow) reads as one paragraph, not a traceback.

    So does a request no cassette answers, an unusable cassette, or a connection tried during replay.
    """
    report = yield
    suites = item.config.stash[EARLY].suites
    if suites is None:
        return report
    from runcancel.targets import TargetError, TransportFault

    if call.excinfo is not None and call.excinfo.errisinstance(TransportFault):
        # The target accepted the connection, then gave no complete answer: a finding of this test,
        # with the request; the run goes on (a target that never accepted one stops it, below).
        fault = call.excinfo.value
        assert isinstance(fault, TransportFault)
        report.longrepr = str(fault)
        clause = getattr(item, "callspec", None) and item.callspec.params.get("clause")  # type: ignore[attr-defined]
        if isinstance(clause, str):
            suites.record.record(clause, [fault.finding.under(clause)], item.nodeid)
    elif call.excinfo is not None and call.excinfo.errisinstance(TargetError):
        report.longrepr = str(call.excinfo.value)
        # A target that is gone or too slow would make every later test wait out the same time-out.
        item.session.shouldfail = (
            "runcancel: the target failed to answer; the clauses not reached are not verified"
        )
    elif call.excinfo is not None and suites.recorder is not None:
        explained = suites.recorder.explain(call.excinfo.value, item.nodeid)
        if explained is not None:
            report.longrepr = explained
    _record_unjudged(item, report, suites.record)
    return report


def _record_unjudged(item: pytest.Item, report: TestReport, record: SessionRecord) -> None:
    """A clause test that ended before its verdict (a run it could not arrange, a target error) is
    recorded as not verified, with the reason, so reports never show it as merely unchecked."""
    from runcancel.findings import NotVerified

    clause = getattr(item, "callspec", None) and item.callspec.params.get("clause")  # type: ignore[attr-defined]
    if not isinstance(clause, str) or not (report.skipped or report.failed):
        return
    if report.when == "teardown" or any(v.nodeid == item.nodeid for v in record.verdicts):
        return
    if report.skipped and isinstance(report.longrepr, tuple):
        reason = str(report.longrepr[2]).removeprefix("Skipped: ").removeprefix("not verified: ")
    else:
        reason = "the test ended before judging: " + (report.longreprtext.strip().splitlines() or ["?"])[0]
    record.record(clause, NotVerified(clause, reason), item.nodeid)


class _Interruptions:
    """Ctrl-C, or pytest-xdist stopping the workers (-x, a worker's stop): the run is interrupted.

    A plugin object of its own, because pytest_keyboard_interrupt is told no config.
    """

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        from runcancel.certify import ExitCode

        suites = self.config.stash[EARLY].suites
        if suites is None:
            return
        value = excinfo.value
        message = str(getattr(value, "msg", "") or value)
        if isinstance(value, pytest.exit.Exception):
            suites.unreachable = suites.unreachable or value.returncode == ExitCode.UNREACHABLE
            suites.interrupted = suites.interrupted or (message.splitlines() or ["stopped"])[0]
            return
        plain = type(value) is KeyboardInterrupt or "keyboard-interrupt" in message
        suites.ctrl_c = suites.ctrl_c or plain
        suites.interrupted = suites.interrupted or ("Ctrl-C" if plain else message)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """pytest-xdist's controller: a worker finished; merge its outcome into the session's."""
    payload = getattr(node, "workeroutput", {}).get("runcancel")
    if not payload:
        return
    from runcancel.certify import merge_worker

    suites = _suites(node.config)
    outcome = merge_worker(suites.record, payload)
    suites.workers += 1
    suites.unreachable = suites.unreachable or outcome.unreachable
    if suites.probe is None or (outcome.probe is not None and outcome.probe.sent > suites.probe.sent):
        suites.probe = outcome.probe if outcome.probe is not None else suites.probe
    suites.worker_requests.update(outcome.requests)
    suites.transport_lines.extend(outcome.transport_lines)
    if suites.selection is None:
        suites.selection = outcome.selection


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Hand a worker's outcome to the controller; else weigh it all, write the reports and set the
    exit code (see `runcancel.certify.ExitCode`)."""
    config = session.config
    suites = config.stash[EARLY].suites if EARLY in config.stash else None
    if suites is None:
        return
    from runcancel import certify

    if hasattr(config, "workeroutput"):  # a pytest-xdist worker: the controller writes
        outcome = certify.WorkerOutcome(
            probe=suites.probe,
            selection=suites.selection,
            unreachable=suites.unreachable,
            requests=suites.requests.mapping() if suites.requests else {},
            transport_lines=suites.transport_lines,
        )
        config.workeroutput["runcancel"] = certify.worker_payload(suites.record, outcome)
        return
    if not (suites.record.verdicts or suites.record.seen):
        return
    if suites.finish is None:
        try:
            suites.finish = certify.prepare(suites.settings, config.rootpath, config.invocation_params.dir)
        except certify.CertifyError as exc:
            session.exitstatus = certify.ExitCode.USAGE
            _write_error(config, str(exc))
            return
    interrupted = suites.interrupted or _stopped(session)
    run = certify.run_info(
        suites.settings,
        started=config.stash[EARLY].started,
        command=_command(config, suites.settings),
        selection=suites.selection or certify.Selection(),
        interrupted=interrupted,
        workers=suites.workers,
    )
    probe_lines = suites.probe.summary_lines() if suites.probe is not None else []
    probe_lines = [*suites.transport_lines, *probe_lines]
    requests = {**suites.worker_requests, **(suites.requests.mapping() if suites.requests else {})}
    report = certify.conclude(suites.record, suites.finish, run, probe_lines, requests=requests)
    code = certify.exit_code(
        report,
        suites.finish,
        interrupted=interrupted,
        unreachable=suites.unreachable,
        ctrl_c=suites.ctrl_c,
        tests_failed=int(exitstatus) == pytest.ExitCode.TESTS_FAILED,
    )
    session.exitstatus = int(code)


def _stopped(session: pytest.Session) -> str | None:
    for reason in (session.shouldfail, session.shouldstop):
        if isinstance(reason, str) and reason:
            return reason
    return None


def _command(config: pytest.Config, settings: Settings) -> str:
    from runcancel.certify import reproduce_command, strip_options

    cli = config.pluginmanager.get_plugin(CLI_PLUGIN)
    if cli is not None:
        return reproduce_command(settings, cli=list(getattr(cli, "passthrough", [])))
    return reproduce_command(settings, pytest_args=strip_options(config.invocation_params.args))


def _write_error(config: pytest.Config, message: str) -> None:
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(message, red=True)


def pytest_terminal_summary(
    terminalreporter: TerminalReporter, exitstatus: int, config: pytest.Config
) -> None:
    suites = config.stash[EARLY].suites
    finish = suites.finish if suites is not None else None
    if suites is None or finish is None or finish.report is None:
        return
    from collections import Counter

    from runcancel.findings import folded_lines
    from runcancel.reports import format_clause_table, format_notes

    report, record = finish.report, suites.record
    terminalreporter.section("runcancel")
    counts = record.counts()
    terminalreporter.write_line(
        f"target {record.target_label}: {counts['passed']} clauses held, {counts['failed']} broken, "
        f"{counts['not verified']} not verified"
    )
    if report.era is not None:
        terminalreporter.write_line(f"era: {report.era['description']}")
    for line in format_clause_table(report, terminalreporter._tw.markup):
        terminalreporter.write_line(line)
    for line in folded_lines(record.additive(), prefix="additive: "):
        terminalreporter.write_line(line)
    if finish.baseline_label:
        by = Counter(f.severity.value for f in report.drift)
        terminalreporter.write_line(
            f"drift against {finish.baseline_label}: {by['breaking']} breaking, {by['additive']} additive, "
            f"{by['info']} info (see drift.md)"
        )
    for line in format_notes(report.notes, verbose=config.option.verbose > 0):
        terminalreporter.write_line(line)
    if report.run is not None:
        terminalreporter.write_line(f"reproduce: {report.run.command}")
    if finish.error is not None:
        terminalreporter.write_line(finish.error, red=True)
    elif finish.written:
        kept = f" (the complete report in {finish.kept} is kept)" if finish.kept else ""
        terminalreporter.write_line(f"reports{kept}: {', '.join(str(p) for p in finish.written)}")


# -- fixtures ----------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def runcancel_target(pytestconfig: pytest.Config) -> Iterator[Target]:
    """The target of this session: the built-in mock (started here, on a free port), a URL, or the
    cassettes (replay: no server, and the network blocked for the whole session)."""
    suites = _suites(pytestconfig)
    record, settings, recorder = suites.record, suites.settings, suites.recorder
    if recorder is not None and recorder.replaying:
        from runcancel.recording import REPLAY_BASE_URL, block_network

        target = _target(settings, REPLAY_BASE_URL, label=f"cassettes in {recorder.cassette_dir}")
        record.target_label = target.label
        with block_network():
            yield target
        return
    if not settings.uses_mock:
        target = _target(settings)
        _learn_secrets(suites, target)
        record.target_label = target.label
        if recorder is not None:
            recorder.recording_from(target.base_url, target.base_url)
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
        if recorder is not None:
            recorder.recording_from(target.base_url, "the built-in reference mock (runcancel.mock)")
        yield target
    finally:
        server.__exit__(None, None, None)


@pytest.fixture(scope="session")
def runcancel_client(runcancel_target: Target, pytestconfig: pytest.Config) -> Iterator[TargetClient]:
    """An httpx client on the target, sending the API key and `OpenAI-Beta: assistants=v2`."""
    suites = _suites(pytestconfig)
    observers = [suites.record.observe, *([suites.requests.observe] if suites.requests else [])]
    with runcancel_target.client(observers=observers) as client:
        yield client
        # What slowed the run down or went wrong on the way (429s waited out, resets retried, bounded
        # answers), for the terminal and the reports.
        suites.transport_lines = client.summary_lines()


@pytest.fixture(scope="session")
def _runcancel_session_arranger(
    runcancel_client: TargetClient, pytestconfig: pytest.Config
) -> Iterator[Arranger]:
    from runcancel.arrange import Arranger

    suites = _suites(pytestconfig)
    replaying = suites.recorder is not None and suites.recorder.replaying
    arranger = Arranger(
        runcancel_client,
        wait=suites.settings.arrange_timeout.value,
        poll_pause=0.0 if replaying else Arranger.poll_pause,
    )
    yield arranger
    arranger.cleanup()


@pytest.fixture(scope="session")
def runcancel_arrangers(
    _runcancel_session_arranger: Arranger, pytestconfig: pytest.Config
) -> Callable[[], SuiteArranger]:
    """A factory of arrangers that share the session's assistant; call `.cleanup()` on each when done.

    With cassettes each arranger creates (and deletes) its own assistant, so that every cassette
    holds all it needs and each test replays on its own.
    """
    from runcancel.arrange import ArrangeError
    from runcancel.suite import SuiteArranger

    shared = _runcancel_session_arranger
    suites = _suites(pytestconfig)
    own_assistant = suites.recorder is not None
    record = suites.record

    def make() -> SuiteArranger:
        arranger = SuiteArranger(
            shared.client, wait=shared.wait, poll_pause=shared.poll_pause, clean=record.clean, record=record
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
    suites = request.config.stash[EARLY].suites
    recorder = suites.recorder if suites is not None else None
    if recorder is None or not TALKING_FIXTURES.intersection(request.fixturenames):
        yield
        return
    test = request.node.nodeid.split("::", 1)[-1]
    with recorder.cassette(recorder.path(request.node.path.stem, test)):
        yield


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None, Any, Any]:
    """The requests a test sends are filed under its node id: the evidence of the clauses it judges."""
    suites = item.config.stash[EARLY].suites if EARLY in item.config.stash else None
    log = suites.requests if suites is not None else None
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
    suites = request.config.stash[EARLY].suites if EARLY in request.config.stash else None
    talks = bool(TALKING_FIXTURES.intersection(fixturedef.argnames))
    ours = getattr(fixturedef.func, "__module__", None) == __name__
    if suites is None or not talks or ours or fixturedef.scope == "function":
        return (yield)
    import contextlib

    with contextlib.ExitStack() as stack:
        if suites.requests is not None and fixturedef.scope == "module":
            stack.enter_context(suites.requests.running(request.node.nodeid.split("::", 1)[0]))
        if suites.recorder is not None:
            node_path = getattr(request.node, "path", None)
            suite = node_path.stem if node_path is not None and node_path.is_file() else "session"
            stack.enter_context(suites.recorder.cassette(suites.recorder.path(suite, fixturedef.argname)))
        return (yield)


@pytest.fixture(scope="session")
def runcancel_probe(pytestconfig: pytest.Config) -> ProbeRecord:
    """The probe suite's settings (seed, budget) and what it sent, for the terminal summary."""
    from runcancel.probe import ProbeRecord, ProbeSettings

    suites = _suites(pytestconfig)
    settings = suites.settings
    suites.probe = ProbeRecord(
        ProbeSettings(seed=settings.probe_seed.value, examples=settings.probe_examples.value),
        recorder=suites.recorder,
    )
    return suites.probe


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
    """Record a clause's outcome and turn it into the test's result: pass, fail or skip (not verified)."""
    record = _suites(request.config).record

    def judge(clause: str, outcome: Outcome | list[Finding]) -> None:
        __tracebackhide__ = True
        from runcancel.findings import Severity

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
