"""Targets: base URLs, keys, headers, profiles, TLS settings, paths and transport failures."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import certifi
import httpx
import pytest

from runcancel.clauses import TRANSPORT_CLAUSES, all_clauses, clause
from runcancel.targets import (
    BOUNDED_ANSWER,
    COMPLETE_ANSWER,
    Target,
    TargetError,
    TargetUnreachable,
    account_headers,
    cancel_path,
    check_key,
    get_profile,
    normalize_base_url,
    parse_base_url,
    parse_header,
    show_target,
)

AZURE = "https://r.openai.azure.com/openai?api-version=2024-05-01-preview"


def recording_transport(seen: list[httpx.Request], status: int = 200) -> httpx.MockTransport:
    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, json={})

    return httpx.MockTransport(record)


# -- base URLs -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "base", "added", "query"),
    [
        pytest.param("http://127.0.0.1:4010", "http://127.0.0.1:4010/v1", True, "", id="bare"),
        pytest.param("http://127.0.0.1:4010/", "http://127.0.0.1:4010", False, "", id="root"),
        pytest.param("https://api.openai.com/v1", "https://api.openai.com/v1", False, "", id="sdk-style"),
        pytest.param("https://h.test/openai/v1/", "https://h.test/openai/v1", False, "", id="prefixed"),
        pytest.param("http://h:1/api/v1", "http://h:1/api/v1", False, "", id="api-v1"),
        pytest.param(
            AZURE, "https://r.openai.azure.com/openai", False, "api-version=2024-05-01-preview", id="azure"
        ),
        pytest.param("http://h:1?x=1", "http://h:1/v1", True, "x=1", id="bare-with-query"),
        pytest.param("  http://h:1 ", "http://h:1/v1", True, "", id="spaces"),
        pytest.param("http://[::1]:4010/", "http://[::1]:4010", False, "", id="ipv6"),
    ],
)
def test_base_url_gets_v1_only_when_it_has_no_path(given: str, base: str, added: bool, query: str) -> None:
    """A URL with no path gets /v1 (and says so); one with a path, `/` included, is used as given."""
    parsed = parse_base_url(given)
    assert (parsed.url, parsed.path_added, parsed.query) == (base, added, query)
    assert normalize_base_url(given) == base


def test_the_root_is_shown_as_a_slash_and_the_path_added_is_said() -> None:
    """The report header shows the root as `/`, and that /v1 was added to a URL without a path."""
    assert Target("http://h:1/", "sk-k").label == "http://h:1/"
    bare = Target("http://h:1", "sk-k")
    assert bare.label == "http://h:1/v1"
    assert any("/v1 was added" in line for line in bare.describe())
    assert not any("/v1 was added" in line for line in Target("http://h:1/v1", "sk-k").describe())


@pytest.mark.parametrize(
    ("given", "problem"),
    [
        pytest.param("http://[::1", "IPv6 address in brackets is not closed", id="ipv6-unclosed"),
        pytest.param("http://host:abc", "port is not a number", id="port-letters"),
        pytest.param("http://host:99999", "port is not a number", id="port-too-large"),
        pytest.param("http://host:0", "port is not a number", id="port-zero"),
        pytest.param("http://h/v1#x", "fragment", id="fragment"),
        pytest.param("http://h/a b", "U+0020", id="space"),
        pytest.param("http://h/\x00", "U+0000", id="nul"),
        pytest.param("mock-ish", "not an http(s) URL", id="word"),
        pytest.param("ftp://h/v1", "not an http(s) URL", id="ftp"),
        pytest.param("http://", "not an http(s) URL", id="no-host"),
        pytest.param("127.0.0.1:4010", "not an http(s) URL", id="no-scheme"),
    ],
)
def test_a_malformed_url_is_one_paragraph(given: str, problem: str) -> None:
    """Each malformed target is a TargetError saying what is wrong and what works, never a traceback."""
    with pytest.raises(TargetError) as caught:
        parse_base_url(given)
    message = str(caught.value)
    assert problem in message
    assert "\n" not in message
    assert "Give an http(s) base URL such as http://127.0.0.1:4010" in message


@pytest.mark.parametrize(
    "given",
    [
        pytest.param("http://alice:hunter2-secret@h:4010/v1", id="user-and-password"),
        pytest.param("http://hunter2-secret@h:4010/v1", id="user-only"),
        pytest.param("http://alice:hunter2-secret@[::1", id="malformed-too"),
    ],
)
def test_user_info_is_refused_without_being_echoed(given: str) -> None:
    """User info in the URL is refused by default, and the error never shows it."""
    with pytest.raises(TargetError) as caught:
        Target(given, "sk-k")
    assert "hunter2-secret" not in str(caught.value)
    assert "alice" not in str(caught.value)


def test_user_info_becomes_the_key_when_asked() -> None:
    """With userinfo="key" the password (or a lone user name) is the key, and the URL loses it."""
    target = Target("http://alice:hunter2-secret@h:4010/v1", "sk-ignored", userinfo="key")
    assert target.api_key == "hunter2-secret"
    assert target.base_url == "http://h:4010/v1"
    assert "hunter2-secret" in target.secrets()
    assert Target("http://tok%2Fen-123@h/", "x", userinfo="key").api_key == "tok/en-123"


def test_the_query_is_kept_on_every_request() -> None:
    """The target's query string is sent with every request, after any query of the request's own."""
    seen: list[httpx.Request] = []
    target = Target("http://h/api/v1?tenant=blue&x=1", "sk-k", transport=recording_transport(seen))
    with target.client() as client:
        client.cancel("t", "r")
        client.send("GET", "/threads/t/runs?limit=1")
        client.send_raw("POST", b"/threads/a/runs/b/cancel")
    assert [str(r.url) for r in seen] == [
        "http://h/api/v1/threads/t/runs/r/cancel?tenant=blue&x=1",
        "http://h/api/v1/threads/t/runs?limit=1&tenant=blue&x=1",
        "http://h/api/v1/threads/a/runs/b/cancel?tenant=blue&x=1",
    ]


def test_a_root_mounted_target_gets_no_double_slash() -> None:
    """Below the root the operation's path follows the origin directly."""
    seen: list[httpx.Request] = []
    with Target("http://h:1/", "sk-k", transport=recording_transport(seen)).client() as client:
        client.cancel("t", "r")
    assert seen[0].url.raw_path == b"/threads/t/runs/r/cancel"


