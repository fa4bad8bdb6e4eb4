"""uvicorn's HTTP protocols with the mock's manners: JSON refusals and a time limit on reading headers.

uvicorn answers a request it cannot parse with ``400 text/plain`` and keeps a connection that never
finishes its headers forever. These subclasses answer every refusal in the OpenAI error envelope
(400, 408 for headers not sent within ``header_timeout`` seconds, 414 for a target longer than the
parser takes, 431 for oversized headers) and close the connection. httptools (and uvloop) are used
where installed, h11 otherwise: :func:`protocol_class` picks. On httptools, an answer of known length
leaves in one write, head and body together.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import urllib.parse
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from runcancel.mock.errors import ApiError

MAX_TARGET_BYTES = 256 * 1024
"""The longest request target the mock reads (longer ones get 414)."""
_PARSE_URL_MAX = 65_535  # httptools' URL parser counts in 16 bits: longer targets are split here
MAX_HEADER_BYTES = 64 * 1024
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_REASONS = {
    400: b"Bad Request",
    408: b"Request Timeout",
    414: b"URI Too Long",
    431: b"Request Header Fields Too Large",
}
_MESSAGES = {
    400: "We could not parse your HTTP request.",
    408: "The request headers were not received in time.",
    414: f"The request target is too long: at most {MAX_TARGET_BYTES} bytes are accepted.",
    431: f"The request headers are too large: at most {MAX_HEADER_BYTES} bytes are accepted.",
}


def refusal(status: int) -> bytes:
    """A complete HTTP/1.1 answer refusing the request, in the error envelope, closing the connection."""
    envelope = ApiError(status, _MESSAGES[status], code=None).envelope()
    body = json.dumps(envelope).encode("ascii")
    head = (
        b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n"
        % (status, _REASONS[status], len(body))
    )
    return head + body


class _HeaderClock:
    """A time limit on a request's headers, from the connection's start or the request's first bytes.

    Headers not complete in time get a 408 (a connection that sent nothing at all is just closed).
    Arming sets a deadline; one timer per connection checks it when due and follows it if it moved,
    so a request costs no timer of its own.
    """

    transport: asyncio.Transport
    loop: asyncio.AbstractEventLoop
    header_timeout: float = 10.0
    _header_deadline: float | None = None
    _header_timer: asyncio.TimerHandle | None = None

    def _arm_headers(self) -> None:
        self._header_deadline = self.loop.time() + self.header_timeout
        if self._header_timer is None:
            self._header_timer = self.loop.call_at(self._header_deadline, self._headers_due)

    def _disarm_headers(self) -> None:
        self._header_deadline = None  # the timer, if any, finds nothing to do when it fires

    def _stop_header_clock(self) -> None:
        self._header_deadline = None
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_due(self) -> None:
        self._header_timer = None
        deadline = self._header_deadline
        if deadline is None:
            return
        if deadline > self.loop.time():
            self._header_timer = self.loop.call_at(deadline, self._headers_due)
            return
        self._header_deadline = None
        self._headers_late()

    def _headers_late(self) -> None:
        if getattr(self, "_heard", False):
            self._refuse(408)
        elif not self.transport.is_closing():
            self.transport.close()

    def _refuse(self, status: int) -> None:
        if not self.transport.is_closing():
            self.transport.write(refusal(status))
            self.transport.close()


class OneWrite:
    """The transport as one answer's sender sees it: a head that declares its length is held until
    the body's first bytes, so that both go out in one write (one system call, one packet).

    The head is sent at once when the answer streams (no ``content-length``), and before closing.
    """

    __slots__ = ("_first", "_head", "_transport")

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._first = True
        self._head: bytes | None = None

    def write(self, data: bytes) -> None:
        if self._head is not None:
            data, self._head = self._head + data, None
        elif self._first and data != _CONTINUE:
            self._first = False  # the answer's head: status line and headers, names in lower case
            if b"\r\ncontent-length: " in data:
                self._head = data
                return
        self._transport.write(data)

    def close(self) -> None:
        if self._head is not None:
            self._transport.write(self._head)
            self._head = None
        self._transport.close()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class JsonH11Protocol(_HeaderClock, H11Protocol):
    """uvicorn's h11 protocol, refusing in JSON (431 where h11 says the head is too large)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_request = False
        self._last_error: h11.RemoteProtocolError | None = None
        conn = self.conn
        original = conn.next_event

        def next_event() -> Any:
            try:
                return original()
            except h11.RemoteProtocolError as exc:
                self._last_error = exc
                raise

        conn.next_event = next_event  # type: ignore[method-assign]

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._heard = False
        self._arm_headers()

    def data_received(self, data: bytes) -> None:
        if not self._in_request and self._header_deadline is None:
            self._arm_headers()
        self._heard = True
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE and not self._in_request:
            self._in_request = True
            self._disarm_headers()

    def on_response_complete(self) -> None:
        self._in_request = False
        self._heard = False
        super().on_response_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_header_clock()
        super().connection_lost(exc)

    def send_400_response(self, msg: str) -> None:
        hint = getattr(self._last_error, "error_status_hint", 400)
        self._disarm_headers()
        self._refuse(431 if hint == 431 else 400)


