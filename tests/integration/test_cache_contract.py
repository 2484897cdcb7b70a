"""One contract for the cache port: in-process (embedded) and Redis (production)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from adapters.read_model.memory_cache import MemoryCache
from adapters.read_model.redis_cache import RedisCache
from projections.read_model.runner import Cache


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.services)])
def cache(request: pytest.FixtureRequest, namespace: str) -> Iterator[Cache]:
    if request.param == "memory":
        yield MemoryCache(ttl_seconds=1)
        return
    services = request.getfixturevalue("services")
    redis_cache = RedisCache(services["PARLEY_REDIS_URL"], namespace, ttl_seconds=1)
    yield redis_cache
    redis_cache.close()


def test_what_is_set_is_got_back_until_deleted(cache: Cache) -> None:
    cache.set("conversations:1", {"member_ids": ["a", "b"]})
    assert cache.get("conversations:1") == {"member_ids": ["a", "b"]}
    cache.delete(["conversations:1", "conversations:unknown"])
    assert cache.get("conversations:1") is None


def test_entries_expire_after_their_time_to_live(cache: Cache) -> None:
    cache.set("k", {"v": 1})
    time.sleep(1.3)
    assert cache.get("k") is None


def test_deleting_nothing_is_harmless(cache: Cache) -> None:
    cache.delete([])
