"""Deployment shapes: the built-in mock's app behind a root mount, `/api/v1` and Azure's `/openai`.

Each shape is a small ASGI wrapper that serves the mock as such a deployment would: its paths, its
query, its key header. The library reaches each with the matching settings (base URL, profile),
on a real socket and in-process alike, and the answers and auth classes are the mock's own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote_to_bytes

import httpx
import pytest
from starlette.types import ASGIApp, Receive, Scope, Send

from broken_servers import API_KEY, Served, mock_config
from runcancel.arrange import Arranger
from runcancel.mock import create_app
from runcancel.recording import Recorder, block_network, replay_base_url
from runcancel.targets import Target, TargetClient

API_VERSION = "2024-05-01-preview"
UNKNOWN_RUN = "run_deployUnknownRun0000000000"
# What the Azure stand-in answers a request without `api-version` (a raw `#` in the path cuts the query
# off too): an error envelope, so only the missing parameter is told.
AZURE_NOT_FOUND = (
    b'{"error": {"message": "Resource not found", "type": "invalid_request_error", "param": null, '
    b'"code": "404"}}'
)


async def _answer(send: Send, status: int, body: bytes) -> None:
    await send(
        {"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json")]}
    )
    await send({"type": "http.response.body", "body": body})


class Deployment:
    """The mock's app below `prefix` instead of `/v1`; as Azure (`api-key`, `api-version`) if asked."""

    def __init__(self, app: ASGIApp, prefix: bytes, azure: bool = False) -> None:
        self.app, self.prefix, self.azure = app, prefix, azure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw: bytes = scope.get("raw_path") or scope["path"].encode()
        if not raw.startswith(self.prefix + b"/"):
            await _answer(send, 404, b'{"detail": "Not Found"}')
            return
        rest = raw[len(self.prefix) :]
        headers = [(k, v) for k, v in scope["headers"] if k not in (b"authorization", b"api-key")]
        if self.azure:
            if b"api-version" not in parse_qs(scope["query_string"]):
                await _answer(send, 404, AZURE_NOT_FOUND)
                return
            key = dict(scope["headers"]).get(b"api-key")
            if key is not None:
                headers.append((b"authorization", b"Bearer " + key))
            headers.append((b"openai-beta", b"assistants=v2"))  # Azure needs none: the mock does
        else:
            headers += [(k, v) for k, v in scope["headers"] if k == b"authorization"]
        path = b"/v1" + rest
        inner = {**scope, "raw_path": path, "path": unquote_to_bytes(path).decode(), "headers": headers}
        await self.app(inner, receive, self._as_deployed(send, scope["method"]))

    def _as_deployed(self, send: Send, method: str) -> Send:
        """The mock's `Invalid URL (METHOD /v1/...)` says the path as this deployment received it."""
        inner = f"Invalid URL ({method} /v1".encode()
        outer = f"Invalid URL ({method} ".encode() + self.prefix
        start: dict[str, Any] = {}

        async def deployed(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
                return
            if message["type"] == "http.response.body" and start:
                body = message.get("body", b"")
                if not message.get("more_body") and inner in body:
                    body = body.replace(inner, outer)
                    message = {**message, "body": body}
                    headers = [(k, v) for k, v in start.get("headers", []) if k != b"content-length"]
                    start["headers"] = [*headers, (b"content-length", str(len(body)).encode())]
                await send(dict(start))
                start.clear()
            await send(message)

        return deployed


@dataclass(frozen=True)
class Shape:
    prefix: bytes
    path: str  # what follows the origin in the target URL
    profile: str = "openai"

    def app(self) -> Deployment:
        return Deployment(create_app(mock_config()), self.prefix, azure=self.profile == "azure")


SHAPES = {
    "root": Shape(b"", "/"),
    "api-v1": Shape(b"/api/v1", "/api/v1"),
    "azure": Shape(b"/openai", f"/openai?api-version={API_VERSION}", "azure"),
}


def root_mounted() -> Deployment:
    """The mock mounted at the root, for `asgi:test_deploy_shapes:root_mounted/`."""
    return SHAPES["root"].app()


@pytest.fixture(params=[(s, w) for s in SHAPES for w in ("socket", "in-process")], ids=lambda p: "-".join(p))
def client(request: pytest.FixtureRequest) -> Iterator[TargetClient]:
    """A client on the mock served as one shape, over a socket or in this process."""
    name, where = request.param
    shape = SHAPES[name]
    if where == "in-process":
        with Target(
            f"http://in-process.invalid{shape.path}", API_KEY, profile=shape.profile, transport=shape.app()
        ).client() as c:
            yield c
        return
    with (
        Served(shape.app()) as served,
        Target(served.url + shape.path, API_KEY, profile=shape.profile).client() as c,
    ):
        yield c


@pytest.fixture
def arranger(client: TargetClient) -> Iterator[Arranger]:
    arranger = Arranger(client, wait=5)
    yield arranger
    arranger.cleanup()


def test_a_run_is_created_and_cancelled_through_each_shape(client: TargetClient, arranger: Arranger) -> None:
    """Arranging and cancelling work below each base path, with the profile's key header."""
    arranged = arranger.run("in_progress")
    exchange = client.cancel(arranged.thread_id, arranged.run_id)
    assert exchange.status == 200, exchange.content
    assert exchange.json()["id"] == arranged.run_id
    assert exchange.json()["status"] == "cancelling"
    assert exchange.auth == "valid"
    assert exchange.findings == ()


def test_error_answers_come_through_each_shape(client: TargetClient, arranger: Arranger) -> None:
    """Unknown run 404, no key 401 (auth absent), a wrong key 401 invalid_api_key (auth other)."""
    arranged = arranger.run("in_progress")
    unknown = client.cancel(arranged.thread_id, UNKNOWN_RUN)
    assert (unknown.status, unknown.json()["error"]["message"]) == (
        404,
        f"No run found with id '{UNKNOWN_RUN}'.",
    )
    no_key = client.cancel(arranged.thread_id, arranged.run_id, headers={"Authorization": None})
    assert (no_key.status, no_key.auth) == (401, "absent")
    wrong = client.cancel(
        arranged.thread_id, arranged.run_id, headers={"Authorization": "Bearer sk-wrong-0000"}
    )
    assert (wrong.status, wrong.json()["error"]["code"], wrong.auth) == (401, "invalid_api_key", "other")


def test_the_beta_header_goes_only_where_the_profile_sends_it(client: TargetClient) -> None:
    """openai sends OpenAI-Beta: assistants=v2; azure sends none (its exchanges say so)."""
    exchange = client.send("GET", f"/threads/thread_x/runs/{UNKNOWN_RUN}")
    expected = None if client.target.rules.name == "azure" else "assistants=v2"
    assert exchange.beta == expected


@pytest.mark.parametrize(
    ("shape", "path", "status"),
    [
        pytest.param("root", "", 404, id="root-given-no-path-gets-v1"),
        pytest.param("api-v1", "/v1", 404, id="api-v1-given-v1"),
        pytest.param("azure", "/openai", 404, id="azure-without-api-version"),
    ],
)
def test_the_wrong_base_path_misses_the_deployment(shape: str, path: str, status: int) -> None:
    """The settings matter: the wrong base path, or no api-version, reaches no route."""
    app = SHAPES[shape].app()
    with Target(f"http://in-process.invalid{path}", API_KEY, transport=app).client() as c:
        assert c.send("POST", "/threads", json_body={}).status == status


def test_an_asgi_spec_names_an_app_factory_with_its_base_path() -> None:
    """`asgi:MODULE:ATTR/` serves the factory's app in-process, below the path that follows."""
    target = Target.from_spec("asgi:test_deploy_shapes:root_mounted/", API_KEY)
    assert target.in_process
    assert target.base_url == "http://in-process.invalid"
    with target.client() as c:
        assert c.send("POST", "/threads", json_body={}).status == 200


def _thread(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"object": "thread"})


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: create_app(mock_config()), id="asgi-app"),
        pytest.param(lambda: httpx.MockTransport(_thread), id="httpx-transport"),
    ],
)
def test_a_fixture_can_hand_over_an_app_or_a_transport(make: Callable[[], Any]) -> None:
    """Target.from_spec takes an ASGI app or an httpx transport object, for a pytest fixture to pass."""
    target = Target.from_spec(make(), API_KEY)
    assert target.label.startswith("the in-process app ")
    with target.client() as c:
        assert c.send("POST", "/threads", json_body={}).status == 200


