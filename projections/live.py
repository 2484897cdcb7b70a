"""Live updates: after the feed projection moves on, sockets holding affected members wake up.

Notifications say only *where* something changed (conversations, members, a position); each
socket then reads its member's feed from the cursor it holds, so nothing is lost or doubled.
Typing indicators ride the same channel but are never stored.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from typing import Any, Protocol

from projections.documents import Upsert
from projections.feed import CHANGES


class LiveUpdates(Protocol):
    def publish(self, notification: dict[str, Any]) -> None: ...

    def subscribe(self) -> asyncio.Queue[dict[str, Any]]: ...

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any]]) -> None: ...


def feed_notification(changes: Sequence[Upsert], upto: int) -> dict[str, Any] | None:
    """What a batch of feed changes touched: conversations, and members added or removed."""
    conversations, users = set(), set()
    for change in changes:
        if change.collection != CHANGES:
            continue
        conversations.add(change.fields["conversation_id"])
        data = change.fields.get("data", {})
        users.update(data.get("user_ids", []) + data.get("member_ids", []))
        if "user_id" in data:
            users.add(data["user_id"])
    if not conversations:
        return None
    return {"type": "changes", "conversation_ids": sorted(conversations),
            "user_ids": sorted(users), "position": upto}


class LocalFanOut:
    """Delivers notifications to the subscribed queues of this process, from any thread."""

    def __init__(self) -> None:
        self._subscribers: dict[asyncio.Queue[dict[str, Any]], asyncio.AbstractEventLoop] = {}
        self._lock = threading.Lock()

    def publish(self, notification: dict[str, Any]) -> None:
        with self._lock:
            subscribers = list(self._subscribers.items())
        for queue, loop in subscribers:
            loop.call_soon_threadsafe(_offer, queue, notification)

    def subscribe(self) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=1000)
        with self._lock:
            self._subscribers[queue] = asyncio.get_running_loop()
        return queue

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        with self._lock:
            self._subscribers.pop(queue, None)


def _offer(queue: asyncio.Queue[dict[str, Any]], notification: dict[str, Any]) -> None:
    if queue.full():
        # a slow socket loses wake-ups, not data: it re-reads its feed from its cursor
        queue.get_nowait()
    queue.put_nowait(notification)
