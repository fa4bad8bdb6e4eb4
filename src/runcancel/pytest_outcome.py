"""What the plugin's hooks do with a run of the suites: the selection, each test's report, the
interruptions, pytest-xdist's hand-over from workers to the controller, the session's end (weighed
and written by `runcancel.certify`) and the terminal's runcancel section.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from runcancel.pytest_state import (
    CLI_PLUGIN,
    EARLY,
    TALKING_FIXTURES,
    TARGET_FIXTURES,
    Suites,
    api_key,
    prepare,
    suites,
    target_for,
    usage,
    uses_suites,
)

if TYPE_CHECKING:
    from _pytest.reports import TestReport
    from _pytest.terminal import TerminalReporter

    from runcancel.certify import Selection
    from runcancel.session import SessionRecord
    from runcancel.settings import Settings

__all__ = [
    "check_collected",
    "finish_session",
    "header_lines",
    "judge_report",
    "merge_worker",
    "terminal_summary",
]


# -- collection --------------------------------------------------------------------------------------


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


def check_collected(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Once the selection is known: if a test uses the suites, read the settings, check the reports
    folder, the cassettes and the target, in one line each. Otherwise do nothing at all."""
    used = [item for item in items if uses_suites(item)]
    if not used or config.option.collectonly:
        return
    state = suites(config)
    state.selection = _selection(config, used)
    prepare(config, state)
    settings = state.settings
    wanted = any(TARGET_FIXTURES.intersection(getattr(item, "fixturenames", ())) for item in used)
    if wanted and state.recorder is not None and settings.replays:
        from runcancel.cassettes import CassetteError

        try:
            state.recorder.check_ready()
        except CassetteError as exc:
            usage(f"runcancel: --target replay: {exc}", config=config)
    if not wanted or settings.uses_mock or settings.replays:
        return
    from runcancel.targets import TargetError

    try:
        with target_for(settings, config=config).client() as client:
            client.check_reachable()
    except TargetError as exc:
        state.unreachable = True
        usage(str(exc), code=4, config=config)


def header_lines(config: pytest.Config) -> list[str] | None:
    """The suites' header: the target, where the key came from, the probe's seed and budget."""
    state = config.stash[EARLY].suites
    if state is None:
        return None
    s = state.settings
    if s.api_key.value:
        key = f"API key from {s.api_key.source}"
    elif api_key(s) is not None:
        key = "API key the built-in mock's"
    else:
        key = "no API key sent (give one with --api-key or OPENAI_API_KEY)"
    where = "the built-in reference mock" if s.uses_mock else s.target.value
    probe = (
        f"runcancel probe: seed {s.probe_seed.value} (from {s.probe_seed.source}), "
        f"{s.probe_examples.value} examples (from {s.probe_examples.source})"
    )
    recorder = state.recorder
    if recorder is not None and recorder.replaying:
        return [
            f"runcancel: replaying {recorder.cassette_dir}, network blocked (from {s.target.source})",
            probe,
        ]
    recording = f"; recording into {recorder.cassette_dir} (record mode {recorder.mode})" if recorder else ""
    return [f"runcancel: target {where} (from {s.target.source}), {key}{recording}", probe]


# -- each test ---------------------------------------------------------------------------------------


def judge_report(item: pytest.Item, call: pytest.CallInfo[None], report: TestReport) -> None:
    """A target that fails mid-run (gone, too slow) reads as one paragraph, not a traceback.

    So does a request no cassette answers, an unusable cassette, or a connection tried during replay.
    """
    state = item.config.stash[EARLY].suites
    if state is None:
        return
    from runcancel.targets import TargetError, TransportFault

    if call.excinfo is not None and call.excinfo.errisinstance(TransportFault):
        # The target accepted the connection, then gave no complete answer: a finding of this test,
        # with the request; the run goes on (a target that never accepted one stops it, below).
        fault = call.excinfo.value
        assert isinstance(fault, TransportFault)
        report.longrepr = str(fault)
        clause = getattr(item, "callspec", None) and item.callspec.params.get("clause")  # type: ignore[attr-defined]
        if isinstance(clause, str):
            state.record.record(clause, [fault.finding.under(clause)], item.nodeid)
    elif call.excinfo is not None and call.excinfo.errisinstance(TargetError):
        report.longrepr = str(call.excinfo.value)
        # A target that is gone would make every later test wait out the same time-out: the run stops
        # here, exits 4 (target unreachable) and every report says it was interrupted, and why.
        state.unreachable = True
        first = (str(call.excinfo.value).splitlines() or ["no answer"])[0].removeprefix("runcancel: ")
        item.session.shouldfail = (
            f"the target stopped answering in {item.nodeid} ({first}); the clauses not reached are "
            "not verified"
        )
    elif call.excinfo is not None and state.recorder is not None:
        # A test file outside the rootdir has a node id without its file: name the file then.
        nodeid = f"{item.path}{item.nodeid}" if item.nodeid.startswith("::") else item.nodeid
        explained = state.recorder.explain(call.excinfo.value, nodeid)
        if explained is not None:
            report.longrepr = explained
    _record_unjudged(item, report, state.record)


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


