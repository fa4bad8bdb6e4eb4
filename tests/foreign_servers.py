"""A catalogue of foreign-style servers: the ways real third-party targets differ from the reference mock.

Where `broken_servers` breaks one clause each, these servers are shaped like targets met in the wild
(a mock answering its document's example, a proxy without `/assistants`, a gateway refusing the key,
a stub whose cancel crashes, a server whose runs never move, creates answered 201, a dropped
connection, a union member with an extra key). Each is a small ASGI app served on 127.0.0.1 by
`broken_servers.Served`, with the whole-target verdict it must get (`verdict`, None: none) and the
clause states the suites must reach (`states`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from broken_servers import _RUNS, Answer, Fault, Server, buffered, mock_config
from runcancel.mock import MockConfig, create_app

__all__ = ["CANNED_RUN", "FOREIGN_SERVERS", "NEVER_MOVES", "ForeignServer"]

JSON = dict[str, Any]
_CANCEL = re.compile(r"^/v1/threads/[^/]+/runs/[^/]+/cancel$")
_ANY_RUN = re.compile(r"^/v1/threads/[^/]+/runs(/[^/]+)?$")
# A schema-valid Run as a mock built from a document's examples answers: every id the literal
# "string", a status no cancel leaves, and the same object whatever ids were asked for.
CANNED_RUN: JSON = {
    "id": "string",
    "object": "thread.run",
    "created_at": 0,
    "thread_id": "string",
    "assistant_id": "string",
    "status": "queued",
    "required_action": None,
    "last_error": None,
    "expires_at": None,
    "started_at": None,
    "cancelled_at": None,
    "failed_at": None,
    "completed_at": None,
    "incomplete_details": None,
    "model": "string",
    "instructions": "string",
    "tools": [],
    "metadata": {},
    "usage": None,
    "temperature": 1,
    "top_p": 1,
    "max_prompt_tokens": 256,
    "max_completion_tokens": 256,
    "truncation_strategy": {"type": "auto", "last_messages": None},
    "tool_choice": "none",
    "parallel_tool_calls": True,
    "response_format": "auto",
}


async def _json(send: Send, status: int, body: Any, content_type: str = "application/json") -> None:
    data = json.dumps(body).encode()
    headers = [(b"content-type", content_type.encode()), (b"content-length", str(len(data)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


def _header(scope: Scope, name: bytes) -> bytes | None:
    return next((v for k, v in scope["headers"] if k.lower() == name), None)


# -- apps that are not the mock at all ---------------------------------------------------------------


async def cancel_only_stub(scope: Scope, receive: Receive, send: Send) -> None:
    """Only the cancel path exists; it answers the canned Run for any ids. No key: 401 problem+json."""
    if scope["type"] != "http":
        return
    if _header(scope, b"authorization") is None:
        problem = {"type": "https://stoplight.io/prism/errors#UNAUTHORIZED", "title": "Invalid security"}
        await _json(send, 401, {**problem, "status": 401}, "application/problem+json")
    elif scope["method"] == "POST" and _CANCEL.match(scope["path"]):
        await _json(send, 200, CANNED_RUN)
    else:
        await _json(send, 404, {"type": "NO_PATH_MATCHED_ERROR", "status": 404}, "application/problem+json")


async def forbidding(scope: Scope, receive: Receive, send: Send) -> None:
    """A gateway that refuses the key on every request: 403 `{"detail": "Forbidden"}`."""
    if scope["type"] == "http":
        await _json(send, 403, {"detail": "Forbidden"})


# -- the mock, made foreign ----------------------------------------------------------------------------


def _without_assistants(config: MockConfig) -> ASGIApp:
    """Threads and runs work, `/assistants` is not there (404 `{"detail": "Not Found"}`)."""

    def change(answer: Answer) -> None:
        if answer.path.startswith("/v1/assistants"):
            answer.status = 404
            answer.set_json({"detail": "Not Found"})

    return Fault(create_app(config), answer=change)


class CancelCrashes:
    """Every cancel answers `500 text/plain` and closes the connection, as a stub behind uvicorn does."""

    def __init__(self, config: MockConfig) -> None:
        self.app = create_app(config)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and _CANCEL.match(scope["path"]):
            body = b"Internal Server Error"
            headers = [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ]
            await send({"type": "http.response.start", "status": 500, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)


def _never_moving(config: MockConfig) -> ASGIApp:
    """Every run is created to stay queued (the mock's own `queued` scenario): it never starts."""
    return _never_moving_over(create_app(config))


def _creates_201(config: MockConfig) -> ASGIApp:
    """Every create (assistant, thread, run) answers 201 instead of the live API's 200."""

    def change(answer: Answer) -> None:
        if answer.method == "POST" and answer.status == 200 and not _CANCEL.match(answer.path):
            answer.status = 201

    return Fault(create_app(config), answer=change)


class ResetOnce:
    """The first read of a run is cut off mid-answer: the connection closes before the body is whole."""

    def __init__(self, config: MockConfig) -> None:
        self.app = create_app(config)
        self.done = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        is_read = scope["type"] == "http" and scope["method"] == "GET" and _ANY_RUN.match(scope["path"])
        if is_read and not self.done:
            self.done = True
            answer = await buffered(self.app, scope, receive)
            length = (b"content-length", str(len(answer.body) + 100).encode())
            await send({"type": "http.response.start", "status": 200, "headers": [*answer.headers, length]})
            await send({"type": "http.response.body", "body": answer.body[:10], "more_body": False})
            return
        await self.app(scope, receive, send)


def _member_with_extra_key(config: MockConfig) -> ASGIApp:
    """Every Run carries `response_format: {"type": "json_object", "x": 1}`: a union member with an
    undocumented key (and a forced tool choice gets one too)."""

    def change(answer: Answer) -> None:
        if not (answer.status == 200 and answer.path.startswith("/v1/threads/")):
            return
        data = answer.json()
        runs = data["data"] if data.get("object") == "list" else [data]
        for run in runs:
            if isinstance(run, dict) and run.get("object") == "thread.run":
                run["response_format"] = {"type": "json_object", "x": 1}
                if isinstance(run.get("tool_choice"), dict):
                    run["tool_choice"]["x"] = 1
        answer.set_json(data)

    return Fault(create_app(config), answer=change)


@dataclass(frozen=True)
class ForeignServer(Server):
    """A foreign-style server, the verdict it must get, and the clause states the suites reach on it."""

    verdict: str | None = None
    states: dict[str, str] = field(default_factory=dict)


def _raw(app: Callable[[Scope, Receive, Send], Any]) -> Callable[[MockConfig], ASGIApp]:
    return lambda config: app


CANCEL_ONLY = ForeignServer(
    "cancel-only-stub",
    "only the cancel path, answering a canned Run (status queued, ids the literal 'string') for any ids",
    _raw(cancel_only_stub),
    verdict="stateless-mock",
    states={"error.unknown_thread": "failed", "error.unknown_run": "failed", "answer.status": "not verified"},
)
NO_ASSISTANTS = ForeignServer(
    "no-assistants",
    "threads and runs, but no /assistants",
    _without_assistants,
    verdict="cannot-arrange",
    states={"answer.status": "not verified", "lifecycle.cancel_queued": "not verified"},
)
FORBIDDING = ForeignServer(
    "403-everywhere",
    "every request answers 403 {'detail': 'Forbidden'}",
    _raw(forbidding),
    verdict="auth-refused",
    states={"answer.status": "not verified", "error.no_key": "failed"},
)
CANCEL_500 = ForeignServer(
    "cancel-500-close",
    "every cancel answers 500 text/plain and closes the connection",
    CancelCrashes,
    verdict="cancel-server-error",
    states={
        "answer.status": "failed",
        "lifecycle.cancel_in_progress": "failed",
        "error.unknown_run": "failed",
    },
)
NEVER_MOVES = ForeignServer(
    "never-leaves-queued",
    "runs are created but never leave queued",
    _never_moving,
    states={"lifecycle.cancel_queued": "passed", "lifecycle.cancel_in_progress": "not verified"},
)
CREATES_201 = ForeignServer(
    "creates-201",
    "every create answers 201",
    _creates_201,
    states={"answer.status": "passed", "lifecycle.cancel_in_progress": "passed"},
)
RESET_ONCE = ForeignServer(
    "reset-once",
    "the first read of a run is cut off mid-answer",
    ResetOnce,
)
MEMBER_EXTRA_KEY = ForeignServer(
    "union-member-extra-key",
    "every Run's response_format is {'type': 'json_object', 'x': 1}",
    _member_with_extra_key,
    states={"schema.response_format": "passed", "schema.undocumented_field": "passed"},
)

FOREIGN_SERVERS: tuple[ForeignServer, ...] = (
    CANCEL_ONLY,
    NO_ASSISTANTS,
    FORBIDDING,
    CANCEL_500,
    NEVER_MOVES,
    CREATES_201,
    RESET_ONCE,
    MEMBER_EXTRA_KEY,
)


def fresh(server: ForeignServer) -> ASGIApp:
    return server.app_factory(mock_config())


# -- a server whose owner hands out runs: the provider state ------------------------------------------

PROVIDER_STATE_PATH = "/provider-state"
_WEATHER = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {}}},
}