# -- keys and headers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        pytest.param("sk-abcdefgh12345678\r", "whitespace (U+000D)", id="trailing-cr"),
        pytest.param("sk-abcdefgh\u00a012345678", "whitespace (U+00A0)", id="nbsp"),
        pytest.param("sk-abcdefgh 12345678", "whitespace (U+0020)", id="space"),
        pytest.param("sk-abcdefgh\x0712345678", "a control character (U+0007)", id="bell"),
        pytest.param("sk-abcdéfgh12345678", "a non-ASCII character (U+00E9)", id="accent"),
        pytest.param("", "is empty", id="empty"),
    ],
)
def test_a_key_that_cannot_be_one_is_refused_showing_only_its_tail(key: str, problem: str) -> None:
    """Whitespace, control and non-ASCII characters refuse the key; at most its last 4 show."""
    with pytest.raises(TargetError) as caught:
        Target("http://h/v1", key)
    message = str(caught.value)
    assert problem in message
    if key:
        assert key[:-4] not in message
        assert "sk-abcdefgh" not in message


def test_a_short_bad_key_shows_none_of_itself() -> None:
    """A key under 12 characters shows no character at all, not even its tail."""
    with pytest.raises(TargetError) as caught:
        check_key("sk-1\t234")
    assert "234" not in str(caught.value)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        pytest.param("X-Tenant: blue", ("X-Tenant", "blue"), id="spaced"),
        pytest.param("X-Tenant:blue", ("X-Tenant", "blue"), id="tight"),
        pytest.param("X-A: b: c", ("X-A", "b: c"), id="colon-in-value"),
    ],
)
def test_a_header_is_name_colon_value(given: str, expected: tuple[str, str]) -> None:
    """NAME:VALUE splits at the first colon; spaces around the value go."""
    assert parse_header(given) == expected


@pytest.mark.parametrize(
    ("given", "problem"),
    [
        pytest.param("X-Tenant blue", "no `:`", id="no-colon"),
        pytest.param(": blue", "its name is empty", id="no-name"),
        pytest.param("X Tenant: blue", "characters a header name cannot", id="space-in-name"),
        pytest.param("Host: evil", "set by the HTTP client", id="reserved"),
        pytest.param("X-Api-Key: se\ncret-value", "control or non-ASCII", id="newline-in-auth-value"),
        pytest.param("X-A: caf\u00e9", "control or non-ASCII", id="non-ascii"),
    ],
)
def test_a_bad_header_is_one_paragraph(given: str, problem: str) -> None:
    """A header that is not NAME:VALUE is refused; an auth-like header's value is not shown."""
    with pytest.raises(TargetError) as caught:
        parse_header(given)
    assert problem in str(caught.value)
    assert "cret-value" not in str(caught.value)


