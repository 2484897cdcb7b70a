"""What the push services' stand-ins share: a script of what to do with the next requests, or
every request for one device token, when a test says so (refuse with the service's status,
reason and Retry-After, or stall before answering; anything not scripted is served as the
real service would), and the screens of the devices they deliver to."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Refusal:
    """Answer `status` with the service's own `reason` (FCM errorCode, APNs reason) and,
    for FCM, the field it is about (message.token: the registration token)."""

    status: int
    reason: str
    retry_after: str | None = None
    field: str | None = None


@dataclass(frozen=True)
class Stall:
    """Wait `seconds` before serving the request (a slow service); or, trickling, answer at
    once but send the body a byte at a time over `seconds` (a read never waits long, the
    answer never ends in time)."""

    seconds: float
    trickle: bool = False


Behaviour = Refusal | Stall


class Script:
    """Scripted behaviours, read by the server's thread and set by the test's."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next: deque[Behaviour] = deque()
        self._per_token: dict[str, Behaviour] = {}

    def next(self, behaviour: Behaviour, times: int = 1) -> None:
        with self._lock:
            self._next.extend([behaviour] * times)

    def for_token(self, token: str, behaviour: Behaviour) -> None:
        with self._lock:
            self._per_token[token] = behaviour

    def clear(self) -> None:
        with self._lock:
            self._next.clear()
            self._per_token.clear()

    def take(self, token: str) -> Behaviour | None:
        with self._lock:
            if token in self._per_token:
                return self._per_token[token]
            return self._next.popleft() if self._next else None


@dataclass(frozen=True)
class Shown:
    """A notification as the device displays it, and the data the app receives with it."""

    title: str
    body: str
    data: dict[str, Any] = field(default_factory=dict)


class Screens:
    """What each device shows. A notification with the collapse key of one already shown
    replaces it (FCM's collapse_key, APNs's apns-collapse-id), so a repeat shows once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_token: dict[str, dict[str, Shown]] = {}

    def show(self, token: str, collapse_key: str, shown: Shown) -> None:
        with self._lock:
            self._by_token.setdefault(token, {})[collapse_key] = shown

    def clear(self) -> None:
        with self._lock:
            self._by_token.clear()

    def of(self, token: str) -> list[Shown]:
        with self._lock:
            return list(self._by_token.get(token, {}).values())


class BulkHold:
    """Holds each bulk-priority push (FCM android NORMAL, APNs apns-priority 5) `seconds`
    before serving it, so a backlog stays in flight, counting how many are held at once."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._lock = threading.Lock()
        self._held = 0
        self._peak = 0

    @property
    def held(self) -> int:
        with self._lock:
            return self._held

    @property
    def peak(self) -> int:
        """The most bulk pushes held at one time."""
        with self._lock:
            return self._peak

    async def hold(self) -> None:
        if not self.seconds:
            return
        with self._lock:
            self._held += 1
            self._peak = max(self._peak, self._held)
        try:
            await asyncio.sleep(self.seconds)
        finally:
            with self._lock:
                self._held -= 1

    def clear(self) -> None:
        self.seconds = 0.0
        with self._lock:
            self._peak = self._held


class Clock:
    """The time a stand-in and the adapter under test both read: the real time, moved on by
    `advance` (an hour passes in a test without waiting it)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds
