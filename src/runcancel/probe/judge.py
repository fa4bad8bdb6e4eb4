"""Sending one generated case and judging its answer: every check, in one `validate_response` call.

`Judge` sends each case through the project's client and applies schemathesis's checks and the
project's to the answer; each check is wrapped once per run so that its own outcome (applied, held,
failed) is still told apart. `GeneratedRun` is what a run found, per clause.
"""

from __future__ import annotations

import functools
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from runcancel.findings import Evidence, Finding, preview
from runcancel.probe.cases import CasesFile, ProbeSettings, SentCase, describe_meta, key_class
from runcancel.probe.checks import ANSWERED, GENERATED_CHECKS, GeneratedCheck
from runcancel.probe.resend import as_bearer, route_resends
from runcancel.targets import BETA_HEADER, Exchange, TargetClient, TargetError

__all__ = ["SHOWN_FAILURES", "CheckResult", "GeneratedRun", "Judge", "overrides_of", "target_of"]

# Failing cases shown per clause; the rest are counted.
SHOWN_FAILURES = 3
CheckFunction = Callable[[Any, Any, Any], "bool | None"]


@dataclass
class CheckResult:
    """What one check found across the generated answers."""

    check: GeneratedCheck
    applied: int = 0
    failures: list[Finding] = field(default_factory=list)
    failing_cases: int = 0


@dataclass
class GeneratedRun:
    """The outcome of one generated run: per clause, how often its check applied and what failed.

    `sent` holds every generated case as it went out, in order (the anchor is not one of them);
    `replayed` the cases file they were read from when nothing was generated.
    """

    settings: ProbeSettings
    results: dict[str, CheckResult]
    cases: int = 0
    seconds: float = 0.0
    statuses: Counter[int] = field(default_factory=Counter)
    anchor: Exchange | None = None
    not_verified: str | None = None
    sent: list[SentCase] = field(default_factory=list)
    replayed: CasesFile | None = None

    def findings(self, clause: str) -> list[Finding]:
        """The findings to show for `clause`: the first failing cases, the last one counting the rest."""
        result = self.results[clause]
        shown = result.failures[:SHOWN_FAILURES]
        hidden = result.failing_cases - len(shown)
        if hidden > 0 and shown:
            last = shown[-1]
            more = f"{last.observed} (and {hidden} more failing case{'s' if hidden > 1 else ''})"
            shown[-1] = Finding(last.clause, last.path, last.expected, more, last.severity, last.evidence)
        return shown


def target_of(case: Any) -> bytes:
    """A schemathesis case's request-target below the base URL's path: its path and query."""
    target: bytes = case.formatted_path.encode("utf-8")
    if case.query:
        target += b"?" + urlencode(case.query, doseq=True).encode("ascii")
    return target


def overrides_of(case: Any) -> dict[str, str | None]:
    """A case's headers as overrides of the client's defaults (no beta header unless it has one)."""
    overrides: dict[str, str | None] = {"OpenAI-Beta": None}
    overrides.update({str(k): str(v) for k, v in (case.headers or {}).items()})
    return overrides


