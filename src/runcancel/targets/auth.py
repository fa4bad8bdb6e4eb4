"""Keys and extra headers: what is refused before anything is sent, and which values are secrets.

- A key is refused when it holds whitespace, a control or a non-ASCII character (a trailing CR from a
  file, a non-breaking space from a web page): it could never be the key the server issued, and
  printing it would show it. The message shows at most its last 4 characters.
- `parse_header("NAME:VALUE")` takes one extra header (`--header`, repeatable). Header names are
  RFC 9110 tokens; a value holds no control characters. A header whose name says it carries a
  credential (`Authorization`, `api-key`, `X-Api-Key`, `Cookie`, anything with key, token, secret,
  auth, session, password or signature in its name) is *auth-like*: its value is scrubbed like the key
  and never shown in an error.
- `account_headers(environ)` is the openai SDK's: `OPENAI_ORG_ID` -> `OpenAI-Organization`,
  `OPENAI_PROJECT_ID` -> `OpenAI-Project`. Both values identify the account: they are secrets too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from runcancel.scrub import AUTH_LIKE
from runcancel.targets.errors import TargetError

__all__ = [
    "ACCOUNT_VARIABLES",
    "account_headers",
    "check_key",
    "is_auth_like",
    "key_tail",
    "parse_header",
    "parse_headers",
]

ACCOUNT_VARIABLES = {"OPENAI_ORG_ID": "OpenAI-Organization", "OPENAI_PROJECT_ID": "OpenAI-Project"}
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
# Headers the client sets itself: an extra header may not replace them.
_RESERVED = {"host", "content-length", "transfer-encoding", "connection"}


def key_tail(key: str) -> str:
    """At most the last 4 characters of a key (none of a key shorter than 12), escaped if unprintable."""
    if len(key) < 12:
        return f"({len(key)} characters, none shown)"
    tail = "".join(
        c if c.isascii() and c.isprintable() and c != " " else f"\\u{ord(c):04x}" for c in key[-4:]
    )
    return f"ending {tail!r}"


def check_key(key: str, source: str = "the API key") -> str:
    """`key` when it can be a key; TargetError naming the first bad character (never the key) if not."""
    for index, char in enumerate(key):
        if char.isspace() or not char.isprintable() or not char.isascii():
            kind = "whitespace" if char.isspace() else "a non-ASCII" if not char.isascii() else "a control"
            kind += " character" if kind != "whitespace" else ""
            raise TargetError(
                f"runcancel: {source} ({len(key)} characters, {key_tail(key)}) holds {kind} "
                f"(U+{ord(char):04X}) at position {index + 1}. A key is printable ASCII without spaces: "
                "a trailing newline or CR from a file, or a non-breaking space from a web page, is the "
                "usual cause. Give the key again without it."
            )
    if not key:
        raise TargetError(f"runcancel: {source} is empty. Give the key with --api-key or OPENAI_API_KEY.")
    return key


def is_auth_like(name: str) -> bool:
    """Whether a header's value is a credential (scrubbed, never shown)."""
    return bool(AUTH_LIKE.search(name))


def parse_header(given: str) -> tuple[str, str]:
    """`NAME:VALUE` (spaces around the value dropped) -> (NAME, VALUE); TargetError for anything else."""
    name, colon, value = given.partition(":")
    name, value = name.strip(), value.strip()
    shown = f"{name}: <not shown>" if is_auth_like(name) else given.strip()
    shown = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in shown)[:200]

    def refuse(problem: str) -> TargetError:
        return TargetError(
            f"runcancel: --header {shown!r} is not a header: {problem}. Give NAME:VALUE, e.g. "
            "--header 'X-Tenant: blue' (repeat --header for more than one)."
        )

    if not colon:
        raise refuse("there is no `:` between its name and its value")
    if not _TOKEN.match(name):
        raise refuse("its name is empty or holds characters a header name cannot (letters, digits, -)")
    if name.lower() in _RESERVED:
        raise refuse(f"{name} is set by the HTTP client itself")
    if any(not c.isprintable() and c != "\t" for c in value) or not value.isascii():
        raise refuse("its value holds a control or non-ASCII character")
    return name, value


def parse_headers(given: Iterable[str] | Mapping[str, str]) -> dict[str, str]:
    """Several headers, `NAME:VALUE` strings or a mapping, checked alike; a later one wins."""
    items = [f"{k}:{v}" for k, v in given.items()] if isinstance(given, Mapping) else list(given)
    headers: dict[str, str] = {}
    for item in items:
        name, value = parse_header(item)
        for existing in [k for k in headers if k.lower() == name.lower()]:
            del headers[existing]
        headers[name] = value
    return headers


def account_headers(environ: Mapping[str, str]) -> dict[str, str]:
    """The openai SDK's account headers from its environment variables (empty ones left out)."""
    return {
        header: environ[var].strip()
        for var, header in ACCOUNT_VARIABLES.items()
        if environ.get(var, "").strip()
    }
