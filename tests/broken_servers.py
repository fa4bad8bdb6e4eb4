"""A catalogue of deliberately broken servers: the reference mock with exactly one fault each.

Each fault is a small ASGI middleware around `runcancel.mock.create_app`: it changes requests before
the mock sees them, or answers after the mock gave them. The catalogue is data, a table of
`BrokenServer(name, description, app_factory, clause)`, where `clause` is the clause id the contract
suites must fail on. `Served(app)` runs any ASGI app with uvicorn on a free port of 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from runcancel.mock import DEFAULT_API_KEY, MockConfig, create_app, errors
from runcancel.mock.protocols import protocol_class
from runcancel.mock.server import bind_socket

__all__ = [
    "API_KEY",
    "BROKEN_SERVERS",
    "KNOWN_GAPS",
    "NO_CANCEL_ROUTE",
    "NO_ROUTE",
    "PROBE_FAULTS",
    "REFERENCE",
    "SLOW_CANCEL",
    "SLOW_CANCEL_SECONDS",
    "UNDOCUMENTED_FIELDS",
    "BrokenServer",
    "Served",
    "Server",
    "mock_config",
]

API_KEY = DEFAULT_API_KEY
HOST = "127.0.0.1"
SLOW_CANCEL_SECONDS = 1.0
RACE_WINDOW_SECONDS = 0.05

AppFactory = Callable[[MockConfig], ASGIApp]
JSON = dict[str, Any]

_CANCEL = re.compile(r"^/v1/threads/([^/]+)/runs/([^/]+)/cancel$")
_RUN = re.compile(r"^/v1/threads/([^/]+)/runs/([^/]+)$")
_RUNS = re.compile(r"^/v1/threads/([^/]+)/runs$")
_CANCELLABLE = ("queued", "in_progress", "requires_action")
_ALREADY_CANCELLED = tuple(f"Cannot cancel run with status '{s}'." for s in ("cancelling", "cancelled"))


def mock_config() -> MockConfig:
    """The mock as fast as the plugin's built-in one: a run moves on every 5 ms."""
    return MockConfig(api_key=API_KEY, step=0.005, cancel_delay=0.005)


# -- serving -------------------------------------------------------------------------------------------


class Served:
    """An ASGI app served by uvicorn in a daemon thread on a free port of 127.0.0.1.

    Leaving the context stops the server and waits for it; `stop()` alone lets it finish in the
    background (uvicorn takes about 0.2 s), and `join()` waits for that.
    """

    def __init__(self, app: ASGIApp, start_timeout: float = 10.0) -> None:
        sock = bind_socket(HOST, 0)
        port = sock.getsockname()[1]
        self.url = f"http://{HOST}:{port}"
        config = uvicorn.Config(
            app,
            host=HOST,
            port=port,
            http=protocol_class(10.0),  # the mock's own HTTP layer: refusals in JSON, as `MockServer` serves
            log_level="warning",
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)

        def run() -> None:
            try:
                self._server.run(sockets=[sock])
            finally:
                sock.close()

        self._thread = threading.Thread(target=run, name=f"broken-server-{port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + start_timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the server at {self.url} did not start within {start_timeout:g} s")
            time.sleep(0.005)

    def stop(self) -> None:
        self._server.should_exit = True

    def join(self, timeout: float = 5.0) -> None:
        self._thread.join(timeout)

    def __enter__(self) -> Served:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self.join()


# -- the middleware --------------------------------------------------------------------------------


@dataclass
class Answer:
    """One answer of the mock, buffered whole so that a fault can change any part of it."""

    method: str
    path: str
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes

    def ids(self, pattern: re.Pattern[str], method: str) -> tuple[str, ...] | None:
        """The path's ids when the request was `method` on `pattern`, else None."""
        match = pattern.match(self.path) if self.method == method else None
        return match.groups() if match else None

    @property
    def cancel(self) -> tuple[str, ...] | None:
        """(thread_id, run_id) when this answers a cancel."""
        return self.ids(_CANCEL, "POST")

    @property
    def read(self) -> tuple[str, ...] | None:
        """(thread_id, run_id) when this answers a read of one run."""
        return self.ids(_RUN, "GET")

    def json(self) -> Any:
        return json.loads(self.body)

    def set_json(self, data: Any) -> None:
        self.set_body(json.dumps(data).encode(), "application/json")

    def set_body(self, body: bytes, content_type: str) -> None:
        self.body = body
        self.headers = [(k, v) for k, v in self.headers if k.lower() != b"content-type"]
        self.headers.append((b"content-type", content_type.encode()))

    async def send(self, send: Send) -> None:
        length = (b"content-length", str(len(self.body)).encode())
        await send({"type": "http.response.start", "status": self.status, "headers": [*self.headers, length]})
        await send({"type": "http.response.body", "body": self.body})

    def error_message(self) -> str:
        """The OpenAI envelope's `error.message`, or "" when the answer has none."""
        try:
            data = self.json()
        except ValueError:
            return ""
        error = data.get("error") if isinstance(data, dict) else None
        return str(error.get("message", "")) if isinstance(error, dict) else ""


