"""The outcome of one run of the suites: clause states weighed under the policy, whole-target
verdicts, what was selected and how the run ended, the reports written, the exit code.

Shared by the pytest plugin (serial runs, and pytest-xdist's controller, which alone writes) and
the command line. Nothing here imports pytest: the plugin hands over what pytest knows.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import pickle
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runcancel.accept import Entry
from runcancel.findings import Evidence, Finding
from runcancel.runinfo import RunInfo, ShownSetting
from runcancel.session import SessionRecord
from runcancel.settings import SETTINGS, Settings, Spec

if TYPE_CHECKING:
    from runcancel.reports import Report

__all__ = [
    "ARRANGING",
    "PARTIAL_FOLDER",
    "CertifyError",
    "ExitCode",
    "Finish",
    "Selection",
    "check_runs_seen",
    "conclude",
    "exit_code",
    "key_source",
    "load_accepted_setting",
    "merge_worker",
    "prepare",
    "reproduce_command",
    "run_info",
    "shown_settings",
    "strip_options",
    "worker_payload",
]

ARRANGING = "(runs created and read while arranging)"
# Where a partial or interrupted run writes when the reports folder holds a complete earlier report.
PARTIAL_FOLDER = "partial"


class ExitCode(enum.IntEnum):
    """The exit codes of `runcancel certify` and of a pytest run that uses the suites."""

    PASSED = 0  # the run passes under the policy (--fail-on)
    FAILED = 1  # the run fails under the policy
    USAGE = 2  # a bad setting, option or folder: nothing was checked
    INTERRUPTED = 3  # stopped before the end (Ctrl-C, -x), or its reports could not be written
    UNREACHABLE = 4  # the target could not be reached when the run started, or stopped answering in it


class CertifyError(Exception):
    """The run cannot start as set up (reports folder, baseline); one paragraph, exit 2."""


# -- before the run ------------------------------------------------------------------------------------


@dataclass
class Finish:
    """What the end of the session needs: where reports go, and the baseline's answers, if any."""

    reports_dir: Path
    baseline_label: str | None
    baseline: list[Any]
    notes: list[str]
    report: Report | None = None
    written: list[Path] | None = None
    error: str | None = None
    kept: Path | None = None  # a complete earlier report left in place by a partial run
    accepted: list[Entry] = field(default_factory=list)  # the accepted deviations (--accept)
    accept_file: str | None = None


def prepare(settings: Settings, rootdir: Path, invocation_dir: Path) -> Finish:
    """Check, before anything runs, that the reports can be written, the baseline read and the
    accepted deviations loaded: a run must not end with its results lost to a folder that was never
    usable, nor weighed against a file nobody could read."""
    from runcancel.reports import ReportError, check_writable

    folder = Path(settings.reports_dir.value)
    folder = folder if folder.is_absolute() else rootdir / folder
    try:
        check_writable(folder)
    except ReportError as exc:
        raise CertifyError(str(exc)) from None
    baseline: list[Any] = []
    notes: list[str] = []
    if settings.drift_baseline.value:
        from runcancel.drift import BaselineError, load_baseline

        where = Path(settings.drift_baseline.value)
        try:
            baseline, notes = load_baseline(where if where.is_absolute() else invocation_dir / where)
        except BaselineError as exc:
            raise CertifyError(str(exc)) from None
    finish = Finish(folder, settings.drift_baseline.value, baseline, notes)
    if settings.accept.value:
        finish.accepted, finish.accept_file = load_accepted_setting(settings, invocation_dir)
    return finish


def load_accepted_setting(settings: Settings, invocation_dir: Path) -> tuple[list[Entry], str]:
    """The entries of the `--accept` file (relative to where the run was started), checked against
    the catalogue; CertifyError, in one paragraph, for a file that cannot be used."""
    from runcancel.accept import AcceptError, load_accepted
    from runcancel.clauses import all_clauses

    given = Path(str(settings.accept.value))
    where = given if given.is_absolute() else invocation_dir / given
    source = settings.accept.source
    try:
        return load_accepted(where, all_clauses(), given=f"{source} {given}"), str(given)
    except AcceptError as exc:
        raise CertifyError(str(exc)) from None


