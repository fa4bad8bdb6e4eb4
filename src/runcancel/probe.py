"""Probing the cancel operation's path parameters and error answers.

Two sources of requests, both sent through the project's client (`TargetClient.send_raw`, so
recording and replay see them like any other) and both judged into findings under `probe.<name>`
clause ids:

- Generated: schemathesis's examples, coverage and fuzzing phases on operation `cancelRun` of the
  contract. Its configuration is given in full here: a `schemathesis.toml` anywhere, a
  `SCHEMATHESIS_HOOKS` module and Hypothesis's habit of mixing literals of local source files into
  generation are all kept out, so a seed and a budget name the same cases on every run and in
  replay. Every answer is judged by schemathesis's own checks and by the project's (the OpenAI
  error envelope, the echoed id, no 2xx for ids never created). One more case, the anchor, cancels a
  run the target has just created: a 404 proves nothing on a server without the route, and the
  checks of 2xx answers (schema, ignored auth) need one.
- The corpus: edge-case ids schemathesis never sends (it drops "", ".", "..", "/" and NUL and
  percent-encodes everything), each sent exactly as written, raw where a client would normalise, with
  the class of answer it must get.

`overlay_lines` says which checks rely on the answers the contract adds to the upstream document.
schemathesis and Hypothesis are imported only by the functions that generate.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote_to_bytes, urlencode

from runcancel.clauses import Clause
from runcancel.contract import OPERATION_ID, OPERATION_PATH, load_contract
from runcancel.findings import Evidence, Finding, NotVerified, preview
from runcancel.models import envelope_findings
from runcancel.settings import DEFAULT_PROBE_EXAMPLES, DEFAULT_PROBE_SEED
from runcancel.targets import BETA_HEADER, Exchange, TargetClient, TargetError, show_target

__all__ = [
    "ANSWERED",
    "CORPUS",
    "GENERATED_CHECKS",
    "NOT_FOUND_MESSAGE",
    "PHASES",
    "EdgeCase",
    "Expect",
    "GeneratedCheck",
    "GeneratedRun",
    "Ids",
    "ProbeError",
    "ProbeRecord",
    "ProbeSettings",
    "build_config",
    "echo_problem",
    "envelope_problem",
    "isolated_generation",
    "judge_edge_case",
    "load_operation",
    "overlay_lines",
    "overlay_statuses",
    "path_ids",
    "probe_clauses",
    "resolve_checks",
    "run_corpus",
    "run_generated",
    "send_edge_case",
]

PHASES = ("examples", "coverage", "fuzzing")
NOT_FOUND_MESSAGE = re.compile(r"No (thread|run) found with id '(.*)'\.", re.DOTALL)
# Failing cases shown per clause; the rest are counted.
SHOWN_FAILURES = 3


class ProbeError(Exception):
    """The probe itself cannot run as configured (an unknown check name, a contract without cancelRun)."""


@dataclass(frozen=True)
class ProbeSettings:
    """What the generated cases depend on: with the same seed and budget, the same cases."""

    seed: int = DEFAULT_PROBE_SEED
    examples: int = DEFAULT_PROBE_EXAMPLES

    @property
    def reproduce(self) -> str:
        return f"--probe-seed {self.seed} --probe-examples {self.examples}"


# -- the project's own checks, on one answer -----------------------------------------------------------


def envelope_problem(status: int, content: bytes) -> str | None:
    """An answer that is not 2xx must be the OpenAI error envelope with a string `error.type`."""
    if 200 <= status < 300:
        return None
    try:
        data = json.loads(content)
    except ValueError:
        return f"a {status} answer that is not JSON: {preview(content, 80)}"
    broken = [f for f in envelope_findings(data) if f.clause != "error.envelope.undocumented_field"]
    if broken:
        return f"a {status} answer without the OpenAI error envelope ({broken[0].path}: {broken[0].observed})"
    return None


def echo_problem(content: bytes, sent: Mapping[str, str]) -> str | None:
    """A `No thread|run found with id '<id>'.` message must quote the id that was sent, decoded.

    `sent` maps "thread" and "run" to the ids the request carried. None when the message quotes the
    right id or is not such a message.
    """
    message = _error_message(content)
    match = NOT_FOUND_MESSAGE.fullmatch(message) if message is not None else None
    if match is None or match.group(1) not in sent:
        return None
    kind, quoted = match.groups()
    if quoted != sent[kind]:
        return (
            f"the message quotes {kind} id {preview(quoted, 60)}, the request sent {preview(sent[kind], 60)}"
        )
    return None


def _error_message(content: bytes) -> str | None:
    try:
        data = json.loads(content)
    except ValueError:
        return None
    error = data.get("error") if isinstance(data, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    return message if isinstance(message, str) else None


# Schemathesis calls these with (ctx, response, case); True means "not applicable", None "held", and
# AssertionError a failure. They are not registered with `schemathesis.check`: that would switch
# them on for every other schemathesis test in the process. The probe passes them explicitly.


def runcancel_error_envelope(ctx: Any, response: Any, case: Any) -> bool | None:
    """Every answer that is not 2xx is the OpenAI error envelope, with a string `error.type`."""
    if 200 <= response.status_code < 300:
        return True
    problem = envelope_problem(response.status_code, response.content)
    if problem:
        raise AssertionError(problem)
    return None


def runcancel_echoed_id(ctx: Any, response: Any, case: Any) -> bool | None:
    """A 404 `No thread|run found with id '<id>'.` quotes the id the request sent (decoded)."""
    message = _error_message(response.content) if response.status_code == 404 else None
    if message is None or NOT_FOUND_MESSAGE.fullmatch(message) is None:
        return True
    problem = echo_problem(response.content, path_ids(case.formatted_path.encode("utf-8")))
    if problem:
        raise AssertionError(problem)
    return None


def path_ids(path: bytes) -> dict[str, str]:
    """The ids a server reads from `/threads/{thread_id}/runs/{run_id}/cancel`, each segment decoded."""
    segments = path.split(b"?")[0].split(b"/")
    ids = {}
    for i, segment in enumerate(segments[:-1]):
        if segment == b"threads":
            ids["thread"] = _decoded(segments[i + 1])
        elif segment == b"runs":
            ids["run"] = _decoded(segments[i + 1])
    return ids


def runcancel_never_created(ctx: Any, response: Any, case: Any) -> bool | None:
    """Ids nobody created are never answered 2xx: there is no such run to cancel."""
    if 200 <= response.status_code < 300:
        raise AssertionError(f"{response.status_code} for ids that were never created")
    return None


OWN_CHECKS: dict[str, Callable[[Any, Any, Any], bool | None]] = {
    f.__name__: f for f in (runcancel_error_envelope, runcancel_echoed_id, runcancel_never_created)
}


@dataclass(frozen=True)
class GeneratedCheck:
    """One check applied to every generated answer, under its clause id."""

    clause: str
    check: str  # schemathesis's name of a built-in check, or one of OWN_CHECKS
    title: str
    path: str  # where its findings point: status, a header, a JSON path
    expected: str  # what an answer must be, as a finding says it
    overlay: str | None = None  # what it takes from the answers the contract adds upstream
    applies: str = "every answer"  # or "2xx answers", "other methods": where it can fail at all
    anchor: bool = True  # it applies to the anchor's answer too (ids that exist)

    def applies_to(self, method: str, status: int) -> bool:
        if self.applies == "2xx answers":
            return 200 <= status < 300
        if self.applies == "other methods":
            return method != "POST"
        return True


GENERATED_CHECKS = (
    GeneratedCheck(
        "probe.not_a_server_error", "not_a_server_error", "no answer is a 5xx", "status", "a status below 500"
    ),
    GeneratedCheck(
        "probe.status_code_conformance",
        "status_code_conformance",
        "every status is one the contract documents",
        "status",
        "a documented status (200, 400, 401, 404, 429)",
        overlay="accepts 400, 401 and 404 only because the contract adds them",
    ),
    GeneratedCheck(
        "probe.content_type_conformance",
        "content_type_conformance",
        "every answer has its documented content type",
        "header content-type",
        "the documented content type (application/json)",
        overlay="the content type of 400, 401 and 404 answers comes from the added responses",
    ),
    GeneratedCheck(
        "probe.response_schema_conformance",
        "response_schema_conformance",
        "every answer's body fits its documented schema",
        "$",
        "a body that fits the documented schema (Run, ErrorResponse)",
        overlay="400, 401 and 404 bodies are judged against the added ErrorResponse",
    ),
    GeneratedCheck(
        "probe.response_headers_conformance",
        "response_headers_conformance",
        "every answer carries its documented headers",
        "header x-request-id",
        "the documented headers (x-request-id, openai-version, openai-processing-ms)",
        overlay="every header it checks (x-request-id, openai-version, openai-processing-ms) is added",
    ),
    GeneratedCheck(
        "probe.ignored_auth",
        "ignored_auth",
        "a request that succeeded with the key fails without it, and with a wrong one (401)",
        "status",
        "401 for the same request without the key and with a wrong one",
        applies="2xx answers",
    ),
    GeneratedCheck(
        "probe.unsupported_method",
        "unsupported_method",
        "a method the path does not serve is refused (405, or 404 for ids that do not exist)",
        "status",
        "405, or 404 for ids that do not exist",
        applies="other methods",
    ),
    GeneratedCheck(
        "probe.error_envelope",
        "runcancel_error_envelope",
        "every answer that is not 2xx is the OpenAI error envelope, with error.type",
        "$.error",
        "the OpenAI error envelope with a string error.type",
        overlay="the envelope on 400, 401 and 404 is the live API's",
    ),
    GeneratedCheck(
        "probe.echoed_id",
        "runcancel_echoed_id",
        "a 404 `No thread|run found with id '<id>'.` quotes the id sent, decoded",
        "$.error.message",
        "the id sent, percent-decoded",
        overlay="the message is the live API's 404, added by the contract",
    ),
    GeneratedCheck(
        "probe.never_created",
        "runcancel_never_created",
        "ids nobody created are never answered 2xx",
        "status",
        "no 2xx: these ids were never created",
        anchor=False,
    ),
)
ANSWERED = GeneratedCheck(
    "probe.answered",
    "",
    "every generated request is answered within --request-timeout",
    "status",
    "an answer within --request-timeout",
)


# -- the corpus ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Expect:
    """A class of answer: its statuses and, for a 404, which object its message must name."""

    text: str
    statuses: tuple[int, ...]
    names: str | None = None  # "thread" or "run": `No <names> found with id '<the id sent>'.`


THREAD_NOT_FOUND = Expect("404 `No thread found with id '<the id sent>'.`", (404,), "thread")
RUN_NOT_FOUND = Expect("404 `No run found with id '<the id sent>'.`", (404,), "run")
NOT_FOUND = Expect("404 (an unknown thread or run, or unknown_url where the path changed shape)", (404,))
NOT_FOUND_OR_BAD_REQUEST = Expect("404, or 400 for a target the server refuses to parse", (404, 400))
NOT_FOUND_OR_TOO_LONG = Expect("404, or 414/431 for a target too long", (404, 414, 431))


@dataclass(frozen=True)
class Ids:
    """Ids of objects the target created for the corpus: a thread with a run, and another thread."""

    thread: str
    run: str
    other_thread: str


THREAD, RUN, OTHER_THREAD = b"{thread}", b"{run}", b"{other_thread}"


@dataclass(frozen=True)
class EdgeCase:
    """One request of the corpus: the two path segments as raw bytes, and the answer it must get.

    `thread` and `run` go into the request-target as they are; `{thread}`, `{run}` and
    `{other_thread}` stand for the ids of `Ids`. Every answer must also be JSON with the OpenAI
    envelope, never 2xx, never 5xx. When `echo` holds, a `No thread|run found` message must quote the
    segment percent-decoded; raw `/`, `?` and `#` make the segment ambiguous, so those do not echo.
    """

    id: str
    thread: bytes
    run: bytes
    expect: Expect
    why: str
    echo: bool = True
    method: str = "POST"

    def segments(self, ids: Ids) -> tuple[bytes, bytes]:
        def fill(segment: bytes) -> bytes:
            for token, value in ((THREAD, ids.thread), (RUN, ids.run), (OTHER_THREAD, ids.other_thread)):
                segment = segment.replace(token, value.encode())
            return segment

        return fill(self.thread), fill(self.run)

    def target(self, ids: Ids) -> bytes:
        """The request-target below the base URL's path, byte for byte."""
        thread, run = self.segments(ids)
        return b"/threads/" + thread + b"/runs/" + run + b"/cancel"

    def sent_ids(self, ids: Ids) -> dict[str, str]:
        """The ids a server splitting the path on `/` and percent-decoding each segment reads."""
        thread, run = self.segments(ids)
        return {"thread": _decoded(thread), "run": _decoded(run)}