RequestEdit = Callable[[Scope], Scope]
AnswerEdit = Callable[[Answer], None]


class Fault:
    """Pure ASGI middleware: `request` rewrites the scope going in, `answer` the answer going out."""

    def __init__(
        self, app: ASGIApp, request: RequestEdit | None = None, answer: AnswerEdit | None = None
    ) -> None:
        self.app = app
        self.request = request
        self.answer = answer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.request is not None:
            scope = self.request(scope)
        if self.answer is None:
            await self.app(scope, receive, send)
            return
        answer = await buffered(self.app, scope, receive)
        self.answer(answer)
        await answer.send(send)


async def buffered(app: ASGIApp, scope: Scope, receive: Receive | None = None) -> Answer:
    """Call `app` and keep its whole answer; without `receive` the request has an empty body."""
    start: Message = {}
    chunks: list[bytes] = []

    async def empty_body() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def keep(message: Message) -> None:
        if message["type"] == "http.response.start":
            start.update(message)
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive or empty_body, keep)
    headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
    return Answer(scope["method"], scope["path"], start["status"], headers, b"".join(chunks))


def _cancel_ids(scope: Scope) -> tuple[str, str] | None:
    """(thread_id, run_id) when `scope` is a cancel request."""
    match = _CANCEL.match(scope["path"]) if scope["type"] == "http" and scope["method"] == "POST" else None
    return (match.group(1), match.group(2)) if match else None


def with_header(scope: Scope, name: str, value: str | None) -> Scope:
    """A copy of `scope` with header `name` set to `value` (None: removed)."""
    key = name.lower().encode()
    headers = [(k, v) for k, v in scope["headers"] if k.lower() != key]
    if value is not None:
        headers.append((key, value.encode()))
    return {**scope, "headers": headers}


def header(scope: Scope, name: str) -> str | None:
    key = name.lower().encode()
    found = [v.decode("latin-1") for k, v in scope["headers"] if k.lower() == key]
    return found[0] if found else None


def with_path(scope: Scope, path: str) -> Scope:
    return {**scope, "path": path, "raw_path": path.encode()}


# -- fault builders ------------------------------------------------------------------------------------


def on_requests(edit: RequestEdit) -> AppFactory:
    """The mock, with every request rewritten by `edit` before the mock sees it."""
    return lambda config: Fault(create_app(config), request=edit)


def on_answers(edit: AnswerEdit) -> AppFactory:
    """The mock, with every answer rewritten by `edit` before the client sees it."""
    return lambda config: Fault(create_app(config), answer=edit)


def on_cancelled_run(edit: Callable[[JSON], None]) -> AppFactory:
    """The mock, with `edit` applied to the Run in every 200 answer to a cancel."""

    def change(answer: Answer) -> None:
        if answer.cancel and answer.status == 200:
            run = answer.json()
            edit(run)
            answer.set_json(run)

    return on_answers(change)


def on_read_run(edit: Callable[[JSON], None]) -> AppFactory:
    """The mock, with `edit` applied to the Run in every 200 answer to `GET .../runs/{run_id}`."""

    def change(answer: Answer) -> None:
        if answer.read and answer.status == 200:
            run = answer.json()
            edit(run)
            answer.set_json(run)

    return on_answers(change)


def setting(**fields: Any) -> Callable[[JSON], None]:
    """An edit that sets fields of a Run; a callable value is given the Run and returns the value."""

    def edit(run: JSON) -> None:
        for name, value in fields.items():
            run[name] = value(run) if callable(value) else value

    return edit


