"""Raw HTTP on a socket: malformed requests get JSON refusals, slow ones a time-out, on httptools and h11."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runcancel.mock import DEFAULT_API_KEY, MockConfig, MockServer

HEAD_TIMEOUT = 0.4


@pytest.fixture(scope="module", params=["httptools", "h11"])
def server(request: pytest.FixtureRequest) -> Iterator[MockServer]:
    with MockServer(MockConfig(header_timeout=HEAD_TIMEOUT), http=request.param) as running:
        assert running.http == request.param
        yield running


def exchange(server: MockServer, data: bytes, wait: float = 0.0) -> bytes:
    """Send the bytes, then read until the server closes (or 3 s pass)."""
    with socket.create_connection((server.host, server.port), timeout=3) as sock:
        sock.sendall(data)
        if wait:
            time.sleep(wait)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except (TimeoutError, ConnectionResetError):
            pass
    return b"".join(chunks)


def parse(answer: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, body


def assert_refusal(answer: bytes, statuses: set[int]) -> int:
    status, headers, body = parse(answer)
    assert status in statuses, answer[:200]
    assert headers["content-type"] == "application/json"
    assert set(json.loads(body)["error"]) == {"message", "type", "param", "code"}
    return status


@pytest.mark.parametrize(
    ("data", "statuses"),
    [
        pytest.param(b"GARBAGE\r\n\r\n", {400}, id="not-http"),
        pytest.param(b"POST /v1/threads HTTP/9.9\r\n\r\n", {400, 401, 505}, id="bad-version"),
        pytest.param(b"POST /v1/threads HTTP/1.1\r\nHost x\r\n\r\n", {400}, id="header-without-colon"),
        pytest.param(b"POST /v1/threads HTTP/1.1\r\ncontent-length: 1x\r\n\r\n", {400}, id="bad-length"),
        pytest.param(
            b"POST /" + b"t" * 70_000 + b" HTTP/1.1\r\nhost: x\r\n\r\n", {414, 431, 401}, id="long-target"
        ),
        pytest.param(
            b"POST /" + b"t" * 300_000 + b" HTTP/1.1\r\nhost: x\r\n\r\n", {414, 431}, id="huge-target"
        ),
        pytest.param(
            b"GET / HTTP/1.1\r\nhost: x\r\nx-big: " + b"a" * 70_000 + b"\r\n\r\n", {431, 401}, id="big-head"
        ),
    ],
)
def test_malformed_http_gets_a_json_refusal(server: MockServer, data: bytes, statuses: set[int]) -> None:
    """A request the parser refuses: a 4xx in the error envelope (h11 takes a big head that arrives whole:
    then the app answers it, 401 here)."""
    assert_refusal(exchange(server, data), statuses)


def test_headers_not_finished_in_time_get_408(server: MockServer) -> None:
    """A slowloris request (headers never finished): 408 in the envelope after header_timeout."""
    started = time.monotonic()
    answer = exchange(server, b"POST /v1/threads HTTP/1.1\r\nhost: x\r\n")
    assert assert_refusal(answer, {408}) == 408
    assert time.monotonic() - started >= HEAD_TIMEOUT * 0.9


def test_a_silent_connection_is_closed(server: MockServer) -> None:
    """A connection that sends nothing is closed after header_timeout, with no answer."""
    assert exchange(server, b"") == b""


def test_a_good_request_still_works_after_a_pause_within_the_limit(server: MockServer) -> None:
    """Keep-alive: a full request answered, then the next one on the same connection too."""
    request = (
        f"POST /v1/threads HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {DEFAULT_API_KEY}\r\n"
        "openai-beta: assistants=v2\r\ncontent-length: 2\r\n\r\n{}"
    ).encode()
    with socket.create_connection((server.host, server.port), timeout=3) as sock:
        for _ in range(2):
            sock.sendall(request)
            answer = sock.recv(65536)
            assert parse(answer)[0] == 200
            time.sleep(HEAD_TIMEOUT * 1.5)


def test_a_stalled_head_after_answers_on_the_same_connection_gets_408_in_time(server: MockServer) -> None:
    """The header time limit starts again with each request: after answers on a kept-alive connection
    (past the limit since it opened), a head that stalls gets its 408 one limit after its first bytes."""
    request = (
        f"POST /v1/threads HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {DEFAULT_API_KEY}\r\n"
        "openai-beta: assistants=v2\r\ncontent-length: 2\r\n\r\n{}"
    ).encode()
    with socket.create_connection((server.host, server.port), timeout=3) as sock:
        for _ in range(3):
            sock.sendall(request)
            assert parse(sock.recv(65536))[0] == 200
            time.sleep(HEAD_TIMEOUT * 0.7)
        stalled = time.monotonic()
        sock.sendall(b"POST /v1/threads HTTP/1.1\r\nhost: x\r\n")
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except (TimeoutError, ConnectionResetError):
            pass
    waited = time.monotonic() - stalled
    assert assert_refusal(b"".join(chunks), {408}) == 408
    assert HEAD_TIMEOUT * 0.9 <= waited < HEAD_TIMEOUT + 2.0


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    line=st.binary(min_size=1, max_size=60).filter(lambda b: b"\r\n" not in b),
    header=st.binary(max_size=40).filter(lambda b: b"\r\n" not in b),
)
def test_fuzzed_request_heads_never_get_a_5xx_or_plain_text(
    server: MockServer, line: bytes, header: bytes
) -> None:
    """Random request lines and a random header: any answer is < 500 and JSON."""
    answer = exchange(server, line + b"\r\n" + header + b"\r\n\r\n")
    if answer:
        status, headers, _ = parse(answer)
        assert status < 500
        assert headers["content-type"] == "application/json"
