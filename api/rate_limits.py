"""Per-user rate limits on sending: a token bucket, answered with 429 and Retry-After."""

from __future__ import annotations

import math
import threading
import time
from typing import Protocol

from api.problems import Problem


class RateLimiter(Protocol):
    def acquire(self, key: str) -> float:
        """Take one token; 0 when allowed, else the seconds until one is available."""


class MemoryTokenBuckets:
    """The embedded default: buckets in this process."""

    def __init__(self, rate_per_second: float, burst: int) -> None:
        self._rate, self._burst = rate_per_second, burst
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def acquire(self, key: str) -> float:
        now = time.monotonic()
        with self._lock:
            tokens, at = self._buckets.get(key, (float(self._burst), now))
            tokens = min(self._burst, tokens + (now - at) * self._rate)
            if tokens >= 1:
                self._buckets[key] = (tokens - 1, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1 - tokens) / self._rate


def enforce(limiter: RateLimiter, key: str) -> None:
    wait = limiter.acquire(key)
    if wait > 0:
        raise Problem(429, "Too many requests", "slow down; retry after the given seconds",
                      {"Retry-After": str(max(1, math.ceil(wait)))})
