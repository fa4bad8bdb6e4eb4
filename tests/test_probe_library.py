"""The probe library (runcancel.probe): its own checks, the corpus, reproducible generation, the overlay
report. Not `test_probe.py`: that basename is the contract suite's, and one run imports both."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from runcancel import probe
from runcancel.arrange import Arranger
from runcancel.clauses import all_clauses
from runcancel.findings import Finding
from runcancel.mock import DEFAULT_API_KEY, MockConfig, MockServer
from runcancel.probe import (
    CORPUS,
    GENERATED_CHECKS,
    RUN_NOT_FOUND,
    THREAD_NOT_FOUND,
    EdgeCase,
    Ids,
    ProbeError,
    ProbeSettings,
    echo_problem,
    envelope_problem,
    generated,
    judge_edge_case,
    overlay_lines,
    overlay_statuses,
    path_ids,
    run_generated,
)
from runcancel.targets import Exchange, Target
from test_models import ANCHOR as CANCELLING

IDS = Ids("thread_abc", "run_xyz", "thread_other")
FAKE = "http://127.0.0.1:9/v1"
ANCHOR = ("thread_anchor", "run_anchor")


def envelope(message: str, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": code}}


def not_found(kind: str, quoted: str) -> bytes:
    return json.dumps(envelope(f"No {kind} found with id '{quoted}'.")).encode()


def exchange(status: int, body: bytes, content_type: str = "application/json") -> Exchange:
    headers = httpx.Headers({"content-type": content_type})
    return Exchange("POST", "http://t.test/v1/threads/x/runs/y/cancel", status, headers, body, 0.001)


# -- the project's own checks --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "problem"),
    [
        pytest.param(200, b"<html>", None, id="2xx-not-judged"),
        pytest.param(404, json.dumps(envelope("x")).encode(), None, id="envelope"),
        pytest.param(404, b"<html><body>Not Found</body></html>", "not JSON", id="html"),
        pytest.param(
            404, b'{"detail": "Not Found"}', "without the OpenAI error envelope ($.error", id="detail"
        ),
        pytest.param(400, b'{"error": {"message": "m"}}', "$.error.type", id="no-type"),
    ],
)
def test_every_non_2xx_answer_must_be_the_envelope(status: int, body: bytes, problem: str | None) -> None:
    """An answer that is not 2xx is JSON with the OpenAI envelope and a string error.type."""
    found = envelope_problem(status, body)
    assert found is None if problem is None else problem in str(found)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        pytest.param(not_found("thread", "a b"), None, id="thread-quoted"),
        pytest.param(not_found("run", "run_xyz"), None, id="run-quoted"),
        pytest.param(
            not_found("thread", "a%20b"), 'thread id "a%20b", the request sent "a b"', id="not-decoded"
        ),
        pytest.param(not_found("run", "run_xy"), 'run id "run_xy"', id="truncated"),
        pytest.param(
            json.dumps(envelope("Invalid URL (POST /x)", "unknown_url")).encode(), None, id="other-404"
        ),
        pytest.param(b"not json", None, id="not-json"),
    ],
)
def test_a_not_found_message_quotes_the_id_sent(body: bytes, problem: str | None) -> None:
    """`No thread|run found with id '<id>'.` quotes the id the request carried, decoded."""
    found = echo_problem(body, {"thread": "a b", "run": "run_xyz"})
    assert found is None if problem is None else problem in str(found)


@pytest.mark.parametrize(
    ("path", "ids"),
    [
        pytest.param(b"/threads/a%20b/runs/r%2Fs/cancel", {"thread": "a b", "run": "r/s"}, id="decoded"),
        pytest.param(
            b"/threads/%F0%9F%A7%B5/runs/r/cancel?x=1", {"thread": "\U0001f9f5", "run": "r"}, id="utf8"
        ),
        pytest.param(b"/threads//runs/r/cancel", {"thread": "", "run": "r"}, id="empty"),
    ],
)
def test_path_ids_reads_each_segment_decoded(path: bytes, ids: dict[str, str]) -> None:
    """The ids a server reads from the path: the segments after `threads` and `runs`, percent-decoded."""
    assert path_ids(path) == ids


# -- the corpus ----------------------------------------------------------------------------------------


def test_the_corpus_has_clause_ids_and_only_error_classes() -> None:
    """Each case has a unique `probe.` id in the clause catalogue and expects no 2xx and no 5xx."""
    ids = [c.id for c in CORPUS]
    assert len(ids) == len(set(ids))
    catalogue = all_clauses()
    for case in CORPUS:
        assert case.id.startswith("probe.")
        assert case.id in catalogue
        assert all(400 <= s < 500 for s in case.expect.statuses)


@pytest.mark.parametrize(
    ("case_id", "segment"),
    [
        pytest.param("probe.empty_thread_id", b"/threads//runs/run_xyz/cancel", id="empty"),
        pytest.param("probe.dot_dot_thread_id", b"/threads/../runs/", id="dot-dot-raw"),
        pytest.param("probe.raw_hash", b"/threads/thread_a#b/runs/", id="hash-raw"),
        pytest.param("probe.lone_percent", b"/threads/%/runs/", id="percent-raw"),
        pytest.param("probe.padded_run_id", b"/runs/run_xyz%20/cancel", id="padded"),
        pytest.param(
            "probe.run_of_another_thread", b"/threads/thread_other/runs/run_xyz/", id="other-thread"
        ),
        pytest.param("probe.swapped_ids", b"/threads/run_xyz/runs/thread_abc/", id="swapped"),
    ],
)
def test_each_case_is_written_as_it_is_sent(case_id: str, segment: bytes) -> None:
    """A case's request-target holds its bytes raw, with the arranged ids filled in."""
    case = next(c for c in CORPUS if c.id == case_id)
    assert segment in case.target(IDS)