class Judge:
    """Sends cases for one run and applies every check to each answer, noting what each check found.

    Each check is wrapped once per run so that a single `validate_response` call a case tells, per
    check, whether it applied and what it raised.
    """

    def __init__(
        self, client: TargetClient, operation: Any, functions: Mapping[str, CheckFunction], run: GeneratedRun
    ) -> None:
        from schemathesis.core.failures import FailureGroup

        self.client = client
        self.operation = operation
        self.run = run
        self.stopped = False
        self.started = time.perf_counter()
        self._failure_group = FailureGroup
        self._outcome: dict[str, Any] = {}
        self._wrapped = {clause: self._observing(clause, f) for clause, f in functions.items()}
        self._transport = {
            "base_url": client.target.base_url,
            "headers": dict(BETA_HEADER),
            "timeout": client.target.timeout,
        }
        self._anchor_checks = [c for c in GENERATED_CHECKS if c.anchor]
        route_resends(operation, client)  # ignored_auth's re-sends: paced, 429s waited out, recorded

    def finish(self) -> GeneratedRun:
        self.run.seconds = time.perf_counter() - self.started
        return self.run

    def _observing(self, clause: str, check: CheckFunction) -> CheckFunction:
        """`check`, noting under `clause` what it returned (True: not applicable) or raised."""
        outcome = self._outcome

        @functools.wraps(check)
        def observed(ctx: Any, response: Any, case: Any) -> bool | None:
            try:
                result = check(ctx, response, case)
            except BaseException as exc:
                outcome[clause] = exc
                raise
            outcome[clause] = result is not True
            return result

        return observed

    def send_anchor(self, anchor: tuple[str, str] | None) -> bool:
        """Cancel the anchor run; False (the run not verified) when the target could not."""
        if anchor is None:
            return True
        thread_id, run_id = anchor
        case = self.operation.Case(
            path_parameters={"thread_id": thread_id, "run_id": run_id}, headers=dict(BETA_HEADER)
        )
        exchange = self.run.anchor = self.send(case, target_of(case), overrides_of(case), anchor=True)
        if exchange is not None and _cancelled(exchange, run_id):
            return True
        base_url = self.client.target.base_url
        shown = exchange.evidence if exchange is not None else f"POST {base_url}{case.formatted_path}"
        self.run.not_verified = (
            f"the target could not cancel a run it had just created ({shown}), so its answers to "
            "ids that do not exist prove nothing; see the shape and errors suites"
        )
        return False

    def send(
        self,
        case: Any,
        target: bytes,
        overrides: dict[str, str | None],
        *,
        anchor: bool = False,
        record: bool = False,
    ) -> Exchange | None:
        """Send one case with the project's client and apply every check; None when it got no answer."""
        client, run = self.client, self.run
        sent = client.headers_for(overrides)
        if record:
            run.sent.append(
                SentCase(
                    method=case.method,
                    target=target,
                    headers=key_class(sent, client.target.api_key or ""),
                    path_parameters=dict(case.path_parameters or {}),
                    query=dict(case.query or {}),
                    cookies=dict(case.cookies or {}),
                    meta=describe_meta(getattr(case, "_meta", None)),
                )
            )
        try:
            exchange = client.send_raw(case.method, target, headers=overrides)
        except TargetError as exc:
            shown = f"{client.target.base_url}{target.decode('ascii', 'replace')}"
            result = run.results[ANSWERED.clause]
            evidence = Evidence(case.method, shown)
            result.failures.append(
                Finding(ANSWERED.clause, "status", ANSWERED.expected, f"no answer: {exc}", evidence=evidence)
            )
            result.failing_cases += 1
            self.stopped = True
            return None
        run.cases += 1
        run.results[ANSWERED.clause].applied += 1
        run.statuses[exchange.status] += 1
        checks = [
            c
            for c in (self._anchor_checks if anchor else GENERATED_CHECKS)
            if c.applies_to(case.method, exchange.status)
        ]
        problems = self._validate(case, exchange, target, sent, checks)
        for check in checks:
            result = run.results[check.clause]
            found = problems.get(check.clause)
            if found or self._outcome.get(check.clause) is True:
                result.applied += 1
            if found:
                result.failing_cases += 1
                if len(result.failures) < SHOWN_FAILURES:
                    observed = f"{'; '.join(found)}; answer {exchange.status} {preview(exchange.content, 80)}"
                    result.failures.append(
                        Finding(
                            check.clause,
                            check.path,
                            check.expected,
                            observed,
                            evidence=_evidence(exchange, sent),
                        )
                    )
        return exchange

    def _validate(
        self,
        case: Any,
        exchange: Exchange,
        target: bytes,
        sent: Mapping[str, str],
        checks: Iterable[GeneratedCheck],
    ) -> dict[str, list[str]]:
        """Apply `checks` to the answer in one `validate_response` call: the problems of each, by clause.

        A check that cannot run (a re-send refused, say) stops schemathesis's loop: it is noted as a
        problem of its own (never a pass) and the checks after it run in another call.
        """
        sent = as_bearer(sent, self.client)  # the key as the contract documents it, whatever the profile
        response = _as_schemathesis_response(
            exchange, self.client.target.base_url + target.decode("ascii", "replace"), sent
        )
        auth = {"Authorization": sent["Authorization"]} if "Authorization" in sent else None
        problems: dict[str, list[str]] = {}
        pending = [c.clause for c in checks]
        self._outcome.clear()
        while pending:
            try:
                case.validate_response(
                    response,
                    checks=[self._wrapped[clause] for clause in pending],
                    headers=auth,
                    transport_kwargs=self._transport,
                )
            except self._failure_group as group:
                self._attribute(group.exceptions, pending, problems)
                return problems
            except Exception as exc:
                failed = next((c for c in pending if self._outcome.get(c) is exc), None)
                if failed is None:  # not raised by a check: every check left is not verified
                    failed = next((c for c in pending if c not in self._outcome), pending[0])
                problems[failed] = [f"the check could not run: {type(exc).__name__}: {exc}"]
                done = pending[: pending.index(failed)]
                # What the checks before it raised was lost with the loop: take it as raised.
                self._attribute(self._raised(done), done, problems)
                pending = pending[pending.index(failed) + 1 :]
                continue
            return problems
        return problems

    def _raised(self, clauses: Iterable[str]) -> list[Any]:
        """The failures `clauses` raised, as schemathesis's loop would have collected them."""
        from schemathesis.core.failures import CustomFailure, Failure

        found: list[Any] = []
        for clause in clauses:
            raised = self._outcome.get(clause)
            if isinstance(raised, self._failure_group):
                found += raised.exceptions
            elif isinstance(raised, AssertionError) and not isinstance(raised, Failure):
                name = getattr(self._wrapped[clause], "__name__", clause)
                title = f"Custom check failed: `{name}`"
                found.append(
                    CustomFailure(operation=None, title=title, message=str(raised), exception=raised)
                )
            elif isinstance(raised, BaseException):
                found.append(raised)
        return found

    def _attribute(self, kept: Iterable[Any], clauses: list[str], problems: dict[str, list[str]]) -> None:
        """Sort the failures schemathesis kept (after its `filter_failure` hooks) by the check that raised."""
        owner: dict[int, str] = {}
        for clause in clauses:
            raised = self._outcome.get(clause)
            if isinstance(raised, self._failure_group):
                owner.update((id(f), clause) for f in raised.exceptions)
            elif isinstance(raised, BaseException):
                owner[id(raised)] = clause
        for failure in kept:
            by = owner.get(id(failure)) or owner.get(id(getattr(failure, "exception", None)))
            if by is not None:
                problems.setdefault(by, []).append(_failure_text(failure))


