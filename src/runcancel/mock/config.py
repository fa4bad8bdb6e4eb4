"""Settings of the reference mock server."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from runcancel.settings import DEFAULT_API_KEY  # the mock accepts it when no key is configured

__all__ = ["DEFAULT_API_KEY", "MockConfig"]


@dataclass(frozen=True, slots=True)
class MockConfig:
    """How the mock authenticates and how fast its runs move.

    ``step`` is the time in seconds a run spends in each stage (``queued``, then ``in_progress``)
    before it reaches its outcome; ``cancel_delay`` is the time a run spends ``cancelling`` before
    it reads ``cancelled``. ``max_objects`` bounds each of the assistant, thread and run stores
    (the oldest object is evicted first). ``clock`` returns seconds on a monotonic scale and is
    read whenever a run is read or cancelled; tests pass a fake clock to drive the lifecycle.
    """

    api_key: str = DEFAULT_API_KEY
    step: float = 0.02
    cancel_delay: float = 0.02
    max_objects: int = 10_000
    clock: Callable[[], float] = field(default=time.monotonic)

    def __post_init__(self) -> None:
        if not self.api_key:
            raise ValueError("MockConfig.api_key must be a non-empty string")
        for name in ("step", "cancel_delay"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"MockConfig.{name} must be a finite number >= 0, got {value!r}")
        if self.max_objects < 1:
            raise ValueError(f"MockConfig.max_objects must be >= 1, got {self.max_objects!r}")
