"""Hostile and flaky targets: bounded answers, 429s waited out, pacing, resets retried or reported.

Every server here is a small real one on a socket of 127.0.0.1 (tests/deploy_servers.py), one
behaviour each; the in-process transport gets the same bounds against an app that never ends.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from broken_servers import API_KEY, Served, mock_config
from deploy_servers import (
    EveryThirdLimited,
    RawServer,
    close_mid_body_first,
    counting,
    endless,
    every_third_429,
    inflating,
    reset_always,
    reset_first,
    silent,
    ten_gib,
    ten_gib_undeclared,
    trickle,
)
from runcancel.mock import create_app
from runcancel.recording import Recorder
from runcancel.targets import (
    BOUNDED_ANSWER,
    COMPLETE_ANSWER,
    Exchange,
    Target,
    TargetClient,
    TargetUnreachable,
    TransportFault,
    rate_limit_findings,
    retry_after,
)

KEY = "sk-hostile-test-key"
TIMEOUT = 1.5
# How much later than its time-out a cut answer may come back, on a busy shared machine.
SLACK = 1.5
MIB = 1024 * 1024


@pytest.fixture
def serve(request: pytest.FixtureRequest) -> Iterator[RawServer]:
    with RawServer(request.param) as server:
        yield server


def client_for(url: str, **kwargs: object) -> TargetClient:
    kwargs.setdefault("timeout", TIMEOUT)
    return Target(url + "/v1", KEY, **kwargs).client()  # type: ignore[arg-type]


def timed_send(client: TargetClient, method: str = "GET", path: str = "/threads/t") -> tuple[Exchange, float]:
    started = time.monotonic()
    exchange = client.send(method, path)
    return exchange, time.monotonic() - started


# -- bounded answers -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("serve", "observed"),
    [
        pytest.param(endless, f"beyond the bound of {MIB} bytes", id="endless-body"),
        pytest.param(ten_gib, "declares Content-Length 10737418240", id="10GiB-content-length"),
        pytest.param(ten_gib_undeclared, f"beyond the bound of {MIB} bytes", id="10GiB-until-close"),
        pytest.param(inflating(16 * MIB), f"beyond the bound of {MIB} bytes", id="gzip-inflating"),
        pytest.param(trickle, f"not complete within {TIMEOUT:g} s", id="trickle"),
    ],
    indirect=["serve"],
)
def test_an_answer_beyond_a_bound_is_one_finding_and_the_client_goes_on(
    serve: RawServer, observed: str
) -> None:
    """Too large, or not complete within the time-out as a whole: one finding with the request, in time."""
    with client_for(serve.url, max_answer_bytes=MIB) as client:
        exchange, took = timed_send(client)
        assert took < TIMEOUT + SLACK
        assert exchange.status == 200
        assert not exchange.complete
        assert len(exchange.content) <= 64 * 1024
        [finding] = exchange.findings
        assert finding.clause == BOUNDED_ANSWER
        assert observed in finding.observed
        assert finding.evidence is not None
        assert finding.evidence.url == f"{serve.url}/v1/threads/t"
        assert client.tally.bounded == 1
        with pytest.raises(ValueError, match="not read whole"):
            exchange.json()


@pytest.mark.parametrize("serve", [pytest.param(silent, id="silent")], indirect=True)
def test_no_status_line_within_the_time_out_is_a_fault_with_a_finding(serve: RawServer) -> None:
    """A target that accepts and never answers: TransportFault carrying a bounded-answer finding."""
    with client_for(serve.url) as client, pytest.raises(TransportFault) as caught:
        timed_send(client, "POST", "/threads")
    assert caught.value.finding.clause == BOUNDED_ANSWER
    assert caught.value.finding.evidence is not None
    assert caught.value.finding.evidence.method == "POST"
    assert "did not answer POST" in str(caught.value)


@pytest.mark.parametrize("serve", [pytest.param(endless, id="endless-body")], indirect=True)
def test_the_bound_holds_while_recording(serve: RawServer, tmp_path: Path) -> None:
    """vcrpy reads a whole body while recording: the bound holds below it, and the finding is made."""
    recorder = Recorder(tmp_path, "all", KEY)
    with recorder.cassette(tmp_path / "s" / "c.yaml"), client_for(serve.url, max_answer_bytes=MIB) as client:
        exchange, took = timed_send(client)
    assert took < TIMEOUT + SLACK
    assert [f.clause for f in exchange.findings] == [BOUNDED_ANSWER]


async def endless_app(scope: Scope, receive: Receive, send: Send) -> None:
    """An ASGI app whose answer never ends."""
    if scope["type"] != "http":
        return
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]}
    )
    while True:
        await send({"type": "http.response.body", "body": b" " * 65536, "more_body": True})


async def hanging_app(scope: Scope, receive: Receive, send: Send) -> None:
    """An ASGI app that starts its answer and then sends nothing."""
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await receive()
    await receive()  # http.disconnect only when the client leaves


@pytest.mark.parametrize(
    ("app", "observed"),
    [
        pytest.param(endless_app, "beyond the bound", id="endless"),
        pytest.param(hanging_app, "not complete within", id="hanging"),
    ],
)
def test_the_bounds_hold_in_process(app: object, observed: str) -> None:
    """An in-process app that never ends its answer is cut like a server on a socket."""
    with Target(
        "http://in-process.invalid/v1", KEY, transport=app, timeout=TIMEOUT, max_answer_bytes=MIB
    ).client() as c:
        exchange, took = timed_send(c)
    assert took < TIMEOUT + SLACK
    [finding] = exchange.findings
    assert observed in finding.observed


# -- rate limits ------------------------------------------------------------------------------------


@pytest.mark.parametrize("serve", [pytest.param(every_third_429("1"), id="retry-after-1")], indirect=True)
def test_429s_with_retry_after_are_waited_out_and_counted(serve: RawServer) -> None:
    """Every third request answered 429 Retry-After: 1: all requests complete; the waits are counted."""
    waits: list[float] = []
    target = Target(serve.url + "/v1", KEY, timeout=TIMEOUT)
    seen: list[Exchange] = []
    with TargetClient(target, observers=[seen.append], sleep=waits.append) as client:
        statuses = [client.send("GET", f"/threads/t{i}").status for i in range(10)]
    assert statuses == [200] * 10
    assert serve.requests == 14  # 10 answered, and the 3rd, 6th, 9th and 12th rate-limited
    assert client.tally.waited_429 == 4
    assert waits == [1.0] * 4
    assert client.tally.waited_seconds == 4.0
    assert [e.status for e in seen] == [200] * 10  # observers see the answers, not the waited-out 429s
    assert len(client.tally.kept_429) == 4
    assert all(rate_limit_findings(e) == [] for e in client.tally.kept_429)
    assert any("4 answers 429 waited out" in line for line in client.summary_lines())


@pytest.mark.parametrize("serve", [pytest.param(every_third_429("1"), id="retry-after-1")], indirect=True)
def test_a_429_is_really_waited_out(serve: RawServer) -> None:
    """Without a stand-in clock: the third request waits its second, then completes."""
    with client_for(serve.url, timeout=5) as client:
        started = time.monotonic()
        statuses = [client.send("GET", "/threads/t").status for _ in range(3)]
    assert statuses == [200, 200, 200]
    assert time.monotonic() - started >= 1.0
    assert client.tally.waited_429 == 1


@pytest.mark.parametrize(
    ("serve", "kwargs"),
    [
        pytest.param(every_third_429(None), {}, id="no-retry-after"),
        pytest.param(every_third_429("60"), {}, id="beyond-the-time-out"),
        pytest.param(every_third_429("1"), {"wait_budget": 0.5}, id="beyond-the-budget"),
    ],
    indirect=["serve"],
)
def test_a_429_not_to_be_waited_out_is_returned(serve: RawServer, kwargs: dict[str, float]) -> None:
    """No Retry-After, one longer than the time-out, or beyond the budget: the 429 is the answer."""
    waits: list[float] = []
    target = Target(serve.url + "/v1", KEY, timeout=TIMEOUT, **kwargs)  # type: ignore[arg-type]
    with TargetClient(target, sleep=waits.append) as client:
        statuses = [client.send("GET", "/threads/t").status for _ in range(3)]
    assert statuses == [200, 200, 429]
    assert waits == []
    assert (client.tally.waited_429, client.tally.returned_429) == (0, 1)


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        pytest.param({"retry-after": "3"}, 3.0, id="seconds"),
        pytest.param({"retry-after-ms": "250", "retry-after": "3"}, 0.25, id="milliseconds-first"),
        pytest.param({"retry-after": "Wed, 21 Oct 2015 07:28:10 GMT"}, 10.0, id="http-date"),
        pytest.param({"retry-after": "soon"}, None, id="nonsense"),
        pytest.param({}, None, id="absent"),
    ],
)
def test_retry_after_is_read_as_the_sdk_reads_it(headers: dict[str, str], seconds: float | None) -> None:
    """retry-after-ms, else Retry-After in seconds or as an HTTP date; None when it says nothing."""
    now = 1445412480.0  # 10 s before the date above
    assert retry_after(httpx.Headers(headers), now=now) == seconds


@pytest.mark.parametrize(
    ("retry", "body", "paths"),
    [
        pytest.param("1", None, [], id="as-documented"),
        pytest.param("0", None, ["headers.retry-after"], id="retry-after-zero"),
        pytest.param("1.5", None, ["headers.retry-after"], id="retry-after-fraction"),
        pytest.param(
            None, b'{"error": {"message": "slow down"}}', ["$.error.type"], id="envelope-incomplete"
        ),
        pytest.param(None, b"slow down", ["$"], id="not-json"),
    ],
)
def test_a_429_is_checked_against_the_contract(
    retry: str | None, body: bytes | None, paths: list[str]
) -> None:
    """The contract's 429: the error envelope, and Retry-After an integer >= 1 when present."""
    envelope = (
        b'{"error": {"message": "Rate limit reached.", "type": "requests", "param": null, "code": null}}'
    )
    exchange = Exchange(
        "POST",
        "http://h/v1/x",
        429,
        httpx.Headers({"retry-after": retry} if retry else {}),
        body or envelope,
        0.0,
    )
    findings = rate_limit_findings(exchange)
    assert [f.path for f in findings][: len(paths)] == paths
    assert bool(findings) == bool(paths)
    assert all(f.clause == "error.envelope" and f.evidence == exchange.evidence for f in findings)


