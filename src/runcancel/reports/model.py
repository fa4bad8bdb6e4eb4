"""The report model: one run's outcome as every report file shows it, and the policy that weighs it.

`build_report` turns a `SessionRecord` (what the suites saw) and a `RunInfo` (what the run was: when,
how started, what it selected) into a `Report`. The writers only format a `Report`; they compute
nothing about the target themselves.

Every clause of the catalogue (`clauses.all_clauses()`) is in every report: passed, failed,
accepted (its findings named by the accepted deviations, `--accept`, each with its reason) or not
verified. A clause no test reached is not verified ("not checked in this run", or "not selected in
this run" when the run selected part of the suites), never passed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, cast

from runcancel import __version__
from runcancel.accept import ACCEPTED, Entry, apply_accepted
from runcancel.clauses import all_clauses
from runcancel.findings import Evidence, Finding, Severity, TargetVerdict
from runcancel.runinfo import RunInfo
from runcancel.scrub import ACCOUNT_HEADERS, DROPPED_HEADERS, KEY_HEADERS, MASKED_KEY, REDACTED
from runcancel.session import Seen, SessionRecord, Verdict

__all__ = [
    "API_REFERENCE",
    "ENDPOINT",
    "FAIL_ON",
    "NOT_CHECKED",
    "NOT_SELECTED",
    "STATES",
    "Answer",
    "ClauseResult",
    "FailOn",
    "Report",
    "build_report",
    "exit_decision",
]

FailOn = Literal["breaking", "additive", "never"]
FAIL_ON: tuple[FailOn, ...] = ("breaking", "additive", "never")
STATES = ("passed", "failed", ACCEPTED, "not verified")
NOT_CHECKED = "not checked in this run"
NOT_SELECTED = "not selected in this run"
SUITES = ("shape", "lifecycle", "errors")
OTHER_SUITE = "other"
ENDPOINT = "POST /v1/threads/{thread_id}/runs/{run_id}/cancel"
API_REFERENCE = "https://platform.openai.com/docs/api-reference/runs/cancelRun"
# How many requests a passed clause lists as its evidence, and how much of a failing answer's body.
MAX_REQUESTS = 5
MAX_HEAD = 300

# -- the policy --------------------------------------------------------------------------------------

# The severities that fail a run under each policy. Info never fails.
_FAILING: dict[str, frozenset[Severity]] = {
    "breaking": frozenset({Severity.BREAKING}),
    "additive": frozenset({Severity.BREAKING, Severity.ADDITIVE}),
    "never": frozenset(),
}


def _check_fail_on(fail_on: str) -> FailOn:
    if fail_on not in _FAILING:
        allowed = ", ".join(FAIL_ON)
        raise ValueError(f"runcancel: fail_on takes one of {allowed}; got {fail_on!r}")
    return cast(FailOn, fail_on)


def exit_decision(findings: Iterable[Finding], fail_on: str) -> bool:
    """Whether the run fails: breaking findings fail under `breaking` and `additive`, additive ones
    only under `additive`, nothing fails under `never`, and info findings never fail."""
    failing = _FAILING[_check_fail_on(fail_on)]
    return any(f.severity in failing for f in findings)


# -- the model ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """What the target answered to a request a finding names: status, headers, the body's first bytes.

    Scrubbed: the values of cookies, key and other auth-like headers are masked, account headers
    replaced by their placeholder, learnt secrets and masked keys replaced in every other value. A
    header whose value was not kept (an answer recorded by a version that kept names only) has None.
    """

    request: Evidence
    status: int
    content_type: str
    headers: tuple[tuple[str, str | None], ...]
    head: str
    complete: bool = True  # False: the body was larger than the session keeps


def _is_cancel(e: Evidence) -> bool:
    return e.url.rstrip("/").endswith("/cancel")


@dataclass(frozen=True)
class ClauseResult:
    """One clause's outcome in this run, with what shows it."""

    id: str
    title: str
    source: str
    suite: str
    state: str
    findings: tuple[Finding, ...] = ()
    reasons: tuple[str, ...] = ()
    nodeids: tuple[str, ...] = ()
    # The requests whose answers verified it (a passed clause's evidence), the first MAX_REQUESTS.
    requests: tuple[Evidence, ...] = ()
    more_requests: int = 0  # how many more there were
    # For a failed clause: the answers its breaking findings name, as the target sent them.
    answers: tuple[Answer, ...] = ()
    # The findings the accepted deviations named, each with the reason given (`--accept`).
    accepted: tuple[tuple[Finding, str], ...] = ()

    @property
    def cancels(self) -> tuple[Evidence, ...]:
        """Of its requests, the cancels: the operation under contract."""
        return tuple(e for e in self.requests if _is_cancel(e))

    @property
    def others(self) -> tuple[Evidence, ...]:
        """Of its requests, those that arranged or read back the run."""
        return tuple(e for e in self.requests if not _is_cancel(e))

    @property
    def unchecked(self) -> bool:
        """No test reached it in this run (not run, or not selected)."""
        return self.reasons in ((NOT_CHECKED,), (NOT_SELECTED,))


