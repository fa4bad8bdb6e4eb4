"""Targets: the server a suite talks to, and the one-request-one-answer record of each exchange.

A target is a base URL (the built-in mock's, or any server's) with an API key. Every request goes
through `TargetClient.send`, which turns transport failures into `TargetError` with a message a
person can act on, and answers into `Exchange` records that checks read.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import httpx

from runcancel.findings import Evidence

__all__ = [
    "BETA_HEADER",
    "DEFAULT_TIMEOUT",
    "SHORTENED_SEGMENT",
    "Exchange",
    "Target",
    "TargetClient",
    "TargetError",
    "cancel_path",
    "normalize_base_url",
    "show_target",
]

DEFAULT_TIMEOUT = 10.0
BETA_HEADER = {"OpenAI-Beta": "assistants=v2"}


class TargetError(Exception):
    """The target could not be used: unreachable, too slow, or a URL that is not one."""


def normalize_base_url(url: str) -> str:
    """`http://host:4010` -> `http://host:4010/v1`; a URL with a path is kept as given.

    Raises TargetError for anything that is not an http(s) URL with a host.
    """
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TargetError(
            f"runcancel: {url!r} is not a target URL. Give an http(s) base URL such as "
            "http://127.0.0.1:4010 or https://api.openai.com/v1, or leave --target out to use the "
            "built-in mock."
        )
    path = parts.path.rstrip("/") or "/v1"
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def cancel_path(thread_id: str, run_id: str) -> str:
    """The cancel operation's path below the base URL, each id percent-encoded as one segment."""
    return f"/threads/{quote(thread_id, safe='')}/runs/{quote(run_id, safe='')}/cancel"


@dataclass(frozen=True)
class Exchange:
    """One request and its answer, as the checks see them."""

    method: str
    url: str
    status: int
    headers: httpx.Headers
    content: bytes
    elapsed: float
    # How the request authenticated: "valid" (the target's key), "other" or "absent"; and its beta header.
    auth: str = "valid"
    beta: str | None = "assistants=v2"

    @property
    def evidence(self) -> Evidence:
        return Evidence(self.method, self.url, self.status)

    @property
    def content_type(self) -> str:
        return str(self.headers.get("content-type", ""))

    def json(self) -> Any:
        """The decoded body; ValueError when it is not JSON."""
        return json.loads(self.content)


@dataclass
class Target:
    """Where the suites send their requests."""

    base_url: str
    api_key: str
    timeout: float = DEFAULT_TIMEOUT
    label: str = ""
    transport: httpx.BaseTransport | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.base_url = normalize_base_url(self.base_url)
        self.label = self.label or self.base_url

    def client(self, observers: Sequence[Callable[[Exchange], None]] = ()) -> TargetClient:
        return TargetClient(self, observers)