def test_requests_are_paced() -> None:
    """At --rate-limit 20/s, six requests start at least 50 ms apart: five gaps, 0.25 s at least."""
    handler, times = counting()
    with RawServer(handler) as server, client_for(server.url, rate_limit=20.0) as client:
        started = time.monotonic()
        for _ in range(6):
            client.send("GET", "/threads/t")
        took = time.monotonic() - started
    assert len(times) == 6
    assert took >= 0.249
    assert client.pacer.paused > 0.1


def test_an_unpaced_client_does_not_wait() -> None:
    """Without a rate limit the pacer never sleeps."""
    handler, _times = counting()
    with RawServer(handler) as server, client_for(server.url) as client:
        for _ in range(6):
            client.send("GET", "/threads/t")
    assert client.pacer.paused == 0


# -- transport faults -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "serve",
    [pytest.param(reset_first, id="reset"), pytest.param(close_mid_body_first, id="close-mid-body")],
    indirect=True,
)
def test_an_idempotent_request_is_sent_again_after_a_reset_or_a_close(serve: RawServer) -> None:
    """A GET, or a request marked idempotent (a cancel of ids that do not exist), is retried once."""
    with client_for(serve.url) as client:
        exchange = client.send("GET", "/threads/t")
        assert (exchange.status, client.tally.retried) == (200, 1)
    assert serve.requests == 2


