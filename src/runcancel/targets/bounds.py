"""Bounded answers: every answer is read up to a number of bytes and within one deadline.

A `Budget` travels with each request (the request extension `BUDGET`): the largest answer in bytes
and the monotonic time by which connect, headers and the whole body must be done. It is enforced
where the bytes come in:

- On a network transport (`httpx.HTTPTransport`), `bound_transport` wraps its connection pool, so the
  bound holds below anything that reads the whole body on its own (vcrpy, while recording). There the
  phases get what is left of the deadline as their time-out (connect, then headers, then body), and
  a watchdog shuts the socket when the deadline passes in the middle of a trickled body.
- On any transport, the client reads the decoded body through `guard` as well: a small compressed
  answer that inflates beyond the bound is cut there.

Beyond either bound `BoundExceeded` is raised, carrying what was read and the answer's status and
headers when they came; the client turns it into one finding on the exchange.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import httpcore
import httpx

__all__ = [
    "BUDGET",
    "DEFAULT_MAX_ANSWER_BYTES",
    "BoundExceeded",
    "Budget",
    "bound_transport",
    "guard",
]

BUDGET = "runcancel.budget"
DEFAULT_MAX_ANSWER_BYTES = 8 * 1024 * 1024  # a live Run is about 2 KiB; a list page of 100 about 200 KiB
# A deadline is judged passed this long after it: a read that returns right at the deadline is not cut.
_SLACK = 0.05


class BoundExceeded(Exception):
    """The answer went beyond `max_bytes` or beyond the deadline."""

    def __init__(
        self, kind: Literal["bytes", "time"], budget: Budget, read: int, declared: int | None = None
    ):
        self.kind = kind
        self.budget = budget
        self.read = read
        self.declared = declared
        super().__init__(self.describe())

    def describe(self) -> str:
        b = self.budget
        if self.kind == "bytes" and self.declared is not None and self.read == 0:
            return (
                f"the answer declares Content-Length {self.declared}, beyond the bound of {b.max_bytes} bytes"
            )
        if self.kind == "bytes":
            return f"the answer went on beyond the bound of {b.max_bytes} bytes"
        head = "" if b.status is not None else " (no status line came)"
        return f"the answer was not complete within {b.timeout:g} s ({self.read} body bytes read){head}"


@dataclass
class Budget:
    """What one request may take: bytes and time. Also keeps the status and headers once they came."""

    max_bytes: int
    timeout: float
    started: float = field(default_factory=time.monotonic)
    status: int | None = None
    headers: list[tuple[bytes, bytes]] | None = None
    guarded_below: bool = False  # the network transport's pool enforces it too

    @property
    def deadline(self) -> float:
        return self.started + self.timeout

    def remaining(self) -> float:
        return max(self.deadline - time.monotonic(), 0.001)

    def passed(self) -> bool:
        return time.monotonic() >= self.deadline - 0.001

    def trace(self, event: str, info: dict[str, Any]) -> None:
        """httpcore's `trace` extension: each phase's time-out is what is left of the deadline."""
        if event.endswith((".receive_response_headers.started", ".receive_response_body.started")):
            request = info.get("request")
            timeouts = getattr(request, "extensions", {}).get("timeout")
            if isinstance(timeouts, dict):
                timeouts["read"] = self.remaining()


def _declared_length(headers: Iterable[tuple[bytes, bytes]]) -> int | None:
    for name, value in headers:
        if name.lower() == b"content-length":
            with contextlib.suppress(ValueError):
                return int(value)
    return None


def guard(chunks: Iterable[bytes], budget: Budget, declared: int | None = None) -> Iterator[bytes]:
    """`chunks` while within the budget; BoundExceeded as soon as they go beyond it.

    A transport error raised after the deadline passed (a time-out, a socket the watchdog shut) is
    the deadline's doing, and is raised as BoundExceeded too.
    """
    if declared is not None and declared > budget.max_bytes:
        raise BoundExceeded("bytes", budget, 0, declared)
    read = 0
    iterator = iter(chunks)
    while True:
        try:
            chunk = next(iterator)
        except StopIteration:
            return
        except (httpcore.TimeoutException, httpcore.NetworkError, httpcore.RemoteProtocolError) as exc:
            raise BoundExceeded("time", budget, read) if budget.passed() else exc from None
        except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
            raise BoundExceeded("time", budget, read) if budget.passed() else exc from None
        read += len(chunk)
        if read > budget.max_bytes:
            raise BoundExceeded("bytes", budget, read)
        if time.monotonic() > budget.deadline + _SLACK:
            raise BoundExceeded("time", budget, read)
        yield chunk


class _Watchdog:
    """Shuts a socket down when the deadline passes, so a read blocked on a trickle returns."""

    def __init__(self, network_stream: Any, budget: Budget) -> None:
        sock = network_stream.get_extra_info("socket") if network_stream is not None else None
        self._timer: threading.Timer | None = None
        if isinstance(sock, socket.socket):
            self._timer = threading.Timer(budget.remaining(), self._shut, (sock,))
            self._timer.daemon = True
            self._timer.start()

    @staticmethod
    def _shut(sock: socket.socket) -> None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()


class _GuardedStream:
    """An httpcore response stream read through `guard`, with a watchdog on its socket."""

    def __init__(self, inner: Any, budget: Budget, declared: int | None, network_stream: Any) -> None:
        self._inner = inner
        self._budget = budget
        self._declared = declared
        self._watchdog = _Watchdog(network_stream, budget)

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from guard(self._inner, self._budget, self._declared)
        finally:
            self._watchdog.cancel()

    def close(self) -> None:
        self._watchdog.cancel()
        close = getattr(self._inner, "close", None)
        if close is not None:
            close()


class _BoundedPool:
    """A connection pool whose answers are read within the budget of their request."""

    def __init__(self, pool: Any) -> None:
        self._pool = pool

    def handle_request(self, request: httpcore.Request) -> httpcore.Response:
        budget = request.extensions.get(BUDGET)
        if not isinstance(budget, Budget):
            return self._pool.handle_request(request)  # type: ignore[no-any-return]
        budget.guarded_below = True
        timeouts = request.extensions.get("timeout")
        if isinstance(timeouts, dict):
            for phase in ("connect", "write", "pool", "read"):
                timeouts[phase] = budget.remaining()
        response: httpcore.Response = self._pool.handle_request(request)
        budget.status, budget.headers = response.status, list(response.headers)
        response.stream = _GuardedStream(
            response.stream,
            budget,
            _declared_length(response.headers),
            response.extensions.get("network_stream"),
        )
        return response

    def close(self) -> None:
        self._pool.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pool, name)


def bound_transport(transport: httpx.BaseTransport) -> httpx.BaseTransport:
    """`transport` with its connection pool bounded, when it is httpx's network transport."""
    if isinstance(transport, httpx.HTTPTransport) and not isinstance(transport._pool, _BoundedPool):
        transport._pool = _BoundedPool(transport._pool)  # type: ignore[assignment]
    return transport
