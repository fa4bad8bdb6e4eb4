"""The answer a failed clause shows: its status, every header with its value (credentials and cookies
masked, account ids replaced) and the first bytes of its body, in findings.json, the Markdown and the
HTML; against a broken server that sends a session cookie and a custom header."""

from __future__ import annotations

import json
from typing import Any

import httpx
import jsonschema
import pytest

from broken_servers import COOKIE_AND_GATEWAY, GATEWAY_HEADER, SESSION_COOKIE, Served
from runcancel.reports import findings_schema
from runcancel.scrub import Scrubber
from runcancel.session import shown_headers
from test_broken_servers import ROOT, clean_environment, run_suites, stop_served

SHAPE = [ROOT / "contracts" / "test_shape.py"]


_clean_environment = pytest.fixture(autouse=True, name="_clean_environment")(clean_environment)


stopping = pytest.fixture(scope="module", name="stopping")(stop_served)


@pytest.mark.parametrize(
    ("name", "value", "shown"),
    [
        pytest.param("Set-Cookie", "session=abcdef123456", "<redacted>", id="cookie"),
        pytest.param("X-Api-Key", "k-123456789", "<redacted>", id="auth-like"),
        pytest.param("OpenAI-Organization", "org-fake0123", "<org-id>", id="account"),
        pytest.param("X-Echo", "we saw sk-secret-key-1234", "we saw <api-key>", id="learnt-secret"),
        pytest.param("X-Gateway-Region", "eu-west-7", "eu-west-7", id="plain"),
    ],
)
def test_header_values_are_kept_scrubbed(name: str, value: str, shown: str) -> None:
    """A plain header's value is kept as sent; credentials and cookies masked, secrets scrubbed."""
    scrubber = Scrubber("sk-secret-key-1234")
    assert shown_headers(httpx.Headers({name: value}), scrubber.text) == ((name.lower(), shown),)


def test_a_failure_shows_header_values_and_masks_the_cookie(
    pytester: pytest.Pytester, stopping: list[Served]
) -> None:
    """The broken clause's answer shows the custom header's value in every report; the session
    cookie's value appears in none of them."""
    _, result = run_suites(pytester, stopping, COOKIE_AND_GATEWAY, suites=SHAPE)
    assert result.ret == 1
    folder = pytester.path / "reports"
    document: dict[str, Any] = json.loads((folder / "findings.json").read_text(encoding="utf-8"))
    jsonschema.validate(document, findings_schema())
    status = next(c for c in document["clauses"] if c["id"] == "cancel.status")
    assert status["state"] == "failed"
    (answer,) = status["answers"]
    headers = dict(answer["headers"])
    assert headers[GATEWAY_HEADER[0]] == GATEWAY_HEADER[1]
    assert headers["set-cookie"] == "<redacted>"
    assert headers["x-request-id"].startswith("req_")
    assert answer["status"] == 200
    assert '"status": "queued"' in answer["head"]
    page = (folder / "certification.html").read_text(encoding="utf-8")
    assert f"<li><code>{GATEWAY_HEADER[0]}</code>: <code>{GATEWAY_HEADER[1]}</code></li>" in page
    assert "<li><code>set-cookie</code>: <code>&lt;redacted&gt;</code></li>" in page
    markdown = (folder / "certification.md").read_text(encoding="utf-8")
    assert f"`{GATEWAY_HEADER[0]}: {GATEWAY_HEADER[1]}`" in markdown
    assert "`set-cookie: <redacted>`" in markdown
    secret = SESSION_COOKIE.split("=", 1)[1]
    for name in ("findings.json", "certification.html", "certification.md", "drift.md"):
        assert secret not in (folder / name).read_text(encoding="utf-8"), name
    assert secret not in result.stdout.str()