def _decoded(segment: bytes) -> str:
    return unquote_to_bytes(segment).decode("utf-8", "replace")


def _encoded(text: str) -> bytes:
    return quote(text, safe="").encode("ascii")


CORPUS: tuple[EdgeCase, ...] = (
    EdgeCase("probe.empty_thread_id", b"", RUN, NOT_FOUND, "an empty thread id (the SDK refuses to send it)"),
    EdgeCase("probe.empty_run_id", THREAD, b"", NOT_FOUND, "an empty run id"),
    EdgeCase("probe.blank_thread_id", b"%20", RUN, THREAD_NOT_FOUND, "a thread id of one space"),
    EdgeCase(
        "probe.whitespace_run_id", THREAD, b"%09%0A%0D%20", RUN_NOT_FOUND, "a run id of tab, LF, CR, space"
    ),
    EdgeCase(
        "probe.padded_run_id",
        THREAD,
        RUN + b"%20",
        RUN_NOT_FOUND,
        "a real run id with a trailing space: a server that trims ids would cancel the run",
    ),
    EdgeCase("probe.long_run_id_8k", THREAD, b"r" * 8192, NOT_FOUND_OR_TOO_LONG, "a run id of 8 KiB"),
    EdgeCase("probe.long_thread_id_64k", b"t" * 65536, RUN, NOT_FOUND_OR_TOO_LONG, "a thread id of 64 KiB"),
    EdgeCase(
        "probe.combining_marks",
        _encoded("thread_e\u0301\u0302\u0303"),
        RUN,
        THREAD_NOT_FOUND,
        "combining marks stacked on one letter (UTF-8, percent-encoded)",
    ),
    EdgeCase(
        "probe.right_to_left",
        _encoded("\u202ethread_\u05d0\u05d1\u0645\u0631"),
        RUN,
        THREAD_NOT_FOUND,
        "a right-to-left override, Hebrew and Arabic letters",
    ),
    EdgeCase(
        "probe.emoji",
        THREAD,
        _encoded("run_\U0001f9f5\U0001f44d\U0001f3fd\u200d"),
        RUN_NOT_FOUND,
        "emoji outside the BMP, a skin-tone modifier and a zero-width joiner",
    ),
    EdgeCase(
        "probe.encoded_slash",
        b"thread_a%2Fb",
        RUN,
        NOT_FOUND,
        "`%2F` inside the thread id: one segment, unless the server decodes before routing",
    ),
    EdgeCase("probe.raw_slash", b"thread_a/b", RUN, NOT_FOUND, "a raw `/`: one more segment", echo=False),
    EdgeCase("probe.dot_thread_id", b".", RUN, NOT_FOUND, "a thread id `.`, sent raw (clients resolve it)"),
    EdgeCase("probe.dot_dot_thread_id", b"..", RUN, NOT_FOUND, "a thread id `..`, sent raw"),
    EdgeCase("probe.dot_dot_run_id", THREAD, b"..", NOT_FOUND, "a run id `..`, sent raw"),
    EdgeCase("probe.nul", b"%00", RUN, NOT_FOUND_OR_BAD_REQUEST, "a thread id of one NUL (`%00`)"),
    EdgeCase("probe.lone_percent", b"%", RUN, NOT_FOUND_OR_BAD_REQUEST, "a lone `%`, not an escape"),
    EdgeCase(
        "probe.raw_question_mark",
        b"thread_a?b",
        RUN,
        NOT_FOUND,
        "a raw `?`: the rest of the path becomes the query",
        echo=False,
    ),
    EdgeCase(
        "probe.raw_hash",
        b"thread_a#b",
        RUN,
        NOT_FOUND_OR_BAD_REQUEST,
        "a raw `#` in the request-target (clients cut the URL there)",
        echo=False,
    ),
    EdgeCase(
        "probe.control_characters",
        THREAD,
        b"%01%1B%7F",
        NOT_FOUND_OR_BAD_REQUEST,
        "a run id of control characters SOH, ESC, DEL",
    ),
    EdgeCase(
        "probe.sql_injection",
        _encoded("thread_x' OR '1'='1"),
        RUN,
        THREAD_NOT_FOUND,
        "an SQL injection with quotes",
    ),
    EdgeCase(
        "probe.path_traversal",
        _encoded("../../etc/passwd"),
        RUN,
        NOT_FOUND,
        "a path traversal, percent-encoded as one segment",
    ),
    EdgeCase(
        "probe.template_injection",
        THREAD,
        _encoded("{{7*7}}${7*7}<%= 7*7 %>"),
        RUN_NOT_FOUND,
        "template and expression-language injections",
    ),
    EdgeCase(
        "probe.markup",
        _encoded('<img src=x onerror="alert(1)">'),
        RUN,
        THREAD_NOT_FOUND,
        "HTML that a careless error page would render",
    ),
    EdgeCase("probe.run_id_as_thread_id", RUN, RUN, THREAD_NOT_FOUND, "the run's id in the thread slot"),
    EdgeCase("probe.thread_id_as_run_id", THREAD, THREAD, RUN_NOT_FOUND, "the thread's id in the run slot"),
    EdgeCase("probe.swapped_ids", RUN, THREAD, THREAD_NOT_FOUND, "the run's and the thread's ids swapped"),
    EdgeCase(
        "probe.run_of_another_thread",
        OTHER_THREAD,
        RUN,
        RUN_NOT_FOUND,
        "a real run, through another real thread's path",
    ),
)


