"""The embedded cache: an in-process LRU with a time to live."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from cachetools import TTLCache


class MemoryCache:
    def __init__(self, ttl_seconds: int, max_entries: int = 50_000) -> None:
        self._entries: TTLCache[str, dict[str, Any]] = TTLCache(max_entries, ttl_seconds)
        self._lock = threading.Lock()

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            return self._entries.get(key)

    def set(self, key: str, value: dict[str, Any]) -> None:
        with self._lock:
            self._entries[key] = value

    def delete(self, keys: Sequence[str]) -> None:
        with self._lock:
            for key in keys:
                self._entries.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def ping(self) -> None:
        return None

    def close(self) -> None:
        with self._lock:
            self._entries.clear()
