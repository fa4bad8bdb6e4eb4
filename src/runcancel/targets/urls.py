"""Base URLs as the openai SDK takes them, and the one-paragraph errors for URLs that are not one.

The rule, in full:

- A URL with an explicit path is used as given: `http://h:4010/` (a server mounted at the root),
  `http://h/api/v1`, Azure's `https://r.openai.azure.com/openai`. A trailing `/` is dropped, so the
  operation's path `/threads/...` follows the base path.
- Only a URL with no path at all gets `/v1` (`http://h:4010` -> `http://h:4010/v1`), and
  `BaseURL.path_added` says so, for the report header.
- The query string is kept as given and sent on every request (Azure's `?api-version=...`).
- User info (`http://user:secret@h`) is refused, never echoed back; with `userinfo="key"` its password
  (or its user name when there is no password) becomes the API key instead.
- A fragment, whitespace or control characters inside, a port that is not a number from 1 to 65535,
  an unclosed IPv6 bracket: each is refused with what was given (its user info left out), what is
  allowed and what to do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import parse_qsl, unquote, urlsplit

from runcancel.targets.errors import TargetError

__all__ = ["ADDED_PATH", "BaseURL", "normalize_base_url", "parse_base_url", "shown_url"]

ADDED_PATH = "/v1"
UserInfo = Literal["refuse", "key"]
EXAMPLES = (
    "Give an http(s) base URL such as http://127.0.0.1:4010 (gets /v1), http://127.0.0.1:4010/ "
    "(mounted at the root), https://api.openai.com/v1 or "
    "https://NAME.openai.azure.com/openai?api-version=2024-05-01-preview"
)
# Query parameters whose values are credentials (`?key=`, `?sig=`, SAS tokens): scrubbed like the key.
SECRET_QUERY_NAME = re.compile(r"key|token|secret|sig|signature|password|passwd|auth|code", re.IGNORECASE)
_AUTHORITY = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/?#]*@)?")


def shown_url(text: str) -> str:
    """`text` fit to be shown in an error: its user info replaced, control characters escaped."""
    text = _AUTHORITY.sub(
        lambda m: m["scheme"] + ("<user info>@" if m["userinfo"] else ""), text.strip(), count=1
    )
    if "@" in text.split("?", 1)[0].split("#", 1)[0]:  # an `@` the pattern did not see: show none of it
        return "<not shown: it holds user info>"
    return "".join(c if c.isprintable() and c != " " else f"\\x{ord(c):02x}" for c in text)[:300]


@dataclass(frozen=True)
class BaseURL:
    """A target's base URL, taken apart: where requests go, what was added, what is secret."""

    origin: str  # scheme://host[:port]
    path: str  # "" when mounted at the root, else "/v1", "/api/v1", "/openai" (no trailing slash)
    query: str = ""  # as given, without the "?"
    path_added: bool = False  # the URL had no path and got ADDED_PATH
    credentials: str | None = field(default=None, repr=False, compare=False)  # from user info, when asked

    @property
    def url(self) -> str:
        """The base requests are built on: `origin + path` (the operation's path follows)."""
        return self.origin + self.path

    @property
    def shown(self) -> str:
        """The base URL for people: the root as `/`, the query with credential values redacted."""
        return self.origin + (self.path or "/") + (f"?{redact_query(self.query)}" if self.query else "")

    def secrets(self) -> list[str]:
        """Values in the URL that are credentials: user info taken as the key, secret query values."""
        found = [self.credentials] if self.credentials else []
        return found + [v for k, v in parse_qsl(self.query, keep_blank_values=True) if _secret_name(k) and v]

    def query_value(self, name: str) -> str | None:
        for key, value in parse_qsl(self.query, keep_blank_values=True):
            if key == name:
                return value
        return None


def redact_query(query: str) -> str:
    out = []
    for item in query.split("&"):
        name, eq, _value = item.partition("=")
        out.append(f"{name}=<redacted>" if eq and _secret_name(unquote(name)) else item)
    return "&".join(out)


def _secret_name(name: str) -> bool:
    return name.lower() not in ("api-version",) and bool(SECRET_QUERY_NAME.search(name))


def _refuse(given: str, problem: str, advice: str = "") -> TargetError:
    return TargetError(
        f"runcancel: {shown_url(given)!r} is not a target URL: {problem}. {EXAMPLES}"
        + (f"; {advice}" if advice else "")
        + ", or leave --target out to use the built-in mock."
    )


def parse_base_url(given: str, *, userinfo: UserInfo = "refuse") -> BaseURL:
    """Take a target URL apart by the rule above; TargetError (one paragraph) for anything else."""
    text = given.strip()
    bad = next((c for c in text if not c.isprintable() or c.isspace()), None)
    if bad is not None:
        raise _refuse(given, f"it holds the character {bad!r} (U+{ord(bad):04X})")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        problem = str(exc).replace("Invalid IPv6 URL", "an IPv6 address in brackets is not closed")
        if "Port" in problem or "port" in problem:
            problem = "the port is not a number from 1 to 65535"
        raise _refuse(given, problem) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _refuse(given, "it is not an http(s) URL with a host")
    if port == 0:
        raise _refuse(given, "the port is not a number from 1 to 65535")
    if parts.fragment or text.endswith("#"):
        raise _refuse(given, "a fragment (`#...`) is never sent to a server", "leave it out")
    credentials = None
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        if userinfo != "key":
            raise _refuse(
                given,
                "it holds user info (a user name or password before `@`; not shown here), which "
                "would be sent as Basic auth and written wherever the URL is",
                "give the key with --api-key or OPENAI_API_KEY and the URL without it",
            )
        credentials = unquote(parts.password or parts.username or "") or None
    host = parts.netloc.rpartition("@")[2]
    path = parts.path.rstrip("/")
    added = parts.path == ""
    return BaseURL(
        origin=f"{parts.scheme}://{host}",
        path=ADDED_PATH if added else path,
        query=parts.query,
        path_added=added,
        credentials=credentials,
    )


def normalize_base_url(url: str) -> str:
    """The base requests are built on: `http://host:4010` -> `http://host:4010/v1`, `http://h/` ->
    `http://h` (the root), a URL with a path kept as given. Raises TargetError for anything else."""
    return parse_base_url(url).url