class ProvidedRuns:
    """Runs created through the public API never leave queued, but the server's owner hands out runs in
    the statuses a test cannot wait for: over HTTP (`POST /provider-state`, the language-agnostic
    protocol of the README) or in process (`provide`, for a conftest's `runcancel_provider_state`).
    Every status asked for is kept in `asked`."""

    PROVIDES = ("requires_action", "failed", "incomplete", "expired")

    def __init__(self, config: MockConfig) -> None:
        from runcancel.mock.validation import assistant_request, run_request, thread_request

        self.inner = create_app(config)
        self.app = _never_moving_over(self.inner)
        self.asked: list[str] = []
        self._requests = (assistant_request, thread_request, run_request)

    def provide(self, status: str) -> tuple[str, str] | None:
        """A run that reaches `status` on its own, created behind the public API; None for another."""
        self.asked.append(status)
        if status not in self.PROVIDES:
            return None
        assistant_request, thread_request, run_request = self._requests
        store = self.inner.store
        assistant = store.create_assistant(assistant_request({"model": "gpt-4o-mini", "tools": [_WEATHER]}))
        body: JSON = {"assistant_id": assistant["id"], "metadata": {"runcancel_scenario": status}}
        if status == "requires_action":
            body["tools"] = [_WEATHER]
            body["tool_choice"] = {"type": "function", "function": {"name": "get_weather"}}
        run = store.create_thread_and_run(thread_request({}), run_request(body))
        return str(run["thread_id"]), str(run["id"])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == PROVIDER_STATE_PATH:
            message = await receive()
            asked = json.loads(message.get("body") or b"{}")
            ids = self.provide(str(asked.get("params", {}).get("status")))
            if ids is None:
                await _json(send, 404, {"error": "no such run here"})
            else:
                await _json(send, 200, {"thread_id": ids[0], "run_id": ids[1]})
            return
        await self.app(scope, receive, send)


def _never_moving_over(inner: ASGIApp) -> ASGIApp:
    """`inner`, with every run created through the public API made to stay queued."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and _RUNS.match(scope["path"]):
            message = await receive()
            body = json.loads(message.get("body") or b"{}")
            body.setdefault("metadata", {})["runcancel_scenario"] = "queued"
            data = json.dumps(body).encode()
            headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"content-length"]
            headers.append((b"content-length", str(len(data)).encode()))
            sent = False

            async def replay() -> Any:
                nonlocal sent
                if sent:
                    return {"type": "http.disconnect"}
                sent = True
                return {"type": "http.request", "body": data, "more_body": False}

            await inner({**scope, "headers": headers}, replay, send)
            return
        await inner(scope, receive, send)

    return app


# The servers serving a `ProvidedRuns` in this process, by base URL: an in-process provider state (a
# conftest's `runcancel_provider_state`) finds its server here.
IN_PROCESS: dict[str, ProvidedRuns] = {}
