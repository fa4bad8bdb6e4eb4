"""The corpus: edge-case ids schemathesis never sends, each sent exactly as written, and its judge.

schemathesis drops "", ".", "..", anything with "/" and NUL, and percent-encodes everything else; the
corpus sends those bytes raw where a client would normalise them (`TargetClient.send_raw`), each with
the class of answer it must get. The cases, their bytes and classes are data (`CORPUS`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote

from runcancel.findings import Evidence, Finding, NotVerified, preview
from runcancel.probe.checks import (
    ANSWERED,
    GENERATED_CHECKS,
    NOT_FOUND_MESSAGE,
    decoded,
    echo_problem,
    envelope_problem,
    error_message,
)
from runcancel.targets import Exchange, TargetClient, TargetError, show_target

if TYPE_CHECKING:
    from runcancel.probe.record import ProbeRecord

__all__ = [
    "CORPUS",
    "NOT_FOUND",
    "NOT_FOUND_OR_BAD_REQUEST",
    "NOT_FOUND_OR_TOO_LONG",
    "RUN_NOT_FOUND",
    "THREAD_NOT_FOUND",
    "EdgeCase",
    "Expect",
    "Ids",
    "judge_edge_case",
    "probe_clauses",
    "run_corpus",
    "send_edge_case",
]


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
        return {"thread": decoded(thread), "run": decoded(run)}


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
    message = error_message(exchange.content)
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


def probe_clauses() -> list[tuple[str, str, str]]:
    """The probe's clauses for the catalogue, as (id, title, source): the generated checks, then the corpus.

    `runcancel.clauses` makes them `Clause` records: the probe's data does not depend on the catalogue.
    """
    generated = [(c.clause, c.title, "schemathesis; contract") for c in (*GENERATED_CHECKS, ANSWERED)]
    corpus = [(c.id, f"{c.why}: {c.expect.text}", "live API (ids are not format-checked)") for c in CORPUS]
    return [*generated, *corpus]