class TargetClient:
    """An httpx client bound to a target: auth and beta headers by default, clear transport errors."""

    def __init__(self, target: Target, observers: Sequence[Callable[[Exchange], None]] = ()) -> None:
        self.target = target
        self.observers = list(observers)
        self.http = httpx.Client(
            base_url=target.base_url,
            timeout=httpx.Timeout(target.timeout),
            transport=target.transport,
            follow_redirects=False,
        )

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> TargetClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def default_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.target.api_key}", **BETA_HEADER}

    def headers_for(self, overrides: dict[str, str | None] | None = None) -> dict[str, str]:
        """The headers a request sends: the defaults, `overrides` on top, None dropping a header."""
        merged: dict[str, str | None] = {**self.default_headers(), **(overrides or {})}
        return {k: v for k, v in merged.items() if v is not None}

    def send(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        headers: dict[str, str | None] | None = None,
    ) -> Exchange:
        """Send one request. `headers` overrides the defaults; a value of None drops that header."""
        sent = self.headers_for(headers)
        url = self.target.base_url + path
        return self._exchange(
            method, url, sent, lambda: self.http.request(method, path, json=json_body, headers=sent)
        )

    def send_raw(
        self, method: str, target: bytes, *, headers: dict[str, str | None] | None = None
    ) -> Exchange:
        """Send `target` (the request-target below the base URL's path) byte for byte, without a body.

        httpx would resolve `.` and `..` segments, cut the path at `#` and refuse bytes a URL cannot
        hold; here the bytes reach the server as given (httpcore's `target` extension). The URL httpx
        keeps, and so what a cassette records, is the same target where httpx can hold it unchanged,
        else the target with its dot segments and the bytes a URL path cannot hold percent-encoded. The
        exchange's `url` shows the target as sent, bytes outside printable ASCII as `\\xNN`.
        """
        sent = self.headers_for(headers)
        parts = urlsplit(self.target.base_url)
        full = parts.path.encode("ascii") + target
        origin = httpx.URL(urlunsplit((parts.scheme, parts.netloc, "", "", "")))
        try:
            url = origin.copy_with(raw_path=full)
            faithful = url.raw_path == full
        except (httpx.InvalidURL, UnicodeError):
            faithful = False
        if not faithful:
            url = origin.copy_with(raw_path=_stand_in(full))
        shown = f"{origin}{show_target(full)}"
        return self._exchange(
            method,
            shown,
            sent,
            lambda: self.http.request(method, url, headers=sent, extensions={"target": full}),
        )

    def _exchange(
        self, method: str, url: str, sent: dict[str, str], request: Callable[[], httpx.Response]
    ) -> Exchange:
        started = time.perf_counter()
        try:
            response = request()
        except httpx.TimeoutException as exc:
            raise TargetError(
                f"runcancel: target {self.target.label} did not answer {method} {url} within "
                f"{self.target.timeout:g} s ({_cause(exc)}). Check the server, or allow more time "
                "with --request-timeout."
            ) from None
        except httpx.TransportError as exc:
            raise TargetError(
                f"runcancel: cannot reach target {self.target.label} ({_cause(exc)}). Start a server "
                "there, or run without --target to use the built-in mock."
            ) from None
        exchange = Exchange(
            method=method,
            url=url,
            status=response.status_code,
            headers=response.headers,
            content=response.content,
            elapsed=time.perf_counter() - started,
            auth=auth_class(sent.get("Authorization"), self.target.api_key),
            beta=sent.get("OpenAI-Beta"),
        )
        for observe in self.observers:
            observe(exchange)
        return exchange

    def cancel(self, thread_id: str, run_id: str, **kwargs: Any) -> Exchange:
        return self.send("POST", cancel_path(thread_id, run_id), **kwargs)

    def check_reachable(self) -> None:
        """Raise TargetError unless the target answers HTTP at all (any status will do)."""
        self.send("GET", "/models")


def auth_class(header: str | None, api_key: str) -> str:
    """Classify an Authorization header without keeping the key: valid, other or absent."""
    if header is None:
        return "absent"
    return "valid" if header == f"Bearer {api_key}" else "other"


_PRINTABLE = frozenset(range(0x21, 0x7F))
_LONGEST_SEGMENT = 4096
# How `_stand_in` ends a segment it shortened: `~<16 hex digits of its SHA-256>~<its length>`.
SHORTENED_SEGMENT = re.compile(r"~[0-9a-f]{16}~[0-9]+$")
# RFC 3986's pchar, less `%`: what a URL path holds as it is.
_KEPT_IN_STAND_IN = frozenset(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@"
)


def show_target(target: bytes, limit: int = 300) -> str:
    """A request-target for people: printable ASCII as is, other bytes `\\xNN`, the middle of a long
    one left out with its length."""
    if len(target) > limit:
        head, tail = target[: limit * 2 // 3], target[-(limit // 6) :]
        return f"{show_target(head, limit)}...({len(target)} bytes)...{show_target(tail, limit)}"
    return "".join(chr(b) if b in _PRINTABLE else f"\\x{b:02x}" for b in target)


def _stand_in(target: bytes) -> bytes:
    """`target` with its dot segments and every byte a URL path cannot hold as it is (`?`, `#`, a `%`
    that starts no escape, non-ASCII...) percent-encoded; a segment too long for a URL shortened to its
    start, a digest and its length."""
    segments = []
    for segment in target.split(b"/"):
        if segment in (b".", b".."):
            segments.append(b"%2E" * len(segment))
            continue
        if len(segment) > _LONGEST_SEGMENT:
            digest = hashlib.sha256(segment).hexdigest()[:16]
            segment = segment[: _LONGEST_SEGMENT // 2] + f"~{digest}~{len(segment)}".encode()
        out = bytearray()
        for i, b in enumerate(segment):
            escape = segment[i + 1 : i + 3]
            if b in _KEPT_IN_STAND_IN or (b == ord("%") and len(escape) == 2 and _is_hex(escape)):
                out.append(b)
            else:
                out += f"%{b:02X}".encode()
        segments.append(bytes(out))
    return b"/".join(segments)


def _is_hex(pair: bytes) -> bool:
    return all(c in b"0123456789abcdefABCDEF" for c in pair)


def _cause(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    lowered = text.lower()
    if "refused" in lowered:
        return "connection refused"
    if "name or service not known" in lowered or "nodename nor servname" in lowered:
        return "unknown host"
    return text.splitlines()[0][:200]
