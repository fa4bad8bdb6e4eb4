"""`Target`: where the suites send their requests, and everything about how they reach it.

Every argument is checked when the Target is made, so a bad value is one paragraph (`TargetError`)
before any request: the URL (see `urls`), the key (see `auth.check_key`), the profile and what it
requires of the URL, the extra headers, the time-out, the bounds, the rate, the CA bundle.
"""

from __future__ import annotations

import math
import ssl
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from runcancel.targets.asgi import ASGI_PREFIX, ASGITransport, load_app
from runcancel.targets.auth import ACCOUNT_VARIABLES, check_key, is_auth_like, key_tail, parse_headers
from runcancel.targets.bounds import DEFAULT_MAX_ANSWER_BYTES
from runcancel.targets.client import TargetClient
from runcancel.targets.errors import TargetError
from runcancel.targets.exchange import Exchange
from runcancel.targets.profiles import Profile, get_profile
from runcancel.targets.urls import BaseURL, UserInfo, parse_base_url

__all__ = ["ASGI_BASE", "DEFAULT_TIMEOUT", "DEFAULT_WAIT_BUDGET", "NO_KEY", "Target"]

DEFAULT_TIMEOUT = 10.0
DEFAULT_WAIT_BUDGET = 120.0  # seconds a run may spend, in all, waiting out 429s
ASGI_BASE = "http://in-process.invalid"  # the origin of an in-process app's requests (never resolved)
SMALLEST_MAX_ANSWER = 1024
NO_KEY = (
    "no API key given, so none is sent (give the target's key with --api-key KEY or the "
    "OPENAI_API_KEY environment variable)"
)