def test_a_recording_under_azure_replays_on_the_key_class_of_api_key(tmp_path: Path) -> None:
    """Cassettes recorded under azure match on `api-key`'s class: the valid key replays, a wrong one
    replays its own 401, and the key is in no cassette."""
    shape = SHAPES["azure"]
    path = tmp_path / "azure" / "case.yaml"
    with Served(shape.app()) as served:
        recorder = Recorder(tmp_path, "all", API_KEY)
        target = Target(served.url + shape.path, API_KEY, profile="azure")
        with recorder.cassette(path), target.client() as c:
            created = c.send("POST", "/threads", json_body={}).json()["id"]
            assert (
                c.send("POST", "/threads", json_body={}, headers={"Authorization": "Bearer sk-no"}).status
                == 401
            )
    assert API_KEY not in path.read_text()
    replayer = Recorder(tmp_path, "none", "sk-replaying-key")
    target = Target("http://replay.invalid" + shape.path, "sk-replaying-key", profile="azure")
    with block_network(), replayer.cassette(path), target.client() as c:
        assert c.send("POST", "/threads", json_body={}).json()["id"] == created
        wrong = c.send("POST", "/threads", json_body={}, headers={"Authorization": "Bearer sk-other"})
        assert (wrong.status, wrong.auth) == (401, "other")


def _cassette(folder: Path, name: str, target: str | None) -> None:
    head = f"provenance:\n  recorded_from: somewhere\n  target: {target}\n" if target else ""
    (folder / f"{name}.yaml").write_text(head + "version: 1\ninteractions: []\n")


@pytest.mark.parametrize(
    ("recorded", "base"),
    [
        pytest.param(["http://127.0.0.1:4010"], "http://replay.invalid/", id="root"),
        pytest.param(["http://127.0.0.1:4010/api/v1"], "http://replay.invalid/api/v1", id="api-v1"),
        pytest.param(
            [f"https://r.openai.azure.com/openai?api-version={API_VERSION}"] * 2 + ["http://h/v1"],
            f"http://replay.invalid/openai?api-version={API_VERSION}",
            id="azure-most-common",
        ),
        pytest.param([None], "http://replay.invalid/v1", id="no-provenance"),
        pytest.param([], "http://replay.invalid/v1", id="no-cassettes"),
    ],
)
def test_replay_sends_to_the_recorded_base_path_and_query(
    tmp_path: Path, recorded: list[str | None], base: str
) -> None:
    """Replay's base is the recorded target's path and query on a host that never resolves; /v1 when
    no cassette says where it was recorded."""
    for n, target in enumerate(recorded):
        _cassette(tmp_path, f"c{n}", target)
    assert replay_base_url(tmp_path) == base
    Target(base, API_KEY, profile="azure" if "api-version" in base else "openai")  # a usable target
