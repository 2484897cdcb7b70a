"""Failure backoff: free failures, then a lock that doubles with each failure, up to a cap;
a success forgets the failures."""

from __future__ import annotations

import logging

import pytest

from api.http.problems import Problem
from api.http.rate_limits import BackoffRule, MemoryFailureBackoff, MemoryTokenBuckets
from api.identity.sign_in_throttle import SignInThrottle


def test_the_lock_doubles_after_the_free_failures_up_to_the_cap() -> None:
    rule = BackoffRule(free_failures=3, base_seconds=1, max_seconds=60)
    assert [rule.lock_after(n) for n in range(1, 11)] == [0, 0, 0, 1, 2, 4, 8, 16, 32, 60]
    assert rule.lock_after(10_000) == 60


def test_a_locked_key_waits_and_a_success_forgets_its_failures() -> None:
    backoff = MemoryFailureBackoff(BackoffRule(free_failures=1, base_seconds=30))
    assert backoff.failed("ada") == 0 and backoff.wait("ada") == 0
    assert backoff.failed("ada") == 30
    assert 29 < backoff.wait("ada") <= 30
    assert backoff.wait("bob") == 0
    backoff.forget("ada")
    assert backoff.wait("ada") == 0 and backoff.failed("ada") == 0


def throttle() -> SignInThrottle:
    return SignInThrottle(MemoryTokenBuckets(1000, 1000),
                          MemoryFailureBackoff(BackoffRule(free_failures=2, base_seconds=30)),
                          MemoryFailureBackoff(BackoffRule(free_failures=100)), b"k" * 32)


def test_an_account_locked_by_failures_is_refused_before_its_password_is_checked() -> None:
    guard = throttle()
    account = guard.account("ada")
    for _ in range(3):
        guard.admit("sign-in", "10.0.0.1", account)
        guard.failed("sign-in", "10.0.0.1", account)
    with pytest.raises(Problem) as refused:
        guard.admit("sign-in", "10.0.0.2", account)  # from anywhere
    assert refused.value.status == 429 and int(refused.value.headers["Retry-After"]) >= 29
    guard.admit("sign-in", "10.0.0.1", guard.account("bob"))


def test_account_digests_are_keyed_and_ignore_case_but_name_no_one(
    caplog: pytest.LogCaptureFixture,
) -> None:
    guard = throttle()
    assert guard.account("Ada") == guard.account("ada") != guard.account("bob")
    other_key = SignInThrottle(MemoryTokenBuckets(1, 1), MemoryFailureBackoff(BackoffRule(1)),
                               MemoryFailureBackoff(BackoffRule(1)), b"x" * 32)
    assert other_key.account("ada") != guard.account("ada")
    with caplog.at_level(logging.WARNING, logger="parley.sign_in"):
        guard.failed("sign-in", "10.0.0.1", guard.account("ada"))
    record = caplog.records[-1]
    assert record.__dict__["event"] == "sign-in_failed"
    assert record.__dict__["account"] == guard.account("ada")
    assert "ada" not in caplog.text.replace(guard.account("ada"), "")