def probe_clauses() -> list[Clause]:
    """The probe's clauses for the catalogue: the generated checks, then one a corpus case."""
    generated = [
        Clause(c.clause, c.title, "schemathesis; contract", "probe") for c in (*GENERATED_CHECKS, ANSWERED)
    ]
    corpus = [
        Clause(c.id, f"{c.why}: {c.expect.text}", "live API (ids are not format-checked)", "probe")
        for c in CORPUS
    ]
    return [*generated, *corpus]


def send_edge_case(client: TargetClient, case: EdgeCase, ids: Ids) -> Exchange | Finding:
    """Send one corpus case; its exchange, or a finding when the target gave no answer."""
    target = case.target(ids)
    try:
        return client.send_raw(case.method, target)
    except TargetError as exc:
        evidence = Evidence(case.method, client.target.base_url + show_target(target))
        return Finding(case.id, "status", case.expect.text, f"no answer: {exc}", evidence=evidence)


def run_corpus(
    client: TargetClient, ids: Ids, record: ProbeRecord | None = None
) -> dict[str, Exchange | Finding | NotVerified]:
    """Send every corpus case, in order; by case id, its exchange or the finding that it got no answer.

    The first case without an answer stops the corpus (each would wait --request-timeout): the cases
    after it are not verified.
    """
    answers: dict[str, Exchange | Finding | NotVerified] = {}
    unanswered: str | None = None
    for case in CORPUS:
        if unanswered is not None:
            answers[case.id] = NotVerified(case.id, f"not sent: the target did not answer {unanswered}")
            continue
        answers[case.id] = answer = send_edge_case(client, case, ids)
        if isinstance(answer, Finding):
            unanswered = case.id
        elif record is not None:
            record.corpus_answer(answer)
    return answers


