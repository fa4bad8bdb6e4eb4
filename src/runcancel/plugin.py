"""The pytest plugin: options, markers and thin fixtures. It only wires; the work is in the library.

Settings follow one chain (see `runcancel.settings`): option -> environment -> ini -> default.
Heavy imports (the mock server, uvicorn) happen inside the fixture that needs them.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import pytest

from runcancel.arrange import ArrangedRun, ArrangeError, Arranger, NotArranged
from runcancel.findings import Finding, NotVerified, Severity
from runcancel.rules import Outcome
from runcancel.session import SessionRecord
from runcancel.settings import CHAIN, DEFAULT_API_KEY, Settings, SettingsError, resolve_settings
from runcancel.targets import Target, TargetClient, TargetError

if TYPE_CHECKING:
    from _pytest.reports import TestReport
    from _pytest.terminal import TerminalReporter

    from runcancel.probe import ProbeRecord
    from runcancel.recording import Recorder

SESSION = pytest.StashKey[SessionRecord]()
RECORDER: pytest.StashKey[Recorder] = pytest.StashKey()
PROBE: pytest.StashKey[ProbeRecord] = pytest.StashKey()
FINISH: pytest.StashKey[Finish] = pytest.StashKey()
TARGET_FIXTURES = {"runcancel_target", "runcancel_client", "arrange"}
# Fixtures through which a test or a fixture reaches the target: its requests go to a cassette.
TALKING_FIXTURES = TARGET_FIXTURES | {"runcancel_arrangers"}


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
    group.addoption(
        "--record-mode",
        default=None,
        metavar="MODE",
        help="Record the target's answers into cassettes, one per test: once, new_episodes, all, rewrite "
        "(pytest-recording's modes; none = --target replay). Env: RUNCANCEL_RECORD_MODE. Default: off.",
    )
    group.addoption(
        "--cassette-dir",
        default=None,
        metavar="DIR",
        help="Folder of the cassettes (--target replay, --record-mode). Env: RUNCANCEL_CASSETTE_DIR. "
        "Default: cassettes/ in the rootdir.",
    )
    group.addoption(
        "--probe-examples",
        default=None,
        metavar="N",
        help="Budget of the probe suite's schemathesis fuzzing phase (cases generated). "
        "Env: RUNCANCEL_PROBE_EXAMPLES. Default: 100.",
    )
    group.addoption(
        "--probe-seed",
        default=None,
        metavar="SEED",
        help="Seed of the probe suite's generated cases, or 'random'. Env: RUNCANCEL_PROBE_SEED. "
        "Default: a fixed seed, so runs repeat (and replay).",
    )
    group.addoption(
        "--fail-on",
        default=None,
        metavar="breaking|additive|never",
        help="Which findings fail the run (exit code); the reports are written either way. "
        "Env: RUNCANCEL_FAIL_ON. Default: breaking.",
    )
    group.addoption(
        "--drift-baseline",
        default=None,
        metavar="DIR",
        help="Compare the target's answers with the cassettes in DIR (fields, types, statuses, "
        "messages, headers). Env: RUNCANCEL_DRIFT_BASELINE.",
    )
    group.addoption(
        "--reports-dir",
        default=None,
        metavar="DIR",
        help="Where findings.json, drift.md, certification.md and certification.html go. "
        "Env: RUNCANCEL_REPORTS_DIR. Default: reports (below the rootdir).",
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
    from runcancel.scrub import Scrubber

    scrubber = Scrubber(
        _api_key(settings),
        organization=os.environ.get("OPENAI_ORG_ID"),
        project=os.environ.get("OPENAI_PROJECT_ID"),
    )
    config.stash[SESSION] = SessionRecord(settings, target_label=label, scrubber=scrubber)
    if settings.replays or settings.records:
        from runcancel.recording import Recorder

        config.stash[RECORDER] = Recorder.from_environment(
            _cassette_dir(config, settings),
            settings.record_mode.value or "none",
            _api_key(settings),
            os.environ,
        )
        config.add_cleanup(config.stash[RECORDER].scrub_logs())


def _prepare_finish(config: pytest.Config, settings: Settings) -> Finish:
    """Check, before anything runs, that the reports can be written and the baseline read: a run
    must not end with its results lost to a folder that was never usable."""
    from runcancel.reports import ReportError, check_writable

    folder = Path(settings.reports_dir.value)
    folder = folder if folder.is_absolute() else config.rootpath / folder
    try:
        check_writable(folder)
    except ReportError as exc:
        raise pytest.UsageError(str(exc)) from None
    baseline: list[Any] = []
    notes: list[str] = []
    if settings.drift_baseline.value:
        from runcancel.drift import BaselineError, load_baseline

        where = Path(settings.drift_baseline.value)
        try:
            baseline, notes = load_baseline(
                where if where.is_absolute() else config.invocation_params.dir / where
            )
        except BaselineError as exc:
            raise pytest.UsageError(str(exc)) from None
    return Finish(folder, settings.drift_baseline.value, baseline, notes)


@dataclass
class Finish:
    """What the end of the session needs: where reports go, and the baseline's answers, if any."""

    reports_dir: Path
    baseline_label: str | None
    baseline: list[Any]
    notes: list[str]
    report: Any = None
    written: list[Path] | None = None
    error: str | None = None


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Weigh everything seen (clauses, drift, whole-target verdicts) under --fail-on, write the
    reports, and set the exit code the policy decides."""
    config = session.config
    record, finish = config.stash.get(SESSION, None), config.stash.get(FINISH, None)
    if record is None or finish is None or not (record.verdicts or record.seen):
        return
    from runcancel.drift import Answer, compare, target_verdicts
    from runcancel.reports import ReportError, build_report, write_reports

    _check_runs_seen(record)
    answers = [Answer.of_seen(seen) for seen in record.seen]
    drift = compare(finish.baseline, answers) if finish.baseline_label else []
    probe = config.stash.get(PROBE, None)
    notes = [*finish.notes, *(probe.summary_lines() if probe is not None else [])]
    if record.unseen:
        notes.append(f"{record.unseen} answers beyond the first {len(record.seen)} were not kept for drift")
    report = build_report(
        record,
        fail_on=record.settings.fail_on.value,
        target_verdicts=target_verdicts(answers),
        drift=[record.clean_finding(f) for f in drift],
        baseline=finish.baseline_label,
        notes=notes,
    )
    finish.report = report
    try:
        finish.written = write_reports(report, finish.reports_dir)
    except ReportError as exc:
        finish.error = str(exc)
    session.exitstatus = _policy_exit(int(session.exitstatus), report, record.settings.fail_on.value, finish)


ARRANGING = "(runs created and read while arranging)"


def _check_runs_seen(record: SessionRecord) -> None:
    """Every Run the target answered outside a cancel (created, read back) is checked too: its schema
    and the rules of any run. What breaks is recorded under its clause; it fails the run by policy."""
    from runcancel.checks import run_object_findings
    from runcancel.findings import Evidence

    found: dict[str, list[Finding]] = {}
    for seen in record.seen:
        body = seen.body
        if not (200 <= seen.status < 300 and isinstance(body, dict) and body.get("object") == "thread.run"):
            continue
        if seen.url.rstrip("/").endswith("/cancel"):
            continue  # cancel answers are the suites' own business
        for f in run_object_findings(body, Evidence(seen.method, seen.url, seen.status)):
            found.setdefault(f.clause, []).append(f)
    for clause, findings in found.items():
        record.record(clause, findings, ARRANGING)


def _policy_exit(status: int, report: Any, fail_on: str, finish: Finish) -> int:
    """--fail-on decides: `never` turns failed tests into exit 0; otherwise what the report weighs
    as failing (additive findings under `additive`, drift, a whole-target verdict) fails the run."""
    if finish.error is not None:
        return int(pytest.ExitCode.INTERNAL_ERROR)
    if status not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED, pytest.ExitCode.NO_TESTS_COLLECTED):
        return status
    if fail_on == "never":
        return int(pytest.ExitCode.OK)
    return int(pytest.ExitCode.TESTS_FAILED) if report.fail else status


def _cassette_dir(config: pytest.Config, settings: Settings) -> Path:
    """A folder given on the command line or in the environment is relative to where pytest was started;
    the configured or default one to the rootdir."""
    given = Path(settings.cassette_dir.value).expanduser()
    if settings.cassette_dir.source == "default" or settings.cassette_dir.source.startswith("config"):
        return config.rootpath / given
    return config.invocation_params.dir / given


def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    """Fail fast, in one line, when the suites are aimed at a target that cannot be used, or their
    results could not be written. Only runs that use the suites' fixtures are concerned: pytest runs
    of other projects in the same environment get no reports folder and no network traffic."""
    settings = config.stash[SESSION].settings
    used = {name for item in items for name in getattr(item, "fixturenames", ())}
    if used & (TALKING_FIXTURES | {"verdict"}) and not config.option.collectonly:
        config.stash[FINISH] = _prepare_finish(config, settings)
    wanted = bool(TARGET_FIXTURES & used)
    if wanted and settings.replays and not config.option.collectonly:
        from runcancel.cassettes import CassetteError

        try:
            config.stash[RECORDER].check_ready()
        except CassetteError as exc:
            raise pytest.UsageError(f"runcancel: --target replay: {exc}") from None
    if not wanted or settings.uses_mock or settings.replays or config.option.collectonly:
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
    return settings.api_key.value or DEFAULT_API_KEY


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, TestReport, TestReport]:
    """A target that fails mid-run (gone, too slow) reads as one paragraph, not a traceback.

    So does a request no cassette answers, an unusable cassette, or a connection tried during replay.
    """
    report = yield
    if call.excinfo is not None and call.excinfo.errisinstance(TargetError):
        report.longrepr = str(call.excinfo.value)
        # A target that is gone or too slow would make every later test wait out the same time-out.
        item.session.shouldfail = (
            "runcancel: the target failed to answer; the clauses not reached are not verified"
        )
    elif call.excinfo is not None and RECORDER in item.config.stash:
        explained = item.config.stash[RECORDER].explain(call.excinfo.value, item.nodeid)
        if explained is not None:
            report.longrepr = explained
    _record_unjudged(item, report)
    return report


def _record_unjudged(item: pytest.Item, report: TestReport) -> None:
    """A clause test that ended before its verdict (a run it could not arrange, a target error) is
    recorded as not verified, with the reason, so reports never show it as merely unchecked."""
    clause = getattr(item, "callspec", None) and item.callspec.params.get("clause")  # type: ignore[attr-defined]
    record = item.config.stash.get(SESSION, None)
    if not isinstance(clause, str) or record is None or not (report.skipped or report.failed):
        return
    if report.when == "teardown" or any(v.nodeid == item.nodeid for v in record.verdicts):
        return
    if report.skipped and isinstance(report.longrepr, tuple):
        reason = str(report.longrepr[2]).removeprefix("Skipped: ").removeprefix("not verified: ")
    else:
        reason = "the test ended before judging: " + (report.longreprtext.strip().splitlines() or ["?"])[0]
    record.record(clause, NotVerified(clause, reason), item.nodeid)


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    record = config.stash.get(SESSION, None)
    if record is None:
        return None
    s = record.settings
    key = f"from {s.api_key.source}" if s.api_key.value else "the built-in mock's"
    where = "the built-in reference mock" if s.uses_mock else s.target.value
    recorder = config.stash.get(RECORDER, None)
    probe = (
        f"runcancel probe: seed {s.probe_seed.value} (from {s.probe_seed.source}), "
        f"{s.probe_examples.value} examples (from {s.probe_examples.source})"
    )
    if recorder is not None and recorder.replaying:
        return [
            f"runcancel: replaying {recorder.cassette_dir}, network blocked (from {s.target.source})",
            probe,
        ]
    recording = (
        f"; recording into {recorder.cassette_dir} (--record-mode {recorder.mode})" if recorder else ""
    )
    return [f"runcancel: target {where} (from {s.target.source}), API key {key}{recording}", probe]


def pytest_terminal_summary(
    terminalreporter: TerminalReporter, exitstatus: int, config: pytest.Config
) -> None:
    record, finish = config.stash.get(SESSION, None), config.stash.get(FINISH, None)
    if record is None or finish is None or finish.report is None:
        return
    from runcancel.reports import format_clause_table

    report = finish.report
    terminalreporter.section("runcancel")
    counts = record.counts()
    terminalreporter.write_line(
        f"target {record.target_label}: {counts['passed']} clauses held, {counts['failed']} broken, "
        f"{counts['not verified']} not verified"
    )
    for line in format_clause_table(report):
        terminalreporter.write_line(line)
    for finding in record.additive():
        terminalreporter.write_line(f"additive: [{finding.clause}] {finding.path}: {finding.observed}")
    if finish.baseline_label:
        by = Counter(f.severity.value for f in report.drift)
        terminalreporter.write_line(
            f"drift against {finish.baseline_label}: {by['breaking']} breaking, {by['additive']} additive, "
            f"{by['info']} info (see drift.md)"
        )
    for line in report.notes:
        terminalreporter.write_line(line)
    if finish.error is not None:
        terminalreporter.write_line(finish.error, red=True)
    elif finish.written:
        terminalreporter.write_line(f"reports: {', '.join(str(p) for p in finish.written)}")


# -- fixtures ----------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def runcancel_target(pytestconfig: pytest.Config) -> Iterator[Target]:
    """The target of this session: the built-in mock (started here, on a free port), a URL, or the
    cassettes (replay: no server, and the network blocked for the whole session)."""
    record = pytestconfig.stash[SESSION]
    settings = record.settings
    recorder = pytestconfig.stash.get(RECORDER, None)
    if recorder is not None and recorder.replaying:
        from runcancel.recording import REPLAY_BASE_URL, block_network

        target = _target(settings, REPLAY_BASE_URL, label=f"cassettes in {recorder.cassette_dir}")
        record.target_label = target.label
        with block_network():
            yield target
        return
    if not settings.uses_mock:
        target = _target(settings)
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
    with runcancel_target.client(observers=[pytestconfig.stash[SESSION].observe]) as client:
        yield client


@pytest.fixture(scope="session")
def _runcancel_session_arranger(
    runcancel_client: TargetClient, pytestconfig: pytest.Config
) -> Iterator[Arranger]:
    recorder = pytestconfig.stash.get(RECORDER, None)
    arranger = Arranger(
        runcancel_client,
        wait=pytestconfig.stash[SESSION].settings.arrange_timeout.value,
        poll_pause=0.0 if recorder is not None and recorder.replaying else Arranger.poll_pause,
    )
    yield arranger
    arranger.cleanup()


@dataclass
class SuiteArranger(Arranger):
    """An Arranger whose failures speak pytest: not reachable -> skip (not verified), refused -> fail.

    Its messages quote the target's answers, which may echo a key: `clean` scrubs them first.
    """

    clean: Callable[[str], str] = str
    record: SessionRecord | None = None

    def run(self, status: str, thread_id: str | None = None) -> ArrangedRun:
        try:
            return super().run(status, thread_id)
        except NotArranged as exc:
            pytest.skip(self.clean(f"not verified: could not arrange a {status} run: {exc}"))
        except ArrangeError as exc:
            self.refused(exc)

    def thread(self) -> str:
        try:
            return super().thread()
        except ArrangeError as exc:
            self.refused(exc)

    def refused(self, exc: ArrangeError) -> NoReturn:
        """A target whose every answer says it is retired skips (one verdict on top), else fails."""
        retired = self.record is not None and _retired(self.record)
        if retired:
            pytest.skip("not verified: endpoint retired or not implemented (see the runcancel summary)")
        pytest.fail(self.clean(f"runcancel: {exc}"), pytrace=False)


def _retired(record: SessionRecord) -> bool:
    from runcancel.drift import Answer, target_verdicts

    verdicts = target_verdicts([Answer.of_seen(seen) for seen in record.seen])
    return any(v.kind == "endpoint-retired" for v in verdicts)


@pytest.fixture(scope="session")
def runcancel_arrangers(
    _runcancel_session_arranger: Arranger, pytestconfig: pytest.Config
) -> Callable[[], SuiteArranger]:
    """A factory of arrangers that share the session's assistant; call `.cleanup()` on each when done.

    With cassettes each arranger creates (and deletes) its own assistant, so that every cassette
    holds all it needs and each test replays on its own.
    """
    shared = _runcancel_session_arranger
    own_assistant = RECORDER in pytestconfig.stash

    record = pytestconfig.stash[SESSION]

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
    recorder = request.config.stash.get(RECORDER, None)
    if recorder is None or not TALKING_FIXTURES & set(request.fixturenames):
        yield
        return
    test = request.node.nodeid.split("::", 1)[-1]
    with recorder.cassette(recorder.path(request.node.path.stem, test)):
        yield


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(
    fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest
) -> Generator[None, Any, Any]:
    """A module- or session-scoped fixture that talks to the target records into its own cassette."""
    recorder = request.config.stash.get(RECORDER, None)
    talks = TALKING_FIXTURES & set(fixturedef.argnames)
    ours = getattr(fixturedef.func, "__module__", None) == __name__
    if recorder is None or fixturedef.scope == "function" or not talks or ours:
        return (yield)
    node_path = getattr(request.node, "path", None)
    suite = node_path.stem if node_path is not None and node_path.is_file() else "session"
    with recorder.cassette(recorder.path(suite, fixturedef.argname)):
        return (yield)


@pytest.fixture(scope="session")
def runcancel_probe(pytestconfig: pytest.Config) -> ProbeRecord:
    """The probe suite's settings (seed, budget) and what it sent, for the terminal summary."""
    from runcancel.probe import ProbeRecord, ProbeSettings

    settings = pytestconfig.stash[SESSION].settings
    record = ProbeRecord(
        ProbeSettings(seed=settings.probe_seed.value, examples=settings.probe_examples.value),
        recorder=pytestconfig.stash.get(RECORDER, None),
    )
    pytestconfig.stash[PROBE] = record
    return record


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
