"""Secrets out of everything runcancel writes or shows: keys, account ids, masked key echoes, cookies.

One `Scrubber` a session serves the cassettes (recording), the findings (terminal, reports) and the
answers kept for drift alike.
"""

from __future__ import annotations

import re
import threading
from typing import Any
from urllib.parse import urlsplit, urlunsplit

__all__ = [
    "ACCOUNT_HEADERS",
    "DROPPED_HEADERS",
    "KEY_HEADERS",
    "KEY_OTHER",
    "KEY_VALID",
    "MASKED_KEY",
    "REDACTED",
    "Scrubber",
    "classify_key",
    "scrub_url",
]

KEY_VALID = "<valid-key>"
KEY_OTHER = "<other-key>"
REDACTED = "<redacted>"
KEY_HEADERS = ("authorization", "api-key")  # OpenAI's and Azure OpenAI's
ACCOUNT_HEADERS = {"openai-organization": "<org-id>", "openai-project": "<project-id>"}
DROPPED_HEADERS = {"cookie", "set-cookie"}
# Values shorter than this are not replaced in text: a short "secret" would garble every cassette.
SHORTEST_SECRET = 6
# A key as the live API echoes it in a 401 (`sk-...abcd`, `sk-proj-****abcd`) or a whole key; a dot
# belongs to it only when more key follows, so the sentence's full stop stays.
MASKED_KEY = re.compile(r"(?<![\w-])sk-(?:[\w*-]|\.(?=[\w.*-]))+")


def classify_key(header: str, value: str | None, api_key: str) -> str | None:
    """What a key header says about the key: the session's, another one, or none (None).

    Idempotent: a placeholder classifies as itself, so the live request and the recorded (already
    scrubbed) one compare alike.
    """
    if value is None:
        return None
    bearer = header.lower() == "authorization"
    prefix = "Bearer " if bearer else ""
    if value in (prefix + KEY_VALID, prefix + KEY_OTHER):
        return value
    return prefix + (KEY_VALID if value == prefix + api_key else KEY_OTHER)


def scrub_url(url: str) -> str:
    """A URL without user, password, query or fragment."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port is not None:
        host += f":{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


class Scrubber:
    """Replaces the key, organisation and project ids, and masked keys, in everything recorded.

    Account ids are also learnt from the `openai-organization` and `openai-project` answer headers,
    so they are replaced in bodies even when nobody configured them.
    """

    def __init__(self, api_key: str, organization: str | None = None, project: str | None = None) -> None:
        self.api_key = api_key
        self._lock = threading.Lock()
        self._secrets: dict[str, str] = {}
        self.learn(api_key, "<api-key>")
        self.learn(organization, "<org-id>")
        self.learn(project, "<project-id>")

    def learn(self, secret: str | None, placeholder: str) -> None:
        if secret and len(secret) >= SHORTEST_SECRET and not secret.startswith("<"):
            with self._lock:
                self._secrets[secret] = placeholder

    def text(self, value: str) -> str:
        with self._lock:
            secrets = sorted(self._secrets.items(), key=lambda item: -len(item[0]))
        for secret, placeholder in secrets:
            value = value.replace(secret, placeholder)
        return MASKED_KEY.sub("sk-" + REDACTED, value)

    def data(self, value: Any) -> Any:
        """`text` for str, and for bytes (kept byte for byte where nothing is replaced)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, bytes | bytearray):
            return self.text(bytes(value).decode("utf-8", "surrogateescape")).encode(
                "utf-8", "surrogateescape"
            )
        return value

    def request(self, request: Any) -> Any:
        """vcrpy's `before_record_request` (on a copy): applied before matching, and before writing."""
        headers: dict[str, str] = {}
        for name, value in request.headers.items():
            lowered = name.lower()
            if lowered in KEY_HEADERS:
                headers[name] = str(classify_key(lowered, value, self.api_key))
            elif lowered in ACCOUNT_HEADERS:
                headers[name] = REDACTED
            elif lowered not in DROPPED_HEADERS:
                headers[name] = self.text(str(value))
        request.headers = headers
        request.uri = self.text(request.uri)
        body = request.body
        if isinstance(body, str | bytes):
            request.body = self.data(body)
        return request

    def response(self, response: dict[str, Any]) -> dict[str, Any]:
        """vcrpy's `before_record_response` (on a copy, after decompression)."""
        original = response.get("headers") or {}
        for name, values in original.items():
            if name.lower() in ACCOUNT_HEADERS:
                for value in values:
                    self.learn(str(value), ACCOUNT_HEADERS[name.lower()])
        headers: dict[str, list[str]] = {}
        for name, values in original.items():
            lowered = name.lower()
            if lowered in DROPPED_HEADERS:
                continue
            headers[name] = [REDACTED] if lowered in ACCOUNT_HEADERS else [self.text(str(v)) for v in values]
        body = response.get("body") or {}
        content = self.data(body.get("string"))
        if isinstance(content, bytes):
            for name in headers:
                if name.lower() == "content-length":
                    headers[name] = [str(len(content))]
        response["headers"] = headers
        response["body"] = {**body, "string": content}
        return response
