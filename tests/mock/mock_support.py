"""Helpers for the mock's tests: a fake clock, a synchronous client over the ASGI app, a driver."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from typing import Any

import httpx
from starlette.applications import Starlette

from runcancel.mock import DEFAULT_API_KEY, SCENARIO_KEY

STEP = 1.0
CANCEL_DELAY = 1.0
AUTH = {"Authorization": f"Bearer {DEFAULT_API_KEY}"}
BETA = {"OpenAI-Beta": "assistants=v2"}
HEADERS = {**AUTH, **BETA}
WEATHER = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}

LIVE_RUN_KEYS = (
    "id",
    "object",
    "created_at",
    "assistant_id",
    "thread_id",
    "status",
    "started_at",
    "expires_at",
    "cancelled_at",
    "failed_at",
    "completed_at",
    "required_action",
    "last_error",
    "model",
    "instructions",
    "tools",
    "tool_resources",
    "metadata",
    "temperature",
    "top_p",
    "reasoning_effort",
    "max_completion_tokens",
    "max_prompt_tokens",
    "truncation_strategy",
    "incomplete_details",
    "usage",
    "response_format",
    "tool_choice",
    "parallel_tool_calls",
)
"""The 29 keys of a live Run of 2025-03 on, in the live order (the 27 documented ones and two more)."""
RUN_FIELDS = frozenset(LIVE_RUN_KEYS)


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self, start: float = 5_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class SyncASGITransport(httpx.BaseTransport):
    """httpx's ASGI transport driven from synchronous code on one private event loop."""

    def __init__(self, app: Starlette) -> None:
        self._inner = httpx.ASGITransport(app=app)
        self._runner = asyncio.Runner()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        async def exchange() -> httpx.Response:
            response = await self._inner.handle_async_request(request)
            content = b"".join([chunk async for chunk in response.stream])  # type: ignore[union-attr]
            return httpx.Response(response.status_code, headers=response.headers, content=content)

        return self._runner.run(exchange())

    def close(self) -> None:
        self._runner.close()


def client_for(app: Starlette, headers: dict[str, str] | None = None) -> httpx.Client:
    """A client that sends requests straight to ``app`` (no socket)."""
    return httpx.Client(transport=SyncASGITransport(app), base_url="http://mock", headers=headers or {})


def assert_error(
    response: httpx.Response, status: int, message: str, *, code: str | None = None, param: str | None = None
) -> None:
    """The response is an OpenAI error envelope with exactly these values."""
    assert response.status_code == status, response.text
    assert response.json() == {
        "error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}
    }


@dataclass
class Driver:
    """Creates assistants, threads and runs through the API and reads them back."""

    client: httpx.Client
    clock: FakeClock
    _assistant: str | None = field(default=None)

    def post(self, path: str, body: Any = None) -> httpx.Response:
        return self.client.post(f"/v1{path}", json=body)

    def ok(self, response: httpx.Response) -> dict[str, Any]:
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()
        return data

    def assistant(self, **body: Any) -> dict[str, Any]:
        return self.ok(self.post("/assistants", {"model": "gpt-4o-mini", **body}))

    def assistant_id(self) -> str:
        if self._assistant is None:
            self._assistant = self.assistant(instructions="Answer briefly.")["id"]
        return self._assistant

    def thread(self) -> str:
        return str(self.ok(self.post("/threads", {}))["id"])

    def create_run(self, thread_id: str | None = None, **body: Any) -> httpx.Response:
        thread_id = thread_id or self.thread()
        body.setdefault("assistant_id", self.assistant_id())
        return self.post(f"/threads/{thread_id}/runs", body)

    def run(self, thread_id: str | None = None, scenario: str | None = None, **body: Any) -> dict[str, Any]:
        if scenario is not None:
            body["metadata"] = {**body.get("metadata", {}), SCENARIO_KEY: scenario}
        return self.ok(self.create_run(thread_id, **body))

    def read(self, run: dict[str, Any]) -> dict[str, Any]:
        return self.ok(self.client.get(f"/v1/threads/{run['thread_id']}/runs/{run['id']}"))

    def cancel(self, run: dict[str, Any]) -> httpx.Response:
        return self.client.post(f"/v1/threads/{run['thread_id']}/runs/{run['id']}/cancel")

    def after(self, run: dict[str, Any], seconds: float) -> dict[str, Any]:
        self.clock.advance(seconds)
        return self.read(run)


ID_PATTERN = {
    prefix: re.compile(rf"{prefix}_[A-Za-z0-9]{{24}}") for prefix in ("asst", "thread", "run", "call")
}
