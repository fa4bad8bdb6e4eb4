"""In-process targets: an ASGI app in this process answers the suites, no port bound.

httpx's own `ASGITransport` is async only, and builds the scope from the URL httpx keeps, so a raw
request-target (`..`, a lone `%`, a `?` inside an id) would not reach the app as sent. `ASGITransport`
here is a sync `httpx.BaseTransport`: the app runs on an event loop in a background thread (an anyio
blocking portal, started on the first request, with the app's lifespan when it has one), and the
scope's `raw_path` and `query_string` are the request-target's own bytes: the `target` extension
`TargetClient.send_raw` sets, else the URL's raw path. `path` is `raw_path` percent-decoded.

The answer streams: the app's body messages are read one at a time as the client reads the body, so
the client's bounds (bytes, deadline) hold for an app that never ends its body. An exception in the
app before it starts its answer is answered 500, as uvicorn does.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import math
import threading
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import unquote_to_bytes

import anyio
import anyio.from_thread
import httpx
from anyio.abc import ObjectReceiveStream

from runcancel.targets.bounds import BUDGET, Budget, _declared_length, guard
from runcancel.targets.errors import TargetError

__all__ = ["ASGI_PREFIX", "ASGITransport", "load_app"]

ASGI_PREFIX = "asgi:"
_END = {"type": "runcancel.end"}


def load_app(spec: str) -> Any:
    """The app a spec `asgi:MODULE:ATTR` names; a function of no arguments is called for it."""
    text = spec.removeprefix(ASGI_PREFIX)
    module_name, colon, attr = text.partition(":")

    def refuse(problem: str) -> TargetError:
        return TargetError(
            f"runcancel: the target {spec!r} names no ASGI app: {problem}. Give asgi:MODULE:ATTR, "
            "e.g. asgi:myserver.main:app (an app, or a function of no arguments returning one), "
            "importable from where the suites run; a base path may follow: asgi:myserver.main:app/api/v1."
        )

    if not colon or not module_name or not attr.isidentifier():
        raise refuse("it is not MODULE:ATTR")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise refuse(f"module {module_name!r} cannot be imported ({exc})") from None
    app = getattr(module, attr, None)
    if app is None:
        raise refuse(f"module {module_name!r} has no {attr!r}")
    if inspect.isfunction(app) and not _takes_asgi_arguments(app):
        try:
            app = app()
        except Exception as exc:
            raise refuse(f"calling {attr}() raised {type(exc).__name__}: {exc}") from None
    if not callable(app):
        raise refuse(f"{attr!r} is not callable")
    return app


def _takes_asgi_arguments(func: Callable[..., Any]) -> bool:
    return len(inspect.signature(func).parameters) >= 3


class ASGITransport(httpx.MockTransport):
    """Requests answered by an ASGI app running on a background event loop of this process.

    It is an `httpx.MockTransport` whose handler runs the app: vcrpy records and replays the
    exchanges of that class as it does a network transport's, so an in-process target can be recorded
    (`--record-mode`) like a server on a port. The answer's bounds are enforced below vcrpy here too
    (it reads a whole body while recording), as `bounds` does for the network transport.
    """

    def __init__(self, app: Any, *, client: tuple[str, int] = ("127.0.0.1", 50000)) -> None:
        super().__init__(self._answer)
        self.app = app
        self.client = client
        self._lock = threading.Lock()
        self._stack: contextlib.ExitStack | None = None
        self._portal: anyio.from_thread.BlockingPortal | None = None
        self._state: dict[str, Any] = {}
        self._lifespan: _Lifespan | None = None

    # -- the loop and the app's lifespan ----------------------------------------------------------------

    def _running(self) -> anyio.from_thread.BlockingPortal:
        with self._lock:
            if self._portal is None:
                stack = contextlib.ExitStack()
                portal = stack.enter_context(anyio.from_thread.start_blocking_portal())
                self._stack, self._portal = stack, portal
                lifespan = portal.call(_Lifespan.create)
                self._lifespan = lifespan
                portal.start_task_soon(lifespan.run, self.app, self._state)
                failure = portal.call(lifespan.started.wait) or lifespan.failure
                if failure:
                    self._close_locked()
                    raise TargetError(f"runcancel: the in-process app failed to start: {failure}")
            return self._portal

    def close(self) -> None:
        with self._lock:
            self._close_locked()

    def _close_locked(self) -> None:
        if self._portal is not None and self._lifespan is not None:
            with contextlib.suppress(Exception):
                self._portal.call(self._lifespan.shut_down)
        if self._stack is not None:
            with contextlib.suppress(Exception):
                self._stack.close()
        self._stack = self._portal = self._lifespan = None

    # -- one request ------------------------------------------------------------------------------------

    def _answer(self, request: httpx.Request) -> httpx.Response:
        portal = self._running()
        target = request.extensions.get("target")
        raw = target if isinstance(target, bytes) else request.url.raw_path
        raw_path, _, query = raw.partition(b"?")
        url = request.url
        port = url.port or (443 if url.scheme == "https" else 80)
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": request.method,
            "scheme": url.scheme,
            "path": unquote_to_bytes(raw_path).decode("utf-8", "surrogateescape"),
            "raw_path": raw_path,
            "query_string": query,
            "root_path": "",
            "headers": [(k.lower(), v) for k, v in request.headers.raw],
            "server": (url.host, port),
            "client": self.client,
            "state": dict(self._state),
        }
        body = request.read()
        budget = request.extensions.get(BUDGET)
        timeout = _timeout(request, budget)
        send_stream, receive_stream = anyio.create_memory_object_stream[dict[str, Any]](16)
        disconnected = threading.Event()

        unread = [body]

        async def receive() -> dict[str, Any]:
            if unread:
                return {"type": "http.request", "body": unread.pop(), "more_body": False}
            while not disconnected.is_set():
                await anyio.sleep(0.05)
            return {"type": "http.disconnect"}

        async def app_send(message: dict[str, Any]) -> None:
            await send_stream.send(message)

        async def run() -> None:
            async with send_stream:
                try:
                    await self.app(scope, receive, app_send)
                except Exception as exc:
                    await send_stream.send({"type": "runcancel.error", "error": exc})

        future = portal.start_task_soon(run)

        def next_message(wait: float) -> dict[str, Any]:
            try:
                return portal.call(_receive, receive_stream, wait)
            except TimeoutError:
                raise httpx.ReadTimeout(f"the in-process app did not answer within {wait:g} s") from None

        def stop() -> None:
            disconnected.set()
            future.cancel()
            with contextlib.suppress(Exception):
                portal.call(receive_stream.aclose)

        message = next_message(timeout())
        while message["type"] not in ("http.response.start", "runcancel.error", _END["type"]):
            message = next_message(timeout())
        if message["type"] != "http.response.start":
            stop()
            return httpx.Response(
                500, headers={"content-type": "text/plain"}, content=b"Internal Server Error"
            )
        headers = [(bytes(k), bytes(v)) for k, v in message.get("headers", [])]
        if isinstance(budget, Budget):  # the status and headers came: a cut answer still has them
            budget.status, budget.headers, budget.guarded_below = int(message["status"]), headers, True

        def chunks() -> Iterator[bytes]:
            try:
                while True:
                    part = next_message(timeout())
                    if part["type"] == "http.response.body":
                        if part.get("body"):
                            yield bytes(part["body"])
                        if not part.get("more_body", False):
                            return
                    elif part["type"] in ("runcancel.error", _END["type"]):
                        raise httpx.RemoteProtocolError("the in-process app ended its answer before its body")
            finally:
                stop()

        body_chunks = (
            guard(chunks(), budget, _declared_length(headers)) if isinstance(budget, Budget) else chunks()
        )
        return httpx.Response(
            int(message["status"]), headers=headers, stream=_Stream(body_chunks, stop), extensions={}
        )


class _Lifespan:
    """The app's lifespan: startup before the first request, shutdown when the transport closes.

    An app without lifespan support (it raises on the scope, or returns) is used as it is.
    """

    def __init__(self, started: anyio.Event, stop: anyio.Event, done: anyio.Event) -> None:
        self.started, self.stop, self.done = started, stop, done
        self.failure: str | None = None
        self.supported = False

    @classmethod
    async def create(cls) -> _Lifespan:
        return cls(anyio.Event(), anyio.Event(), anyio.Event())

    async def run(self, app: Any, state: dict[str, Any]) -> None:
        sent_startup = False

        async def receive() -> dict[str, Any]:
            nonlocal sent_startup
            if not sent_startup:
                sent_startup = True
                return {"type": "lifespan.startup"}
            await self.stop.wait()
            return {"type": "lifespan.shutdown"}

        async def send(message: dict[str, Any]) -> None:
            kind = message["type"]
            if kind == "lifespan.startup.failed":
                self.failure = str(message.get("message") or "its lifespan startup failed")
            if kind.startswith("lifespan.startup."):
                self.supported = True
                self.started.set()
            if kind.startswith("lifespan.shutdown."):
                self.done.set()

        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": state}
        try:
            await app(scope, receive, send)
        except Exception:  # no lifespan support: the app is used without
            pass
        finally:
            self.started.set()
            self.done.set()

    async def shut_down(self) -> None:
        self.stop.set()
        if self.supported:
            with anyio.move_on_after(5):
                await self.done.wait()


class _Stream(httpx.SyncByteStream):
    def __init__(self, chunks: Iterator[bytes], stop: Callable[[], None]) -> None:
        self._chunks = chunks
        self._stop = stop

    def __iter__(self) -> Iterator[bytes]:
        yield from self._chunks

    def close(self) -> None:
        self._stop()


def _timeout(request: httpx.Request, budget: Any) -> Callable[[], float]:
    if isinstance(budget, Budget):
        return budget.remaining
    timeouts = request.extensions.get("timeout") or {}
    read = timeouts.get("read")
    fixed = float(read) if isinstance(read, int | float) and math.isfinite(read) else 3600.0
    return lambda: fixed


async def _receive(stream: ObjectReceiveStream[dict[str, Any]], wait: float) -> dict[str, Any]:
    with anyio.fail_after(wait):
        try:
            return await stream.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            return _END