def removing(name: str) -> Callable[[JSON], None]:
    return lambda run: run.pop(name, None)


# -- stateful faults: each app gets its own memory ----------------------------------------------------


def cancel_answered_again(config: MockConfig) -> ASGIApp:
    """A cancel refused because the run is already cancelling or cancelled is answered 200 all the same."""
    accepted: dict[str, bytes] = {}

    def change(answer: Answer) -> None:
        ids = answer.cancel
        if not ids:
            return
        if answer.status == 200:
            accepted[ids[1]] = answer.body
        elif answer.status == 400 and ids[1] in accepted:
            answer.status, answer.body = 200, accepted[ids[1]]

    return Fault(create_app(config), answer=change)


def finished_run_cancelled(status: str) -> AppFactory:
    """A cancel of a run in `status` answers 200 with the run as last read, instead of 400."""

    def factory(config: MockConfig) -> ASGIApp:
        last_read: dict[str, bytes] = {}

        def change(answer: Answer) -> None:
            if (ids := answer.read) and answer.status == 200:
                last_read[ids[1]] = answer.body
            elif (
                (ids := answer.cancel)
                and ids[1] in last_read
                and answer.error_message() == f"Cannot cancel run with status '{status}'."
            ):
                answer.status, answer.body = 200, last_read[ids[1]]

        return Fault(create_app(config), answer=change)

    return factory


def required_action_in_cancel_answer(config: MockConfig) -> ASGIApp:
    """The cancel answer of a run that required action still carries its required_action."""
    actions: dict[str, Any] = {}

    def change(answer: Answer) -> None:
        if answer.read and answer.status == 200:
            run = answer.json()
            if run.get("required_action") is not None:
                actions[run["id"]] = run["required_action"]
        elif answer.cancel and answer.status == 200:
            run = answer.json()
            if run["id"] in actions:
                run["required_action"] = actions[run["id"]]
                answer.set_json(run)

    return Fault(create_app(config), answer=change)


def required_action_kept(config: MockConfig) -> ASGIApp:
    """A run read back after a cancel still carries the required_action it had before."""
    actions: dict[str, Any] = {}

    def change(answer: Answer) -> None:
        if not (answer.read and answer.status == 200):
            return
        run = answer.json()
        if run.get("required_action") is not None:
            actions[run["id"]] = run["required_action"]
        elif run.get("status") in ("cancelling", "cancelled") and run["id"] in actions:
            run["required_action"] = actions[run["id"]]
            answer.set_json(run)

    return Fault(create_app(config), answer=change)


def cancel_through_any_thread(config: MockConfig) -> ASGIApp:
    """A cancel finds the run by its id alone: the thread in the path is not checked."""
    owners: dict[str, str] = {}

    def learn(answer: Answer) -> None:
        match = _RUNS.match(answer.path)
        if match and answer.method == "POST" and answer.status == 200:
            owners[answer.json()["id"]] = match.group(1)

    def reroute(scope: Scope) -> Scope:
        thread_id, run_id = _cancel_ids(scope) or ("", "")
        if owners.get(run_id, thread_id) != thread_id:
            return with_path(scope, f"/v1/threads/{owners[run_id]}/runs/{run_id}/cancel")
        return scope

    return Fault(create_app(config), request=reroute, answer=learn)


class CancelWrapper:
    """Answers each cancel through `handle`, which may ask the mock first; the mock answers the rest.

    Every question goes to the mock with the client's own headers, so the mock still checks the key,
    the beta header and the ids before the fault comes into play.
    """

    def __init__(self, config: MockConfig) -> None:
        self.app = create_app(config)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        ids = _cancel_ids(scope)
        if ids is None:
            await self.app(scope, receive, send)
            return
        answer = await self.handle(scope, *ids)
        await answer.send(send)

    async def handle(self, scope: Scope, thread_id: str, run_id: str) -> Answer:
        return await self.ask(scope, "POST", scope["path"])

    async def ask(self, scope: Scope, method: str, path: str) -> Answer:
        """The mock's answer to a bodiless `method path` with the headers of `scope`."""
        return await buffered(self.app, {**scope, "method": method, "path": path, "raw_path": path.encode()})

    async def read_run(self, scope: Scope, thread_id: str, run_id: str) -> Answer:
        return await self.ask(scope, "GET", f"/v1/threads/{thread_id}/runs/{run_id}")