@dataclass(frozen=True)
class Selection:
    """Which clauses the selected tests can verify, and why the selection is not the whole suites."""

    clauses: frozenset[str] = frozenset()
    reasons: tuple[str, ...] = ()

    @classmethod
    def of(cls, clauses: Iterable[str], reasons: Iterable[str] = ()) -> Selection:
        return cls(frozenset(clauses), tuple(reasons))

    def not_selected(self) -> tuple[str, ...]:
        """Catalogued clauses no selected test verifies, in the catalogue's order."""
        from runcancel.clauses import all_clauses

        return tuple(c for c in all_clauses() if c not in self.clauses)

    @property
    def kind(self) -> str:
        return "partial" if self.reasons or self.not_selected() else "full"


# -- after the run -------------------------------------------------------------------------------------


def check_runs_seen(record: SessionRecord) -> None:
    """Every Run the target answered outside a cancel (created, read back) is checked too: its schema
    and the rules of any run. What breaks is recorded under its clause; it fails the run by policy."""
    from runcancel.checks import run_object_findings

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


def conclude(
    record: SessionRecord,
    finish: Finish,
    run: RunInfo,
    probe_lines: Sequence[str] = (),
    requests: Mapping[str, Sequence[Evidence]] | None = None,
) -> Report:
    """Weigh everything seen (clauses, drift, whole-target verdicts) under the policy, and write the
    reports. A partial or interrupted run never replaces a complete earlier report: it goes to
    `<reports>/partial/` then, and says so."""
    from runcancel.arrange import CREATE_CLAUSE, create_status_outcome
    from runcancel.drift import Answer, compare
    from runcancel.eras import session_era
    from runcancel.recordings.runs import runs_in
    from runcancel.reports import ReportError, build_report, write_reports
    from runcancel.verdicts import target_verdicts

    check_runs_seen(record)
    if any(seen.method == "POST" and not seen.url.rstrip("/").endswith("/cancel") for seen in record.seen):
        record.record(CREATE_CLAUSE, create_status_outcome(record.seen), ARRANGING)  # creates were sent
    # A clause no selected test verifies may still be judged on the session's answers (the Runs seen,
    # the creates): it is then not "not selected", and every report counts the same clauses so.
    judged = {v.clause for v in record.verdicts}
    run = dataclasses.replace(run, not_selected=tuple(c for c in run.not_selected if c not in judged))
    answers = [Answer.of_seen(seen) for seen in record.seen]
    drift = compare(finish.baseline, answers) if finish.baseline_label else []
    notes = [*finish.notes, *probe_lines]
    if record.unseen:
        notes.append(f"{record.unseen} answers beyond the first {len(record.seen)} were not kept for drift")
    if not run.full:
        notes.insert(0, _partial_note(run))
    source, sent = key_source(record.settings)
    report = build_report(
        record,
        fail_on=record.settings.fail_on.value,
        target_verdicts=target_verdicts(record.seen, key_source=source, key_sent=sent),
        drift=[record.clean_finding(f) for f in drift],
        baseline=finish.baseline_label,
        notes=notes,
        started=run.started,
        finished=run.finished,
        run=run,
        requests=requests,
        accepted=finish.accepted,
        accept_file=finish.accept_file,
    )
    era = session_era(run for seen in record.seen for run in runs_in(seen.body))
    report = dataclasses.replace(report, era=era.as_json() if era is not None else None)
    finish.report = report
    folder = finish.reports_dir
    if not run.full and _complete_report_in(folder):
        finish.kept, folder = folder, folder / PARTIAL_FOLDER
    try:
        finish.written = write_reports(report, folder)
    except ReportError as exc:
        finish.error = str(exc)
    return report