def test_extra_headers_go_with_every_request_and_win_over_defaults() -> None:
    """Extra headers are sent on every request; one named like a default replaces it (as curl's -H)."""
    seen: list[httpx.Request] = []
    target = Target(
        "http://h/v1",
        "sk-k",
        headers=["X-Tenant: blue", "OpenAI-Beta: assistants=v2,x"],
        transport=recording_transport(seen),
    )
    with target.client() as client:
        client.cancel("t", "r")
        client.send("GET", "/models")
    for request in seen:
        assert request.headers["x-tenant"] == "blue"
        assert request.headers["openai-beta"] == "assistants=v2,x"
        assert request.headers["authorization"] == "Bearer sk-k"


def test_account_headers_come_from_the_sdk_variables() -> None:
    """OPENAI_ORG_ID and OPENAI_PROJECT_ID become OpenAI-Organization and OpenAI-Project; empty ones don't."""
    environ = {"OPENAI_ORG_ID": "org-abc", "OPENAI_PROJECT_ID": " ", "HOME": "/"}
    assert account_headers(environ) == {"OpenAI-Organization": "org-abc"}
    assert account_headers({"OPENAI_PROJECT_ID": "proj_1"}) == {"OpenAI-Project": "proj_1"}


def test_secrets_name_every_credential_of_the_target() -> None:
    """The key, auth-like header values (and their bearer token), account ids and secret query values."""
    target = Target(
        "http://h/v1?api-version=1&sig=signature-value",
        "sk-key-value",
        headers={
            "Proxy-Authorization": "Bearer proxy-token-value",
            "OpenAI-Organization": "org-value",
            "X-A": "b",
        },
    )
    secrets = target.secrets()
    assert secrets["sk-key-value"] == "<api-key>"
    assert secrets["org-value"] == "<org-id>"
    for value in ("Bearer proxy-token-value", "proxy-token-value", "signature-value"):
        assert value in secrets
    assert "b" not in secrets
    assert "1" not in secrets


# -- profiles --------------------------------------------------------------------------------------


def test_the_azure_profile_sends_the_key_as_api_key_and_no_beta() -> None:
    """Under azure: `api-key: <key>`, no Authorization, no OpenAI-Beta, the api-version kept."""
    seen: list[httpx.Request] = []
    target = Target(AZURE, "azure-key-123", profile="azure", transport=recording_transport(seen))
    with target.client() as client:
        exchange = client.cancel("t", "r")
    headers = seen[0].headers
    assert headers["api-key"] == "azure-key-123"
    assert "authorization" not in headers
    assert "openai-beta" not in headers
    assert seen[0].url.params["api-version"] == "2024-05-01-preview"
    assert (exchange.auth, exchange.beta) == ("valid", None)


@pytest.mark.parametrize(
    ("profile", "override", "header", "value", "auth"),
    [
        pytest.param("openai", None, "authorization", None, "absent", id="openai-no-key"),
        pytest.param(
            "openai", "Bearer sk-wrong", "authorization", "Bearer sk-wrong", "other", id="openai-wrong"
        ),
        pytest.param("azure", None, "api-key", None, "absent", id="azure-no-key"),
        pytest.param("azure", "Bearer sk-wrong", "api-key", "sk-wrong", "other", id="azure-wrong"),
    ],
)
def test_the_key_slot_is_overridden_whatever_header_carries_it(
    profile: str, override: str | None, header: str, value: str | None, auth: str
) -> None:
    """`{"Authorization": X}` addresses the key under every profile, and the auth class follows it."""
    seen: list[httpx.Request] = []
    base = AZURE if profile == "azure" else "http://h/v1"
    target = Target(base, "sk-right-key", profile=profile, transport=recording_transport(seen))
    with target.client() as client:
        exchange = client.cancel("t", "r", headers={"Authorization": override})
    assert seen[0].headers.get(header) == value
    assert "authorization" not in seen[0].headers or profile == "openai"
    assert exchange.auth == auth