def _httptools_protocol() -> type[asyncio.Protocol] | None:
    if importlib.util.find_spec("httptools") is None:
        return None
    import httptools
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class TargetTooLong(Exception):
        pass

    class JsonHttpToolsProtocol(_HeaderClock, HttpToolsProtocol):
        """uvicorn's httptools protocol, refusing in JSON, with bounds on the target and the headers."""

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._in_request = False
            self._status = 400
            self._header_bytes = 0
            self._heard = False
            self._arm_headers()

        def data_received(self, data: bytes) -> None:
            if not self._in_request and self._header_deadline is None:
                self._arm_headers()
            self._heard = True
            self._unset_keepalive_if_required()
            try:
                self.parser.feed_data(data)
            except httptools.HttpParserUpgrade:
                if self._should_upgrade():
                    self.handle_websocket_upgrade()
                else:
                    self._unsupported_upgrade_warning()
            except httptools.HttpParserError:
                self._disarm_headers()
                self._refuse(self._status)

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._status = 400
            self._header_bytes = 0

        def on_url(self, url: bytes) -> None:
            super().on_url(url)
            if len(self.url) > MAX_TARGET_BYTES:
                self._status = 414
                raise TargetTooLong

        def on_header(self, name: bytes, value: bytes) -> None:
            self._header_bytes += len(name) + len(value) + 4
            if self._header_bytes > MAX_HEADER_BYTES:
                self._status = 431
                raise TargetTooLong
            super().on_header(name, value)

        def on_headers_complete(self) -> None:
            self._in_request = True
            self._disarm_headers()
            target = self.url
            before = self.cycle
            if len(target) <= _PARSE_URL_MAX:
                super().on_headers_complete()
            else:
                # uvicorn parses the target with httptools, which cannot take this one: let it parse
                # a stand-in, then give the scope the real target before the app's task first runs.
                self.url = b"/"
                super().on_headers_complete()
                raw_path, _, query = target.partition(b"?")
                raw_path = raw_path.partition(b"#")[0]
                self.scope["raw_path"] = raw_path
                self.scope["path"] = urllib.parse.unquote(raw_path.decode("latin-1"))
                self.scope["query_string"] = query
            if self.cycle is not before:  # a new answer (not an upgrade): its task has not run yet
                self.cycle.transport = OneWrite(self.transport)  # type: ignore[assignment]

        def on_response_complete(self) -> None:
            self._in_request = False
            self._heard = False
            super().on_response_complete()

        def connection_lost(self, exc: Exception | None) -> None:
            self._stop_header_clock()
            super().connection_lost(exc)

        def send_400_response(self, msg: str) -> None:
            self._refuse(400)

    return JsonHttpToolsProtocol


_HTTPTOOLS = _httptools_protocol()


def protocol_class(header_timeout: float, prefer: str = "auto") -> type[asyncio.Protocol]:
    """The protocol to serve with: httptools where installed (unless ``prefer`` is ``h11``), else h11."""
    base: type[asyncio.Protocol] = JsonH11Protocol
    if prefer != "h11" and _HTTPTOOLS is not None:
        base = _HTTPTOOLS
    return type(base.__name__, (base,), {"header_timeout": header_timeout})


def protocol_name(protocol: type[asyncio.Protocol]) -> str:
    """``httptools`` or ``h11``."""
    return "h11" if issubclass(protocol, JsonH11Protocol) else "httptools"