class CheckThenCancel(CancelWrapper):
    """Reads the status, yields, then cancels: cancels that overlap all see an active run and succeed."""

    async def handle(self, scope: Scope, thread_id: str, run_id: str) -> Answer:
        before = await self.read_run(scope, thread_id, run_id)
        if before.status != 200 or before.json()["status"] not in _CANCELLABLE:
            return await super().handle(scope, thread_id, run_id)
        await asyncio.sleep(RACE_WINDOW_SECONDS)
        answer = await super().handle(scope, thread_id, run_id)
        if answer.error_message() in _ALREADY_CANCELLED:
            return await self.read_run(scope, thread_id, run_id)  # as if this cancel had done it
        return answer


def refusing(refused: str) -> AppFactory:
    """The mock, refusing to cancel a run in status `refused` (400, as for a finished run)."""

    class Refusing(CancelWrapper):
        async def handle(self, scope: Scope, thread_id: str, run_id: str) -> Answer:
            before = await self.read_run(scope, thread_id, run_id)
            if before.status == 200 and before.json()["status"] == refused:
                # The read's answer, headers and all, turned into the refusal.
                before.status = 400
                before.set_json(errors.cannot_cancel(refused).envelope())
                return before
            return await super().handle(scope, thread_id, run_id)

    return Refusing


class SlowCancel:
    """Every cancel is answered `seconds` late; every other request at once."""

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if _cancel_ids(scope):
            await asyncio.sleep(self.seconds)
        await self.app(scope, receive, send)


# -- small edits ---------------------------------------------------------------------------------------


def _key_added_when_missing(scope: Scope) -> Scope:
    return (
        scope if header(scope, "authorization") else with_header(scope, "authorization", f"Bearer {API_KEY}")
    )


def _any_key_accepted(scope: Scope) -> Scope:
    given = header(scope, "authorization")
    return with_header(scope, "authorization", f"Bearer {API_KEY}") if given else scope


def _beta_added_when_missing(scope: Scope) -> Scope:
    return scope if header(scope, "openai-beta") else with_header(scope, "openai-beta", "assistants=v2")


def _beta_v1_accepted(scope: Scope) -> Scope:
    value = header(scope, "openai-beta")
    return with_header(scope, "openai-beta", value.replace("v1", "v2")) if value else scope


def _not_found_as_detail(answer: Answer) -> None:
    if answer.status == 404 and answer.error_message().startswith(("No thread found", "No run found")):
        answer.set_json({"detail": "Not Found"})


def _envelope_without_param_and_code(answer: Answer) -> None:
    if answer.status >= 400 and answer.error_message():
        error = answer.json()["error"]
        answer.set_json({"error": {"message": error["message"], "type": error["type"]}})


def _other_methods_405(answer: Answer) -> None:
    if answer.status == 404 and answer.method != "POST" and _CANCEL.match(answer.path):
        answer.status = 405
        answer.headers.append((b"allow", b"POST"))
        answer.set_json({"detail": "Method Not Allowed"})


def _no_route(answer: Answer) -> None:
    answer.status = 404
    answer.set_json(errors.unknown_url(answer.method, answer.path).envelope())


def _no_cancel_route(answer: Answer) -> None:
    if _CANCEL.match(answer.path):
        _no_route(answer)


def _errors_without_request_id(answer: Answer) -> None:
    if answer.status >= 400:
        _dropping_header("x-request-id")(answer)


def _completed_at_on_read_back(run: JSON) -> None:
    if run.get("status") == "cancelled":
        run["completed_at"] = run["cancelled_at"]


def _expires_at_kept(run: JSON) -> None:
    if run.get("status") == "cancelled":
        run["expires_at"] = run["created_at"] + 600


def _model_changed_on_read_back(run: JSON) -> None:
    if run.get("status") in ("cancelling", "cancelled"):
        run["model"] = "gpt-4o"


def _dropping_header(name: str) -> AnswerEdit:
    def change(answer: Answer) -> None:
        answer.headers = [(k, v) for k, v in answer.headers if k.lower() != name.encode()]

    return change


def _replacing_header(name: str, value: str) -> AnswerEdit:
    def change(answer: Answer) -> None:
        answer.headers = [(k, v) for k, v in answer.headers if k.lower() != name.encode()]
        answer.headers.append((name.encode(), value.encode()))

    return change


