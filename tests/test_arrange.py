"""Arranging runs into a wanted status through the public API, on the reference mock."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from runcancel.arrange import ARRANGEABLE, ArrangeError, Arranger, NotArranged
from runcancel.mock import MockConfig, MockServer
from runcancel.targets import Target, TargetClient


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
