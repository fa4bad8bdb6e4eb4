"""The request log: one line per request (method, path, status, milliseconds, and what changed)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

_PATH_MAX = 120


class RequestLog:
    """Writes lines like ``POST /v1/threads/T/runs/R/cancel 200 0.4ms R in_progress -> cancelling``."""

    def __init__(self, sink: Callable[[str], None]) -> None:
        self._sink = sink

    def write(self, scope: dict[str, Any], status: int, started: float, facts: list[str]) -> None:
        elapsed = (time.perf_counter() - started) * 1000
        path = scope.get("raw_path") or scope["path"].encode("utf-8", "surrogatepass")
        shown = path.decode("ascii", "backslashreplace")
        if len(shown) > _PATH_MAX:
            shown = f"{shown[:_PATH_MAX]}...({len(shown)} bytes)"
        line = f"{scope['method']} {shown} {status} {elapsed:.1f}ms"
        if facts:
            line += " " + "; ".join(facts)
        self._sink(line)