def _cancel_as_html(answer: Answer) -> None:
    if answer.cancel and answer.status == 200:
        answer.set_body(b"<html><body><h1>Run cancelled</h1></body></html>", "text/html; charset=utf-8")


def _cancel_accepted_202(answer: Answer) -> None:
    if answer.cancel and answer.status == 200:
        answer.status = 202


def _never_cancelled(run: JSON) -> None:
    if run.get("status") == "cancelled":
        run.update(status="cancelling", cancelled_at=None, usage=None)


def _totals_off_by_one(run: JSON) -> None:
    usage = run.get("usage")
    if isinstance(usage, dict):
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"] + 1


def _later(seconds: int) -> Callable[[JSON], int]:
    return lambda run: int(run["created_at"]) + seconds


# -- the probe's faults: ids and error answers at the edges --------------------------------------------

# A cancel path whose ids may be empty.
_ANY_CANCEL = re.compile(r"^/v1/threads/([^/]*)/runs/([^/]*)/cancel$")


def _unicode_ids_500(answer: Answer) -> None:
    """A cancel whose ids hold anything beyond ASCII crashes: 500 (with the OpenAI server-error body)."""
    if answer.cancel and not answer.path.isascii():
        answer.status = 500
        answer.set_json(errors.server_error().envelope())


def _empty_id_cancelled(answer: Answer) -> None:
    """A cancel with an empty thread or run id is answered 200, as if some run had been cancelled."""
    match = _ANY_CANCEL.match(answer.path) if answer.method == "POST" else None
    if match and "" in match.groups():
        answer.status = 200
        thread_id, run_id = match.groups()
        answer.set_json(
            {"id": run_id, "object": "thread.run", "thread_id": thread_id, "status": "cancelling"}
        )


def _errors_as_html(answer: Answer) -> None:
    """Every error answer is a web server's HTML page."""
    if answer.status >= 400:
        page = f"<html><head><title>{answer.status}</title></head><body><h1>Error</h1></body></html>"
        answer.set_body(page.encode(), "text/html; charset=utf-8")


class EchoesRawIds:
    """A 404 quotes the id as it came on the wire, still percent-encoded, not the id it looked up."""

    def __init__(self, config: MockConfig) -> None:
        self.app = create_app(config)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        answer = await buffered(self.app, scope, receive)
        segments = scope.get("raw_path", b"").split(b"/")  # b"", b"v1", b"threads", thread, b"runs", run
        message = answer.error_message()
        for kind, slot in (("thread", 3), ("run", 5)):
            prefix = f"No {kind} found with id '"
            if answer.status == 404 and message.startswith(prefix) and len(segments) > slot:
                body = answer.json()
                body["error"]["message"] = f"{prefix}{segments[slot].decode('latin-1')}'."
                answer.set_json(body)
        await answer.send(send)


# -- the catalogue -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Server:
    """A server the suites are run against: a name, what it does, and how to build a fresh app."""

    name: str
    description: str
    app_factory: AppFactory

    def app(self) -> ASGIApp:
        return self.app_factory(mock_config())


@dataclass(frozen=True)
class BrokenServer(Server):
    """The mock with one fault and the clause the suites must fail on.

    `also`: other clauses the fault breaks too. `gap`: why the suites miss this fault today (a known
    gap, expected to fail until the suites check it).
    """

    clause: str
    also: tuple[str, ...] = ()
    gap: str = ""


def _bare(config: MockConfig) -> ASGIApp:
    return create_app(config)


