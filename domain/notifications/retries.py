"""When to try a channel again: exponential backoff with full jitter, bounded attempts, and
what a provider asked for (`Retry-After`) honoured."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

DEFAULT_MAX_ATTEMPTS = 6
DEFAULT_BASE_SECONDS = 2.0
DEFAULT_CAP_SECONDS = 600.0


@dataclass(frozen=True)
class RetryPolicy:
    """Attempt n (1-based) failed retryably: wait random(0, min(cap, base * 2**(n-1))) seconds
    ("full jitter"), at least what the provider asked for; after `max_attempts` attempts on a
    channel, that channel has failed."""

    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    base_seconds: float = DEFAULT_BASE_SECONDS
    cap_seconds: float = DEFAULT_CAP_SECONDS

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.base_seconds <= 0 or self.cap_seconds < self.base_seconds:
            raise ValueError("a retry policy needs max_attempts >= 1 and 0 < base <= cap")

    def may_retry(self, attempt: int) -> bool:
        return attempt < self.max_attempts

    def delay(self, attempt: int, jitter: float, retry_after: float | None = None) -> float:
        """`jitter` is a uniform draw in [0, 1) made by the caller (the domain draws nothing)."""
        if not 0.0 <= jitter < 1.0:
            raise ValueError("jitter must be in [0, 1)")
        ceiling = min(self.cap_seconds, self.base_seconds * 2.0 ** min(attempt - 1, 62))
        wait = jitter * ceiling
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.cap_seconds))
        return wait

    def next_due(self, now: datetime, attempt: int, jitter: float,
                 retry_after: float | None = None) -> datetime:
        return now + timedelta(seconds=self.delay(attempt, jitter, retry_after))