def test_long_ids_are_8_and_64_kib() -> None:
    """The two long ids are exactly 8 KiB and 64 KiB."""
    lengths = {c.id: max(len(c.thread), len(c.run)) for c in CORPUS if c.id.startswith("probe.long")}
    assert sorted(lengths.values()) == [8192, 65536]


BLANK = next(c for c in CORPUS if c.id == "probe.blank_thread_id")
EMOJI = next(c for c in CORPUS if c.id == "probe.emoji")
RAW_SLASH = next(c for c in CORPUS if c.id == "probe.raw_slash")
EMPTY = next(c for c in CORPUS if c.id == "probe.empty_thread_id")


@pytest.mark.parametrize(
    ("case", "answer", "paths"),
    [
        pytest.param(BLANK, exchange(404, not_found("thread", " ")), [], id="right-class"),
        pytest.param(
            EMOJI, exchange(404, not_found("run", EMOJI.sent_ids(IDS)["run"])), [], id="unicode-echo"
        ),
        pytest.param(
            EMPTY,
            exchange(404, json.dumps(envelope("Invalid URL", "unknown_url")).encode()),
            [],
            id="any-404",
        ),
        pytest.param(BLANK, exchange(200, b'{"id": "run_xyz"}'), ["status", "$"], id="2xx"),
        pytest.param(BLANK, exchange(500, b"oops", "text/plain"), ["status", "$"], id="5xx-not-json"),
        pytest.param(BLANK, exchange(404, b"<h1>404</h1>", "text/html"), ["$"], id="html"),
        pytest.param(BLANK, exchange(404, not_found("thread", "%20")), ["$.error.message"], id="echo-raw"),
        pytest.param(
            BLANK,
            exchange(404, json.dumps(envelope("Invalid URL", "unknown_url")).encode()),
            ["$.error.message"],
            id="route-not-matched",
        ),
        pytest.param(RAW_SLASH, exchange(404, not_found("thread", "thread_a")), [], id="ambiguous-no-echo"),
    ],
)
def test_a_corpus_answer_is_judged_against_its_class(
    case: EdgeCase, answer: Exchange, paths: list[str]
) -> None:
    """Status in the class, a JSON envelope, the named object and the decoded id in the message."""
    findings = judge_edge_case(case, IDS, answer)
    assert [f.path for f in findings] == paths
    assert all(f.clause == case.id and f.evidence is not None for f in findings)


def test_named_classes_name_the_object() -> None:
    """THREAD_NOT_FOUND and RUN_NOT_FOUND ask for their own message; both are 404 only."""
    assert (THREAD_NOT_FOUND.names, RUN_NOT_FOUND.names) == ("thread", "run")
    assert THREAD_NOT_FOUND.statuses == RUN_NOT_FOUND.statuses == (404,)


# -- generation ----------------------------------------------------------------------------------------


Handler = Callable[[httpx.Request], httpx.Response]


def reference_like(request: httpx.Request) -> httpx.Response:
    """The reference mock's answers, enough for the probe: the anchor cancels, the rest is not found."""
    target: bytes = request.extensions["target"]
    headers = {"x-request-id": "req_" + "0" * 32, "openai-version": "2020-10-01", "openai-processing-ms": "1"}
    if request.method != "POST":
        body = envelope(f"Invalid URL ({request.method} {target.decode()})", "unknown_url")
        return httpx.Response(404, json=body, headers=headers)
    if request.headers.get("authorization") != "Bearer sk-test":
        return httpx.Response(401, json=envelope("You didn't provide an API key."), headers=headers)
    if request.headers.get("openai-beta") != "assistants=v2":
        return httpx.Response(400, json=envelope("beta", "invalid_beta"), headers=headers)
    ids = path_ids(target)
    if ids.get("run") == ANCHOR[1]:
        run = {**CANCELLING, "id": ANCHOR[1], "thread_id": ANCHOR[0]}
        return httpx.Response(200, json=run, headers=headers)
    return httpx.Response(404, json=json.loads(not_found("thread", ids.get("thread", ""))), headers=headers)


