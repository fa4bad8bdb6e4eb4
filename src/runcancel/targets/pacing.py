"""Rate limits: the suites' own pace (`N` requests a second), 429s waited out, and what was counted.

- `Pacer(rate)` spaces the starts of requests at least `1/rate` seconds apart, across threads.
- `retry_after(headers)` reads `retry-after-ms` (as the openai SDK does) or `Retry-After` (seconds or
  an HTTP date); None when neither says how long.
- `Tally` counts, for the terminal: requests sent, 429s waited out and the seconds spent waiting,
  429s not waited out (no `Retry-After`, or beyond the budget), requests retried after a transport
  fault. It keeps the 429 answers (the first `KEPT_429`), for the contract's 429 clause:
  `rate_limit_findings` checks one against it (the error envelope, `Retry-After` an integer >= 1).
"""

from __future__ import annotations

import email.utils
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    from runcancel.findings import Finding
    from runcancel.targets.exchange import Exchange

__all__ = ["KEPT_429", "Pacer", "Tally", "rate_limit_findings", "retry_after"]

KEPT_429 = 50


class Pacer:
    """Requests no faster than `rate` a second (None: no pacing)."""

    def __init__(self, rate: float | None, sleep: Callable[[float], None] = time.sleep) -> None:
        if rate is not None and not (math.isfinite(rate) and rate > 0):
            raise ValueError(f"a rate is a number of requests a second above 0, got {rate!r}")
        self.interval = 1.0 / rate if rate else 0.0
        self._next = 0.0
        self._lock = threading.Lock()
        self._sleep = sleep
        self.paused = 0.0  # seconds spent waiting for a slot, in all

    def wait(self) -> None:
        if not self.interval:
            return
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next)
            self._next = slot + self.interval
            self.paused += slot - now
        if slot > now:
            self._sleep(slot - now)


def retry_after(headers: httpx.Headers, now: float | None = None) -> float | None:
    """Seconds a 429 asks to wait: `retry-after-ms`, else `Retry-After` (seconds or an HTTP date)."""
    milliseconds = headers.get("retry-after-ms")
    if milliseconds is not None:
        try:
            value = float(milliseconds) / 1000
            if math.isfinite(value) and value >= 0:
                return value
        except ValueError:
            pass
    given = headers.get("retry-after")
    if given is None:
        return None
    try:
        seconds = float(given)
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(given)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - (time.time() if now is None else now), 0.0)


@dataclass
class Tally:
    """What the client counted, across threads."""

    requests: int = 0
    waited_429: int = 0
    waited_seconds: float = 0.0
    returned_429: int = 0  # 429s handed to the caller: no Retry-After, or beyond the budget
    retried: int = 0  # requests sent again after a reset or a close
    faults: int = 0  # transport faults left after the retry
    bounded: int = 0  # answers cut at max_answer_bytes or the deadline
    kept_429: list[Exchange] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **counts: float) -> None:
        with self._lock:
            for name, n in counts.items():
                setattr(self, name, getattr(self, name) + n)

    def keep_429(self, exchange: Exchange) -> None:
        with self._lock:
            if len(self.kept_429) < KEPT_429:
                self.kept_429.append(exchange)

    def summary_lines(self, paused: float = 0.0) -> list[str]:
        """Lines for the terminal; none when nothing slowed the run down or went wrong."""
        lines = []
        if self.waited_429:
            lines.append(
                f"rate limits: {self.waited_429} answers 429 waited out ({self.waited_seconds:.1f} s in all, "
                "as their Retry-After asked), then sent again"
            )
        if self.returned_429:
            lines.append(
                f"rate limits: {self.returned_429} answers 429 not waited out "
                "(no Retry-After, or beyond the budget)"
            )
        if paused >= 0.05:
            lines.append(f"rate limits: {paused:.1f} s spent pacing the suites' requests (--rate-limit)")
        if self.retried:
            lines.append(f"transport: {self.retried} requests sent again after a reset or a close")
        if self.faults:
            lines.append(f"transport: {self.faults} requests got no complete answer (see their findings)")
        if self.bounded:
            lines.append(
                f"transport: {self.bounded} answers cut at the size or time bound (transport.bounded_answer)"
            )
        return lines


def rate_limit_findings(exchange: Exchange) -> list[Finding]:
    """A 429 against the contract: the error envelope, and `Retry-After`, when present, an integer >= 1.

    Findings are under `error.envelope` (the contract's 429 answer is the envelope), the header's at
    `headers.retry-after`.
    """
    from runcancel.findings import Finding
    from runcancel.models import envelope_findings

    findings: list[Finding] = []
    given = exchange.headers.get("retry-after")
    if given is not None and not (given.strip().isdigit() and int(given) >= 1):
        findings.append(
            Finding("error.envelope", "headers.retry-after", "an integer >= 1 (seconds)", repr(given)[:80])
        )
    try:
        data = exchange.json()
    except ValueError:
        findings.append(Finding("error.envelope", "$", "a JSON error envelope", "not JSON"))
    else:
        findings += [f.under("error.envelope") for f in envelope_findings(data)]
    return [f.with_evidence(exchange.evidence) for f in findings]
