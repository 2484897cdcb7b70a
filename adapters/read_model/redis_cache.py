"""The production cache: documents as JSON in Redis, shared by every process."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import redis


class RedisCache:
    def __init__(self, url: str, namespace: str, ttl_seconds: int) -> None:
        self._client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._prefix = f"{namespace}:doc:"
        self._ttl = ttl_seconds

    def get(self, key: str) -> dict[str, Any] | None:
        raw = self._client.get(self._prefix + key)
        return json.loads(raw) if raw else None

    def set(self, key: str, value: dict[str, Any]) -> None:
        self._client.set(self._prefix + key, json.dumps(value), ex=self._ttl)

    def delete(self, keys: Sequence[str]) -> None:
        if keys:
            self._client.delete(*[self._prefix + k for k in keys])

    def clear(self) -> None:
        """Forgets every cached document of the namespace (after a read model was replaced)."""
        batch: list[bytes] = []
        for key in self._client.scan_iter(match=self._prefix + "*", count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                self._client.delete(*batch)
                batch.clear()
        if batch:
            self._client.delete(*batch)

    def ping(self) -> None:
        self._client.ping()

    def close(self) -> None:
        self._client.close()
