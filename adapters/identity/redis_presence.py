"""Presence shared by every API process, in Redis.

Each open socket holds an entry, refreshed while it lives, in a sorted set scored by its expiry;
a process that dies leaves entries that simply expire. Last seen is a plain key.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

import redis

from projections.identity.presence import SOCKET_LEASE_SECONDS

# drop expired leases, then take one only while fewer than the limit are held: atomic in Redis
ADMIT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
return 1
"""


class RedisPresence:
    def __init__(self, url: str, namespace: str) -> None:
        self._client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._prefix = f"{namespace}:presence:"
        self._admit = self._client.register_script(ADMIT)

    def record(self, user_id: str, socket_id: str, online: bool, at: datetime) -> None:
        sockets, seen = self._prefix + user_id, self._prefix + user_id + ":seen"
        with self._client.pipeline() as pipe:
            if online:
                pipe.zadd(sockets, {socket_id: at.timestamp() + SOCKET_LEASE_SECONDS})
            else:
                pipe.zrem(sockets, socket_id)
            pipe.set(seen, at.isoformat())
            pipe.execute()

    def admit(self, user_id: str, socket_id: str, at: datetime, limit: int) -> bool:
        admitted = self._admit(keys=[self._prefix + user_id], args=[
            at.timestamp(), at.timestamp() + SOCKET_LEASE_SECONDS, limit, socket_id])
        return bool(admitted)

    def online_among(self, user_ids: Collection[str], now: datetime) -> set[str]:
        people = list(user_ids)
        if not people:
            return set()
        with self._client.pipeline(transaction=False) as pipe:  # one round trip for them all
            for user_id in people:
                pipe.zcount(self._prefix + user_id, now.timestamp(), "+inf")
            live = pipe.execute()
        return {user_id for user_id, sockets in zip(people, live, strict=True) if sockets}

    def seen(self, user_id: str, now: datetime) -> dict[str, Any] | None:
        sockets, seen = self._prefix + user_id, self._prefix + user_id + ":seen"
        last_seen = self._client.get(seen)
        if last_seen is None:
            return None
        live = self._client.zcount(sockets, now.timestamp(), "+inf")
        text = last_seen.decode() if isinstance(last_seen, bytes) else str(last_seen)
        return {"online": live > 0, "last_seen": text}

    def close(self) -> None:
        self._client.close()
