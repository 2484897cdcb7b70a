"""Presence: online while a live socket is open, and when each person was last seen.

Ephemeral like typing: kept in memory or Redis, never in the event log. Each socket renews
its lease while it lives, so a crashed process's sockets stop counting on their own.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any, Protocol

SOCKET_LEASE_SECONDS = 60


class PresenceStore(Protocol):
    def record(self, user_id: str, socket_id: str, online: bool, at: datetime) -> None: ...

    def seen(self, user_id: str, now: datetime) -> dict[str, Any] | None: ...


class MemoryPresence:
    def __init__(self) -> None:
        self._leases: dict[str, dict[str, float]] = {}
        self._last_seen: dict[str, str] = {}
        self._lock = threading.Lock()

    def record(self, user_id: str, socket_id: str, online: bool, at: datetime) -> None:
        with self._lock:
            leases = self._leases.setdefault(user_id, {})
            if online:
                leases[socket_id] = at.timestamp() + SOCKET_LEASE_SECONDS
            else:
                leases.pop(socket_id, None)
            self._last_seen[user_id] = at.isoformat()

    def seen(self, user_id: str, now: datetime) -> dict[str, Any] | None:
        with self._lock:
            if user_id not in self._last_seen:
                return None
            live = any(expiry > now.timestamp() for expiry in self._leases[user_id].values())
            return {"online": live, "last_seen": self._last_seen[user_id]}