BROKEN_SERVERS: tuple[BrokenServer, ...] = (
    # the cancel answer's shape
    BrokenServer(
        "status-queued",
        "the cancel answer says status queued",
        on_cancelled_run(setting(status="queued")),
        "cancel.status",
    ),
    BrokenServer(
        "model-missing",
        "the cancel answer has no `model`",
        on_cancelled_run(removing("model")),
        "schema.model",
    ),
    BrokenServer(
        "created-at-string",
        "`created_at` is a string in the cancel answer",
        on_cancelled_run(setting(created_at=lambda run: str(run["created_at"]))),
        "schema.created_at",
    ),
    BrokenServer(
        "status-paused",
        "the cancel answer has status `paused`, outside the enum",
        on_cancelled_run(setting(status="paused")),
        "schema.status",
        also=("cancel.status",),
    ),
    BrokenServer(
        "thread-id-wrong",
        "the cancel answer echoes another thread's id",
        on_cancelled_run(setting(thread_id="thread_abcdefghijklmnopqrstuvwx")),
        "cancel.thread_id",
    ),
    BrokenServer(
        "id-wrong",
        "the cancel answer echoes another run's id",
        on_cancelled_run(setting(id="run_abcdefghijklmnopqrstuvwx")),
        "cancel.id",
    ),
    BrokenServer(
        "cancelled-at-while-cancelling",
        "`cancelled_at` is set while the run is still cancelling",
        on_cancelled_run(setting(cancelled_at=_later(1))),
        "cancel.cancelled_at",
    ),
    BrokenServer(
        "completed-at-set",
        "`completed_at` is set on the cancel answer",
        on_cancelled_run(setting(completed_at=_later(1))),
        "cancel.completed_at",
    ),
    BrokenServer(
        "failed-at-set",
        "`failed_at` is set on the cancel answer",
        on_cancelled_run(setting(failed_at=_later(1))),
        "cancel.failed_at",
    ),
    BrokenServer(
        "model-changed",
        "the cancel answer carries another model than the run was created with",
        on_cancelled_run(setting(model="gpt-4o")),
        "cancel.keeps_config",
    ),
    BrokenServer(
        "started-before-created",
        "`started_at` is earlier than `created_at`",
        on_cancelled_run(setting(started_at=_later(-5))),
        "time.order",
    ),
    BrokenServer(
        "usage-while-cancelling",
        "`usage` is set while the run is cancelling",
        on_cancelled_run(setting(usage={"prompt_tokens": 40, "completion_tokens": 0, "total_tokens": 40})),
        "state.usage",
    ),
    BrokenServer(
        "last-error-while-cancelling",
        "`last_error` is set on a run that did not fail",
        on_cancelled_run(setting(last_error={"code": "server_error", "message": "boom"})),
        "state.last_error",
    ),
    BrokenServer(
        "incomplete-details-while-cancelling",
        "`incomplete_details` is set on a run that is not incomplete",
        on_cancelled_run(setting(incomplete_details={"reason": "max_prompt_tokens"})),
        "state.incomplete_details",
    ),
    BrokenServer(
        "required-action-while-cancelling",
        "`required_action` is set on a run that does not require action",
        on_cancelled_run(
            setting(
                required_action={
                    "type": "submit_tool_outputs",
                    "submit_tool_outputs": {
                        "tool_calls": [
                            {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
                        ]
                    },
                }
            )
        ),
        "state.required_action",
    ),
    BrokenServer(
        "usage-totals-wrong",
        "the run read back cancelled has total_tokens one more than prompt + completion",
        on_read_run(_totals_off_by_one),
        "usage.totals",
    ),
    # transport and headers of the cancel answer
    BrokenServer(
        "cancel-answers-202",
        "a cancel answers 202 (with the Run)",
        on_answers(_cancel_accepted_202),
        "answer.status",
    ),
    BrokenServer(
        "cancel-answers-html", "the cancel answer is an HTML page", on_answers(_cancel_as_html), "answer.json"
    ),
    BrokenServer(
        "no-request-id",
        "no answer carries `x-request-id`",
        on_answers(_dropping_header("x-request-id")),
        "headers.x-request-id",
    ),
    BrokenServer(
        "openai-version-wrong",
        "`openai-version` is 2024-01-01",
        on_answers(_replacing_header("openai-version", "2024-01-01")),
        "headers.openai-version",
    ),
    BrokenServer(
        "processing-ms-fraction",
        "`openai-processing-ms` is 12.5",
        on_answers(_replacing_header("openai-processing-ms", "12.5")),
        "headers.openai-processing-ms",
    ),
    # lifecycle
    BrokenServer(
        "completed-run-cancelled",
        "a completed run's cancel answers 200 with the run",
        finished_run_cancelled("completed"),
        "lifecycle.cancel_finished",
    ),
    BrokenServer(
        "cancel-twice-200",
        "a second cancel of a run is answered 200 with the first answer",
        cancel_answered_again,
        "lifecycle.cancel_twice",
        also=("lifecycle.concurrent_cancel",),
    ),
    BrokenServer(
        "cancel-through-any-thread",
        "a run of another thread can be cancelled through the wrong thread's path",
        cancel_through_any_thread,
        "lifecycle.wrong_thread",
    ),
    BrokenServer(
        "never-cancelled",
        "a cancelled run reads back `cancelling` for ever",
        on_read_run(_never_cancelled),
        "lifecycle.read_back_cancelled",
    ),
    BrokenServer(
        "required-action-kept",
        "a run read back after its cancel still carries its required_action",
        required_action_kept,
        "lifecycle.cancel_requires_action",
    ),
    BrokenServer(
        "queued-not-cancellable",
        "a queued run cannot be cancelled (400)",
        refusing("queued"),
        "lifecycle.cancel_queued",
    ),
    BrokenServer(
        "in-progress-not-cancellable",
        "an in-progress run cannot be cancelled (400)",
        refusing("in_progress"),
        "lifecycle.cancel_in_progress",
        also=("answer.status",),
    ),
    BrokenServer(
        "concurrent-cancels-race",
        "a cancel checks the status, waits, then cancels: overlapping cancels all answer 200",
        CheckThenCancel,
        "lifecycle.concurrent_cancel",
    ),
    # errors
    BrokenServer(
        "not-found-detail",
        'unknown ids answer 404 `{"detail": "Not Found"}` instead of the OpenAI envelope',
        on_answers(_not_found_as_detail),
        "error.unknown_run",
        also=("error.unknown_thread", "lifecycle.wrong_thread"),
    ),
    BrokenServer(
        "no-auth-check",
        "a request without a key is served as if it had the right one",
        on_requests(_key_added_when_missing),
        "error.no_key",
    ),
    BrokenServer(
        "any-key-accepted", "any bearer key is accepted", on_requests(_any_key_accepted), "error.wrong_key"
    ),
    BrokenServer(
        "beta-not-checked",
        "a request without `OpenAI-Beta` is served as assistants=v2",
        on_requests(_beta_added_when_missing),
        "error.no_beta",
    ),
    BrokenServer(
        "beta-v1-accepted",
        "`OpenAI-Beta: assistants=v1` is served as v2",
        on_requests(_beta_v1_accepted),
        "error.beta_v1",
    ),
    BrokenServer(
        "envelope-without-param-code",
        "error answers carry only `message` and `type`, without `param` and `code`",
        on_answers(_envelope_without_param_and_code),
        "error.envelope",
        also=("error.unknown_thread", "error.no_key", "lifecycle.cancel_finished"),
    ),
    BrokenServer(
        "wrong-method-405",
        "another method on the cancel path answers 405 instead of 404 unknown_url",
        on_answers(_other_methods_405),
        "error.wrong_method",
    ),
    BrokenServer(
        "required-action-in-cancel-answer",
        "the cancel answer of a run that required action still carries required_action",
        required_action_in_cancel_answer,
        "lifecycle.cancel_requires_action",
    ),
    BrokenServer(
        "completed-at-on-read-back",
        "the run read back cancelled has completed_at set too",
        on_read_run(_completed_at_on_read_back),
        "lifecycle.read_back_cancelled",
    ),
    BrokenServer(
        "model-changed-on-read-back",
        "the cancel answer keeps the model, the run read back afterwards has another",
        on_read_run(_model_changed_on_read_back),
        "lifecycle.read_back_cancelled",
    ),
    BrokenServer(
        "errors-without-request-id",
        "error answers carry no x-request-id (200 answers do)",
        on_answers(_errors_without_request_id),
        "error.unknown_thread",
    ),
    BrokenServer(
        "expires-at-kept",
        "the run read back cancelled keeps its expires_at",
        on_read_run(_expires_at_kept),
        "lifecycle.read_back_cancelled",
    ),
    BrokenServer(
        "cancelled-run-cancelled-again",
        "a cancel of an already cancelled run answers 200 with the run",
        finished_run_cancelled("cancelled"),
        "lifecycle.cancel_finished",
    ),
)

# Faults the suites do not catch yet: each names the clause that should catch it, and why it does not.
KNOWN_GAPS: tuple[BrokenServer, ...] = ()

# Faults aimed at the probe suite (contracts/test_probe.py): `clause` is a probe check or corpus case.
PROBE_FAULTS: tuple[BrokenServer, ...] = (
    BrokenServer(
        "unicode-ids-500",
        "a cancel whose ids are not ASCII answers 500",
        on_answers(_unicode_ids_500),
        "probe.not_a_server_error",
        also=("probe.combining_marks", "probe.right_to_left", "probe.emoji"),
    ),
    BrokenServer(
        "empty-id-cancelled",
        "a cancel with an empty thread or run id answers 200",
        on_answers(_empty_id_cancelled),
        "probe.empty_thread_id",
        also=("probe.empty_run_id",),
    ),
    BrokenServer(
        "errors-as-html",
        "every error answer is an HTML page",
        on_answers(_errors_as_html),
        "probe.error_envelope",
        also=("probe.content_type_conformance", "probe.blank_thread_id"),
    ),
    BrokenServer(
        "not-found-without-envelope",
        'an unknown thread or run is answered 404 {"detail": "Not Found"}',
        on_answers(_not_found_as_detail),
        "probe.error_envelope",
        also=("probe.response_schema_conformance", "probe.run_of_another_thread"),
    ),
    BrokenServer(
        "echoes-raw-ids",
        "a 404 quotes the id still percent-encoded",
        EchoesRawIds,
        "probe.echoed_id",
        also=("probe.blank_thread_id", "probe.emoji"),
    ),
    BrokenServer(
        "errors-without-request-id-probed",
        "error answers carry no x-request-id: a known gap of the clause suites, which the probe covers",
        on_answers(_errors_without_request_id),
        "probe.response_headers_conformance",
    ),
    BrokenServer(
        "auth-ignored",
        "requests without a key or with a wrong one are served as if the key were right",
        on_requests(lambda scope: _any_key_accepted(_key_added_when_missing(scope))),
        "probe.ignored_auth",
    ),
)

REFERENCE = Server("reference", "the reference mock, unchanged", _bare)

UNDOCUMENTED_FIELDS = Server(
    "undocumented-fields",
    "the cancel answer also carries `tool_resources` and `reasoning_effort`, as the live API does",
    on_cancelled_run(setting(tool_resources={}, reasoning_effort=None)),
)

NO_ROUTE = Server(
    "no-route",
    "a server without the runs API: every request answers 404 unknown_url",
    on_answers(_no_route),
)

NO_CANCEL_ROUTE = Server(
    "no-cancel-route",
    "assistants, threads and runs work, but the cancel path answers 404 unknown_url",
    on_answers(_no_cancel_route),
)

SLOW_CANCEL = Server(
    "slow-cancel",
    f"every cancel is answered {SLOW_CANCEL_SECONDS:g} s late",
    lambda config: SlowCancel(create_app(config), SLOW_CANCEL_SECONDS),
)


# -- answers whose headers a report must show, and a target that goes away ------------------------------

SESSION_COOKIE = "session=c00k1e-v4lue-never-shown"
GATEWAY_HEADER = ("x-gateway-region", "eu-west-7")


def _queued_with_cookie(answer: Answer) -> None:
    if answer.cancel and answer.status == 200:
        body = answer.json()
        body["status"] = "queued"
        answer.set_json(body)
        answer.headers.append((b"set-cookie", SESSION_COOKIE.encode()))
        answer.headers.append(tuple(part.encode() for part in GATEWAY_HEADER))  # type: ignore[arg-type]


COOKIE_AND_GATEWAY = BrokenServer(
    "status-queued-with-cookie",
    "the cancel answer says status queued, and carries a session cookie and a custom gateway header",
    on_answers(_queued_with_cookie),
    "cancel.status",
)


class GoneAfterFirst:
    """A raw HTTP server on 127.0.0.1 that answers the first request (the reachability check), then
    closes its listening socket: every later connection is refused, as when a server stops mid-run."""

    def __init__(self) -> None:
        import socket

        self._sock = socket.create_server((HOST, 0))
        self.url = f"http://{HOST}:{self._sock.getsockname()[1]}"
        self._thread = threading.Thread(target=self._serve, name="gone-after-first", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        try:
            connection, _ = self._sock.accept()
        except OSError:
            return
        self._sock.close()
        with connection:
            connection.settimeout(5)
            try:
                connection.recv(65536)
                body = b'{"object": "list", "data": []}'
                connection.sendall(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n"
                    + f"content-length: {len(body)}\r\n\r\n".encode()
                    + body
                )
            except OSError:
                pass

    def __enter__(self) -> GoneAfterFirst:
        return self

    def __exit__(self, *exc: object) -> None:
        self._sock.close()
        self._thread.join(5)
