"""One contract for the failure-backoff port: in-process (embedded) and Redis (production)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from adapters.http.redis_rate_limiter import RedisFailureBackoff
from api.http.rate_limits import BackoffRule, FailureBackoff, MemoryFailureBackoff

RULE = BackoffRule(free_failures=2, base_seconds=0.5, max_seconds=1, window_seconds=2)


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.services)])
def backoff(request: pytest.FixtureRequest, namespace: str) -> Iterator[FailureBackoff]:
    if request.param == "memory":
        yield MemoryFailureBackoff(RULE)
        return
    services = request.getfixturevalue("services")
    shared = RedisFailureBackoff(services["PARLEY_REDIS_URL"], namespace, RULE)
    yield shared
    shared.close()


def test_free_failures_start_no_lock_and_later_ones_double_it_up_to_the_cap(
    backoff: FailureBackoff,
) -> None:
    assert [backoff.failed("sign-in:account:ada") for _ in range(5)] == [0, 0, 0.5, 1, 1]
    assert 0.5 < backoff.wait("sign-in:account:ada") <= 1
    assert backoff.wait("sign-in:account:bob") == 0


def test_a_lock_passes_with_time_and_a_success_forgets_the_failures(
    backoff: FailureBackoff,
) -> None:
    for _ in range(3):
        backoff.failed("k")
    assert backoff.wait("k") > 0
    time.sleep(0.6)
    assert backoff.wait("k") == 0
    backoff.forget("k")
    assert backoff.failed("k") == 0  # counting starts again
