"""Targets: base URLs, paths, and transport failures turned into errors people can act on."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from runcancel.targets import Target, TargetError, cancel_path, normalize_base_url, show_target


@pytest.mark.parametrize(
    ("given", "base"),
    [
        pytest.param("http://127.0.0.1:4010", "http://127.0.0.1:4010/v1", id="bare"),
        pytest.param("http://127.0.0.1:4010/", "http://127.0.0.1:4010/v1", id="slash"),
        pytest.param("https://api.openai.com/v1", "https://api.openai.com/v1", id="sdk-style"),
        pytest.param("https://h.test/openai/v1/", "https://h.test/openai/v1", id="prefixed"),
        pytest.param("  http://h:1 ", "http://h:1/v1", id="spaces"),
    ],
)
def test_base_url_gets_v1_only_when_it_has_no_path(given: str, base: str) -> None:
    """A URL with no path gets /v1 (as the SDK's base URL has); one with a path is kept."""
    assert normalize_base_url(given) == base


@pytest.mark.parametrize("given", ["mock-ish", "ftp://h/v1", "http://", "127.0.0.1:4010"])
def test_a_non_url_target_is_refused_with_examples(given: str) -> None:
    """A target that is not an http(s) URL with a host is refused, with examples of what works."""
    with pytest.raises(TargetError, match=r"is not a target URL\. Give an http"):
        normalize_base_url(given)


def test_ids_are_one_path_segment_each() -> None:
    """Ids are percent-encoded so that a slash or a space cannot change the route."""
    assert cancel_path("thread a/b", "run?1") == "/threads/thread%20a%2Fb/runs/run%3F1/cancel"


def test_a_transport_failure_is_one_paragraph() -> None:
    """Connection refused becomes a TargetError naming the target and what to do."""

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused")

    target = Target("http://127.0.0.1:9", api_key="k", transport=httpx.MockTransport(refuse))
    with target.client() as client, pytest.raises(TargetError) as caught:
        client.cancel("t", "r")
    assert str(caught.value) == (
        "runcancel: cannot reach target http://127.0.0.1:9/v1 (connection refused). Start a server there, "
        "or run without --target to use the built-in mock."
    )


def test_headers_are_sent_by_default_and_can_be_dropped() -> None:
    """Every request carries the key and the beta header; a test can drop either (None)."""
    seen: list[httpx.Headers] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers)
        return httpx.Response(200, json={})

    target = Target("http://h", api_key="sk-test", transport=httpx.MockTransport(record))
    with target.client() as client:
        client.cancel("t", "r")
        client.cancel("t", "r", headers={"Authorization": None, "OpenAI-Beta": "assistants=v1"})
    assert seen[0]["authorization"] == "Bearer sk-test"
    assert seen[0]["openai-beta"] == "assistants=v2"
    assert "authorization" not in seen[1]
    assert seen[1]["openai-beta"] == "assistants=v1"


@pytest.fixture(scope="module")
def wire() -> Iterator[tuple[str, list[str]]]:
    """A plain HTTP server that keeps each request-target as it came off the wire."""
    seen: list[str] = []

    class Keep(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            seen.append(self.path)
            self.send_response(404)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Keep)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    "target",
    [
        pytest.param(b"/threads/../runs/r/cancel", id="dot-dot"),
        pytest.param(b"/threads/./runs/r/cancel", id="dot"),
        pytest.param(b"/threads/a#b/runs/r/cancel", id="hash"),
        pytest.param(b"/threads/%/runs/r/cancel", id="lone-percent"),
        pytest.param(b"/threads/a?b/runs/r/cancel", id="question-mark"),
        pytest.param(b"/threads//runs/r/cancel", id="empty"),
        pytest.param(b"/threads/" + b"t" * 8192 + b"/runs/r/cancel", id="8k"),
    ],
)
def test_send_raw_puts_the_target_on_the_wire_byte_for_byte(
    wire: tuple[str, list[str]], target: bytes
) -> None:
    """send_raw's bytes reach the server unchanged; the exchange shows them as sent."""
    url, seen = wire
    with Target(url, api_key="k").client() as client:
        exchange = client.send_raw("POST", target)
    assert seen[-1].encode("latin-1") == b"/v1" + target
    assert exchange.status == 404
    assert exchange.url == f"{url}{show_target(b'/v1' + target)}"


def test_show_target_escapes_and_shortens() -> None:
    """Bytes outside printable ASCII read as \\xNN; a long target keeps its ends and says its length."""
    assert show_target(b"/a b/\x00\xc3\xa9") == "/a\\x20b/\\x00\\xc3\\xa9"
    long = show_target(b"/" + b"x" * 1000 + b"/end")
    assert long.endswith("/end")
    assert "...(1005 bytes)..." in long