@pytest.fixture
def sent() -> list[tuple[str, bytes, str | None]]:
    return []


@pytest.fixture
def client_for(sent: list[tuple[str, bytes, str | None]]) -> Iterator[Callable[[Handler], Any]]:
    clients = []

    def make(handler: Handler) -> Any:
        def recording(request: httpx.Request) -> httpx.Response:
            sent.append((request.method, request.extensions["target"], request.headers.get("openai-beta")))
            return handler(request)

        # A check that re-sends (ignored_auth, on the anchor's 200) goes through this client too.
        client = Target(FAKE, "sk-test", transport=httpx.MockTransport(recording)).client()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


SMALL = ProbeSettings(seed=7, examples=15)


def test_the_same_seed_sends_the_same_cases(client_for: Callable[[Handler], Any], sent: list[Any]) -> None:
    """A seed and a budget name the same requests, in the same order; another seed, other requests."""
    runs = []
    for settings in (SMALL, SMALL, ProbeSettings(seed=8, examples=15)):
        sent.clear()
        run_generated(client_for(reference_like), settings, anchor=ANCHOR)
        runs.append(list(sent))
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


def test_a_schemathesis_toml_and_hooks_change_nothing(
    client_for: Callable[[Handler], Any],
    sent: list[Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A schemathesis.toml up the tree and SCHEMATHESIS_HOOKS leave the generated cases as they were."""
    run_generated(client_for(reference_like), SMALL, anchor=ANCHOR)
    before = list(sent)
    (tmp_path / "schemathesis.toml").write_text(
        'seed = 1\n[generation]\nmax-examples = 2\nmode = "negative"\n[phases.coverage]\nenabled = false\n'
    )
    hooks = tmp_path / "hooks.py"
    hooks.write_text("raise RuntimeError('hooks were loaded')\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SCHEMATHESIS_HOOKS", str(hooks))
    sent.clear()
    run_generated(client_for(reference_like), SMALL, anchor=ANCHOR)
    assert sent == before
    assert os.environ["SCHEMATHESIS_HOOKS"] == str(hooks)


def test_local_literals_do_not_reach_generation() -> None:
    """Hypothesis's pool of local literals is empty while the probe generates (a private function: pinned)."""
    from hypothesis.internal.conjecture import providers

    original = providers._get_local_constants
    with probe.isolated_generation():
        assert len(providers._get_local_constants()) == 0
    assert providers._get_local_constants is original


def test_the_reference_mock_holds_every_check() -> None:
    """Against the reference mock every check applies at least once and nothing fails."""
    with MockServer(MockConfig(step=0.005, cancel_delay=0.005)) as server:
        target = Target(server.base_url, DEFAULT_API_KEY)
        with target.client() as client:
            arranged = Arranger(client).run("in_progress")
            run = run_generated(client, SMALL, anchor=(arranged.thread_id, arranged.run_id))
    assert run.not_verified is None
    assert run.cases > 15
    for clause, result in run.results.items():
        assert result.failures == [], clause
        assert result.applied > 0, clause


def test_without_a_cancellable_anchor_nothing_is_generated(
    client_for: Callable[[Handler], Any], sent: list[Any]
) -> None:
    """If the target cannot cancel a run it just created, the probe is not verified and sends no more."""
    run = run_generated(client_for(reference_like), SMALL, anchor=("thread_anchor", "run_gone"))
    assert len(sent) == 1
    assert run.cases == 1
    assert run.not_verified is not None
    assert "could not cancel a run it had just created" in run.not_verified


def test_a_request_without_answer_stops_the_run(
    client_for: Callable[[Handler], Any], sent: list[Any]
) -> None:
    """The first request that times out is a probe.answered finding; nothing more is sent."""

    def hangs(request: httpx.Request) -> httpx.Response:
        if path_ids(request.extensions["target"]).get("run") == ANCHOR[1]:
            return reference_like(request)
        raise httpx.ReadTimeout("timed out", request=request)

    run = run_generated(client_for(hangs), SMALL, anchor=ANCHOR)
    # The anchor, ignored_auth's two re-sends of it (without the key, with a wrong one), the case that hung.
    anchored = [path_ids(target).get("run") == ANCHOR[1] for _method, target, _beta in sent]
    assert anchored == [True, True, True, False]
    [finding] = run.findings("probe.answered")
    assert "did not answer" in finding.observed
    assert finding.evidence is not None


@pytest.mark.parametrize(
    ("fault", "clause"),
    [
        pytest.param(lambda r: httpx.Response(500, text="boom"), "probe.not_a_server_error", id="500"),
        pytest.param(
            lambda r: httpx.Response(404, html="<h1>Not Found</h1>"), "probe.error_envelope", id="html"
        ),
        pytest.param(
            lambda r: httpx.Response(404, json={"detail": "x"}), "probe.error_envelope", id="detail"
        ),
        pytest.param(lambda r: httpx.Response(200, json={"id": "x"}), "probe.never_created", id="2xx"),
        pytest.param(
            lambda r: httpx.Response(404, content=not_found("thread", "nope")), "probe.echoed_id", id="echo"
        ),
    ],
)
def test_a_fault_fails_its_check_with_the_request(
    client_for: Callable[[Handler], Any], fault: Handler, clause: str
) -> None:
    """A server fault on generated cases fails the clause that names it, showing the request and answer."""

    def broken(request: httpx.Request) -> httpx.Response:
        answer = reference_like(request)
        return answer if answer.status_code == 200 else fault(request)

    run = run_generated(client_for(broken), SMALL, anchor=ANCHOR)
    findings = run.findings(clause)
    assert findings, {c: r.failing_cases for c, r in run.results.items()}
    assert findings[0].evidence is not None
    assert findings[0].evidence.url.startswith(f"{FAKE}/threads/")
    assert "answer" in findings[0].observed


def test_an_unknown_check_name_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """A check name schemathesis does not know is an error, never a silently skipped check."""
    typo = probe.GeneratedCheck("probe.typo", "status_code_conformanse", "a typo", "status", "-")
    monkeypatch.setattr(generated, "GENERATED_CHECKS", (*GENERATED_CHECKS, typo))
    with pytest.raises(ProbeError, match="unknown schemathesis checks status_code_conformanse"):
        probe.resolve_checks()


# -- the report ----------------------------------------------------------------------------------------


def test_the_overlay_is_read_from_the_contracts_x_source_marks() -> None:
    """400, 401 and 404 are the answers the contract adds (x-source live API); 429 is upstream's."""
    assert set(overlay_statuses()) == {400, 401, 404}


def test_the_report_names_the_checks_relying_on_the_overlay() -> None:
    """The overlay lines count the answers with an added status and name each check that relies on them."""
    lines = overlay_lines({404: 3, 400: 1, 200: 1})
    assert "4 of 5 answers had one of them (400: 1, 404: 3)" in lines[0]
    for check in GENERATED_CHECKS:
        assert any(check.clause in line for line in lines) is (check.overlay is not None)


def test_the_summary_says_how_many_cases_were_sent_and_how_to_reproduce(
    client_for: Callable[[Handler], Any],
) -> None:
    """The terminal summary counts generated and corpus cases and prints the reproducing options."""
    record = probe.ProbeRecord(SMALL)
    assert record.summary_lines() == []
    record.generated = run_generated(client_for(reference_like), SMALL, anchor=ANCHOR)
    record.corpus_answer(exchange(404, not_found("thread", "x")))
    lines = record.summary_lines()
    assert lines[0].startswith(f"probe: {record.generated.cases} generated cases sent (seed 7, 15 examples")
    assert lines[1] == "probe: 1 corpus cases sent"
    assert lines[-1] == "probe: reproduce with --probe-seed 7 --probe-examples 15"


# -- sending raw targets -------------------------------------------------------------------------------


@given(
    st.lists(st.binary(min_size=0, max_size=12).filter(lambda b: b"%" not in b and b"/" not in b), max_size=5)
)
def test_a_stand_in_url_decodes_back_to_the_target(segments: list[bytes]) -> None:
    """Where httpx cannot hold a target, its stand-in is a valid URL path that decodes back to it."""
    from urllib.parse import unquote_to_bytes

    from runcancel.targets import _stand_in

    target = b"/v1/" + b"/".join(segments)
    stand_in = _stand_in(target)
    assert httpx.URL("http://t.test").copy_with(raw_path=stand_in).raw_path == stand_in
    assert unquote_to_bytes(stand_in) == target


def test_the_corpus_stops_at_the_first_case_without_answer(
    client_for: Callable[[Handler], Any], sent: list[Any]
) -> None:
    """A case left unanswered is a finding with its request; the cases after it are not verified, not sent."""

    def hangs_on_the_third(request: httpx.Request) -> httpx.Response:
        if len(sent) == 3:
            raise httpx.ReadTimeout("timed out", request=request)
        return reference_like(request)

    answers = probe.run_corpus(client_for(hangs_on_the_third), IDS)
    kinds = [type(a).__name__ for a in answers.values()]
    assert kinds == ["Exchange", "Exchange", "Finding"] + ["NotVerified"] * (len(CORPUS) - 3)
    third = answers[CORPUS[2].id]
    assert isinstance(third, Finding)
    assert third.evidence is not None
    assert "did not answer" in third.observed
    assert len(sent) == 3
