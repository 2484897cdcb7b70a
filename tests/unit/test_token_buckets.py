"""The in-process token buckets: limits per key, and memory bounded by the keys still limited."""

from __future__ import annotations

from api.http.rate_limits import MemoryTokenBuckets


def test_a_key_beyond_its_burst_waits_and_other_keys_do_not() -> None:
    buckets = MemoryTokenBuckets(rate_per_second=1, burst=2)
    assert buckets.acquire("a") == 0 and buckets.acquire("a") == 0
    assert buckets.acquire("a") > 0
    assert buckets.acquire("b") == 0


def test_many_distinct_keys_do_not_grow_memory_once_their_buckets_refill() -> None:
    buckets = MemoryTokenBuckets(rate_per_second=1e9, burst=5, sweep_above=100)
    for n in range(10_000):
        buckets.acquire(f"address-{n}")
    assert len(buckets) <= 101


def test_a_sweep_keeps_the_buckets_still_limited() -> None:
    buckets = MemoryTokenBuckets(rate_per_second=1e-6, burst=1, sweep_above=10)
    for n in range(50):
        buckets.acquire(f"address-{n}")
    assert all(buckets.acquire(f"address-{n}") > 0 for n in range(50))
