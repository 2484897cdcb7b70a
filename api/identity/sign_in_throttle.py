"""Throttles on the unauthenticated doors: sign-in, registration and refresh.

Per source (the client's address): a token bucket of attempts, and a failure backoff with a
generous free allowance (many people may share one address). Per account, for sign-in only (a
keyed digest of the handle; refresh tokens cannot be guessed): a failure backoff that starts
after a few failures and doubles with each further one. Both are checked before the password
is verified, so the right password during a lock is refused too, and a lock costs no hashing.
A success clears the account's failures, not the source's (a guesser cannot reset them by
signing in to an account of their own). Each failure is logged as one JSON line with the
address, the account digest and the lock it started, never the handle or the password;
refusals are not logged.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math

from fastapi import Request

from api.http.problems import Problem
from api.http.rate_limits import FailureBackoff, RateLimiter

log = logging.getLogger("parley.sign_in")
ACCOUNT_DIGEST_CONTEXT = b"parley sign-in account digest v1|"
TOO_MANY = "too many attempts; retry after the given seconds"


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


class SignInThrottle:
    """Admits or refuses an attempt (429 with Retry-After), and learns from its outcome."""

    def __init__(self, attempts: RateLimiter, accounts: FailureBackoff,
                 sources: FailureBackoff, key: bytes) -> None:
        self._attempts, self._accounts, self._sources = attempts, accounts, sources
        self._key = key

    def account(self, name: str) -> str:
        """A keyed digest of a handle or user id: correlates attempts without naming anyone."""
        message = ACCOUNT_DIGEST_CONTEXT + name.strip().casefold().encode("utf-8", "replace")
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()[:32]

    def admit(self, action: str, source: str, account: str | None = None) -> None:
        """Raise 429 if this source or account must wait; each call spends one attempt."""
        waits = [self._attempts.acquire(f"{action}:source:{source}"),
                 self._sources.wait(f"{action}:source:{source}")]
        if account is not None:
            waits.append(self._accounts.wait(f"{action}:account:{account}"))
        wait = max(waits)
        if wait > 0:  # not logged: refusals cost nothing and would flood the log; the
            # failure that started the lock was logged with its length
            raise Problem(429, "Too many requests", TOO_MANY,
                          {"Retry-After": str(max(1, math.ceil(wait)))})

    def failed(self, action: str, source: str, account: str | None = None) -> None:
        lock = self._sources.failed(f"{action}:source:{source}")
        if account is not None:
            lock = max(lock, self._accounts.failed(f"{action}:account:{account}"))
        log.warning("%s failed", action, extra={
            "event": f"{action}_failed", "source": source, "account": account,
            "locked_seconds": lock})

    def succeeded(self, action: str, account: str) -> None:
        self._accounts.forget(f"{action}:account:{account}")
