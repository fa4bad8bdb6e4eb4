"""Hostile and flaky servers on real sockets of 127.0.0.1, one behaviour each, for the deploy tests
and bench/bench_bounded.py: endless bodies, a 10 GiB Content-Length, a trickle, silence, a reset,
a close in the middle of a body, 429s, a compressed answer that inflates beyond any bound."""

from __future__ import annotations

import gzip
import json
import socket
import struct
import threading
import time
from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

HOST = "127.0.0.1"
Handler = Callable[[socket.socket, int], None]
JSON_OK = json.dumps({"object": "thread", "id": "thread_ok"}).encode()


class RawServer:
    """A TCP server whose every connection is handled by `handler(conn, n)` (n counts requests, from 1)."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests = 0
        self._lock = threading.Lock()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((HOST, 0))
        self._sock.listen(16)
        self._sock.settimeout(0.2)
        self.url = f"http://{HOST}:{self._sock.getsockname()[1]}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> RawServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self._sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        try:
            while not self._stop.is_set():
                if not read_request(conn):
                    return
                with self._lock:
                    self.requests += 1
                    n = self.requests
                self.handler(conn, n)
        except OSError:
            pass
        finally:
            conn.close()


def read_request(conn: socket.socket) -> bool:
    """Read one request (head and Content-Length body); False when the client closed."""
    conn.settimeout(30)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return False
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        body += conn.recv(65536)
    return True


def answer(conn: socket.socket, status: str, body: bytes, *headers: str) -> None:
    head = [f"HTTP/1.1 {status}", "Content-Type: application/json", f"Content-Length: {len(body)}", *headers]
    conn.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body)


def endless(conn: socket.socket, n: int) -> None:
    """200, chunked, and chunks of 64 KiB for as long as the client reads."""
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk = b"%x\r\n%s\r\n" % (65536, b" " * 65536)
    while True:
        conn.sendall(chunk)


def ten_gib(conn: socket.socket, n: int) -> None:
    """200 with `Content-Length: 10737418240`, then zeros for as long as the client reads."""
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 10737418240\r\n\r\n")
    block = b"0" * 65536
    while True:
        conn.sendall(block)


def ten_gib_undeclared(conn: socket.socket, n: int) -> None:
    """200 closed by the end of the connection (no length), 10 GiB of zeros."""
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n")
    block = b"0" * 65536
    for _ in range(10 * 1024 * 1024 // 64):
        conn.sendall(block)


def trickle(conn: socket.socket, n: int) -> None:
    """200 with a 1000-byte body sent one byte every 0.2 s: each read is quick, the answer never ends."""
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n")
    for _ in range(1000):
        conn.sendall(b" ")
        time.sleep(0.2)


def silent(conn: socket.socket, n: int) -> None:
    """Reads the request and answers nothing."""
    time.sleep(30)


def _reset(conn: socket.socket) -> None:
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()
    raise OSError("reset")


def reset_first(conn: socket.socket, n: int) -> None:
    """The first request is answered by a reset; every later one 200."""
    if n == 1:
        _reset(conn)
    answer(conn, "200 OK", JSON_OK)


def reset_always(conn: socket.socket, n: int) -> None:
    _reset(conn)


def close_mid_body_first(conn: socket.socket, n: int) -> None:
    """The first answer promises 100 bytes, sends 10 and closes; every later one 200."""
    if n == 1:
        conn.sendall(
            b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"id": 12'
        )
        conn.close()
        raise OSError("closed")
    answer(conn, "200 OK", JSON_OK)


RATE_LIMITED = json.dumps(
    {
        "error": {
            "message": "Rate limit reached.",
            "type": "requests",
            "param": None,
            "code": "rate_limit_exceeded",
        }
    }
).encode()


def every_third_429(retry_after: str | None = "1") -> Handler:
    """Every third request answered 429 (with `Retry-After: retry_after` unless None), the others 200."""

    def handle(conn: socket.socket, n: int) -> None:
        if n % 3 == 0:
            extra = [f"Retry-After: {retry_after}"] if retry_after is not None else []
            answer(conn, "429 Too Many Requests", RATE_LIMITED, *extra)
        else:
            answer(conn, "200 OK", JSON_OK)

    return handle


def inflating(size: int) -> Handler:
    """200 with `Content-Encoding: gzip`: a small answer that decodes to `size` bytes."""
    body = gzip.compress(b" " * size, compresslevel=9)

    def handle(conn: socket.socket, n: int) -> None:
        answer(conn, "200 OK", body, "Content-Encoding: gzip")

    return handle


def counting() -> tuple[Handler, list[float]]:
    """200 to everything, keeping when each request came (monotonic seconds)."""
    times: list[float] = []

    def handle(conn: socket.socket, n: int) -> None:
        times.append(time.monotonic())
        answer(conn, "200 OK", JSON_OK)

    return handle, times


class EveryThirdLimited:
    """An ASGI app in front of another: every third HTTP request is answered 429 with `Retry-After`
    (and the contract's error envelope) instead of reaching it, the way a rate limiter in front of a
    server answers."""

    def __init__(self, app: ASGIApp, retry_after: str = "1") -> None:
        self.app, self.retry_after = app, retry_after
        self.requests = 0
        self.limited = 0
        self._lock = threading.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with self._lock:
            self.requests += 1
            limited = self.requests % 3 == 0
            self.limited += limited
        if not limited:
            await self.app(scope, receive, send)
            return
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(RATE_LIMITED)).encode()),
            (b"retry-after", self.retry_after.encode()),
        ]
        await send({"type": "http.response.start", "status": 429, "headers": headers})
        await send({"type": "http.response.body", "body": RATE_LIMITED})