def judge_edge_case(case: EdgeCase, ids: Ids, exchange: Exchange) -> list[Finding]:
    """Findings of one corpus answer against the case's class: status, JSON envelope, message, echo."""
    evidence = exchange.evidence

    def finding(path: str, expected: str, observed: str) -> Finding:
        return Finding(case.id, path, expected, observed, evidence=evidence)

    findings: list[Finding] = []
    if exchange.status not in case.expect.statuses:
        findings.append(
            finding("status", case.expect.text, f"{exchange.status}, answer {preview(exchange.content, 80)}")
        )
    problem = envelope_problem(exchange.status, exchange.content) if exchange.status >= 300 else None
    if problem or exchange.status < 300:
        kind = exchange.content_type.split(";")[0].strip() or "absent"
        findings.append(
            finding(
                "$",
                "a JSON OpenAI error envelope",
                problem or f"a {exchange.status} answer, content-type {kind}",
            )
        )
    if problem or exchange.status < 300:
        return findings
    message = _error_message(exchange.content)
    match = NOT_FOUND_MESSAGE.fullmatch(message) if message is not None else None
    sent = case.sent_ids(ids)
    if (
        case.expect.names
        and exchange.status == 404
        and (match is None or match.group(1) != case.expect.names)
    ):
        expected = f"No {case.expect.names} found with id {preview(sent[case.expect.names], 60)}."
        findings.append(finding("$.error.message", expected, preview(message, 120)))
    elif case.echo and (wrong := echo_problem(exchange.content, sent)):
        findings.append(finding("$.error.message", "the id sent, decoded", wrong))
    return findings


