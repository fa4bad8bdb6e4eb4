"""The client every suite request goes through: headers, bounds, rate limits and transport faults.

`TargetClient.send` (and `send_raw`, byte for byte) sends one request and returns its `Exchange`:

- Headers: the profile's key and beta headers (`Authorization: Bearer <key>` and `OpenAI-Beta`, or
  Azure's `api-key`), the target's extra headers on top (as curl's `-H`: a name given there wins),
  then the caller's overrides, where None drops a header. An override of `Authorization` addresses
  the key slot, whichever header the profile uses: `{"Authorization": None}` sends no key,
  `{"Authorization": "Bearer X"}` sends X in it, so the suites ask for "no key" or "a wrong key"
  alike under every profile.
- Bounds: the answer is read up to `max_answer_bytes` and within `timeout` as a whole (see `bounds`).
  Beyond either, the exchange carries one finding (`transport.bounded_answer`) and is incomplete.
- Rate limits: requests are paced (`rate_limit`); a 429 whose `Retry-After` asks for no more than
  the request time-out, while the run's waits stay within `wait_budget`, is waited out and the request
  sent again. The 429 is kept in `tally.kept_429` (for the contract's 429 clause), not shown to
  observers; any other 429 is returned like any answer.
- Transport faults: a target that never accepted a connection raises `TargetUnreachable`. A reset
  or a close after the connection was accepted is sent once more when the request is idempotent
  for the contract (every GET, and whatever the caller marks `idempotent=True`: a cancel of ids that
  do not exist), and otherwise, or if it happens again, raises `TransportFault` with a finding
  (`transport.complete_answer`) and the request. No status line within the time-out raises
  `TransportFault` too (`transport.bounded_answer`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from runcancel.findings import Evidence, Finding
from runcancel.targets.bounds import BUDGET, BoundExceeded, Budget, bound_transport, guard
from runcancel.targets.errors import TargetUnreachable, TransportFault
from runcancel.targets.exchange import Exchange, _stand_in, auth_class, cancel_path, show_target
from runcancel.targets.pacing import Pacer, Tally, retry_after

if TYPE_CHECKING:
    from runcancel.targets.target import Target

__all__ = ["BOUNDED_ANSWER", "COMPLETE_ANSWER", "KEY_SLOT", "TargetClient"]

KEY_SLOT = "Authorization"
BOUNDED_ANSWER = "transport.bounded_answer"
COMPLETE_ANSWER = "transport.complete_answer"
KEPT_OF_CUT_ANSWER = 64 * 1024  # of an answer cut at a bound, this much is kept as evidence
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class _Fault(Exception):
    """A reset or a close after the target accepted the connection: may be retried."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