def test_azure_needs_an_api_version() -> None:
    """The azure profile refuses a target without `api-version` in its query, saying how to add it."""
    with pytest.raises(TargetError, match=r"needs `api-version` in the target's query") as caught:
        Target("https://r.openai.azure.com/openai", "k", profile="azure")
    assert "?api-version=" in str(caught.value)


def test_an_unknown_profile_is_one_paragraph() -> None:
    """A profile other than openai or azure is refused, naming both."""
    with pytest.raises(TargetError, match=r"--profile takes one of openai, azure, got 'aws'"):
        Target("http://h/v1", "k", profile="aws")


def test_azure_names_the_beta_clauses_not_applicable_from_the_contract() -> None:
    """The beta clauses are not applicable under azure, with a reason; each is a catalogue clause."""
    azure = get_profile("azure")
    assert set(azure.not_applicable) == {"error.no_beta", "error.beta_v1"}
    assert set(azure.not_applicable) <= set(all_clauses())
    assert all("OpenAI-Beta" in reason for reason in azure.not_applicable.values())
    assert get_profile("openai").not_applicable == {}
    reason = azure.not_applicable_reason("error.no_beta")
    assert reason is not None
    assert reason.startswith("not applicable under --profile azure: Azure OpenAI takes no `OpenAI-Beta`")
    assert azure.not_applicable_reason("error.envelope") is None
    assert get_profile("openai").not_applicable_reason("error.no_beta") is None


def test_the_transport_clauses_are_in_the_catalogue() -> None:
    """The client's finding clauses are registered, with a title."""
    assert {c.id for c in TRANSPORT_CLAUSES} == {BOUNDED_ANSWER, COMPLETE_ANSWER}
    assert clause(BOUNDED_ANSWER).title


# -- TLS and other settings ------------------------------------------------------------------------


def test_a_ca_bundle_is_read_when_the_target_is_made(tmp_path: Path) -> None:
    """A CA bundle that is not one is refused at once; a real one is used; --insecure is said."""
    with pytest.raises(TargetError, match=r"--ca-bundle .* cannot be used as CA certificates"):
        Target("https://h/v1", "k", verify=str(tmp_path / "missing.pem"))
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate")
    with pytest.raises(TargetError, match=r"cannot be used as CA certificates"):
        Target("https://h/v1", "k", verify=str(bad))
    assert Target("https://h/v1", "k", verify=certifi.where()).ssl_context() is not True
    assert any("NOT verified" in line for line in Target("https://h/v1", "k", verify=False).describe())


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        pytest.param("timeout", float("inf"), "--request-timeout takes a finite number", id="timeout-inf"),
        pytest.param("timeout", 0, "--request-timeout takes a finite number", id="timeout-zero"),
        pytest.param("max_answer_bytes", 10, "--max-answer-bytes takes a whole number", id="bytes-small"),
        pytest.param("rate_limit", -1.0, "--rate-limit takes a number", id="rate-negative"),
        pytest.param("transport", 42, "transport is an httpx.BaseTransport or an ASGI app", id="transport"),
    ],
)
def test_bad_settings_of_a_target_are_one_paragraph(setting: str, value: object, message: str) -> None:
    """Each bad value is refused when the Target is made, with what is allowed."""
    with pytest.raises(TargetError, match=message):
        Target("http://h/v1", "k", **{setting: value})  # type: ignore[arg-type]


def test_the_description_shows_no_secret() -> None:
    """The report header's lines name the profile, headers and key tail, never a secret value."""
    target = Target(
        "http://h/v1", "sk-secret-key-9876", headers={"X-Api-Key": "hidden-value", "X-Tenant": "blue"}
    )
    text = "\n".join(target.describe())
    assert "hidden-value" not in text
    assert "sk-very-secret" not in text
    assert "'9876'" in text
    assert "X-Tenant: blue" in text


# -- paths and the wire ----------------------------------------------------------------------------


def test_ids_are_one_path_segment_each() -> None:
    """Ids are percent-encoded so that a slash or a space cannot change the route."""
    assert cancel_path("thread a/b", "run?1") == "/threads/thread%20a%2Fb/runs/run%3F1/cancel"


def test_a_refused_connection_is_unreachable_in_one_paragraph() -> None:
    """Connection refused becomes TargetUnreachable naming the target and what to do."""

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused")

    target = Target("http://127.0.0.1:9", api_key="k", transport=httpx.MockTransport(refuse))
    with target.client() as client, pytest.raises(TargetUnreachable) as caught:
        client.cancel("t", "r")
    assert str(caught.value) == (
        "runcancel: cannot reach target http://127.0.0.1:9/v1 (connection refused). Start a server there, "
        "or run without --target to use the built-in mock."
    )


