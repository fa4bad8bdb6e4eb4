"""Canaries at the command's level: a password in the target URL, a key with CR or NBSP, an extra
auth header. `runcancel certify` is run as a user runs it, with the reports, cassettes (recording)
and JUnit written; none of the secrets may be in any file written below its folder, nor in what it
printed, in any form a scrubber knows (as given, percent-encoded, base64).
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
from starlette.types import ASGIApp, Receive, Scope, Send

from broken_servers import API_KEY, Served, mock_config
from runcancel.mock import create_app

PASSWORD = "canary-certify-password-6631"
KEY = "sk-canary-certify-key-7742"
TOKEN = "canary-certify-token-8853"


def forms(secret: str) -> list[str]:
    """The secret as given, percent-encoded, and its base64 (the core a scrubber looks for)."""
    return [secret, quote(secret, safe=""), base64.b64encode(secret.encode()).decode().rstrip("=")[:-4]]


def certify(*args: str, cwd: Path, key: str | None = None) -> subprocess.CompletedProcess[str]:
    """The command in a fresh process; `key` in OPENAI_API_KEY, the caller's settings left out."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "RUNCANCEL_", "HYPOTHESIS_"))}
    env.update({"OPENAI_API_KEY": key} if key is not None else {})
    return subprocess.run(
        [sys.executable, "-m", "runcancel.cli", "certify", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def leaks(secret: str, done: subprocess.CompletedProcess[str], folder: Path) -> list[str]:
    """Where a form of `secret` was found: the terminal, or a file below `folder`."""
    found = [f"terminal: {form}" for form in forms(secret) if form in done.stdout + done.stderr]
    for path in folder.rglob("*"):
        if path.is_file():
            text = path.read_bytes().decode("utf-8", "replace")
            found += [f"{path.relative_to(folder)}: {form}" for form in forms(secret) if form in text]
    return found


class HeadersSeen:
    """The mock's app, keeping the value of one header of every request it is sent."""

    def __init__(self, app: ASGIApp, name: bytes) -> None:
        self.app, self.name, self.values = app, name, []  # type: list[bytes | None]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.values.append(dict(scope["headers"]).get(self.name))
        await self.app(scope, receive, send)


WRITTEN = ("--record-mode", "once", "--cassette-dir", "cassettes", "--probe-examples", "3")


def test_an_extra_auth_header_is_sent_and_written_nowhere(tmp_path: Path) -> None:
    """`-H "X-Api-Token: ..."` reaches the target on every request and is in no report, cassette,
    probe case file, JUnit file or terminal line."""
    app = HeadersSeen(create_app(mock_config()), b"x-api-token")
    with Served(app) as served:
        done = certify(
            served.url,
            "--api-key",
            API_KEY,
            "-H",
            f"X-Api-Token: {TOKEN}",
            *WRITTEN,
            "--",
            "--junitxml=junit.xml",
            cwd=tmp_path,
        )
    assert done.returncode == 0, done.stdout[-3000:]
    assert len(app.values) > 50
    assert set(app.values) == {TOKEN.encode()}
    assert (tmp_path / "junit.xml").is_file()
    assert list((tmp_path / "cassettes").rglob("*.yaml"))
    assert leaks(TOKEN, done, tmp_path) == []
    assert any(f.startswith("junit.xml") for f in leaks("test_cancel_answer", done, tmp_path))  # it looks


def test_a_password_in_the_url_is_refused_and_written_nowhere(tmp_path: Path) -> None:
    """User info in the target URL: exit 2, one paragraph, the password nowhere."""
    with Served(create_app(mock_config())) as served:
        url = served.url.replace("http://", f"http://user:{PASSWORD}@") + "/v1"
        done = certify(url, "--api-key", API_KEY, *WRITTEN, "--", "--junitxml=junit.xml", cwd=tmp_path)
    assert done.returncode == 2
    assert "user info" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert leaks(PASSWORD, done, tmp_path) == []


@pytest.mark.parametrize(
    "key",
    [
        pytest.param(KEY + "\r", id="trailing-cr"),
        pytest.param(KEY[:10] + "\u00a0" + KEY[10:], id="nbsp-inside"),
        pytest.param(KEY + "\u00a0", id="trailing-nbsp"),
    ],
)
@pytest.mark.parametrize("given", [pytest.param("option", id="option"), pytest.param("env", id="env")])
def test_a_key_with_cr_or_nbsp_is_refused_showing_at_most_its_tail(
    key: str, given: str, tmp_path: Path
) -> None:
    """A key with a CR or a non-breaking space: exit 2, no traceback, at most its last 4 characters shown."""
    with Served(create_app(mock_config())) as served:
        args = [served.url, *WRITTEN, "--", "--junitxml=junit.xml"]
        if given == "option":
            done = certify(served.url, "--api-key", key, *args[1:], cwd=tmp_path)
        else:
            done = certify(*args, cwd=tmp_path, key=key)
    assert done.returncode == 2, done.stdout[-2000:] + done.stderr[-2000:]
    assert "Traceback" not in done.stderr + done.stdout
    assert "U+00A0" in done.stderr or "U+000D" in done.stderr
    clean = key.replace("\r", "").replace("\u00a0", "")
    assert leaks(clean[:-4], done, tmp_path) == []
    assert leaks(clean[:10], done, tmp_path) == []