# -- the generated run ---------------------------------------------------------------------------------


@dataclass
class CheckResult:
    """What one check found across the generated answers."""

    check: GeneratedCheck
    applied: int = 0
    failures: list[Finding] = field(default_factory=list)
    failing_cases: int = 0


@dataclass
class GeneratedRun:
    """The outcome of one generated run: per clause, how often its check applied and what failed."""

    settings: ProbeSettings
    results: dict[str, CheckResult]
    cases: int = 0
    seconds: float = 0.0
    statuses: Counter[int] = field(default_factory=Counter)
    anchor: Exchange | None = None
    not_verified: str | None = None

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


@contextlib.contextmanager
def isolated_generation() -> Iterator[None]:
    """Generation that depends on the seed, the budget and the contract only.

    - `SCHEMATHESIS_HOOKS` is not read while the configuration is built (a hooks module registered
      by other code in this process still applies: schemathesis keeps one global registry).
    - Hypothesis (6.131 and later) draws about 5% of its strings and numbers from literals of the
      local, non-test modules loaded at that moment. Which modules are loaded differs between
      running against the mock (its modules are imported) and replaying, and any edited literal in
      `src/` would change what a seed generates, so replay would stop matching. The local pool is
      replaced by an empty one for the run (a private function: tests pin that it still exists).
    """
    from hypothesis.internal.conjecture import providers

    hooks = os.environ.pop("SCHEMATHESIS_HOOKS", None)
    original = getattr(providers, "_get_local_constants", None)
    if original is not None:
        from hypothesis.internal.constants_ast import Constants

        empty = Constants()
        providers._get_local_constants = lambda: empty
    try:
        yield
    finally:
        if original is not None:
            providers._get_local_constants = original
        if hooks is not None:
            os.environ["SCHEMATHESIS_HOOKS"] = hooks


