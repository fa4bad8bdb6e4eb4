"""Faults the mock can be switched into: a rate limit, a retired endpoint (the cancel race is the store's)."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable

from runcancel.mock import errors
from runcancel.mock.errors import ApiError

RATE_LIMIT_TYPE = "requests"
RATE_LIMIT_CODE = "rate_limit_exceeded"


class RateLimiter:
    """A token bucket: ``rate`` requests a second, bursts of up to ``max(1, rate)``.

    ``take()`` spends one token or raises the 429 the live API answers, with ``Retry-After`` the whole
    seconds (at least 1) until a token is back.
    """

    def __init__(self, rate: float, clock: Callable[[], float]) -> None:
        self.rate = rate
        self.capacity = max(1.0, rate)
        self._clock = clock
        self._tokens = self.capacity
        self._last = clock()
        self._lock = threading.Lock()

    def take(self) -> None:
        with self._lock:
            now = self._clock()
            self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.rate)
            self._last = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return
            wait = (1.0 - self._tokens) / self.rate
        raise rate_limited(self.rate, max(1, math.ceil(wait)))


def rate_limited(rate: float, retry_after: int) -> ApiError:
    """429 in the contract's shape: the error envelope, and ``Retry-After`` in whole seconds."""
    return ApiError(
        429,
        f"Rate limit reached for requests: limit {rate:g} per second. Please try again in {retry_after}s.",
        type=RATE_LIMIT_TYPE,
        code=RATE_LIMIT_CODE,
        retry_after=retry_after,
    )


def retired_answer(method: str, path: str) -> ApiError:
    """What a switched-off endpoint answers an authenticated request: 404 ``unknown_url``, as for any
    route the API does not serve."""
    return errors.unknown_url(method, path)
