"""Whole-target verdicts, drawn only from the requests that prove them.

A verdict is a statement about the target as a whole (say, every request it was sent with the key
was refused), reported once and first, instead of forty clause failures that all say the same. Each
kind rests on the answers that show it: `endpoint-retired` needs answers on the cancel path itself,
`cannot-arrange` names the arranging request that failed, `stateless-mock` the cancel answers that
reflected no run. These are pure functions over what a session saw (`session.Seen` records, or
`drift.Answer`: anything with `method`, `url`, `auth`, `status` and `body`).

`key_for` decides which key the suites send: the built-in mock's key never goes to another target
unless it is given explicitly.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

from runcancel.findings import Evidence, TargetVerdict, preview

__all__ = [
    "ARRANGING_ROUTES",
    "BLOCKING",
    "KINDS",
    "Exchanged",
    "blocking_verdict",
    "key_for",
    "route_of",
    "target_verdicts",
]

# The key the built-in mock accepts (settings.DEFAULT_API_KEY): repeated here so that this module
# depends on nothing but findings; a test pins the two together.
MOCK_KEY = "sk-runcancel-mock"
INTERNAL_TARGETS = frozenset({"mock", "replay"})

KINDS: dict[str, str] = {
    "auth-refused": "every request sent with the suites' key was refused (401 or 403)",
    "endpoint-retired": "every cancel and every other request failed as an unknown or gone route",
    "cannot-arrange": "no run could be created: an arranging request failed and nothing was created",
    "cancel-server-error": "every cancel was answered with a server error (5xx)",
    "route-not-implemented": "runs were created, but cancelling them answered 404",
    "stateless-mock": "no cancel answer reflected a run: never-created ids answered 2xx, ids not echoed, "
    "or a status other than cancelling/cancelled",
}
# The verdicts that explain why nothing could be arranged: with one standing, a clause that needs a
# run is not verified (pointing at the verdict) rather than failed on its own.
BLOCKING = frozenset({"auth-refused", "endpoint-retired", "cannot-arrange"})
# Statuses a server without a route gives: they prove the route is missing, nothing else.
_ROUTE_MISSING = frozenset({404, 405, 410, 501})
_AUTH_REFUSED = frozenset({401, 403})
ARRANGING_ROUTES: dict[tuple[str, str], str] = {
    ("POST", "/assistants"): "create an assistant",
    ("POST", "/threads"): "create a thread",
    ("POST", "/threads/{id}/runs"): "create a run",
    ("GET", "/threads/{id}/runs/{id}"): "read a run back",
}
CANCEL_ROUTE = "/threads/{id}/runs/{id}/cancel"
_ID_AFTER = frozenset({"threads", "runs", "assistants", "steps", "messages"})
EVIDENCE_SHOWN = 3


class Exchanged(Protocol):
    """What a verdict reads of one answer (`session.Seen` and `drift.Answer` both have it)."""

    @property
    def method(self) -> str: ...
    @property
    def url(self) -> str: ...
    @property
    def auth(self) -> str: ...
    @property
    def status(self) -> int: ...
    @property
    def body(self) -> Any: ...


def key_for(
    given: str | None, source: str, *, target: str, mock_key: str = MOCK_KEY
) -> tuple[str | None, str]:
    """Which key to send, and a description of where it came from (never the key itself).

    `given`/`source` are the api_key setting and its source (`--api-key`, `OPENAI_API_KEY`, ...);
    `target` the target setting (`mock`, `replay` or a URL). A key given anywhere is sent as given
    (giving the built-in mock's key explicitly is how to send it to another target). Without one,
    the built-in mock and the replayed cassettes get the mock's key, and any other target gets none.
    """
    if given:
        return given, f"the key from {source}"
    if target.strip() in INTERNAL_TARGETS:
        return mock_key, "the built-in mock's key"
    return None, (
        "no key: none was given with --api-key or OPENAI_API_KEY, and the built-in mock's key is sent "
        "only to the built-in mock"
    )


def route_of(url: str) -> str:
    """`http://h/v1/threads/thread_a/runs/run_b/cancel` -> `/threads/{id}/runs/{id}/cancel`."""
    segments = [unquote(s) for s in urlsplit(url).path.split("/")]
    for start, segment in enumerate(segments):
        if segment in ("threads", "assistants"):
            segments = segments[start:]
            break
    else:
        return "/" + "/".join(s for s in segments if s)
    out = ["{id}" if i > 0 and segments[i - 1] in _ID_AFTER else s for i, s in enumerate(segments)]
    return "/" + "/".join(out)


def _run_id(url: str) -> str | None:
    segments = [unquote(s) for s in urlsplit(url).path.split("/")]
    for i, segment in enumerate(segments[:-1]):
        if segment == "runs":
            return segments[i + 1]
    return None


def _is_cancel(a: Exchanged) -> bool:
    return a.method == "POST" and route_of(a.url) == CANCEL_ROUTE


def _code(a: Exchanged) -> Any:
    body = a.body
    error = body.get("error") if isinstance(body, dict) else None
    return error.get("code") if isinstance(error, dict) else None


def _gone(a: Exchanged) -> bool:
    return a.status in _ROUTE_MISSING or _code(a) == "unknown_url"


def _shown(answers: Sequence[Exchanged]) -> tuple[str, ...]:
    return tuple(str(Evidence(a.method, a.url, a.status)) for a in answers[:EVIDENCE_SHOWN])


def _statuses(answers: Iterable[Exchanged]) -> str:
    return "/".join(str(s) for s in sorted({a.status for a in answers}))


@dataclass(frozen=True)
class _Seen:
    """The session's answers, sorted into what the verdicts ask about."""

    keyed: list[Exchanged]  # sent with the session's key (or, with no key, as the suites send by default)
    cancels: list[Exchanged]
    arranging: list[Exchanged]
    created: frozenset[str]

    @classmethod
    def of(cls, answers: Iterable[Exchanged], key_sent: bool) -> _Seen:
        default_auth = "valid" if key_sent else "absent"
        keyed = [a for a in answers if a.auth == default_auth]
        created = frozenset(str(a.body["id"]) for a in keyed if _proves_a_run(a))
        arranging = [a for a in keyed if (a.method, route_of(a.url)) in ARRANGING_ROUTES]
        return cls(keyed, [a for a in keyed if _is_cancel(a)], arranging, created)


def _proves_a_run(answer: Exchanged) -> bool:
    """A 2xx Run that exists on the target: one it created, or one read back under its own id
    (however it was made: a provider state, say)."""
    if not (200 <= answer.status < 300 and isinstance(answer.body, dict) and "id" in answer.body):
        return False
    route = route_of(answer.url)
    if answer.method == "POST":
        return route == "/threads/{id}/runs"
    return (
        answer.method == "GET"
        and route == "/threads/{id}/runs/{id}"
        and answer.body["id"] == _run_id(answer.url)
    )


def target_verdicts(
    answers: Iterable[Exchanged], *, key_source: str = "", key_sent: bool = True
) -> list[TargetVerdict]:
    """What the target is, where its answers prove it. `key_source` is `key_for`'s description of the
    key the suites sent; `key_sent` False when they sent none (then their default requests carry no
    Authorization header, and are the ones judged)."""
    seen = _Seen.of(answers, key_sent)
    if not seen.keyed:
        return []
    refused = _auth_refused(seen, key_source, key_sent)
    if refused is not None:
        return [refused]
    retired = _retired(seen)
    if retired is not None:
        return [retired]
    verdicts = [v for v in (_cannot_arrange(seen), _cancel_server_error(seen)) if v is not None]
    verdicts += [v for v in (_route_missing(seen), _stateless(seen)) if v is not None]
    return verdicts


def blocking_verdict(verdicts: Iterable[TargetVerdict]) -> TargetVerdict | None:
    """The first verdict that explains why no run could be arranged, if one stands."""
    return next((v for v in verdicts if v.kind in BLOCKING), None)


def _auth_refused(seen: _Seen, key_source: str, key_sent: bool) -> TargetVerdict | None:
    if not all(a.status in _AUTH_REFUSED for a in seen.keyed):
        return None
    sent = key_source or ("the suites' key" if key_sent else "no key")
    return TargetVerdict(
        "auth-refused",
        f"authentication refused: all {len(seen.keyed)} requests sent with {sent} were answered "
        f"{_statuses(seen.keyed)}, none was served; every clause is not verified. Give the target's own "
        "key with --api-key KEY or the OPENAI_API_KEY environment variable",
        _shown(seen.keyed),
    )


def _retired(seen: _Seen) -> TargetVerdict | None:
    """Every cancel, and every other request, answered as a route that is gone or never was."""
    if not seen.cancels or any(200 <= a.status < 300 for a in seen.keyed):
        return None
    if not all(_gone(a) for a in seen.keyed):
        return None
    return TargetVerdict(
        "endpoint-retired",
        f"endpoint retired or not implemented: all {len(seen.cancels)} cancel requests were answered "
        f"{_statuses(seen.cancels)}, and none of the {len(seen.keyed)} requests succeeded; every clause "
        "is not verified. If the target serves the API under another base path, give that path "
        "(--target http://host:port/v1, the URL where /threads begins)",
        _shown(seen.cancels),
    )


def _cannot_arrange(seen: _Seen) -> TargetVerdict | None:
    """An arranging request failed and no run was ever created."""
    if seen.created:
        return None
    failed = [a for a in seen.arranging if not 200 <= a.status < 300]
    if not failed:
        return None
    first = failed[0]
    what = ARRANGING_ROUTES[(first.method, route_of(first.url))]
    detail = _detail(first.body)
    return TargetVerdict(
        "cannot-arrange",
        f"cannot arrange: the request to {what} ({first.method} {route_of(first.url)}) was answered "
        f"{first.status}{detail}, and no run was ever created, so every clause that needs one is not "
        "verified. Check the base path (the target URL should end where /assistants and /threads begin, "
        "e.g. /v1), that the server implements /assistants, /threads and /threads/{id}/runs, and the key",
        _shown(failed),
    )


def _detail(body: Any) -> str:
    error = body.get("error") if isinstance(body, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    if message is None and isinstance(body, dict):
        message = body.get("detail")
    return f" ({preview(message, 100)})" if isinstance(message, str) else ""


def _cancel_server_error(seen: _Seen) -> TargetVerdict | None:
    if not seen.cancels or not all(a.status >= 500 for a in seen.cancels):
        return None
    return TargetVerdict(
        "cancel-server-error",
        f"cancel fails on the server: all {len(seen.cancels)} cancel requests were answered "
        f"{_statuses(seen.cancels)}; the clauses that need a cancel answer fail on these answers",
        _shown(seen.cancels),
    )


def _route_missing(seen: _Seen) -> TargetVerdict | None:
    of_created = [a for a in seen.cancels if _run_id(a.url) in seen.created]
    if not of_created or not all(a.status == 404 for a in of_created):
        return None
    return TargetVerdict(
        "route-not-implemented",
        f"cancel route not implemented: the target created {len(seen.created)} runs but answered 404 "
        f"to all {len(of_created)} cancels of them",
        _shown(of_created),
    )


def _stateless(seen: _Seen) -> TargetVerdict | None:
    """Every 2xx cancel answer reflects no run: an id nobody created, or not echoed, or a status a
    cancel cannot leave (a mock answering its document's example does all three)."""
    ok = [a for a in seen.cancels if 200 <= a.status < 300 and isinstance(a.body, dict)]
    reasons = [(a, _unreflected(a, seen.created)) for a in ok]
    if not ok or not all(why for _, why in reasons):
        return None
    return TargetVerdict(
        "stateless-mock",
        f"stateless mock: none of the {len(ok)} successful cancel answers reflected the run it named "
        "(ids never created answered 2xx, ids not echoed, statuses other than cancelling or cancelled), "
        "as a mock that answers its document's examples does; the lifecycle it claims is not real",
        tuple(f"{Evidence(a.method, a.url, a.status)}: {why}" for a, why in reasons[:EVIDENCE_SHOWN]),
    )


def _unreflected(a: Exchanged, created: frozenset[str]) -> str:
    run_id, body = _run_id(a.url), a.body
    why = []
    if run_id not in created:
        why.append("the run was never created")
    if body.get("id") != run_id:
        why.append(f"id {preview(body.get('id'))} not echoed")
    if body.get("status") not in ("cancelling", "cancelled"):
        why.append(f"status {preview(body.get('status'))}")
    return ", ".join(why)
