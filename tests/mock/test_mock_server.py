"""MockServer: a real socket, a free port, clear start errors, atomic cancels under concurrency."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from mock_support import HEADERS

from runcancel.mock import SCENARIO_KEY, ApiError, MockConfig, MockServer, MockStartError
from runcancel.mock.store import Store
from runcancel.mock.validation import assistant_request, run_request, thread_request


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port on 127.0.0.1 that another socket is listening on."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


def test_server_serves_on_a_free_port_and_stops_on_exit() -> None:
    """port=0 binds a free port, url/base_url name it, and leaving the block stops the server."""
    with MockServer(MockConfig(), port=0) as server:
        assert server.port > 0
        assert server.url == f"http://127.0.0.1:{server.port}"
        assert server.base_url == f"{server.url}/v1"
        response = httpx.post(f"{server.base_url}/threads", headers=HEADERS)
        assert response.status_code == 200
        assert response.headers["openai-version"] == "2020-10-01"
        url = server.url
    assert not server.running
    with pytest.raises(httpx.ConnectError):
        httpx.get(url, timeout=1)


def test_port_in_use_raises_a_start_error_naming_host_port_and_remedy(busy_port: int) -> None:
    """A port already in use raises MockStartError (a RuntimeError) saying what failed and what to do."""
    with pytest.raises(MockStartError) as caught, MockServer(MockConfig(), port=busy_port):
        pass  # pragma: no cover - never reached
    message = str(caught.value)
    assert isinstance(caught.value, RuntimeError)
    assert f"127.0.0.1:{busy_port}" in message
    assert "already in use" in message
    assert "another port" in message
    assert "\n" not in message


def test_start_times_out_with_a_start_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """A server that is not up within start_timeout raises MockStartError and leaves nothing running."""
    startup = uvicorn.Server.startup

    async def slow_startup(self: uvicorn.Server, sockets: Any = None) -> None:
        await asyncio.sleep(1)
        await startup(self, sockets)

    monkeypatch.setattr(uvicorn.Server, "startup", slow_startup)
    server = MockServer(MockConfig(), port=0, start_timeout=0.05)
    with pytest.raises(MockStartError, match=r"did not accept connections within 0\.05 s"):
        server.start()
    assert not server.running


def test_concurrent_cancels_of_one_run_have_exactly_one_winner() -> None:
    """Many simultaneous cancels of one active run: one 200 cancelling, every other 400 'cancelling'."""
    config = MockConfig(step=0, cancel_delay=60)
    with (
        MockServer(config, port=0) as server,
        httpx.Client(base_url=server.base_url, headers=HEADERS) as setup,
    ):
        assistant = setup.post("/assistants", json={"model": "m"}).json()["id"]
        thread = setup.post("/threads").json()["id"]
        body = {"assistant_id": assistant, "metadata": {SCENARIO_KEY: "in_progress"}}
        run = setup.post(f"/threads/{thread}/runs", json=body).json()["id"]
        path = f"/threads/{thread}/runs/{run}/cancel"
        workers = 8
        barrier = threading.Barrier(workers)
        answers: list[httpx.Response] = []

        def cancel() -> None:
            with httpx.Client(base_url=server.base_url, headers=HEADERS) as client:
                client.get(f"/threads/{thread}")  # open the connection before the race
                barrier.wait()
                answers.append(client.post(path))

        threads = [threading.Thread(target=cancel) for _ in range(workers)]
        for thread_ in threads:
            thread_.start()
        for thread_ in threads:
            thread_.join()
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [200] + [400] * (workers - 1)
    for answer in answers:
        if answer.status_code == 400:
            assert answer.json()["error"]["message"] == "Cannot cancel run with status 'cancelling'."
        else:
            assert answer.json()["status"] == "cancelling"


def test_store_cancel_is_atomic_across_threads() -> None:
    """Cancels racing on the store from many threads: exactly one is accepted."""
    store = Store(MockConfig(step=60, cancel_delay=60))
    assistant = store.create_assistant(assistant_request({"model": "m"}))["id"]
    thread = store.create_thread(thread_request({}))["id"]
    run = store.create_run(thread, run_request({"assistant_id": assistant}))["id"]
    workers = 16
    barrier = threading.Barrier(workers)
    outcomes: list[str] = []

    def cancel() -> None:
        barrier.wait()
        try:
            outcomes.append(store.cancel_run(thread, run)["status"])
        except ApiError as error:
            outcomes.append(error.message)

    threads = [threading.Thread(target=cancel) for _ in range(workers)]
    for thread_ in threads:
        thread_.start()
    for thread_ in threads:
        thread_.join()
    assert sorted(outcomes) == ["Cannot cancel run with status 'cancelling'."] * (workers - 1) + [
        "cancelling"
    ]