@pytest.mark.parametrize("serve", [pytest.param(reset_first, id="reset")], indirect=True)
def test_a_cancel_marked_idempotent_is_retried(serve: RawServer) -> None:
    """A cancel of ids that do not exist is idempotent for the contract when the caller says so."""
    with client_for(serve.url) as client:
        assert client.cancel("thread_none", "run_none", idempotent=True).status == 200
    assert client.tally.retried == 1


@pytest.mark.parametrize(
    "serve",
    [pytest.param(reset_first, id="reset"), pytest.param(close_mid_body_first, id="close-mid-body")],
    indirect=True,
)
def test_a_request_that_is_not_idempotent_is_not_sent_twice(serve: RawServer) -> None:
    """A cancel of a real run is not retried: the fault is a finding of the test, with the request."""
    with client_for(serve.url) as client, pytest.raises(TransportFault) as caught:
        client.cancel("thread_a", "run_b")
    finding = caught.value.finding
    assert finding.clause == COMPLETE_ANSWER
    assert finding.evidence is not None
    assert finding.evidence.url.endswith("/threads/thread_a/runs/run_b/cancel")
    assert "the server accepted the connection" in str(caught.value).lower()
    assert "cannot reach" not in str(caught.value)
    assert serve.requests == 1


@pytest.mark.parametrize("serve", [pytest.param(reset_always, id="reset-always")], indirect=True)
def test_a_second_fault_is_a_finding_not_unreachable(serve: RawServer) -> None:
    """Retried once, reset again: a TransportFault saying so, never 'cannot reach'."""
    with client_for(serve.url) as client, pytest.raises(TransportFault) as caught:
        client.send("GET", "/threads/t")
    assert "twice" in caught.value.finding.observed
    assert (client.tally.retried, client.tally.faults) == (1, 1)
    assert serve.requests == 2


