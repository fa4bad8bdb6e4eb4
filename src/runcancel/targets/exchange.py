"""One request and its answer as the checks see them, and how request-targets are written and shown."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from runcancel.findings import Evidence, Finding

__all__ = [
    "SHORTENED_SEGMENT",
    "Exchange",
    "auth_class",
    "cancel_path",
    "show_target",
]


def cancel_path(thread_id: str, run_id: str) -> str:
    """The cancel operation's path below the base URL, each id percent-encoded as one segment."""
    return f"/threads/{quote(thread_id, safe='')}/runs/{quote(run_id, safe='')}/cancel"


@dataclass(frozen=True)
class Exchange:
    """One request and its answer, as the checks see them.

    `findings` holds what the transport found wrong with the answer itself (larger than
    `max_answer_bytes`, or not complete within the request's time-out: clause
    `transport.bounded_answer`); then `complete` is False and `content` is only what was read.
    """

    method: str
    url: str
    status: int
    headers: httpx.Headers
    content: bytes
    elapsed: float
    # How the request authenticated: "valid" (the target's key), "other" or "absent"; and its beta header.
    auth: str = "valid"
    beta: str | None = "assistants=v2"
    findings: tuple[Finding, ...] = ()
    complete: bool = True

    @property
    def evidence(self) -> Evidence:
        return Evidence(self.method, self.url, self.status)

    @property
    def content_type(self) -> str:
        return str(self.headers.get("content-type", ""))

    def json(self) -> Any:
        """The decoded body; ValueError when it is not JSON (or was not read whole)."""
        if not self.complete:
            raise ValueError("the answer was not read whole (see its transport finding)")
        return json.loads(self.content)


def auth_class(header: str | None, api_key: str | None, prefix: str = "Bearer ") -> str:
    """Classify the value of whichever header carries the key, without keeping the key: valid, other
    or absent. `prefix` is the profile's (`Bearer ` in `Authorization`, none in Azure's `api-key`).
    Without a key (`api_key` None) every key sent is another's."""
    if header is None:
        return "absent"
    return "valid" if api_key is not None and header == f"{prefix}{api_key}" else "other"


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
