"""Settings of the reference mock server: authentication, pace, the era of its Run shape, faults, bounds."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from runcancel.eras import ERAS, era_named
from runcancel.settings import DEFAULT_API_KEY  # the mock accepts it when no key is configured

__all__ = ["DEFAULT_API_KEY", "DEFAULT_MAX_BYTES", "PACES", "MockConfig", "Timings"]

DEFAULT_MAX_BYTES = 64 * 1024 * 1024
"""The default cap on the bytes the store keeps (the JSON size of what it stores)."""


@dataclass(frozen=True, slots=True)
class Timings:
    """Seconds a run spends ``queued``, ``in_progress`` (before its outcome) and ``cancelling``."""

    queued: float
    in_progress: float
    cancelling: float


PACES: dict[str, Timings] = {
    # Fast enough for test suites: a run reaches its outcome in 40 ms.
    "fast": Timings(queued=0.02, in_progress=0.02, cancelling=0.02),
    # The gaps live recordings show: started about 1 s after creation, finished about 9 s later,
    # and a cancelled run reads `cancelling` for a couple of seconds.
    "live": Timings(queued=1.0, in_progress=9.0, cancelling=2.0),
}


@dataclass(frozen=True, slots=True)
class MockConfig:
    """How the mock authenticates, how fast its runs move, which era's Run it serves, and its faults.

    ``pace`` (``fast`` or ``live``) sets the time a run spends in each stage; ``step`` (seconds in
    ``queued`` and again in ``in_progress``) and ``cancel_delay`` (seconds ``cancelling``) override
    it. ``era`` names one of :data:`runcancel.eras.ERAS`: Runs carry that era's keys in its order.
    ``max_objects`` bounds each kind of stored object and ``max_bytes`` the JSON size of everything
    stored (the oldest object is evicted first). ``clock`` returns seconds on a monotonic scale and is
    read whenever a run is read or cancelled; tests pass a fake clock to drive the lifecycle.

    Faults: ``rate_limit`` answers 429 with ``Retry-After`` beyond that many requests a second;
    ``retired`` answers every authenticated request as a switched-off endpoint does (404
    ``unknown_url``); ``cancel_race`` is the share (0 to 1) of accepted cancels that lose the race:
    the answer says ``cancelling`` and the run completes anyway. ``seed`` fixes which ones.
    ``log`` receives one line per request (see :mod:`runcancel.mock.log`).
    ``header_timeout`` and ``keep_alive`` are the server's: seconds a connection may take to send a
    request's headers, and seconds an idle keep-alive connection is kept.
    """

    api_key: str = DEFAULT_API_KEY
    step: float | None = None
    cancel_delay: float | None = None
    pace: str = "fast"
    era: str = ERAS[-1].name
    max_objects: int = 10_000
    max_bytes: int = DEFAULT_MAX_BYTES
    rate_limit: float | None = None
    retired: bool = False
    cancel_race: float = 0.0
    seed: int | None = None
    log: Callable[[str], None] | None = None
    header_timeout: float = 10.0
    keep_alive: int = 5
    clock: Callable[[], float] = field(default=time.monotonic)

    def __post_init__(self) -> None:
        if not self.api_key:
            raise ValueError("MockConfig.api_key must be a non-empty string")
        for name in ("step", "cancel_delay", "header_timeout"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value >= 0):
                raise ValueError(f"MockConfig.{name} must be a finite number >= 0, got {value!r}")
        if self.pace not in PACES:
            raise ValueError(f"MockConfig.pace must be one of {', '.join(PACES)}, got {self.pace!r}")
        try:
            era_named(self.era)
        except KeyError as exc:
            raise ValueError(f"MockConfig.era: {exc.args[0]}") from None
        if self.keep_alive < 1:
            raise ValueError(
                f"MockConfig.keep_alive must be a whole number of seconds >= 1, got {self.keep_alive!r}"
            )
        if self.max_objects < 1:
            raise ValueError(f"MockConfig.max_objects must be >= 1, got {self.max_objects!r}")
        if self.max_bytes < 1:
            raise ValueError(f"MockConfig.max_bytes must be >= 1, got {self.max_bytes!r}")
        if self.rate_limit is not None and not (math.isfinite(self.rate_limit) and self.rate_limit > 0):
            raise ValueError(f"MockConfig.rate_limit must be a number > 0, got {self.rate_limit!r}")
        if not (0.0 <= self.cancel_race <= 1.0):
            raise ValueError(f"MockConfig.cancel_race must be from 0 to 1, got {self.cancel_race!r}")

    @property
    def timings(self) -> Timings:
        """The pace's timings with ``step`` and ``cancel_delay`` applied."""
        preset = PACES[self.pace]
        return Timings(
            queued=preset.queued if self.step is None else self.step,
            in_progress=preset.in_progress if self.step is None else self.step,
            cancelling=preset.cancelling if self.cancel_delay is None else self.cancel_delay,
        )