def _cancelled(exchange: Exchange, run_id: str) -> bool:
    try:
        data = exchange.json()
    except ValueError:
        return False
    return exchange.status == 200 and isinstance(data, dict) and data.get("id") == run_id


def _failure_text(failure: Any) -> str:
    title = str(getattr(failure, "title", "") or type(failure).__name__)
    message = " ".join(str(getattr(failure, "message", "") or "").split())
    return f"{title}: {message}" if message else title


def _evidence(exchange: Exchange, sent: Mapping[str, str]) -> Evidence:
    """The request as sent: method and target, plus the headers that differ from the suites' defaults."""
    notes = []
    beta = sent.get("OpenAI-Beta")
    if beta != BETA_HEADER["OpenAI-Beta"]:
        notes.append("OpenAI-Beta absent" if beta is None else f"OpenAI-Beta: {preview(beta, 40)}")
    extra = sorted(k for k in sent if k.lower() not in ("authorization", "openai-beta"))
    if extra:
        notes.append("headers " + ", ".join(preview(k, 30) for k in extra))
    url = exchange.url + (f" [{'; '.join(notes)}]" if notes else "")
    return Evidence(exchange.method, url, exchange.status)


def _as_schemathesis_response(exchange: Exchange, url: str, sent: Mapping[str, str]) -> Any:
    import requests
    from schemathesis import Response

    request = requests.Request(method=exchange.method, url=url, headers=dict(sent)).prepare()
    headers: dict[str, list[str]] = {}
    for name, value in exchange.headers.multi_items():
        headers.setdefault(name, []).append(value)
    return Response(
        status_code=exchange.status,
        headers=headers,
        content=exchange.content,
        request=request,
        elapsed=exchange.elapsed,
        verify=True,
    )