class TargetClient:
    """An httpx client bound to a target: its headers, its bounds, its pace, clear transport errors."""

    def __init__(
        self,
        target: Target,
        observers: Sequence[Callable[[Exchange], None]] = (),
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.target = target
        self.observers = list(observers)
        self.tally = Tally()
        self.pacer = Pacer(target.rate_limit, sleep=sleep)
        self._sleep = sleep
        self.http = httpx.Client(
            timeout=httpx.Timeout(target.timeout),
            transport=target.http_transport(),
            follow_redirects=False,
            verify=target.ssl_context(),
            trust_env=target.trust_env,
        )
        # Network transports (the default one, and one for each proxy httpx took from the environment)
        # are bounded below anything that reads a whole body itself (see `bounds`).
        bound_transport(self.http._transport)
        for mounted in self.http._mounts.values():
            if mounted is not None:
                bound_transport(mounted)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> TargetClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- headers ---------------------------------------------------------------------------------------

    def default_headers(self) -> dict[str, str]:
        t = self.target
        merged = _merge(dict(t.rules.default_headers(t.api_key)), t.extra_headers)
        return {k: v for k, v in merged.items() if v is not None}

    def headers_for(self, overrides: dict[str, str | None] | None = None) -> dict[str, str]:
        """The headers a request sends: the defaults, `overrides` on top, None dropping a header."""
        profile = self.target.rules
        given = dict(overrides or {})
        for name in [n for n in given if n.lower() == KEY_SLOT.lower()]:
            if profile.key_header.lower() != KEY_SLOT.lower():
                value = given.pop(name)
                if any(k.lower() == profile.key_header.lower() for k in given):
                    continue  # the profile's own key header, given too, wins over the slot's name
                given[profile.key_header] = (
                    None if value is None else profile.key_value(value.removeprefix("Bearer "))
                )
        merged = _merge(self.default_headers(), given)
        return {k: v for k, v in merged.items() if v is not None}

    # -- requests --------------------------------------------------------------------------------------

    def url(self, path: str) -> str:
        """The full URL of `path` below the base URL, with the target's query."""
        query = self.target.query
        if not query:
            return self.target.base_url + path
        return self.target.base_url + path + ("&" if "?" in path else "?") + query

    def send(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        headers: dict[str, str | None] | None = None,
        idempotent: bool | None = None,
    ) -> Exchange:
        """Send one request. `headers` overrides the defaults; a value of None drops that header.

        `idempotent` (default: GET and HEAD are) lets a reset or a close be answered by sending again.
        """
        sent = self.headers_for(headers)
        url = self.url(path)

        def build(budget: Budget) -> httpx.Request:
            return self.http.build_request(
                method, url, json=json_body, headers=sent, extensions=_extensions(budget)
            )

        return self._send(method, url, sent, build, _idempotent(method, idempotent))

    def send_raw(
        self,
        method: str,
        target: bytes,
        *,
        headers: dict[str, str | None] | None = None,
        idempotent: bool | None = None,
    ) -> Exchange:
        """Send `target` (the request-target below the base URL's path) byte for byte, without a body.

        httpx would resolve `.` and `..` segments, cut the path at `#` and refuse bytes a URL cannot
        hold; here the bytes reach the server as given (httpcore's `target` extension; the in-process
        transport builds the ASGI `raw_path` from it). The target's query follows them. The URL httpx
        keeps, and so what a cassette records, is the same target where httpx can hold it unchanged,
        else the target with its dot segments and the bytes a URL path cannot hold percent-encoded. The
        exchange's `url` shows the target as sent, bytes outside printable ASCII as `\\xNN`.
        """
        sent = self.headers_for(headers)
        parts = urlsplit(self.target.base_url)
        full = parts.path.encode("ascii") + target
        if self.target.query:
            full += (b"&" if b"?" in target else b"?") + self.target.query.encode("ascii")
        origin = httpx.URL(urlunsplit((parts.scheme, parts.netloc, "", "", "")))
        try:
            url = origin.copy_with(raw_path=full)
            faithful = url.raw_path == full
        except (httpx.InvalidURL, UnicodeError):
            faithful = False
        if not faithful:
            url = origin.copy_with(raw_path=_stand_in(full))
        shown = f"{origin}{show_target(full)}"

        def build(budget: Budget) -> httpx.Request:
            return self.http.build_request(
                method, url, headers=sent, extensions={**_extensions(budget), "target": full}
            )

        return self._send(method, shown, sent, build, _idempotent(method, idempotent))

    def cancel(self, thread_id: str, run_id: str, **kwargs: Any) -> Exchange:
        return self.send("POST", cancel_path(thread_id, run_id), **kwargs)

    def check_reachable(self) -> None:
        """Raise TargetError unless the target answers HTTP at all (any status will do)."""
        self.send("GET", "/models")

    def summary_lines(self) -> list[str]:
        """What slowed the run down or went wrong on the way, for the terminal (see `Tally`)."""
        return self.tally.summary_lines(self.pacer.paused)

    # -- the loop: pace, send, wait out 429s, retry a fault once ---------------------------------------

    def _send(
        self,
        method: str,
        url: str,
        sent: dict[str, str],
        build: Callable[[Budget], httpx.Request],
        idempotent: bool,
    ) -> Exchange:
        retried = False
        while True:
            self.pacer.wait()
            self.tally.add(requests=1)
            try:
                exchange = self._attempt(method, url, sent, build)
            except _Fault as fault:
                if idempotent and not retried:
                    retried = True
                    self.tally.add(retried=1)
                    continue
                self.tally.add(faults=1)
                raise self._fault(method, url, fault.what, retried) from None
            if exchange.status == 429 and self._wait_out(exchange):
                continue
            for observe in self.observers:
                observe(exchange)
            return exchange

    def _wait_out(self, exchange: Exchange) -> bool:
        """Keep a 429; wait as long as it asks and say True, when that fits the time-out and the budget."""
        self.tally.keep_429(exchange)
        wait = retry_after(exchange.headers)
        t = self.target
        if wait is None or wait > t.timeout or self.tally.waited_seconds + wait > t.wait_budget:
            self.tally.add(returned_429=1)
            return False
        self.tally.add(waited_429=1, waited_seconds=wait)
        self._sleep(wait)
        return True

    def _attempt(
        self, method: str, url: str, sent: dict[str, str], build: Callable[[Budget], httpx.Request]
    ) -> Exchange:
        t = self.target
        budget = Budget(t.max_answer_bytes, t.timeout)
        started = time.perf_counter()
        response: httpx.Response | None = None
        chunks: list[bytes] = []
        try:
            response = self.http.send(build(budget), stream=True)
            chunks.extend(guard(response.iter_bytes(), budget))
        except BoundExceeded as exc:
            return self._cut(method, url, sent, response, budget, exc, chunks, started)
        except httpx.TimeoutException as exc:
            if isinstance(exc, httpx.ConnectTimeout):
                raise TargetUnreachable(
                    f"runcancel: target {t.label} did not accept a connection within {t.timeout:g} s. "
                    "Check the address and that the server is up, or allow more time with --request-timeout."
                ) from None
            if response is not None:
                return self._cut(
                    method, url, sent, response, budget, BoundExceeded("time", budget, 0), chunks, started
                )
            raise self._no_answer(method, url, exc) from None
        except httpx.ConnectError as exc:
            raise self._unreachable(exc) from None
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
            began = "after its answer began" if response is not None else "before any answer"
            raise _Fault(f"the connection was {_how_closed(exc)} {began}") from None
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from None
        finally:
            if response is not None:
                response.close()
        return Exchange(
            method=method,
            url=url,
            status=response.status_code,
            headers=response.headers,
            content=b"".join(chunks),
            elapsed=time.perf_counter() - started,
            auth=self._auth(sent),
            beta=_get(sent, "OpenAI-Beta"),
        )

    def _auth(self, sent: dict[str, str]) -> str:
        profile = self.target.rules
        return auth_class(_get(sent, profile.key_header), self.target.api_key, profile.key_prefix)

    def _cut(
        self,
        method: str,
        url: str,
        sent: dict[str, str],
        response: httpx.Response | None,
        budget: Budget,
        exc: BoundExceeded,
        chunks: list[bytes],
        started: float,
    ) -> Exchange:
        """The exchange of an answer cut at a bound: what was read of it, and its one finding."""
        if response is not None:
            status, headers = response.status_code, response.headers
        elif budget.status is not None:
            status, headers = budget.status, httpx.Headers(budget.headers or [])
        else:
            raise self._no_answer(method, url, exc)
        self.tally.add(bounded=1)
        t = self.target
        finding = Finding(
            BOUNDED_ANSWER,
            "body",
            f"a complete answer within {t.max_answer_bytes} bytes and {t.timeout:g} s",
            exc.describe(),
            evidence=Evidence(method, url, status),
        )
        kept = bytearray()
        for chunk in chunks:
            kept += chunk[: KEPT_OF_CUT_ANSWER - len(kept)]
            if len(kept) >= KEPT_OF_CUT_ANSWER:
                break
        return Exchange(
            method=method,
            url=url,
            status=status,
            headers=headers,
            content=bytes(kept),
            elapsed=time.perf_counter() - started,
            auth=self._auth(sent),
            beta=_get(sent, "OpenAI-Beta"),
            findings=(finding,),
            complete=False,
        )

    def _no_answer(self, method: str, url: str, exc: Exception) -> TransportFault:
        t = self.target
        self.tally.add(faults=1)
        finding = Finding(
            BOUNDED_ANSWER,
            "status",
            f"an answer within {t.timeout:g} s",
            f"no status line within {t.timeout:g} s",
            evidence=Evidence(method, url),
        )
        return TransportFault(
            f"runcancel: target {t.label} did not answer {method} {url} within {t.timeout:g} s "
            f"({_cause(exc)}). Check the server, or allow more time with --request-timeout.",
            finding,
        )

    def _fault(self, method: str, url: str, what: str, retried: bool) -> TransportFault:
        again = " twice (the request was sent again, being idempotent)" if retried else ""
        finding = Finding(
            COMPLETE_ANSWER,
            "status",
            "a complete answer on the connection the target accepted",
            f"{what}{again}",
            evidence=Evidence(method, url),
        )
        return TransportFault(
            f"runcancel: target {self.target.label} gave no complete answer to {method} {url}: "
            f"{what}{again}. The server accepted the connection, so it is up; this request is "
            "recorded as a finding and the run goes on.",
            finding,
        )

    def _unreachable(self, exc: Exception) -> TargetUnreachable:
        return TargetUnreachable(
            f"runcancel: cannot reach target {self.target.label} ({_cause(exc)}). Start a server "
            "there, or run without --target to use the built-in mock."
        )


def _extensions(budget: Budget) -> dict[str, Any]:
    return {BUDGET: budget, "trace": budget.trace}


def _idempotent(method: str, given: bool | None) -> bool:
    return method.upper() in IDEMPOTENT_METHODS if given is None else given


def _get(headers: dict[str, str], name: str) -> str | None:
    lowered = name.lower()
    return next((v for k, v in headers.items() if k.lower() == lowered), None)


def _merge(base: Mapping[str, str | None], top: Mapping[str, str | None]) -> dict[str, str | None]:
    """`base` with `top` on top, names compared without case (the later spelling kept)."""
    merged: dict[str, str | None] = dict(base)
    for name, value in top.items():
        for existing in [k for k in merged if k.lower() == name.lower()]:
            del merged[existing]
        merged[name] = value
    return merged


def _how_closed(exc: Exception) -> str:
    text = str(exc).lower()
    if "reset" in text:
        return "reset"
    if "incomplete" in text or "peer closed" in text:
        return "closed in the middle of the body"
    return "closed"


def _cause(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    lowered = text.lower()
    if "refused" in lowered:
        return "connection refused"
    if "name or service not known" in lowered or "nodename nor servname" in lowered:
        return "unknown host"
    if "certificate" in lowered:
        return "its TLS certificate was not accepted: give --ca-bundle FILE, or --insecure to skip the check"
    return text.splitlines()[0][:200]
