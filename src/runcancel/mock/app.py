"""The ASGI app of the mock: authentication, routing, the beta header, handlers and common headers."""

from __future__ import annotations

import hmac
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes

from starlette.applications import Starlette
from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocketClose

from runcancel.mock import errors
from runcancel.mock.config import MockConfig
from runcancel.mock.errors import ApiError
from runcancel.mock.store import Store
from runcancel.mock.validation import (
    MAX_BODY_BYTES,
    JSONObject,
    assistant_request,
    parse_json_body,
    run_request,
    thread_request,
)

OPENAI_VERSION = "2020-10-01"
LIST_LIMIT_MAX = 100
LIST_LIMIT_DEFAULT = 20

Handler = Callable[[Request, Store, list[str]], Awaitable[JSONObject]]


def create_app(config: MockConfig | None = None) -> Starlette:
    """A Starlette app serving the mock API under ``/v1``; its store is ``app.state.store``."""
    config = config or MockConfig()
    store = Store(config)
    app = Starlette(
        middleware=[Middleware(OpenAIHeadersMiddleware)],
        exception_handlers={Exception: _server_error},
    )
    app.router.default = MockApi(config, store)
    app.state.config = config
    app.state.store = store
    return app


class OpenAIHeadersMiddleware:
    """Adds the headers every live answer carries: request id, API version, processing time."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if "content-type" not in headers:
                    headers["content-type"] = "application/json"
                headers["x-request-id"] = f"req_{uuid.uuid4().hex}"
                headers["openai-version"] = OPENAI_VERSION
                headers["openai-processing-ms"] = str(int((time.perf_counter() - started) * 1000))
            await send(message)

        await self.app(scope, receive, send_with_headers)


@dataclass(frozen=True, slots=True)
class Route:
    """A method and a path pattern; ``None`` in the pattern stands for one path parameter."""

    method: str
    pattern: tuple[str | None, ...]
    handler: Handler

    def match(self, segments: list[str]) -> list[str] | None:
        """The path parameters if ``segments`` fit the pattern (parameters must not be empty)."""
        if len(segments) != len(self.pattern):
            return None
        params: list[str] = []
        for part, segment in zip(self.pattern, segments, strict=True):
            if part is None:
                if not segment:
                    return None
                params.append(segment)
            elif part != segment:
                return None
        return params


class MockApi:
    """Answers every HTTP request with JSON, checking in the live API's order.

    Authentication (401), then the route (404 ``unknown_url``, also for a known path with another
    method), then the ``OpenAI-Beta`` header (400 ``invalid_beta``), then the body, then the objects.
    Path parameters are split on the raw path and then percent-decoded, so ``%2F`` stays in its id.
    """

    def __init__(self, config: MockConfig, store: Store) -> None:
        self.config = config
        self.store = store

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await WebSocketClose()(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            status, body = 200, await self._handle(request)
        except ApiError as error:
            status, body = error.status, error.envelope()
        await json_response(status, body)(scope, receive, send)

    async def _handle(self, request: Request) -> JSONObject:
        self._authenticate(request.headers)
        method = request.scope["method"]
        segments = _path_segments(request.scope)
        for route in ROUTES:
            params = route.match(segments) if route.method == method else None
            if params is not None:
                _check_beta(request.headers)
                return await route.handler(request, self.store, params)
        raise errors.unknown_url(method, request.scope["path"])

    def _authenticate(self, headers: Headers) -> None:
        scheme, _, token = headers.get("authorization", "").strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise errors.missing_key()
        given = token.encode("utf-8", "surrogatepass")
        expected = self.config.api_key.encode("utf-8", "surrogatepass")
        if not hmac.compare_digest(given, expected):
            raise errors.wrong_key(token)


def json_response(status: int, body: JSONObject) -> Response:
    """A JSON answer; non-ASCII is escaped, so any decoded input (even a lone surrogate) encodes."""
    return Response(json.dumps(body).encode("ascii"), status_code=status, media_type="application/json")


def _path_segments(scope: Scope) -> list[str]:
    raw: bytes = scope.get("raw_path") or scope["path"].encode("utf-8", "surrogatepass")
    raw = raw.partition(b"?")[0]
    if not raw.startswith(b"/"):
        return []
    return [unquote_to_bytes(part).decode("utf-8", "replace") for part in raw[1:].split(b"/")]


def _check_beta(headers: Headers) -> None:
    features = {item.strip() for value in headers.getlist("openai-beta") for item in value.split(",")}
    if "assistants=v2" in features:
        return
    if "assistants=v1" in features:
        raise errors.deprecated_beta()
    raise errors.missing_beta()


async def _read_json(request: Request) -> JSONObject:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise _too_large()
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _too_large()
        chunks.append(chunk)
    return parse_json_body(b"".join(chunks))


def _too_large() -> ApiError:
    return ApiError(
        413,
        f"The request body is too large: at most {MAX_BODY_BYTES} bytes are accepted.",
        code="request_too_large",
    )


def _query_limit(request: Request) -> int:
    value = request.query_params.get("limit")
    if value is None:
        return LIST_LIMIT_DEFAULT
    if value.isdigit() and 1 <= int(value) <= LIST_LIMIT_MAX:
        return int(value)
    raise ApiError(
        400,
        f"Invalid 'limit': expected an integer between 1 and {LIST_LIMIT_MAX}, but got '{value[:64]}'.",
        param="limit",
        code="invalid_value",
    )


def _query_order(request: Request) -> str:
    value = request.query_params.get("order", "desc")
    if value not in ("asc", "desc"):
        raise ApiError(
            400,
            f"Invalid value: '{value[:64]}'. Supported values are: 'asc' and 'desc'.",
            param="order",
            code="invalid_value",
        )
    return value


async def _create_assistant(request: Request, store: Store, params: list[str]) -> JSONObject:
    return store.create_assistant(assistant_request(await _read_json(request)))


async def _get_assistant(request: Request, store: Store, params: list[str]) -> JSONObject:
    return store.get_assistant(params[0])


async def _delete_assistant(request: Request, store: Store, params: list[str]) -> JSONObject:
    return store.delete_assistant(params[0])


async def _create_thread(request: Request, store: Store, params: list[str]) -> JSONObject:
    return store.create_thread(thread_request(await _read_json(request)))


async def _get_thread(request: Request, store: Store, params: list[str]) -> JSONObject:
    return store.get_thread(params[0])


async def _delete_thread(request: Request, store: Store, params: list[str]) -> JSONObject:
    return store.delete_thread(params[0])


async def _create_run(request: Request, store: Store, params: list[str]) -> JSONObject:
    return store.create_run(params[0], run_request(await _read_json(request)))


async def _list_runs(request: Request, store: Store, params: list[str]) -> JSONObject:
    query = request.query_params
    return store.list_runs(
        params[0],
        limit=_query_limit(request),
        order=_query_order(request),
        after=query.get("after"),
        before=query.get("before"),
    )


async def _get_run(request: Request, store: Store, params: list[str]) -> JSONObject:
    return store.get_run(params[0], params[1])


async def _cancel_run(request: Request, store: Store, params: list[str]) -> JSONObject:
    # The body is ignored, as the live API does; the check-and-set runs with no await in between.
    return store.cancel_run(params[0], params[1])


ROUTES: tuple[Route, ...] = (
    Route("POST", ("v1", "assistants"), _create_assistant),
    Route("GET", ("v1", "assistants", None), _get_assistant),
    Route("DELETE", ("v1", "assistants", None), _delete_assistant),
    Route("POST", ("v1", "threads"), _create_thread),
    Route("GET", ("v1", "threads", None), _get_thread),
    Route("DELETE", ("v1", "threads", None), _delete_thread),
    Route("POST", ("v1", "threads", None, "runs"), _create_run),
    Route("GET", ("v1", "threads", None, "runs"), _list_runs),
    Route("GET", ("v1", "threads", None, "runs", None), _get_run),
    Route("POST", ("v1", "threads", None, "runs", None, "cancel"), _cancel_run),
)


async def _server_error(request: Request, exc: Exception) -> Response:
    # Reached only through a bug in the mock; the exception is re-raised after this answer is sent.
    return json_response(500, errors.server_error().envelope())