def test_headers_are_sent_by_default_and_can_be_dropped() -> None:
    """Every request carries the key and the beta header; a test can drop either (None)."""
    seen: list[httpx.Request] = []
    target = Target("http://h", api_key="sk-test", transport=recording_transport(seen))
    with target.client() as client:
        client.cancel("t", "r")
        client.cancel("t", "r", headers={"Authorization": None, "OpenAI-Beta": "assistants=v1"})
    assert seen[0].headers["authorization"] == "Bearer sk-test"
    assert seen[0].headers["openai-beta"] == "assistants=v2"
    assert "authorization" not in seen[1].headers
    assert seen[1].headers["openai-beta"] == "assistants=v1"


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


def test_send_raw_keeps_the_query_after_the_raw_target(wire: tuple[str, list[str]]) -> None:
    """The target's query follows a raw request-target, on the wire too."""
    url, seen = wire
    with Target(url + "/?api-version=1", api_key="k").client() as client:
        client.send_raw("POST", b"/threads/a/runs/b/cancel")
    assert seen[-1] == "/threads/a/runs/b/cancel?api-version=1"


def test_show_target_escapes_and_shortens() -> None:
    """Bytes outside printable ASCII read as \\xNN; a long target keeps its ends and says its length."""
    assert show_target(b"/a b/\x00\xc3\xa9") == "/a\\x20b/\\x00\\xc3\\xa9"
    long = show_target(b"/" + b"x" * 1000 + b"/end")
    assert long.endswith("/end")
    assert "...(1005 bytes)..." in long


@pytest.mark.parametrize("profile", [pytest.param("openai", id="openai"), pytest.param("azure", id="azure")])
def test_without_a_key_no_key_header_is_sent(profile: str) -> None:
    """A target without a key sends neither Authorization nor api-key; a wrong key asked for is 'other'."""
    seen: list[httpx.Request] = []
    base = AZURE if profile == "azure" else "http://h/v1"
    target = Target(base, None, profile=profile, transport=recording_transport(seen))
    with target.client() as client:
        plain = client.cancel("t", "r")
        wrong = client.cancel("t", "r", headers={"Authorization": "Bearer sk-wrong-one"})
    assert "authorization" not in seen[0].headers
    assert "api-key" not in seen[0].headers
    assert (plain.auth, wrong.auth) == ("absent", "other")
    assert target.secrets() == {}
    [line] = [line for line in target.describe() if line.startswith("profile ")]
    assert "no API key given" in line
    assert "--api-key KEY or the OPENAI_API_KEY" in line


@pytest.mark.parametrize(
    ("target", "given", "sent"),
    [
        pytest.param("http://127.0.0.1:4010/v1", None, None, id="url-no-key"),
        pytest.param("asgi:myapp.main:app", None, None, id="asgi-no-key"),
        pytest.param("mock", None, "sk-runcancel-mock", id="mock-gets-its-key"),
        pytest.param("replay", None, "sk-runcancel-mock", id="replay-gets-the-mock-key"),
        pytest.param("http://127.0.0.1:4010/v1", "sk-given-key-1", "sk-given-key-1", id="url-key-given"),
        pytest.param(
            "http://127.0.0.1:4010/v1", "sk-runcancel-mock", "sk-runcancel-mock", id="mock-key-asked-for"
        ),
    ],
)
def test_the_mock_key_goes_only_to_the_mock_unless_asked(
    target: str, given: str | None, sent: str | None
) -> None:
    """The suites send the key given; without one, the built-in mock's to the mock and its cassettes only."""
    from runcancel.pytest_state import api_key
    from runcancel.settings import resolve_settings

    options = {"target": target, **({"api_key": given} if given else {})}
    assert api_key(resolve_settings(options, {})) == sent


def test_the_profiles_own_key_header_wins_over_the_slot_name() -> None:
    """Under azure, `{"Authorization": None, "api-key": K}` (a recorded case sent again) sends K."""
    seen: list[httpx.Request] = []
    target = Target(AZURE, "sk-right-key", profile="azure", transport=recording_transport(seen))
    with target.client() as client:
        exchange = client.cancel("t", "r", headers={"Authorization": None, "api-key": "sk-right-key"})
    assert seen[0].headers.get("api-key") == "sk-right-key"
    assert exchange.auth == "valid"
