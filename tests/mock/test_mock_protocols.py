"""The mock's httptools protocol, driven in-process on a recording transport: what leaves in which write."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from runcancel.mock import DEFAULT_API_KEY, SCENARIO_KEY, MockConfig, create_app
from runcancel.mock.app import MockApp
from runcancel.mock.protocols import OneWrite, protocol_class, protocol_name
from runcancel.mock.server import server_config

pytest.importorskip("httptools", reason="the one-write answer is the httptools protocol's")

AUTH = f"authorization: Bearer {DEFAULT_API_KEY}\r\nopenai-beta: assistants=v2\r\n"


class Recording(asyncio.Transport):
    """A transport that keeps every write apart."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.writes.append(bytes(data))

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8080), "peername": ("127.0.0.1", 5555)}.get(name, default)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


def request(method: str, path: str, body: bytes = b"", headers: str = AUTH) -> bytes:
    return (
        f"{method} {path} HTTP/1.1\r\nhost: mock\r\n{headers}content-length: {len(body)}\r\n\r\n".encode()
        + body
    )


async def serve(app: MockApp, requests: list[bytes], *, settle: float = 0.0) -> list[list[bytes]]:
    """The writes each request's answer took, one request after the other on one connection."""
    from uvicorn.server import ServerState

    protocol = protocol_class(10.0)
    assert protocol_name(protocol) == "httptools"
    config = server_config(app, "127.0.0.1", 8080, protocol, 5)
    config.load()
    connection = protocol(config=config, server_state=ServerState(), app_state={})  # type: ignore[call-arg]
    transport = Recording()
    connection.connection_made(transport)
    answers = []
    try:
        for data in requests:
            before = len(transport.writes)
            connection.data_received(data)
            for _ in range(500):
                await asyncio.sleep(settle)
                cycle = connection.cycle  # type: ignore[attr-defined]
                if cycle is not None and cycle.response_complete:
                    break
            answers.append(transport.writes[before:])
    finally:
        connection.connection_lost(None)
    return answers


def body_of(answer: list[bytes]) -> Any:
    return json.loads(b"".join(answer).partition(b"\r\n\r\n")[2])


def test_answers_of_known_length_leave_in_one_write() -> None:
    """A JSON answer (a 200, a 404, a 401) goes out as one write holding the head and the whole body."""
    app = create_app(MockConfig())
    [created] = asyncio.run(serve(app, [request("POST", "/v1/threads", b"{}")]))
    answers = asyncio.run(
        serve(
            app,
            [
                request("GET", f"/v1/threads/{body_of(created)['id']}"),
                request("POST", "/v1/nowhere"),
                request("POST", "/v1/threads", b"{}", headers=""),
            ],
        )
    )
    for writes, status in zip([created, *answers], (b"200", b"200", b"404", b"401"), strict=True):
        assert len(writes) == 1, writes
        head, _, body = writes[0].partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 " + status)
        assert f"content-length: {len(body)}".encode() in head
        json.loads(body)


def test_a_streamed_answer_sends_its_head_before_the_first_event() -> None:
    """An event stream (no content-length) is not held: its head is written on its own, events follow."""
    app = create_app(MockConfig())
    [assistant] = asyncio.run(serve(app, [request("POST", "/v1/assistants", b'{"model": "gpt-4o-mini"}')]))
    body = {"assistant_id": body_of(assistant)["id"], "stream": True, "metadata": {SCENARIO_KEY: "completed"}}
    [thread] = asyncio.run(serve(app, [request("POST", "/v1/threads", b"{}")]))
    path = f"/v1/threads/{body_of(thread)['id']}/runs"
    [writes] = asyncio.run(serve(app, [request("POST", path, json.dumps(body).encode())], settle=0.01))
    assert writes[0].startswith(b"HTTP/1.1 200")
    assert writes[0].endswith(b"\r\n\r\n")
    assert b"text/event-stream" in writes[0]
    events = b"".join(writes[1:])
    assert b"event: thread.run.created" in events
    assert b"event: done" in events


@pytest.mark.parametrize(
    ("writes", "sent"),
    [
        pytest.param(
            [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n", b"{}"],
            [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}"],
            id="head-and-body-joined",
        ),
        pytest.param(
            [b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n", b"2\r\n{}\r\n"],
            [b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n", b"2\r\n{}\r\n"],
            id="streamed-head-at-once",
        ),
        pytest.param(
            [b"HTTP/1.1 100 Continue\r\n\r\n", b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n", b"{}"],
            [b"HTTP/1.1 100 Continue\r\n\r\n", b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}"],
            id="continue-passes",
        ),
        pytest.param(
            [b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\n", b"{}", b"{}"],
            [b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\n{}", b"{}"],
            id="only-the-head-is-held",
        ),
    ],
)
def test_one_write_joins_only_a_head_of_known_length_to_the_body(
    writes: list[bytes], sent: list[bytes]
) -> None:
    """The transport wrapper holds the first head that declares a length, nothing else, and keeps order."""
    transport = Recording()
    wrapper = OneWrite(transport)
    for data in writes:
        wrapper.write(data)
    assert transport.writes == sent


def test_one_write_sends_a_held_head_before_closing() -> None:
    """An answer closed after its head (the app failed mid-answer) still sends the head, then closes."""
    transport = Recording()
    wrapper = OneWrite(transport)
    wrapper.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
    assert transport.writes == []
    wrapper.close()
    assert transport.writes == [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n"]
    assert transport.closed
    assert wrapper.is_closing()
