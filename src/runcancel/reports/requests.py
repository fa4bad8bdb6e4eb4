"""Which test sent which request: the evidence a passed clause shows (the requests that verified it).

A `RequestLog` observes the target client's exchanges (as `SessionRecord.observe` does) and files
each under the test or the shared fixture that is running: `with log.running(item.nodeid): ...`
around a test, `with log.running(<test file's path>): ...` around a module-scoped fixture's setup.
`build_report(..., requests=log.mapping())` then lists, for each passed clause, the requests of its
tests (or of the shared fixture of their file).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from runcancel.findings import Evidence

if TYPE_CHECKING:
    from runcancel.targets import Exchange

__all__ = ["RequestLog"]

# Requests kept for one test or fixture: a report shows a handful, the rest is counted by the report.
PER_KEY = 50


class RequestLog:
    """The requests sent while each test (or shared fixture) ran; URLs cleaned by `clean`."""

    def __init__(self, clean: Callable[[str], str] = str) -> None:
        self.clean = clean
        self._lock = threading.Lock()
        self._by_key: dict[str, list[Evidence]] = {}
        self._running: list[str] = []

    @contextlib.contextmanager
    def running(self, key: str) -> Iterator[None]:
        """File the requests sent inside this block under `key` (a node id, or a test file's path)."""
        with self._lock:
            self._running.append(key)
        try:
            yield
        finally:
            with self._lock:
                self._running.remove(key)

    def observe(self, exchange: Exchange) -> None:
        """An observer of `TargetClient`: keeps the request and its answer's status."""
        with self._lock:
            if not self._running:
                return
            kept = self._by_key.setdefault(self._running[-1], [])
            if len(kept) < PER_KEY:
                kept.append(Evidence(exchange.method, self.clean(exchange.url), exchange.status))

    def mapping(self) -> dict[str, tuple[Evidence, ...]]:
        with self._lock:
            return {key: tuple(found) for key, found in self._by_key.items()}
