"""The ASGI app of the mock: authentication, faults, routing, the beta header, answers and their headers.

It is a plain ASGI callable (no framework on the request path), so that a cancel costs little more
than the server's own parsing: the throughput benchmark in ``bench/bench_mock.py`` holds it to that.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import random
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote_to_bytes

from runcancel.mock import errors
from runcancel.mock.config import MockConfig
from runcancel.mock.encoding import RunAnswer, encode
from runcancel.mock.errors import ApiError
from runcancel.mock.faults import RateLimiter, retired_answer
from runcancel.mock.fields import JSONObject
from runcancel.mock.log import RequestLog
from runcancel.mock.store import Listing, Store
from runcancel.mock.validation import MAX_BODY_BYTES, parse_json_body

OPENAI_VERSION = "2020-10-01"
LIST_LIMIT_MAX = 100
LIST_LIMIT_DEFAULT = 20

Scope = dict[str, Any]
Message = dict[str, Any]
_JSON_HEADERS = ((b"content-type", b"application/json"), (b"openai-version", OPENAI_VERSION.encode()))
_SSE_HEADERS = (
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"openai-version", OPENAI_VERSION.encode()),
)


@dataclass(slots=True)
class EventStream:
    """An answer sent as server-sent events: ``events`` yields each encoded event."""

    events: AsyncIterator[bytes]


Answer = JSONObject | EventStream


@dataclass(slots=True)
class Call:
    """One request as a route handler sees it: its path parameters, query, body and the store.

    ``facts`` collects what the request log should say beyond method, path and status (a run's
    status change, say).
    """

    scope: Scope
    receive: Any
    store: Store
    config: MockConfig
    params: list[str]
    facts: list[str] = field(default_factory=list)

    async def json(self) -> JSONObject:
        """The body as a JSON object (empty counts as ``{}``); 413 beyond the size the live API takes."""
        declared = _header(self.scope, b"content-length")
        if (
            declared is not None
            and declared.isascii()
            and declared.isdigit()
            and int(declared) > MAX_BODY_BYTES
        ):
            raise _too_large()
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await self.receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise _too_large()
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return parse_json_body(b"".join(chunks))

    def query(self, name: str) -> str | None:
        """The last value of a query parameter, or None."""
        found = None
        for key, value in parse_qsl(self.scope.get("query_string", b"").decode("latin-1")):
            if key == name:
                found = value
        return found

    def listing(self) -> Listing:
        """``limit`` (ASCII digits, 1 to 100), ``order``, ``after`` and ``before`` of a list request."""
        value = self.query("limit")
        limit = LIST_LIMIT_DEFAULT
        if value is not None:
            if not (value.isascii() and value.isdigit() and 1 <= int(value) <= LIST_LIMIT_MAX):
                raise ApiError(
                    400,
                    f"Invalid 'limit': expected an integer between 1 and {LIST_LIMIT_MAX}, "
                    f"but got '{value[:64]}'.",
                    param="limit",
                    code="invalid_value",
                )
            limit = int(value)
        order = self.query("order") or "desc"
        if order not in ("asc", "desc"):
            raise ApiError(
                400,
                f"Invalid value: '{order[:64]}'. Supported values are: 'asc' and 'desc'.",
                param="order",
                code="invalid_value",
            )
        return Listing(limit, order, self.query("after"), self.query("before"))


class AppState:
    """What tests and the server read from an app: its configuration and its store."""

    def __init__(self, config: MockConfig, store: Store) -> None:
        self.config = config
        self.store = store


class MockApp:
    """Answers every HTTP request with JSON (or an event stream), checking in the live API's order.

    Authentication (401), then the faults (retired: 404 ``unknown_url``; rate limit: 429), then the
    route (404 ``unknown_url``, also for a known path with another method), then the ``OpenAI-Beta``
    header (400 ``invalid_beta``), then the body, then the objects. Path parameters are split on the
    raw path and then percent-decoded, so ``%2F`` stays in its id.
    """

    def __init__(self, config: MockConfig) -> None:
        from runcancel.mock.routes import ROUTES, route_table

        self.config = config
        self.store = Store(config)
        self.state = AppState(config, self.store)
        self._routes = route_table(ROUTES)
        self._key = config.api_key.encode("utf-8", "surrogatepass")
        self._limiter = None if config.rate_limit is None else RateLimiter(config.rate_limit, time.monotonic)
        self._log = None if config.log is None else RequestLog(config.log)
        # The header nearly every client sends, compared whole before any parsing (a key with spaces
        # at its ends can never match after the parse strips them, so it gets no shortcut).
        stripped = config.api_key.strip() == config.api_key
        self._bearer = b"Bearer " + self._key if stripped else None

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await _lifespan(receive, send)
            return
        if kind != "http":
            await send({"type": "websocket.close", "code": 1000})
            return
        started = time.perf_counter()
        call = Call(scope, receive, self.store, self.config, [])
        extra: tuple[tuple[bytes, bytes], ...] = ()
        try:
            answer: Answer = await self._handle(call)
            status = 200
        except ApiError as error:
            status, answer = error.status, error.envelope()
            if error.retry_after is not None:
                extra = ((b"retry-after", str(error.retry_after).encode()),)
        except Exception:  # a bug in the mock: still an answer in the envelope, then the traceback
            await _send_json(send, 500, errors.server_error().envelope(), started, ())
            raise
        if isinstance(answer, EventStream):
            await _send_stream(send, receive, answer, started)
        else:
            await _send_json(send, status, answer, started, extra)
        if self._log is not None:
            self._log.write(scope, status, started, call.facts)

    async def _handle(self, call: Call) -> Answer:
        scope = call.scope
        self._authenticate(scope)
        method = scope["method"]
        if self.config.retired:
            raise retired_answer(method, scope["path"])
        if self._limiter is not None:
            self._limiter.take()
        segments = path_segments(scope)
        for route in self._routes.get((method, len(segments)), ()):
            params = route.match(segments)
            if params is not None:
                _check_beta(scope)
                call.params = params
                return await route.handler(call)
        raise errors.unknown_url(method, scope["path"])

    def _authenticate(self, scope: Scope) -> None:
        raw = _raw_header(scope, b"authorization")
        if raw is not None and self._bearer is not None and hmac.compare_digest(raw, self._bearer):
            return
        value = "" if raw is None else raw.decode("latin-1")
        scheme, _, token = value.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise errors.missing_key()
        if not hmac.compare_digest(token.encode("latin-1"), self._key):
            raise errors.wrong_key(token)


def create_app(config: MockConfig | None = None) -> MockApp:
    """The ASGI app serving the mock API under ``/v1``; its store is ``app.state.store``."""
    return MockApp(config or MockConfig())


def _header(scope: Scope, name: bytes) -> str | None:
    value = _raw_header(scope, name)
    return None if value is None else value.decode("latin-1")


def _raw_header(scope: Scope, name: bytes) -> bytes | None:
    """The first value of a header (``name`` in lower case), as sent."""
    for key, value in scope["headers"]:
        if key == name or key.lower() == name:
            return value  # type: ignore[no-any-return]
    return None


_ids = random.Random()


def _request_id() -> bytes:
    # Unique per answer, not a secret: a seeded generator costs no system call.
    return b"req_%032x" % _ids.getrandbits(128)


def _common_headers(started: float) -> list[tuple[bytes, bytes]]:
    elapsed = str(int((time.perf_counter() - started) * 1000)).encode()
    return [(b"x-request-id", _request_id()), (b"openai-processing-ms", elapsed)]


async def _send_json(
    send: Any, status: int, body: JSONObject, started: float, extra: tuple[tuple[bytes, bytes], ...]
) -> None:
    content = body.json() if isinstance(body, RunAnswer) else encode(body)
    headers = [*_JSON_HEADERS, (b"content-length", str(len(content)).encode()), *_common_headers(started)]
    headers.extend(extra)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": content})


async def _send_stream(send: Any, receive: Any, stream: EventStream, started: float) -> None:
    """Send the events as they come; stop early when the client goes away."""
    headers = [*_SSE_HEADERS, *_common_headers(started)]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    gone = asyncio.Event()

    async def watch() -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                gone.set()
                return

    watcher = asyncio.ensure_future(watch())
    try:
        async for chunk in stream.events:
            if gone.is_set():
                break
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher


async def _lifespan(receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def path_segments(scope: Scope) -> list[str]:
    """The raw path's segments after ``/``, each percent-decoded on its own (UTF-8, bad bytes replaced)."""
    raw: bytes = scope.get("raw_path") or scope["path"].encode("utf-8", "surrogatepass")
    if b"?" in raw:
        raw = raw.partition(b"?")[0]
    if not raw.startswith(b"/"):
        return []
    if b"%" not in raw:
        # "/" is never part of a multi-byte UTF-8 sequence: decoding the whole path and then splitting
        # it gives the same segments as decoding each segment.
        return raw[1:].decode("utf-8", "replace").split("/")
    return [
        unquote_to_bytes(part).decode("utf-8", "replace") if b"%" in part else part.decode("utf-8", "replace")
        for part in raw[1:].split(b"/")
    ]


def _check_beta(scope: Scope) -> None:
    features: set[str] = set()
    for key, value in scope["headers"]:
        if key.lower() == b"openai-beta":
            if value == b"assistants=v2":  # what the SDKs send: nothing to parse
                return
            features.update(item.strip() for item in value.decode("latin-1").split(","))
    if "assistants=v2" in features:
        return
    if "assistants=v1" in features:
        raise errors.deprecated_beta()
    raise errors.missing_beta()


def _too_large() -> ApiError:
    return ApiError(
        413,
        f"The request body is too large: at most {MAX_BODY_BYTES} bytes are accepted.",
        code="request_too_large",
    )
