"""The scrubber: every form a secret takes in text (masked, encoded, in a URL) is replaced."""

from __future__ import annotations

import base64
from types import SimpleNamespace
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runcancel.scrub import REDACTED, Scrubber

KEY = "sk-proj-Canary0123456789abcd"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "Incorrect API key provided: sk-...abcd.",
            "Incorrect API key provided: sk-<redacted>.",
            id="api-masked",
        ),
        pytest.param("provided: sk-proj-****abcd. You", "provided: sk-<redacted>. You", id="api-masked-proj"),
        pytest.param("key \u2026abcd is wrong", "key \u2026<redacted> is wrong", id="ellipsis-tail"),
        pytest.param("key ...abcd is wrong", "key ...<redacted> is wrong", id="dots-tail"),
        pytest.param("key ********abcd", "key ********<redacted>", id="stars-tail"),
        pytest.param(f"q?key={quote(KEY, safe='')}", "q?key=<api-key>", id="percent-encoded"),
        pytest.param("https://alice:pw-123@h.test/v1", f"https://{REDACTED}@h.test/v1", id="url-user-info"),
        pytest.param("org-AbCdEfGhIjKlMnOpQrSt1234 x", "<org-id> x", id="org-id-shape"),
        pytest.param("proj_AbCdEfGhIjKlMnOpQrSt1234", "<project-id>", id="project-id-shape"),
        pytest.param(
            "Set-Cookie: __cf_bm=abc; path=/\nnext", f"Set-Cookie: {REDACTED}\nnext", id="cookie-line"
        ),
        pytest.param(
            "org-short and the task-force", "org-short and the task-force", id="no-secret-no-change"
        ),
    ],
)
def test_masked_and_encoded_forms_are_replaced(text: str, expected: str) -> None:
    """The live API's and proxies' masked keys, encoded keys, URL user info, account ids and cookies."""
    assert Scrubber(KEY).text(text) == expected


def test_a_key_inside_base64_is_replaced_at_any_alignment() -> None:
    """Basic auth (`user:secret` base64-encoded) loses the secret's part, whatever precedes it."""
    scrubber = Scrubber(KEY)
    secret = "hunter2-canary-secret"
    scrubber.learn(secret, REDACTED)
    for user in ("", "a", "ab", "abc"):
        encoded = base64.b64encode(f"{user}:{secret}".encode()).decode()
        scrubbed = scrubber.text(f"Authorization: Basic {encoded}")
        assert REDACTED in scrubbed
        before, _, after = scrubbed.split("Basic ", 1)[1].partition(REDACTED)
        assert len(before) <= len(base64.b64encode(f"{user}:".encode()).rstrip(b"="))  # the user's part
        assert len(after) <= 4  # the last group, at most a byte of the secret


def test_auth_like_request_headers_are_redacted_in_recordings() -> None:
    """Proxy-Authorization, X-Api-Key and session tokens are redacted; other headers are kept."""
    request = SimpleNamespace(
        headers={
            "Authorization": f"Bearer {KEY}",
            "Proxy-Authorization": "Basic cHJveHk6cHc=",
            "X-Api-Key": "gateway-secret",
            "X-Session-Token": "tok",
            "X-Tenant": "blue",
            "Cookie": "a=b",
        },
        uri="http://h/v1/x",
        body=None,
    )
    scrubbed = Scrubber(KEY).request(request)
    assert scrubbed.headers == {
        "Authorization": "Bearer <valid-key>",
        "Proxy-Authorization": REDACTED,
        "X-Api-Key": REDACTED,
        "X-Session-Token": REDACTED,
        "X-Tenant": "blue",
    }


def test_learn_all_takes_a_targets_secrets() -> None:
    """Each secret is replaced by its own placeholder."""
    scrubber = Scrubber(KEY)
    scrubber.learn_all({"org-canary-1": "<org-id>", "gateway-secret": REDACTED, "ab": REDACTED})
    assert scrubber.text("org-canary-1 gateway-secret ab") == f"<org-id> {REDACTED} ab"


secrets = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_", min_size=12, max_size=40
)
around = st.text(max_size=30)


@given(secret=secrets, before=around, after=around)
def test_no_learnt_secret_survives_in_any_form(secret: str, before: str, after: str) -> None:
    """Whatever surrounds it, a learnt secret leaves no plain, percent-encoded or masked-tail copy."""
    scrubber = Scrubber(KEY)
    scrubber.learn(secret, REDACTED)
    for form in (secret, quote(secret, safe=""), f"\u2026{secret[-4:]}"):
        scrubbed = scrubber.text(before + form + after)
        assert secret not in scrubbed
        assert f"\u2026{secret[-4:]}" not in scrubbed or f"\u2026{secret[-4:]}" in before + after
    encoded = base64.b64encode(secret.encode()).decode()
    assert encoded[1:-4] not in scrubber.text(before + encoded + after) or encoded[1:-4] in before + after
