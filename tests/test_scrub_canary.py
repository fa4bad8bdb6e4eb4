"""Canaries: a password in the target URL, a key with CR or NBSP, an extra auth header.

None of them may appear in any text the library produces: errors, the report header's lines,
exchanges' URLs and evidence, transport faults, findings once scrubbed with the target's secrets,
and what the HTTP stack logs.
"""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Iterator

import pytest

from deploy_servers import RawServer, answer, reset_always
from runcancel.findings import Finding
from runcancel.scrub import Scrubber
from runcancel.targets import Target, TargetError, TransportFault

PASSWORD = "canary-url-password-4417"
HEADER_SECRET = "canary-header-secret-5528"
ORG = "org-canaryOrganisation0001"
CANARIES = (PASSWORD, HEADER_SECRET, ORG)


def echo_everything(conn: socket.socket, n: int) -> None:
    """401 whose body echoes every secret it was sent, as a careless server or proxy might."""
    body = {
        "error": {
            "message": f"Incorrect API key provided: sk-...{PASSWORD[-4:]}. "
            f"Also {PASSWORD} and {HEADER_SECRET}.",
            "type": "invalid_request_error",
            "param": None,
            "code": "invalid_api_key",
        },
        "org": ORG,
    }
    answer(conn, "401 Unauthorized", json.dumps(body).encode())


@pytest.fixture
def echo() -> Iterator[RawServer]:
    with RawServer(echo_everything) as server:
        yield server


def canary_target(url: str) -> Target:
    host = url.removeprefix("http://")
    return Target(
        f"http://canary-user:{PASSWORD}@{host}/v1",
        "ignored",
        userinfo="key",
        headers={"X-Api-Key": HEADER_SECRET, "OpenAI-Organization": ORG},
        timeout=2,
    )


def assert_clean(text: str) -> None:
    for canary in CANARIES:
        assert canary not in text


def test_no_canary_in_what_the_library_produces(echo: RawServer, caplog: pytest.LogCaptureFixture) -> None:
    """Exchanges, the header lines, and findings scrubbed with the target's secrets hold no canary."""
    target = canary_target(echo.url)
    scrubber = Scrubber(target.api_key)
    scrubber.learn_all(target.secrets())
    with caplog.at_level(logging.DEBUG), target.client() as client:
        exchange = client.cancel("thread_a", "run_b")
    assert exchange.status == 401
    assert_clean(exchange.url + str(exchange.evidence) + "\n".join(target.describe()) + target.label)
    finding = Finding("error.wrong_key", "$.error.message", "a message", exchange.content.decode())
    assert_clean(scrubber.text(str(finding.with_evidence(exchange.evidence))))
    assert f"sk-...{PASSWORD[-4:]}" not in scrubber.text(exchange.content.decode())
    assert_clean(caplog.text)


def test_the_key_from_the_url_is_sent_as_the_key_never_as_basic_auth(echo: RawServer) -> None:
    """User info taken as the key is sent as the profile's key header; no Basic auth carries it."""
    target = canary_target(echo.url)
    with target.client() as client:
        sent = client.headers_for()
    assert sent["Authorization"] == f"Bearer {PASSWORD}"
    assert not any(v.startswith("Basic") for v in sent.values())


def test_no_canary_in_a_transport_fault() -> None:
    """A reset answered twice: the fault's message and finding name the request, not the secrets."""
    with (
        RawServer(reset_always) as server,
        canary_target(server.url).client() as client,
        pytest.raises(TransportFault) as caught,
    ):
        client.send("GET", "/threads/t")
    assert_clean(str(caught.value) + str(caught.value.finding))


@pytest.mark.parametrize(
    ("url", "key", "headers"),
    [
        pytest.param(f"http://u:{PASSWORD}@h/v1", "sk-ok-key-000", {}, id="url-password-refused"),
        pytest.param(f"http://u:{PASSWORD}@[::1/v1", "sk-ok-key-000", {}, id="url-password-malformed"),
        pytest.param("http://h/v1", f"{HEADER_SECRET}\r", {}, id="key-with-cr"),
        pytest.param("http://h/v1", f"sk-{HEADER_SECRET}\u00a0x", {}, id="key-with-nbsp"),
        pytest.param(
            "http://h/v1",
            "sk-ok-key-000",
            {"X-Api-Key": f"{HEADER_SECRET}\nX-Injected: 1"},
            id="header-newline",
        ),
        pytest.param(
            "http://h/v1", "sk-ok-key-000", {"Authorization": f"Bearer {HEADER_SECRET}\x00"}, id="auth-nul"
        ),
    ],
)
def test_no_canary_in_an_error(url: str, key: str, headers: dict[str, str]) -> None:
    """Every refusal of a URL, key or header leaves the secret out of its paragraph."""
    with pytest.raises(TargetError) as caught:
        Target(url, key, headers=headers)
    assert_clean(str(caught.value))
    assert HEADER_SECRET[:-4] not in str(caught.value)