@dataclass(frozen=True)
class Report:
    """Everything the report files say, and nothing they compute themselves."""

    version: str
    target: str
    target_source: str
    started: str | None  # UTC, `YYYY-MM-DDTHH:MM:SSZ`; None when the caller did not say
    finished: str
    fail_on: FailOn
    fail: bool
    certified: bool
    clauses: tuple[ClauseResult, ...]
    findings: tuple[Finding, ...]
    target_verdicts: tuple[TargetVerdict, ...] = ()
    drift: tuple[Finding, ...] = ()
    baseline: str | None = None
    notes: tuple[str, ...] = ()
    run: RunInfo | None = None
    duration: float | None = None  # seconds from start to finish, when both are known
    era: dict[str, Any] | None = None  # the key-set era the target's Runs match (`EraMatch.as_json()`)
    # What the findings and whole-target verdicts alone decide under the policy (`fail` also holds
    # when the run was interrupted, whose exit code is never 0).
    fails_on_findings: bool = False
    accept_file: str | None = None  # the file of accepted deviations, when one was given
    accept_unused: tuple[Entry, ...] = ()  # its entries that named nothing in this run

    @property
    def counts(self) -> dict[str, int]:
        counted = Counter(c.state for c in self.clauses)
        return {state: counted[state] for state in STATES}

    @property
    def complete(self) -> bool:
        """Every clause was verified: none is left not verified."""
        return all(c.state != "not verified" for c in self.clauses)

    @property
    def full(self) -> bool:
        """The run selected every test and was not interrupted (a run without RunInfo counts as full:
        nothing says otherwise, and its unchecked clauses already keep it from being CERTIFIED)."""
        return self.run is None or self.run.full

    @property
    def verdict(self) -> str:
        """CERTIFIED (every clause held in a full run), INCOMPLETE (none broken, but some not verified,
        or the run partial or interrupted), NOT CERTIFIED (something broke, or nothing was verified)."""
        if not self.certified:
            return "NOT CERTIFIED"
        return "CERTIFIED" if self.complete and self.full else "INCOMPLETE"

    @property
    def partial_reason(self) -> str | None:
        """Why this is not a full certificate (a clause, no full stop), or None when it is one."""
        if self.run is None or self.run.full:
            return None
        parts = []
        if self.run.interrupted is not None:
            parts.append(f"the run was interrupted ({self.run.interrupted})")
        if self.run.selection != "full":
            n = len(self.run.not_selected)
            parts.append(
                f"the run selected part of the suites ({self.run.selection}): "
                f"{n} clause{'s' if n != 1 else ''} not selected"
            )
        return "; ".join(parts)

    @property
    def broken(self) -> list[ClauseResult]:
        return [c for c in self.clauses if c.state == "failed"]

    @property
    def accepted(self) -> list[ClauseResult]:
        return [c for c in self.clauses if c.state == ACCEPTED]

    def ordered(self) -> list[ClauseResult]:
        """Failed clauses first, then accepted, not verified, passed; the catalogue's order within each."""
        rank = {"failed": 0, ACCEPTED: 1, "not verified": 2, "passed": 3}
        return sorted(self.clauses, key=lambda c: rank.get(c.state, 1))

    def suites(self) -> list[tuple[str, list[ClauseResult]]]:
        """The clauses grouped by suite, in the suites' order, then any other."""
        order = [*SUITES, *sorted({c.suite for c in self.clauses} - set(SUITES))]
        grouped = [(s, [c for c in self.clauses if c.suite == s]) for s in order]
        return [(s, cs) for s, cs in grouped if cs]

    def summary_line(self) -> str:
        n = self.counts
        accepted = f", {n[ACCEPTED]} accepted" if n[ACCEPTED] else ""
        return (
            f"{n['passed']} passed, {n['failed']} failed{accepted}, {n['not verified']} not verified "
            f"(of {len(self.clauses)} clauses)"
        )

    def unused_lines(self) -> list[str]:
        """The accepted deviations that named nothing in this run, one line each."""
        return [f"accepted deviation not seen in this run: {e}" for e in self.accept_unused]

    def policy_line(self) -> str:
        """What the policy makes of the run; an interrupted run never reads as one that passes."""
        interrupted = self.run is not None and self.run.interrupted is not None
        # An interrupted run always fails (see `build_report`).
        outcome = (
            "the run fails" + (" (and was interrupted)" if interrupted else "")
            if self.fail
            else "the run passes"
        )
        return f"policy fail_on={self.fail_on}: {outcome}"