def build_config(settings: ProbeSettings, base_url: str) -> Any:
    """schemathesis's configuration, all of it given here (the same keys as `schemathesis.toml`)."""
    from schemathesis.config import SchemathesisConfig

    with isolated_generation():
        return SchemathesisConfig.from_dict(
            {
                "seed": settings.seed,
                "base-url": base_url,
                # Health checks judge how the strategies generate, not the target: never fail on them.
                "suppress-health-check": ["all"],
                "generation": {
                    "max-examples": settings.examples,
                    "database": "none",
                    "mode": "all",
                    # Else the bearer scheme becomes a generated header: half the cases would drop the key.
                    "with-security-parameters": False,
                },
                "phases": {name: {"enabled": name in PHASES} for name in (*PHASES, "stateful")},
            }
        )


def load_operation(settings: ProbeSettings, base_url: str) -> Any:
    """Operation `cancelRun` of the contract, loaded with `build_config`."""
    import schemathesis

    from runcancel.contract import contract_path

    schema = schemathesis.openapi.from_path(contract_path(), config=build_config(settings, base_url))
    try:
        return schema.find_operation_by_id(OPERATION_ID)
    except Exception as exc:
        raise ProbeError(f"runcancel: the contract has no operation {OPERATION_ID} ({exc})") from None