@dataclass
class Target:
    """Where the suites send their requests, and how.

    `transport` may be any `httpx.BaseTransport`, or an ASGI app (served in-process, see `asgi`).
    `verify` is True (the system's trust, or `SSL_CERT_FILE` when `trust_env`), False (no check:
    `--insecure`) or the path of a CA bundle (`--ca-bundle`). `userinfo="key"` takes the key from
    the URL's user info instead of refusing it. `headers` are sent on every request (NAME:VALUE
    strings or a mapping), on top of the profile's key and beta headers. `api_key` None sends no key
    at all (none was given for a target other than the built-in mock: see `verdicts.key_for`).
    """

    base_url: str
    api_key: str | None
    timeout: float = DEFAULT_TIMEOUT
    label: str = ""
    transport: Any = field(default=None, repr=False)
    profile: Profile | str = "openai"
    headers: Mapping[str, str] | Iterable[str] = field(default=(), repr=False)
    max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES
    rate_limit: float | None = None
    wait_budget: float = DEFAULT_WAIT_BUDGET
    verify: bool | str = True
    trust_env: bool = True
    userinfo: UserInfo = "refuse"
    base: BaseURL = field(init=False, repr=False)
    extra_headers: dict[str, str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.profile = get_profile(self.profile)
        given = self.base_url
        self.base = parse_base_url(given, userinfo=self.userinfo)
        if self.base.credentials is not None:
            self.api_key = self.base.credentials
        if self.api_key is not None:
            self.api_key = check_key(
                self.api_key, "the API key" if self.base.credentials is None else "the key in the URL"
            )
        self.rules.check(self.base, self.base.shown)
        self.base_url = self.base.url
        self.label = self.label or self.base.shown
        self.extra_headers = parse_headers(self.headers)
        if not (isinstance(self.timeout, int | float) and math.isfinite(self.timeout) and self.timeout > 0):
            raise TargetError(
                "runcancel: --request-timeout takes a finite number of seconds above 0, got "
                f"{self.timeout!r}. Example: --request-timeout 10"
            )
        if not (isinstance(self.max_answer_bytes, int) and self.max_answer_bytes >= SMALLEST_MAX_ANSWER):
            raise TargetError(
                f"runcancel: --max-answer-bytes takes a whole number of at least {SMALLEST_MAX_ANSWER}, got "
                f"{self.max_answer_bytes!r}. Example: --max-answer-bytes 8388608 (8 MiB, the default)"
            )
        rate = self.rate_limit
        if rate is not None and not (isinstance(rate, int | float) and math.isfinite(rate) and rate > 0):
            raise TargetError(
                f"runcancel: --rate-limit takes a number of requests a second above 0, got {rate!r}. "
                "Example: --rate-limit 5/s"
            )
        if not (math.isfinite(self.wait_budget) and self.wait_budget >= 0):
            raise TargetError(
                f"runcancel: the budget for waiting out 429s must be >= 0 s, got {self.wait_budget!r}"
            )
        if self.transport is not None and not isinstance(self.transport, httpx.BaseTransport):
            if not callable(self.transport):
                raise TargetError(
                    f"runcancel: a Target's transport is an httpx.BaseTransport or an ASGI app, got "
                    f"{type(self.transport).__name__}."
                )
            self.transport = ASGITransport(self.transport)
        self.ssl_context()  # a CA bundle that cannot be read is refused now, not at the first request

    # -- made from a spec ---------------------------------------------------------------------------------

    @classmethod
    def from_spec(cls, spec: str | Any, api_key: str | None, **kwargs: Any) -> Target:
        """A Target from a URL, from `asgi:MODULE:ATTR[/BASE/PATH][?QUERY]` (an app of this process), or
        from an ASGI app or `httpx.BaseTransport` object (for a pytest fixture to hand over)."""
        if not isinstance(spec, str):
            kwargs.setdefault("label", f"the in-process app {_name_of(spec)}")
            return cls(ASGI_BASE, api_key, transport=spec, **kwargs)
        text = spec.strip()
        if not text.startswith(ASGI_PREFIX):
            return cls(text, api_key, **kwargs)
        name, rest = _split_spec(text)
        app = load_app(name)
        kwargs.setdefault("label", f"the in-process app {name.removeprefix(ASGI_PREFIX)}")
        return cls(ASGI_BASE + rest, api_key, transport=app, **kwargs)

    # -- what the client is built from ----------------------------------------------------------------

    @property
    def rules(self) -> Profile:
        """The profile (`profile` given as a name is resolved when the Target is made)."""
        return get_profile(self.profile)

    @property
    def query(self) -> str:
        return self.base.query

    @property
    def in_process(self) -> bool:
        return isinstance(self.transport, ASGITransport)

    def http_transport(self) -> httpx.BaseTransport | None:
        return self.transport if isinstance(self.transport, httpx.BaseTransport) else None

    def ssl_context(self) -> ssl.SSLContext | bool:
        if self.verify is True or self.verify is False:
            return self.verify
        path = Path(str(self.verify)).expanduser()
        try:
            return ssl.create_default_context(cafile=str(path))
        except (OSError, ssl.SSLError, ValueError) as exc:
            raise TargetError(
                f"runcancel: --ca-bundle {str(path)!r} cannot be used as CA certificates "
                f"({getattr(exc, 'strerror', None) or exc}). Give a PEM file of the CA that signed the "
                "target's certificate, or --insecure to skip the check (said so in the report)."
            ) from None

    def client(self, observers: Iterable[Callable[[Exchange], None]] = ()) -> TargetClient:
        return TargetClient(self, list(observers))

    # -- what is secret, and what the report header says -------------------------------------------

    def secrets(self) -> dict[str, str]:
        """Every value of this target that is a credential, with the placeholder a scrubber puts instead:
        the key, user info, secret query values, auth-like and account header values."""
        found = {self.api_key: "<api-key>"} if self.api_key else {}
        for value in self.base.secrets():
            found.setdefault(value, "<redacted>")
        account = {h.lower(): h for h in ACCOUNT_VARIABLES.values()}
        for name, value in self.extra_headers.items():
            if name.lower() == "openai-organization":
                found.setdefault(value, "<org-id>")
            elif name.lower() == "openai-project":
                found.setdefault(value, "<project-id>")
            elif is_auth_like(name) or name.lower() in account:
                found.setdefault(value, "<redacted>")
                bare = value.split(" ", 1)[1] if " " in value else ""  # `Bearer xyz`: xyz alone too
                if len(bare) >= 6:
                    found.setdefault(bare, "<redacted>")
        return found

    def describe(self) -> list[str]:
        """What the report header shows of this target (no secret, only names and tails)."""
        where = self.label if self.base.shown in self.label else f"{self.label} ({self.base.shown})"
        if self.in_process:
            where = f"{self.label}, in-process (base path {self.base.path or '/'})"
        lines = [f"target {where}"]
        if self.base.path_added:
            lines.append(
                "base URL: the URL had no path, so /v1 was added (give a path, e.g. '/', to use another)"
            )
        rules = self.rules
        key = rules.key_header + (": Bearer" if rules.key_prefix else "")
        beta = "OpenAI-Beta: " + ", ".join(rules.beta.values()) if rules.beta else "no OpenAI-Beta"
        if self.api_key is None:
            lines.append(f"profile {rules.name}: {NO_KEY}, {beta}")
        else:
            lines.append(f"profile {rules.name}: key in {key} ({key_tail(self.api_key)}), {beta}")
        if rules.not_applicable:
            lines.append("not applicable under this profile: " + ", ".join(rules.not_applicable))
        if self.extra_headers:
            shown = [
                f"{n}: <not shown>" if is_auth_like(n) or n.lower().startswith("openai-") else f"{n}: {v}"
                for n, v in self.extra_headers.items()
            ]
            lines.append("extra headers: " + "; ".join(shown))
        if self.verify is False:
            lines.append("TLS: certificates NOT verified (--insecure)")
        elif self.verify is not True:
            lines.append(f"TLS: certificates verified against {self.verify}")
        lines.append(
            f"answers bounded at {self.max_answer_bytes} bytes and {self.timeout:g} s each"
            + (f"; paced at {self.rate_limit:g} requests/s" if self.rate_limit else "")
        )
        return lines


def _split_spec(text: str) -> tuple[str, str]:
    """`asgi:pkg.mod:app/api/v1?x=1` -> (`asgi:pkg.mod:app`, `/api/v1?x=1`)."""
    body = text.removeprefix(ASGI_PREFIX)
    module, colon, attr = body.partition(":")
    cut = min((i for i in (attr.find("/"), attr.find("?")) if i >= 0), default=len(attr))
    return ASGI_PREFIX + module + colon + attr[:cut], attr[cut:]


def _name_of(app: Any) -> str:
    if isinstance(app, httpx.BaseTransport):
        return type(app).__name__
    return getattr(app, "__qualname__", None) or type(app).__qualname__
