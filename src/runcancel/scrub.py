"""Secrets out of everything runcancel writes or shows: keys, account ids, masked key echoes, cookies.

One `Scrubber` a session serves the cassettes (recording), the findings (terminal, reports) and the
answers kept for drift alike. What it replaces in any text:

- every learnt secret (the key, the organisation and project ids, values of auth-like headers, a
  password in the target URL, secret query values: `learn`, `learn_all`), also percent-encoded,
  base64-encoded (inside any base64 text, as in `Basic dXNlcjpwYXNz`) and masked as proxies show a
  key's tail (`…abcd`, `...abcd`, `****abcd`);
- masked keys as the live API echoes them (`sk-...abcd`, `sk-proj-****abcd`), whoever's key;
- user info in any URL (`https://user:secret@host` -> `https://<redacted>@host`);
- account ids of the live API's shape (`org-` or `proj_` and 16 or more letters and digits);
- cookie header lines (`Cookie: ...`, `Set-Cookie: ...`).
"""

from __future__ import annotations

import base64
import re
import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

__all__ = [
    "ACCOUNT_HEADERS",
    "AUTH_LIKE",
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
# Header names whose values are credentials (the key headers, Proxy-Authorization, X-Api-Key, cookies,
# session tokens, signatures): scrubbed in requests, never shown.
AUTH_LIKE = re.compile(r"auth|key|token|secret|session|password|passwd|signature|cookie", re.IGNORECASE)
_URL_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)[^/\s@?#]+@")
_ACCOUNT_IDS = (
    (re.compile(r"(?<![\w-])org-[A-Za-z0-9]{16,}"), "<org-id>"),
    (re.compile(r"(?<![\w-])proj_[A-Za-z0-9]{16,}"), "<project-id>"),
)
_COOKIE_LINE = re.compile(r"(?im)^(?P<name>(?:set-)?cookie:[ \t]*).+$")
# A tail of a learnt secret shown after an ellipsis or stars, as proxies and dashboards mask keys.
_MASK_PREFIXES = ("\u2026", "...", "***")
_SHORTEST_BASE64_CORE = 8


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
        self._tails: dict[str, str] = {}  # masked tails of secrets, replaced after the masked-key pattern
        self.learn(api_key, "<api-key>")
        self.learn(organization, "<org-id>")
        self.learn(project, "<project-id>")

    def learn(self, secret: str | None, placeholder: str) -> None:
        """Replace `secret`, and its encoded and masked forms, by `placeholder` from now on."""
        if not secret or len(secret) < SHORTEST_SECRET or secret.startswith("<"):
            return
        forms = {secret: placeholder, quote(secret, safe=""): placeholder}
        for core in _base64_cores(secret.encode("utf-8", "surrogateescape")):
            forms.setdefault(core, placeholder)
        tails = (
            {prefix + secret[-4:]: prefix + REDACTED for prefix in _MASK_PREFIXES}
            if len(secret) >= 12
            else {}
        )
        with self._lock:
            for form, shown in forms.items():
                self._secrets.setdefault(form, shown)
            self._secrets[secret] = placeholder
            self._tails.update(tails)

    def learn_all(self, secrets: Mapping[str, str]) -> None:
        """`learn` each secret with its placeholder (e.g. a target's `secrets()`)."""
        for secret, placeholder in secrets.items():
            self.learn(secret, placeholder)

    def text(self, value: str) -> str:
        with self._lock:
            secrets = sorted(self._secrets.items(), key=lambda item: -len(item[0]))
            tails = list(self._tails.items())
        for secret, placeholder in secrets:
            if secret in value:
                value = value.replace(secret, placeholder)
        value = _URL_USERINFO.sub(lambda m: m["scheme"] + REDACTED + "@", value)
        for pattern, placeholder in _ACCOUNT_IDS:
            value = pattern.sub(placeholder, value)
        value = _COOKIE_LINE.sub(lambda m: m["name"] + REDACTED, value)
        value = MASKED_KEY.sub("sk-" + REDACTED, value)
        for tail, shown in tails:
            if tail in value:
                value = value.replace(tail, shown)
        return value

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
            elif lowered in ACCOUNT_HEADERS or (AUTH_LIKE.search(lowered) and lowered not in DROPPED_HEADERS):
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


def _base64_cores(secret: bytes) -> set[str]:
    """The characters of base64 text that only `secret` decides, at each of the three alignments it can
    have inside a longer encoded text, in both alphabets: found in any base64 that holds the secret."""
    cores = set()
    for pad in range(3):
        encoded = base64.b64encode(b"\0" * pad + secret).decode("ascii")
        start = -(-pad * 8 // 6)
        end = (pad + len(secret)) * 8 // 6
        core = encoded[start:end]
        if len(core) >= _SHORTEST_BASE64_CORE:
            cores.add(core)
            cores.add(core.replace("+", "-").replace("/", "_"))
    return cores
