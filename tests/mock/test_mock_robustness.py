"""Any request, however odd, gets a JSON answer below 500 with the error envelope when it fails."""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import MutableMapping
from typing import Any
from urllib.parse import quote, unquote

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from mock_support import AUTH, HEADERS, FakeClock, client_for
from starlette.applications import Starlette

from runcancel.mock import SCENARIO_KEY, ApiError, MockConfig, create_app
from runcancel.mock.errors import mask_key
from runcancel.mock.validation import parse_json_body

FIELDS = [
    "assistant_id", "model", "instructions", "additional_instructions", "tools", "metadata", "temperature",
    "top_p", "max_prompt_tokens", "max_completion_tokens", "truncation_strategy", "tool_choice",
    "parallel_tool_calls", "response_format", "name", "type", "function", "last_messages", SCENARIO_KEY,
]  # fmt: skip


@functools.cache
def fuzz_target() -> tuple[Starlette, dict[str, str]]:
    """One app with an assistant, a thread and a run in it, so generated paths can hit real objects."""
    app = create_app(MockConfig(clock=FakeClock(), step=1.0, cancel_delay=1.0))
    with client_for(app, HEADERS) as client:
        assistant = client.post("/v1/assistants", json={"model": "m"}).json()["id"]
        thread = client.post("/v1/threads").json()["id"]
        run = client.post(f"/v1/threads/{thread}/runs", json={"assistant_id": assistant}).json()["id"]
    return app, {"assistant": assistant, "thread": thread, "run": run}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
bodies = st.one_of(
    st.binary(max_size=64),
    json_values.map(lambda value: json.dumps(value).encode()),
    st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=6).map(
        lambda value: json.dumps(value).encode()
    ),
)
segments = st.one_of(
    st.sampled_from(
        ["v1", "threads", "runs", "cancel", "assistants", "", ".", "..", "%2F", "%00", "%", "%zz"]
    ),
    st.sampled_from(["assistant", "thread", "run"]),  # replaced by the id of a stored object
    st.text(max_size=12),
    st.text(min_size=300, max_size=400, alphabet="ab/%\u00e9"),
)
ROUTES = [
    ("POST", ["v1", "assistants"]),
    ("GET", ["v1", "assistants", "assistant"]),
    ("DELETE", ["v1", "assistants", "assistant"]),
    ("POST", ["v1", "threads"]),
    ("GET", ["v1", "threads", "thread"]),
    ("POST", ["v1", "threads", "thread", "runs"]),
    ("GET", ["v1", "threads", "thread", "runs"]),
    ("GET", ["v1", "threads", "thread", "runs", "run"]),
    ("POST", ["v1", "threads", "thread", "runs", "run", "cancel"]),
]
"""The mock's routes; the words assistant, thread and run stand for a parameter."""
METHODS = ["GET", "POST", "DELETE", "PUT", "PATCH", "HEAD", "OPTIONS", "post"]
header_values = st.binary(max_size=40).filter(lambda value: b"\r" not in value)


def mostly(good: str, *others: str | None) -> st.SearchStrategy[str | bytes | None]:
    """``good`` four times in five; otherwise one of ``others``, absent, or random bytes."""
    return st.integers(0, 9).flatmap(
        lambda pick: (
            st.just(good) if pick < 8 else st.sampled_from([None, *others]) if pick == 8 else header_values
        )
    )


@st.composite
def targets(draw: st.DrawFn) -> tuple[str, bytes]:
    """A method and a raw path: mostly a real route with stored or odd ids, sometimes anything."""
    _, ids = fuzz_target()
    method, template = draw(st.sampled_from(ROUTES))
    parts = [
        (ids[part] if draw(st.booleans()) else draw(segments)) if part in ids else part for part in template
    ]
    if draw(st.integers(0, 4)) == 0:
        method = draw(st.sampled_from(METHODS) | st.text(max_size=8))
    if draw(st.integers(0, 4)) == 0:
        parts = draw(st.lists(segments, max_size=7))
    encoded = []
    for part in parts:
        part = ids.get(part, part)
        choice = draw(st.integers(0, 3))
        if choice == 0:
            encoded.append(part.encode("utf-8"))
        elif choice == 1:
            encoded.append(quote(part, safe="%/").encode())
        else:
            encoded.append(quote(part, safe="").encode())
    return method, b"/" + b"/".join(encoded)


async def call_asgi(
    app: Starlette, scope: dict[str, Any], body: bytes
) -> tuple[int, dict[bytes, bytes], bytes]:
    sent: list[dict[str, Any]] = []
    chunks = [body[:7], body[7:]] if body else [b""]

    async def receive() -> dict[str, Any]:
        if chunks:
            chunk = chunks.pop(0)
            return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}
        return {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(dict(message))

    await app(scope, receive, send)
    start = sent[0]
    content = b"".join(message.get("body", b"") for message in sent[1:])
    return start["status"], dict(start["headers"]), content


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    target=targets(),
    query=st.binary(max_size=24),
    authorization=mostly(AUTH["Authorization"], "Bearer sk-other-key-1234", "Bearer x"),
    beta=mostly("assistants=v2", "assistants=v1", "assistants=v2,"),
    extra=st.lists(st.tuples(st.binary(min_size=1, max_size=10), st.binary(max_size=20)), max_size=3),
    body=bodies,
)
def test_no_request_gets_a_5xx_or_an_answer_outside_the_envelope(
    target: tuple[str, bytes],
    query: bytes,
    authorization: str | bytes | None,
    beta: str | bytes | None,
    extra: list[tuple[bytes, bytes]],
    body: bytes,
) -> None:
    """Random methods, path segments, headers and bodies: always < 500, JSON, and failures in the envelope."""
    app, _ = fuzz_target()
    method, raw_path = target
    headers = list(extra)
    for name, value in ((b"authorization", authorization), (b"openai-beta", beta)):
        if value is not None:
            headers.append((name, value.encode("latin-1", "replace") if isinstance(value, str) else value))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": unquote(raw_path.decode("latin-1")),
        "raw_path": raw_path,
        "query_string": query,
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("mock", 80),
    }
    status, answer_headers, content = asyncio.run(call_asgi(app, scope, body))
    assert 200 <= status < 500
    assert answer_headers[b"content-type"] == b"application/json"
    assert answer_headers[b"x-request-id"].startswith(b"req_")
    data = json.loads(content)
    assert isinstance(data, dict)
    if status == 200:
        event("200")
    else:
        event(f"{status} {data['error']['code'] or data['error']['message'][:24]}")
        assert set(data) == {"error"}
        assert set(data["error"]) == {"message", "type", "param", "code"}
        assert isinstance(data["error"]["message"], str)


@given(st.binary(max_size=200) | json_values.map(lambda value: json.dumps(value).encode()))
def test_body_parsing_either_gives_an_object_or_an_api_error(raw: bytes) -> None:
    """parse_json_body answers a dict or raises ApiError with a 400, for any bytes."""
    outcome: object
    try:
        outcome = parse_json_body(raw)
    except ApiError as error:
        outcome = error.status
    assert isinstance(outcome, dict) or outcome == 400


@given(st.text(min_size=1, max_size=80))
def test_masked_key_never_shows_the_middle_of_the_key(key: str) -> None:
    """A masked key shows at most the first 3 and last 4 characters, and short keys not at all."""
    masked = mask_key(key)
    if masked != "***":
        assert len(key) >= 12
        assert masked == f"{key[:3]}...{key[-4:]}"
