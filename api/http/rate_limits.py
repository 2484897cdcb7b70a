"""Rate limits: token buckets (sending, attempts per source) and failure backoff (sign-in),
answered with 429 and Retry-After."""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import Protocol

from api.http.problems import Problem


class RateLimiter(Protocol):
    def acquire(self, key: str) -> float:
        """Take one token; 0 when allowed, else the seconds until one is available."""


class MemoryTokenBuckets:
    """The embedded default: buckets in this process.

    A bucket that has filled up again is the same as no bucket, so once there are more than
    `sweep_above` keys the full ones are dropped: many distinct keys (client addresses) never
    grow memory beyond those still recovering."""

    def __init__(self, rate_per_second: float, burst: int, *, sweep_above: int = 10_000) -> None:
        self._rate, self._burst = rate_per_second, burst
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()
        self._sweep_base = self._sweep_above = sweep_above

    def __len__(self) -> int:
        return len(self._buckets)

    def _drop_full_buckets(self, now: float) -> None:
        self._buckets = {key: (tokens, at) for key, (tokens, at) in self._buckets.items()
                         if tokens + (now - at) * self._rate < self._burst}
        # sweep again once as many more keys have come as are still recovering
        self._sweep_above = max(self._sweep_base, 2 * len(self._buckets))

    def acquire(self, key: str) -> float:
        now = time.monotonic()
        with self._lock:
            if len(self._buckets) > self._sweep_above:
                self._drop_full_buckets(now)
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


MAX_DOUBLINGS = 40  # 2**40 seconds is far past any cap; keeps the power finite


@dataclass(frozen=True)
class BackoffRule:
    """After `free_failures` failures in a row, each further one locks for twice as long
    (base, 2 x base, 4 x base, ... up to `max_seconds`); failures are forgotten after a success
    or `window_seconds` after the last one."""

    free_failures: int
    base_seconds: float = 1.0
    max_seconds: float = 900.0
    window_seconds: float = 900.0

    def lock_after(self, failures: int) -> float:
        if failures <= self.free_failures:
            return 0.0
        doublings = min(MAX_DOUBLINGS, failures - self.free_failures - 1)
        return float(min(self.max_seconds, self.base_seconds * 2 ** doublings))


class FailureBackoff(Protocol):
    """Failures per key with an exponential lock (sign-in, refresh); Redis in production."""

    def wait(self, key: str) -> float:
        """0 when `key` may try now, else the seconds until it may."""

    def failed(self, key: str) -> float:
        """Count one failure; answers the lock it starts (0 while failures are still free)."""

    def forget(self, key: str) -> None:
        """A success: the failures so far no longer count."""


class MemoryFailureBackoff:
    """The embedded default: failure counts in this process."""

    def __init__(self, rule: BackoffRule) -> None:
        self._rule = rule
        self._failures: dict[str, tuple[int, float, float]] = {}  # count, locked until, last
        self._lock = threading.Lock()

    def wait(self, key: str) -> float:
        now = time.monotonic()
        with self._lock:
            _, until, _ = self._current(key, now)
        return max(0.0, until - now)

    def failed(self, key: str) -> float:
        now = time.monotonic()
        with self._lock:
            count, _, _ = self._current(key, now)
            lock = self._rule.lock_after(count + 1)
            self._failures[key] = (count + 1, now + lock, now)
            if len(self._failures) > 100_000:  # a flood of keys: drop the forgotten ones
                self._expire(now)
        return lock

    def forget(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)

    def _current(self, key: str, now: float) -> tuple[int, float, float]:
        count, until, last = self._failures.get(key, (0, 0.0, now))
        if now - last > self._rule.window_seconds and now >= until:
            return 0, 0.0, now
        return count, until, last

    def _expire(self, now: float) -> None:
        window = self._rule.window_seconds
        self._failures = {k: v for k, v in self._failures.items()
                          if now - v[2] <= window or now < v[1]}
