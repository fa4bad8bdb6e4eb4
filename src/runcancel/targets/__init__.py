"""Targets: the server a suite talks to, how it is reached, and the record of each exchange.

A target is a base URL (the built-in mock's, any server's, or an app in this process) with a key,
a profile (`openai`, `azure`), extra headers, TLS settings and bounds. Every request goes through
`TargetClient.send` (or `send_raw`), which returns an `Exchange` for the checks to read.

- `urls`: base URLs as the openai SDK takes them, and the errors for URLs that are not one.
- `auth`: keys and extra headers refused before anything is sent; the SDK's account headers.
- `profiles`: `openai` and `azure` (read from the contract's `x-profiles` overlay).
- `client`: headers, bounded answers, 429s waited out, pacing, transport faults retried or reported.
- `bounds`, `pacing`: the byte and time bounds of an answer; the pace and the counts.
- `asgi`: an in-process ASGI app as a sync transport, raw paths byte for byte.
- `exchange`: the Exchange record, cancel paths, how request-targets are shown.
"""

from runcancel.targets.asgi import ASGI_PREFIX, ASGITransport, load_app
from runcancel.targets.auth import (
    account_headers,
    check_key,
    is_auth_like,
    key_tail,
    parse_header,
    parse_headers,
)
from runcancel.targets.bounds import DEFAULT_MAX_ANSWER_BYTES, BoundExceeded, Budget
from runcancel.targets.client import BOUNDED_ANSWER, COMPLETE_ANSWER, KEY_SLOT, TargetClient
from runcancel.targets.errors import TargetError, TargetUnreachable, TransportFault
from runcancel.targets.exchange import (
    SHORTENED_SEGMENT,
    Exchange,
    _stand_in,
    auth_class,
    cancel_path,
    show_target,
)
from runcancel.targets.pacing import Pacer, Tally, rate_limit_findings, retry_after
from runcancel.targets.profiles import BETA_HEADER, PROFILES, Profile, get_profile
from runcancel.targets.target import ASGI_BASE, DEFAULT_TIMEOUT, DEFAULT_WAIT_BUDGET, Target
from runcancel.targets.urls import ADDED_PATH, BaseURL, normalize_base_url, parse_base_url, shown_url

__all__ = [
    "ADDED_PATH",
    "ASGI_BASE",
    "ASGI_PREFIX",
    "BETA_HEADER",
    "BOUNDED_ANSWER",
    "COMPLETE_ANSWER",
    "DEFAULT_MAX_ANSWER_BYTES",
    "DEFAULT_TIMEOUT",
    "DEFAULT_WAIT_BUDGET",
    "KEY_SLOT",
    "PROFILES",
    "SHORTENED_SEGMENT",
    "ASGITransport",
    "BaseURL",
    "BoundExceeded",
    "Budget",
    "Exchange",
    "Pacer",
    "Profile",
    "Tally",
    "Target",
    "TargetClient",
    "TargetError",
    "TargetUnreachable",
    "TransportFault",
    "_stand_in",
    "account_headers",
    "auth_class",
    "cancel_path",
    "check_key",
    "get_profile",
    "is_auth_like",
    "key_tail",
    "load_app",
    "normalize_base_url",
    "parse_base_url",
    "parse_header",
    "parse_headers",
    "rate_limit_findings",
    "retry_after",
    "show_target",
    "shown_url",
]
