"""Arranging runs into a wanted status through the public API, on the reference mock."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from broken_servers import API_KEY, Served, Server, on_read_run, setting
from foreign_servers import CANNED_RUN, CREATES_201, NEVER_MOVES
from runcancel.arrange import (
    ARRANGEABLE,
    ArrangeError,
    Arranger,
    NotArranged,
    create_status_outcome,
    provider_state_from_url,
)
from runcancel.findings import NotVerified, Severity
from runcancel.mock import MockConfig, MockServer
from runcancel.targets import Exchange, Target, TargetClient


@pytest.fixture(scope="module")
def server() -> Iterator[MockServer]:
    with MockServer(MockConfig(step=0.005, cancel_delay=0.005)) as running:
        yield running


@pytest.fixture
def client(server: MockServer) -> Iterator[TargetClient]:
    with Target(server.base_url, api_key=server.config.api_key).client() as c:
        yield c


@pytest.mark.parametrize("status", ARRANGEABLE)
def test_every_status_can_be_arranged_on_the_mock(status: str, client: TargetClient) -> None:
    """Each of the nine statuses is reached through the public API, and read back as such."""
    arranger = Arranger(client, wait=5)
    arranged = arranger.run(status)
    assert arranged.status == status
    assert arranged.run["thread_id"] == arranged.thread_id
    assert arranged.run["id"] == arranged.run_id
    assert arranger.cleanup() == []


def test_cleanup_deletes_what_was_created(client: TargetClient, server: MockServer) -> None:
    """Threads (with their runs) and the assistant are deleted; nothing is left in the store."""
    before = server.app.state.store.sizes()
    arranger = Arranger(client, wait=5)
    arranger.run("in_progress")
    arranger.run("completed")
    assert server.app.state.store.sizes()["threads"] == before["threads"] + 2
    assert arranger.cleanup() == []
    assert server.app.state.store.sizes() == before


def test_a_status_that_does_not_come_is_not_arranged(server: MockServer) -> None:
    """Waiting is bounded: a run still queued when time runs out raises NotArranged with the reason."""
    with (
        MockServer(MockConfig(step=10)) as slow,
        Target(slow.base_url, api_key="sk-runcancel-mock").client() as c,
    ):
        arranger = Arranger(c, wait=0.1)
        with pytest.raises(
            NotArranged, match=r"did not reach completed within 0\.1 s \(last status \"queued\"\)"
        ):
            arranger.run("completed")
        arranger.cleanup()


def test_a_refused_api_call_is_an_arrange_error(server: MockServer) -> None:
    """A target that refuses to create objects (here: a wrong key) is an ArrangeError, not a skip."""
    with (
        Target(server.base_url, api_key="sk-wrong-key-000000").client() as c,
        pytest.raises(
            ArrangeError,
            match=r'could not create a thread: POST .*/threads answered 401 \("Incorrect API key',
        ),
    ):
        Arranger(c).run("in_progress")


def test_an_unknown_status_is_refused() -> None:
    """Only the nine run statuses can be arranged."""
    with pytest.raises(ValueError, match="cannot arrange status 'paused'"):
        Arranger(client=None).run("paused")  # type: ignore[arg-type]


# -- real servers ------------------------------------------------------------------------------------


@pytest.fixture
def served(request: pytest.FixtureRequest) -> Iterator[str]:
    """A foreign-style server (the test's parameter), served on 127.0.0.1: its base URL."""
    with Served(request.param.app()) as running:
        yield running.url


def _arranger(url: str, **kwargs: Any) -> Arranger:
    return Arranger(Target(url, api_key=API_KEY).client(), **kwargs)


@pytest.mark.parametrize("served", [pytest.param(CREATES_201, id="creates-201")], indirect=True)
def test_a_2xx_create_is_accepted_and_reported_as_info(served: str) -> None:
    """Creates answered 201 arrange runs as 200s do; each kind of create is one info finding."""
    seen: list[Exchange] = []
    arranger = Arranger(Target(served, api_key=API_KEY).client(observers=[seen.append]), wait=5)
    assert arranger.run("in_progress").status == "in_progress"
    arranger.cleanup()
    outcome = create_status_outcome(seen)
    assert isinstance(outcome, list)
    assert sorted((f.evidence.url.rsplit("/", 1)[-1], f.severity) for f in outcome if f.evidence) == [
        ("assistants", Severity.INFO),
        ("runs", Severity.INFO),
        ("threads", Severity.INFO),
    ]


def test_creates_unseen_leave_the_create_clause_not_verified() -> None:
    """Without a single successful create the clause is not verified; 200 creates hold it."""
    assert isinstance(create_status_outcome([]), NotVerified)
    with MockServer(MockConfig(step=0.005, cancel_delay=0.005)) as mock:
        seen: list[Exchange] = []
        arranger = Arranger(Target(mock.base_url, api_key=API_KEY).client(observers=[seen.append]))
        arranger.run("queued")
        arranger.cleanup()
    assert create_status_outcome(seen) == []


@pytest.mark.parametrize("served", [pytest.param(NEVER_MOVES, id="never-moves")], indirect=True)
def test_runs_that_never_move_end_the_wait_early(served: str) -> None:
    """A run that reads the same, timestamps and all, for `static_after` seconds ends the wait long
    before the time-out, saying why and what to do instead of raising the time-out."""
    arranger = _arranger(served, wait=30, static_after=0.3)
    started = time.monotonic()
    with pytest.raises(
        NotArranged, match=r"the target's runs do not move: the run reads \"queued\" \d+ times"
    ):
        arranger.run("in_progress")
    assert time.monotonic() - started < 5
    arranger.cleanup()


CANNED_READS = Server("canned-reads", "reads answer a canned run", on_read_run(setting(**CANNED_RUN)))


@pytest.mark.parametrize("served", [pytest.param(CANNED_READS, id="canned-reads")], indirect=True)
def test_a_canned_run_read_back_is_recognised_at_once(served: str) -> None:
    """A read that answers another run than the one asked for is a static target: no waiting at all."""
    arranger = _arranger(served, wait=30, static_after=None)
    with pytest.raises(
        NotArranged, match=r"answers a run with id \"string\" \(a canned run\).*provider state"
    ):
        arranger.run("in_progress")
    arranger.cleanup()


def test_an_active_run_older_than_its_expiry_by_the_targets_clock_never_moves() -> None:
    """An active run whose created_at is older than a live run's 600 s by the target's own clock is
    static after a few reads, whatever `static_after` says."""
    old = Server(
        "old-runs",
        "runs created an hour ago",
        on_read_run(setting(created_at=lambda r: r["created_at"] - 3600)),
    )
    with Served(old.app()) as running:
        arranger = _arranger(running.url, wait=30, static_after=None)
        with pytest.raises(NotArranged, match=r"past the 600 s after which a live run expires"):
            arranger.wait_for(*_queued(arranger), "completed")
        arranger.cleanup()


def _queued(arranger: Arranger) -> tuple[str, str]:
    thread_id = arranger.thread()
    body = {"assistant_id": arranger.assistant(), "metadata": {"runcancel_scenario": "queued"}}
    run = arranger.client.send("POST", f"/threads/{thread_id}/runs", json_body=body).json()
    return thread_id, run["id"]


# -- provider states ---------------------------------------------------------------------------------


class ProviderStateApp:
    """The owner's provider-state endpoint: answers the ids it was given for a status, else 404."""

    def __init__(self, runs: dict[str, tuple[str, str]]) -> None:
        self.runs = runs
        self.asked: list[Any] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = json.loads((await receive()).get("body") or b"{}")
        self.asked.append(body)
        ids = self.runs.get(body.get("params", {}).get("status"))
        status, data = (200, {"thread_id": ids[0], "run_id": ids[1]}) if ids else (404, {})
        payload = json.dumps(data).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": payload})


def test_a_provider_state_gives_the_run_and_the_public_api_reads_it(client: TargetClient) -> None:
    """With a provider-state URL, a run in the asked status comes from it (then read back through the
    public API); a status it has not (404) is arranged through the public API as before."""
    maker = Arranger(client, wait=5)
    expired = maker.run("expired")
    app = ProviderStateApp({"expired": (expired.thread_id, expired.run_id)})
    with Served(app) as provider:
        arranger = Arranger(client, wait=5, provider_state=provider_state_from_url(provider.url + "/state"))
        got = arranger.run("expired")
        assert (got.thread_id, got.run_id, got.status) == (expired.thread_id, expired.run_id, "expired")
        assert arranger.run("failed").status == "failed"
        assert app.asked == [
            {"action": "setup", "state": "a run in status expired", "params": {"status": "expired"}},
            {"action": "setup", "state": "a run in status failed", "params": {"status": "failed"}},
        ]
        arranger.cleanup()
    maker.cleanup()


def test_a_provider_state_callable_serves_in_process_setups(client: TargetClient) -> None:
    """Any callable status -> ids is a provider state (what the pytest fixture returns)."""
    maker = Arranger(client, wait=5)
    failed = maker.run("failed")
    arranger = Arranger(
        client, provider_state=lambda s: (failed.thread_id, failed.run_id) if s == "failed" else None
    )
    assert arranger.run("failed").run_id == failed.run_id
    maker.cleanup()


def test_an_unreachable_provider_state_is_not_arranged_in_one_paragraph(client: TargetClient) -> None:
    """A provider state nobody serves ends arranging with what failed and what to do, no traceback."""
    arranger = Arranger(client, provider_state=provider_state_from_url("http://127.0.0.1:9/state", timeout=1))
    with pytest.raises(
        NotArranged,
        match=r"provider state at http://127.0.0.1:9/state could not be asked for a run in status expired .*"
        r"Start it, or leave",
    ):
        arranger.run("expired")
