"""One contract for the presence leases: in-process (embedded) and Redis (production), as the
inbox's live frames read them: who among many people holds a live socket now."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from adapters.identity.redis_presence import RedisPresence
from projections.identity.presence import SOCKET_LEASE_SECONDS, MemoryPresence, PresenceStore

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.services)])
def presence(request: pytest.FixtureRequest, namespace: str) -> Iterator[PresenceStore]:
    if request.param == "memory":
        yield MemoryPresence()
        return
    services = request.getfixturevalue("services")
    redis_presence = RedisPresence(services["PARLEY_REDIS_URL"], namespace)
    yield redis_presence
    redis_presence.close()


def test_online_among_is_those_holding_a_socket_lease_now(presence: PresenceStore) -> None:
    assert presence.admit("bob", "bob-phone", NOW, limit=5)
    assert presence.admit("cyrus", "cyrus-laptop", NOW, limit=5)
    presence.record("cyrus", "cyrus-laptop", False, NOW)  # closed
    assert presence.admit("dana", "dana-phone", NOW, limit=5)
    presence.record("dana", "dana-tablet", True, NOW)
    presence.record("dana", "dana-phone", False, NOW)  # one of two closed
    assert presence.online_among(["bob", "cyrus", "dana", "never-seen"], NOW) == {"bob", "dana"}
    assert presence.online_among([], NOW) == set()


def test_a_lease_not_renewed_stops_counting_when_it_runs_out(presence: PresenceStore) -> None:
    assert presence.admit("bob", "bob-phone", NOW, limit=5)  # its process died after this
    later = NOW + timedelta(seconds=SOCKET_LEASE_SECONDS - 1)
    assert presence.online_among(["bob"], later) == {"bob"}
    assert presence.online_among(["bob"], later + timedelta(seconds=2)) == set()