# -- pytest-xdist ------------------------------------------------------------------------------------


def merge_worker(node: Any) -> None:
    """The controller: a worker finished; merge its outcome into the session's."""
    payload = getattr(node, "workeroutput", {}).get("runcancel")
    if not payload:
        return
    from runcancel import certify

    state = suites(node.config)
    outcome = certify.merge_worker(state.record, payload)
    state.workers += 1
    state.unreachable = state.unreachable or outcome.unreachable
    if state.probe is None or (outcome.probe is not None and outcome.probe.sent > state.probe.sent):
        state.probe = outcome.probe if outcome.probe is not None else state.probe
    state.worker_requests.update(outcome.requests)
    state.transport_lines.extend(outcome.transport_lines)
    if state.selection is None:
        state.selection = outcome.selection


def _hand_to_controller(config: pytest.Config, state: Suites) -> None:
    from runcancel import certify

    outcome = certify.WorkerOutcome(
        probe=state.probe,
        selection=state.selection,
        unreachable=state.unreachable,
        requests=state.requests.mapping() if state.requests else {},
        transport_lines=state.transport_lines,
    )
    config.workeroutput["runcancel"] = certify.worker_payload(state.record, outcome)  # type: ignore[attr-defined]


# -- the session's end -------------------------------------------------------------------------------


def finish_session(session: pytest.Session, exitstatus: int) -> None:
    """Hand a worker's outcome to the controller; else weigh it all, write the reports and set the
    exit code (see `runcancel.certify.ExitCode`)."""
    config = session.config
    state = config.stash[EARLY].suites if EARLY in config.stash else None
    if state is None:
        return
    from runcancel import certify

    if hasattr(config, "workeroutput"):  # a pytest-xdist worker: the controller writes
        _hand_to_controller(config, state)
        return
    if not (state.record.verdicts or state.record.seen):
        if state.unreachable:
            session.exitstatus = certify.ExitCode.UNREACHABLE
        return
    if state.finish is None:
        try:
            state.finish = certify.prepare(state.settings, config.rootpath, config.invocation_params.dir)
        except certify.CertifyError as exc:
            session.exitstatus = certify.ExitCode.USAGE
            reporter = config.pluginmanager.get_plugin("terminalreporter")
            if reporter is not None:
                reporter.write_line(str(exc), red=True)
            return
    interrupted = state.interrupted or _stopped(session)
    run = certify.run_info(
        state.settings,
        started=config.stash[EARLY].started,
        command=_command(config, state.settings),
        selection=state.selection or certify.Selection(),
        interrupted=interrupted,
        workers=state.workers,
    )
    probe_lines = state.probe.summary_lines() if state.probe is not None else []
    probe_lines = [*state.transport_lines, *probe_lines]
    requests = {**state.worker_requests, **(state.requests.mapping() if state.requests else {})}
    report = certify.conclude(state.record, state.finish, run, probe_lines, requests=requests)
    code = certify.exit_code(
        report,
        state.finish,
        interrupted=interrupted,
        unreachable=state.unreachable,
        ctrl_c=state.ctrl_c,
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


def terminal_summary(terminalreporter: TerminalReporter, config: pytest.Config) -> None:
    """The runcancel section: the counts, the era, the clause table, additive drift, notes, where
    the reports went."""
    state = config.stash[EARLY].suites
    finish = state.finish if state is not None else None
    if state is None or finish is None or finish.report is None:
        return
    from collections import Counter

    from runcancel.findings import folded_lines
    from runcancel.reports import format_clause_table, format_counts_line, format_notes

    report, record = finish.report, state.record
    terminalreporter.section("runcancel")
    terminalreporter.write_line(format_counts_line(report))
    if report.era is not None:
        terminalreporter.write_line(f"era: {report.era['description']}")
    for line in format_clause_table(report, terminalreporter._tw.markup):
        terminalreporter.write_line(line)
    additive = [f for f in record.additive() if not any(e.names(f) for e in finish.accepted)]
    for line in folded_lines(additive, prefix="additive: "):
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