def _aware(moment: datetime) -> datetime:
    """A naive time is taken as UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _utc(moment: datetime) -> str:
    return _aware(moment).isoformat(timespec="seconds").replace("+00:00", "Z")


def _unique(findings: Iterable[Finding]) -> tuple[Finding, ...]:
    """Each finding once (with its evidence), in the order first seen."""
    seen: dict[tuple[object, ...], Finding] = {}
    for f in findings:
        seen.setdefault((f.clause, f.path, f.expected, f.observed, f.severity, f.evidence), f)
    return tuple(seen.values())


def _scrub(text: str, record: SessionRecord) -> str:
    return MASKED_KEY.sub("sk-" + REDACTED, record.clean(text))


def _answer(seen: Seen, request: Evidence, record: SessionRecord) -> Answer:
    headers: list[tuple[str, str | None]] = []
    if seen.headers:  # names and values, as the session kept them (scrubbed, credentials masked)
        headers = [(name, _scrub(value, record)) for name, value in seen.headers]
    else:  # an answer kept by a version that kept names only
        for name in seen.header_names:
            if name in KEY_HEADERS or name in DROPPED_HEADERS:
                continue
            if name in ACCOUNT_HEADERS:
                headers.append((name, REDACTED))
            elif name == "content-type":
                headers.append((name, _scrub(seen.content_type, record)))
            else:
                headers.append((name, None))
    return Answer(
        request=request,
        status=seen.status,
        content_type=_scrub(seen.content_type, record),
        headers=tuple(headers),
        head=_scrub(seen.head[:MAX_HEAD], record),
        complete=seen.complete,
    )


def _answers(
    findings: Iterable[Finding], by_request: Mapping[tuple[str, str, int], Seen], record: SessionRecord
) -> tuple[Answer, ...]:
    """The answers the breaking findings name, each once, as the session kept them (the first answer
    the session kept to the same method, URL and status)."""
    shown: dict[Evidence, Answer] = {}
    for f in findings:
        e = f.evidence
        if f.severity is not Severity.BREAKING or e is None or e.status is None or e in shown:
            continue
        kept = by_request.get((e.method, e.url, e.status))
        if kept is not None:
            shown[e] = _answer(kept, e, record)
    return tuple(shown.values())


def _requests(
    verdicts: Sequence[Verdict], requests: Mapping[str, Sequence[Evidence]], record: SessionRecord
) -> list[Evidence]:
    """The requests of a clause's tests: each test's own, else those of its module's shared fixture
    (keyed by the test file's path), then the requests its non-breaking findings name. Cancels come
    first: they are the operation under contract; the rest arranged or read back the run."""
    found: dict[Evidence, None] = {}
    for v in verdicts:
        own = requests.get(v.nodeid) or requests.get(v.nodeid.split("::", 1)[0], ())
        for e in own:
            found.setdefault(Evidence(e.method, _scrub(e.url, record), e.status))
        for f in v.findings:
            if f.evidence is not None:
                found.setdefault(f.evidence)
    return sorted(found, key=lambda e: not _is_cancel(e))


def build_report(
    record: SessionRecord,
    *,
    fail_on: str = "breaking",
    target_verdicts: Iterable[TargetVerdict] = (),
    drift: Iterable[Finding] = (),
    baseline: str | None = None,
    notes: Iterable[str] = (),
    started: datetime | None = None,
    finished: datetime | None = None,
    run: RunInfo | None = None,
    requests: Mapping[str, Sequence[Evidence]] | None = None,
    accepted: Sequence[Entry] = (),
    accept_file: str | None = None,
) -> Report:
    """The report of one run: every catalogued clause with its state, findings, reasons and evidence.

    `run` says what the run was (true start and finish, the reproducing command, seed, settings,
    selection, interruption); without it (a library caller) `started`/`finished` are used as given:
    an unknown start stays unknown, and the finish is the time of this call. `requests` maps a test's
    node id (or a test file's path, for a module-scoped fixture the file's tests share) to the
    requests it sent: a passed clause lists those of its tests as the evidence that verified it.

    `drift` holds the findings of a comparison with `baseline` (a label, say the baseline's path);
    without a baseline, drift.md says none was given. The exit decision weighs the clause findings
    and the drift findings under `fail_on`. The target is certified when nothing breaks the
    contract under the policy (under `never`, judged as under `breaking`: the policy decides the exit
    code, not what the target is), no whole-target verdict stands, and at least one clause was
    verified; the verdict reads INCOMPLETE while any clause is not verified or the run was partial.

    `accepted` holds the entries of the accepted deviations (`runcancel.accept.load_accepted`, from
    `accept_file`): what they name is `accepted`, with the reason, and weighs nothing under the
    policy; a clause with a breaking finding no entry names still fails. Entries that named nothing
    are the report's `accept_unused`.
    """
    policy = _check_fail_on(fail_on)
    standing = tuple(target_verdicts)
    states = record.clause_states()
    sent = requests or {}
    not_selected = set(run.not_selected) if run is not None else set()
    by_clause: dict[str, list[Verdict]] = {}
    for v in record.verdicts:
        by_clause.setdefault(v.clause, []).append(v)
    by_request: dict[tuple[str, str, int], Seen] = {}
    for seen in record.seen:
        by_request.setdefault((seen.method, seen.url, seen.status), seen)
    catalogue = all_clauses()
    ids = [*catalogue, *(c for c in by_clause if c not in catalogue)]
    judged: dict[str, tuple[str, Sequence[Finding]]] = {}
    for clause_id in ids:
        verdicts = by_clause.get(clause_id, [])
        judged[clause_id] = (
            states.get(clause_id, "not verified"),
            _unique(f for v in verdicts for f in v.findings),
        )
    acceptance = apply_accepted(judged, accepted)
    results = []
    for clause_id in ids:
        known = catalogue.get(clause_id)
        verdicts = by_clause.get(clause_id, [])
        outcome = acceptance.clauses[clause_id]
        state = outcome.state
        reasons = tuple(dict.fromkeys(v.not_verified for v in verdicts if v.not_verified is not None))
        if not verdicts:
            reasons = (NOT_SELECTED,) if clause_id in not_selected else (NOT_CHECKED,)
        verified = _requests([v for v in verdicts if v.state == "passed"], sent, record)
        shown = state in ("passed", ACCEPTED)
        results.append(
            ClauseResult(
                id=clause_id,
                title=known.title if known else "not a clause of the catalogue",
                source=known.source if known else "",
                suite=known.suite if known else OTHER_SUITE,
                state=state,
                findings=outcome.findings,
                reasons=reasons,
                nodeids=tuple(dict.fromkeys(v.nodeid for v in verdicts)),
                requests=tuple(verified[:MAX_REQUESTS]) if shown else (),
                more_requests=max(len(verified) - MAX_REQUESTS, 0) if shown else 0,
                answers=_answers(judged[clause_id][1], by_request, record) if state != "passed" else (),
                accepted=outcome.accepted,
            )
        )
    findings = tuple(f for c in results for f in c.findings)
    drift_found = tuple(drift)
    weighed = (*findings, *drift_found)
    judged_as = "breaking" if policy == "never" else policy
    failing = exit_decision(weighed, policy) or (bool(standing) and policy != "never")
    verified_any = any(c.state != "not verified" for c in results)
    given = run.started if run is not None else started
    start = _aware(given) if given is not None else None
    end = _aware(run.finished if run is not None else (finished or datetime.now(UTC)))
    return Report(
        version=__version__,
        target=record.target_label or record.settings.target.value,
        target_source=record.settings.target.source,
        started=_utc(start) if start is not None else None,
        finished=_utc(end),
        fail_on=policy,
        # A whole-target verdict (retired endpoint, no cancel route) fails the run unless told `never`;
        # an interrupted run (Ctrl-C, -x, a target gone) never passes, whatever the policy: its exit
        # code is 3 or 4, and the reports say the same.
        fail=failing or (run is not None and run.interrupted is not None),
        fails_on_findings=failing,
        certified=verified_any and not exit_decision(weighed, judged_as) and not standing,
        clauses=tuple(results),
        findings=findings,
        target_verdicts=standing,
        drift=drift_found,
        baseline=baseline,
        notes=tuple(notes),
        run=run,
        duration=(end - start).total_seconds() if start is not None else None,
        accept_file=accept_file,
        accept_unused=acceptance.unused,
    )