def resolve_checks() -> dict[str, Callable[[Any, Any, Any], bool | None]]:
    """Check functions by clause. An unknown name raises: schemathesis would silently skip it."""
    from schemathesis.checks import CHECKS, load_all_checks

    load_all_checks()
    known: dict[str, Any] = {name: CHECKS.get_one(name) for name in CHECKS.get_all_names()}
    known.update(OWN_CHECKS)
    unknown = sorted({c.check for c in GENERATED_CHECKS} - set(known))
    if unknown:
        raise ProbeError(
            f"runcancel: unknown schemathesis checks {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    return {c.clause: known[c.check] for c in GENERATED_CHECKS}


def run_generated(
    client: TargetClient, settings: ProbeSettings, anchor: tuple[str, str] | None = None
) -> GeneratedRun:
    """Cancel `anchor` (thread id, run id of a run that can be cancelled), then send every generated case.

    When the anchor is not answered 200 with its run, nothing is generated: the run is not verified.
    A request the target does not answer stops the run (recorded under `probe.answered`).
    """
    from hypothesis.errors import HypothesisException
    from schemathesis.generation.feedback import FeedbackSources
    from schemathesis.pytest._test_builder import build_operation_test

    base_url = client.target.base_url
    operation = load_operation(settings, base_url)
    functions = resolve_checks()
    run = GeneratedRun(settings, {c.clause: CheckResult(c) for c in (*GENERATED_CHECKS, ANSWERED)})
    started = time.perf_counter()
    if anchor is not None:
        thread_id, run_id = anchor
        case = operation.Case(
            path_parameters={"thread_id": thread_id, "run_id": run_id}, headers=dict(BETA_HEADER)
        )
        run.anchor = _probe_case(client, case, functions, run, anchor=True)
        if run.anchor is None or not _cancelled(run.anchor, run_id):
            shown = run.anchor.evidence if run.anchor is not None else f"POST {base_url}{case.formatted_path}"
            run.not_verified = (
                f"the target could not cancel a run it had just created ({shown}), so its answers to "
                "ids that do not exist prove nothing; see the shape and errors suites"
            )
            run.seconds = time.perf_counter() - started
            return run
    stopped = False

    def test(case: Any) -> None:
        nonlocal stopped
        if not stopped:
            stopped = _probe_case(client, case, functions, run, anchor=False) is None

    # schemathesis's own per-operation test, the one `@schema.parametrize()` builds at collection and
    # `from_fixture` at run time: every phase, the seed and the budget of `config`. Built here, at run
    # time, so the settings come from the session (config.stash), never from a module-level global;
    # the function is private, so pyproject pins schemathesis to the minor this was tested with.
    hypothesis_test = build_operation_test(
        config=operation.schema.config,
        operation=operation,
        test_func=test,
        given_kwargs={},
        feedback=FeedbackSources(),
    )
    with isolated_generation():
        try:
            hypothesis_test()
        except HypothesisException as exc:  # pragma: no cover - generation itself failed
            raise ProbeError(f"runcancel: schemathesis could not generate cases: {exc}") from None
    run.seconds = time.perf_counter() - started
    return run


def _cancelled(exchange: Exchange, run_id: str) -> bool:
    try:
        data = exchange.json()
    except ValueError:
        return False
    return exchange.status == 200 and isinstance(data, dict) and data.get("id") == run_id


def _probe_case(
    client: TargetClient,
    case: Any,
    functions: Mapping[str, Callable[[Any, Any, Any], bool | None]],
    run: GeneratedRun,
    *,
    anchor: bool,
) -> Exchange | None:
    """Send one case with the project's client and apply every check; None when it got no answer."""
    from schemathesis.core.failures import FailureGroup

    target = case.formatted_path.encode("utf-8")
    if case.query:
        target += b"?" + urlencode(case.query, doseq=True).encode("ascii")
    overrides: dict[str, str | None] = {"OpenAI-Beta": None}
    overrides.update({str(k): str(v) for k, v in (case.headers or {}).items()})
    sent = client.headers_for(overrides)
    try:
        exchange = client.send_raw(case.method, target, headers=overrides)
    except TargetError as exc:
        shown = f"{client.target.base_url}{case.formatted_path}"
        run.results[ANSWERED.clause].failures.append(
            Finding(
                ANSWERED.clause,
                "status",
                ANSWERED.expected,
                f"no answer: {exc}",
                evidence=Evidence(case.method, shown),
            )
        )
        run.results[ANSWERED.clause].failing_cases += 1
        return None
    run.cases += 1
    run.results[ANSWERED.clause].applied += 1
    run.statuses[exchange.status] += 1
    response = _as_schemathesis_response(
        exchange, client.target.base_url + target.decode("ascii", "replace"), sent
    )
    evidence = _evidence(exchange, sent)
    transport = {
        "base_url": client.target.base_url,
        "headers": dict(BETA_HEADER),
        "timeout": client.target.timeout,
    }
    auth = {"Authorization": sent["Authorization"]} if "Authorization" in sent else None
    for check in GENERATED_CHECKS:
        if (anchor and not check.anchor) or not check.applies_to(case.method, exchange.status):
            continue
        result = run.results[check.clause]
        applied: list[bool] = []
        function = _observing(functions[check.clause], applied)
        try:
            case.validate_response(response, checks=[function], headers=auth, transport_kwargs=transport)
        except FailureGroup as group:
            problems = [_failure_text(f) for f in group.exceptions]
        except Exception as exc:  # a check that could not run (a re-send refused, say) is not a pass
            problems = [f"the check could not run: {type(exc).__name__}: {exc}"]
        else:
            problems = []
        if problems or any(applied):
            result.applied += 1
        if problems:
            result.failing_cases += 1
            if len(result.failures) < SHOWN_FAILURES:
                observed = f"{'; '.join(problems)}; answer {exchange.status} {preview(exchange.content, 80)}"
                result.failures.append(
                    Finding(check.clause, check.path, check.expected, observed, evidence=evidence)
                )
    return exchange


def _observing(
    check: Callable[[Any, Any, Any], bool | None], applied: list[bool]
) -> Callable[[Any, Any, Any], bool | None]:
    """`check`, noting whether it applied (schemathesis checks return True when they do not)."""

    @functools.wraps(check)
    def observed(ctx: Any, response: Any, case: Any) -> bool | None:
        result = check(ctx, response, case)
        applied.append(result is not True)
        return result

    return observed


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


# -- overlay honesty and the report --------------------------------------------------------------------


def overlay_statuses() -> dict[int, str]:
    """Statuses of cancelRun's answers that the contract adds to the upstream document, with their source.

    An answer is added when its `x-source` does not name the official OpenAPI document.
    """
    responses = load_contract()["paths"][OPERATION_PATH]["post"]["responses"]
    added = {}
    for status, response in responses.items():
        source = str(response.get("x-source", ""))
        if source and "official OpenAPI document" not in source:
            added[int(status)] = source
    return added


@dataclass
class ProbeRecord:
    """What the probe sent in one session, for the terminal summary."""

    settings: ProbeSettings
    generated: GeneratedRun | None = None
    corpus_sent: int = 0
    corpus_seconds: float = 0.0
    corpus_statuses: Counter[int] = field(default_factory=Counter)

    def corpus_answer(self, exchange: Exchange) -> None:
        self.corpus_sent += 1
        self.corpus_seconds += exchange.elapsed
        self.corpus_statuses[exchange.status] += 1

    @property
    def sent(self) -> int:
        return self.corpus_sent + (self.generated.cases if self.generated else 0)

    def summary_lines(self) -> list[str]:
        """The probe's lines of the terminal summary: what was sent, from which seed, and the overlay."""
        if not self.sent:
            return []
        s = self.settings
        lines = []
        if self.generated is not None:
            g = self.generated
            rate = f", {g.cases / g.seconds:.0f} cases/s" if g.seconds > 0 else ""
            lines.append(
                f"probe: {g.cases} generated cases sent (seed {s.seed}, {s.examples} examples; "
                f"{', '.join(PHASES)}) in {g.seconds:.2f} s{rate}"
            )
        if self.corpus_sent:
            lines.append(f"probe: {self.corpus_sent} corpus cases sent")
        statuses = Counter[int]()
        statuses.update(self.corpus_statuses)
        if self.generated is not None:
            statuses.update(self.generated.statuses)
        lines += overlay_lines(statuses)
        lines.append(f"probe: reproduce with {s.reproduce}")
        return lines


def overlay_lines(statuses: Mapping[int, int]) -> list[str]:
    """Which checks rely on the answers the contract adds, and how many answers had such a status."""
    added = overlay_statuses()
    if not added:
        return []
    codes = ", ".join(str(s) for s in sorted(added))
    judged = sum(n for status, n in statuses.items() if status in added)
    total = sum(statuses.values())
    by_status = ", ".join(f"{s}: {statuses[s]}" for s in sorted(added) if statuses.get(s))
    lines = [
        f"probe overlay: {codes} are not in the upstream OpenAPI document; the contract adds them from "
        f"the live API. {judged} of {total} answers had one of them"
        + (f" ({by_status})" if by_status else "")
    ]
    for check in GENERATED_CHECKS:
        if check.overlay:
            lines.append(f"  {check.clause}: {check.overlay}")
    lines.append("  the corpus (probe.<case>): every expected class (404, 400, 414/431) is an added answer")
    return lines