def key_source(settings: Settings) -> tuple[str, bool]:
    """Where the key the suites sent came from, for the verdicts (never the key itself), and whether
    they sent one at all (a target other than the built-in mock gets none unless one is given)."""
    from runcancel.verdicts import key_for

    key, source = key_for(settings.api_key.value, settings.api_key.source, target=settings.target.value)
    return source, key is not None


def _partial_note(run: RunInfo) -> str:
    if run.interrupted:
        return f"interrupted: {run.interrupted}; not a full certificate"
    shown = ", ".join(run.not_selected[:6]) + (" ..." if len(run.not_selected) > 6 else "")
    return (
        f"partial run: {len(run.not_selected)} clauses not selected"
        + (f" ({shown})" if shown else "")
        + "; not a full certificate"
    )


def _complete_report_in(folder: Path) -> bool:
    """Whether `folder/findings.json` is the report of a whole, uninterrupted run (or one from before
    runs were described: kept, to be safe)."""
    try:
        document = json.loads((folder / "findings.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    run = document.get("run") if isinstance(document, dict) else None
    if not isinstance(run, dict):
        return isinstance(document, dict) and "verdict" in document
    return run.get("selection") == "full" and run.get("interrupted") is None


def exit_code(
    report: Report | None,
    finish: Finish | None,
    *,
    interrupted: str | None,
    unreachable: bool,
    ctrl_c: bool,
    tests_failed: bool = False,
) -> ExitCode:
    """The run's exit code: an unreachable target (4: at the start, or one that stopped accepting
    connections mid-way, which stops the run) over Ctrl-C (3) over a failure under the policy (1: a
    finding the policy weighs, or a failed test; accepted deviations weigh nothing) over any other
    interruption (3, -x with `--fail-on never`, say); reports that could not be written are 3.
    `--fail-on never` fails nothing."""
    if unreachable:
        return ExitCode.UNREACHABLE
    if ctrl_c or (finish is not None and finish.error is not None):
        return ExitCode.INTERRUPTED
    never = report is not None and report.fail_on == "never"
    if report is not None and (report.fails_on_findings or (tests_failed and not never)):
        return ExitCode.FAILED
    if interrupted:
        return ExitCode.INTERRUPTED
    return ExitCode.PASSED


# -- what the run was ----------------------------------------------------------------------------------


def _shown(spec: Spec, value: Any) -> str:
    if spec.name == "api_key":
        return "given" if value else "not given"
    if spec.name == "header":
        return ", ".join(f"{name}: ***" for name, _value in value) or "none"
    if spec.name in ("target", "provider_state") and value is not None:
        from urllib.parse import urlsplit

        from runcancel.scrub import scrub_url
        from runcancel.targets.urls import redact_query

        if "://" not in str(value):
            return str(value)
        query = urlsplit(str(value)).query  # kept (Azure's api-version), credential values redacted
        return scrub_url(str(value)) + (f"?{redact_query(query)}" if query else "")
    if value is None:
        return "none"
    return str(value).lower() if isinstance(value, bool) else str(value)


def shown_settings(settings: Settings) -> dict[str, ShownSetting]:
    """Every setting as the reports show it: secrets masked, with where it came from."""
    values = dict(settings.items())
    return {
        spec.name: ShownSetting(_shown(spec, values[spec.name].value), values[spec.name].source)
        for spec in SETTINGS
    }


def _given(spec: Spec, settings: Settings) -> list[str]:
    """The flags that give this setting its value in a reproducing command ([] when default)."""
    chosen = getattr(settings, spec.name)
    always = spec.name in ("target", "probe_seed", "probe_examples")
    if spec.secret and spec.name == "api_key":
        return []
    if chosen.source == "default" and not always:
        return []
    if spec.repeat:
        return [part for name, _value in chosen.value for part in (spec.flag, f"{name}: ***")]
    if spec.switch:
        return [spec.flag] if chosen.value else []
    if spec.name in ("target", "provider_state"):
        return [spec.flag, _shown(spec, chosen.value)]
    if spec.name == "record_mode" and chosen.value == "none":
        return [spec.flag, "none"]
    return [spec.flag, str(chosen.value)]


def reproduce_command(
    settings: Settings, *, cli: Sequence[str] | None = None, pytest_args: Sequence[str] = ()
) -> str:
    """The command that runs the same checks again: `runcancel certify ...` when the command line
    started the run (`cli` holds what it passed through to pytest), else `pytest ...` with the
    pytest arguments given, the runcancel options written out (secrets masked, the key left to
    OPENAI_API_KEY)."""
    if cli is not None:
        flags: list[str] = []
        for spec in SETTINGS:
            flags += _given(spec, settings)
        tail = ["--", *cli] if cli else []
        return shlex.join(["runcancel", "certify", *flags, *tail])
    flags = []
    for spec in SETTINGS:
        given = _given(spec, settings)
        if given:
            given[0] = spec.flag if spec.alias else spec.option
            if spec.repeat:
                given[::2] = [spec.option] * (len(given) // 2)
        flags += given
    return shlex.join(["pytest", *pytest_args, *flags])


def run_info(
    settings: Settings,
    *,
    started: datetime,
    command: str,
    selection: Selection,
    interrupted: str | None = None,
    workers: int = 0,
    finished: datetime | None = None,
) -> RunInfo:
    return RunInfo(
        started=started,
        finished=finished or datetime.now(UTC),
        command=command,
        seed=settings.probe_seed.value,
        budget=settings.probe_examples.value,
        settings=shown_settings(settings),
        selection=selection.kind,
        not_selected=selection.not_selected(),
        interrupted=interrupted,
        workers=workers,
    )


# -- pytest-xdist: what a worker hands to the controller ----------------------------------------------


@dataclass
class WorkerOutcome:
    """A worker's share of the session, merged by the controller before it alone writes the reports."""

    verdicts: list[Any] = field(default_factory=list)
    seen: list[Any] = field(default_factory=list)
    unseen: int = 0
    target_label: str = ""
    probe: Any = None
    selection: Selection | None = None
    unreachable: bool = False
    requests: dict[str, Any] = field(default_factory=dict)  # node id or module -> the requests it sent
    transport_lines: list[str] = field(default_factory=list)


def worker_payload(record: SessionRecord, outcome: WorkerOutcome) -> bytes:
    """The worker's outcome as bytes for xdist's channel between the processes of one run.

    Pickled: both ends are the same installed code in processes of one pytest run on one machine.
    """
    outcome.verdicts, outcome.seen, outcome.unseen = record.verdicts, record.seen, record.unseen
    outcome.target_label = record.target_label
    return pickle.dumps(outcome)


def merge_worker(record: SessionRecord, payload: bytes) -> WorkerOutcome:
    """Add a worker's verdicts and answers to the controller's record; returns the rest."""
    outcome: WorkerOutcome = pickle.loads(payload)  # from a worker of this very run
    record.verdicts.extend(outcome.verdicts)
    record.seen.extend(outcome.seen)
    record.unseen += outcome.unseen
    record.target_label = record.target_label or outcome.target_label
    return outcome


def strip_options(args: Sequence[str]) -> list[str]:
    """pytest arguments without runcancel's own options (and their values): a reproducing command
    writes those out itself, from the settings as resolved."""
    from runcancel.settings import pytest_flag

    takes_value: set[str] = set()
    switches: set[str] = set()
    for spec in SETTINGS:
        names = {spec.option, pytest_flag(spec.name)} | ({spec.flag} if spec.alias else set())
        if spec.name == "record_mode":
            names.add("--record-mode")
        (switches if spec.switch else takes_value).update(names)
    kept: list[str] = []
    skip = False
    for arg in args:
        if skip:
            skip = False
            continue
        name = arg.split("=", 1)[0]
        if name in switches:
            continue
        if name in takes_value:
            skip = "=" not in arg
            continue
        kept.append(arg)
    return kept