def test_only_a_target_that_never_accepted_is_unreachable() -> None:
    """Connection refused on a port nobody listens on: TargetUnreachable."""
    with RawServer(silent) as server:
        url = server.url
    with client_for(url) as client, pytest.raises(TargetUnreachable, match="connection refused"):
        client.send("GET", "/threads/t")


# -- proxies -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("serve", "bounded"),
    [pytest.param(counting()[0], False, id="plain-proxy"), pytest.param(endless, True, id="endless-proxy")],
    indirect=["serve"],
)
def test_proxies_come_from_the_environment_and_stay_bounded(
    serve: RawServer, bounded: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HTTP_PROXY is used as httpx reads it, and answers through the proxy are bounded too."""
    monkeypatch.setenv("HTTP_PROXY", serve.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    target = Target("http://deployment.invalid/v1", KEY, timeout=TIMEOUT, max_answer_bytes=MIB)
    with target.client() as client:
        exchange = client.send("GET", "/threads/t")
    assert serve.requests == 1
    assert exchange.status == 200
    assert [f.clause for f in exchange.findings] == ([BOUNDED_ANSWER] if bounded else [])


def test_certify_waits_out_every_429_of_a_rate_limited_target(tmp_path: Path) -> None:
    """Every third request answered 429 Retry-After: 1, the probe's own included (schemathesis's
    ignored_auth re-sends, the 64 KiB corpus case): the run completes, its clauses hold, and the
    terminal says how many 429s were waited out."""
    app = EveryThirdLimited(create_app(mock_config()))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "RUNCANCEL_", "HYPOTHESIS_"))}
    with Served(app) as served:
        command = [sys.executable, "-m", "runcancel.cli", "certify", served.url, "--api-key", API_KEY]
        done = subprocess.run(
            [*command, "--probe-examples", "3", "--", "-k", "test_probe"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert done.returncode == 0, done.stdout[-3000:]
    clauses = json.loads((tmp_path / "reports" / "findings.json").read_text())["clauses"]
    probe = {c["id"]: c["state"] for c in clauses if c["id"].startswith("probe.")}
    assert len(probe) > 30
    assert set(probe.values()) == {"passed"}, probe
    assert app.limited >= 10
    assert f"rate limits: {app.limited} answers 429 waited out ({app.limited:.1f} s in all" in done.stdout
    assert "not waited out" not in done.stdout
