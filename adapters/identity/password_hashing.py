"""Password hashing on a few threads of its own, with a bounded queue.

An argon2 hash takes 64 MiB and tens of milliseconds of CPU on purpose. Run in the event
loop's default executor, a burst of sign-ins fills it and every authenticated request, whose
device check runs there too, waits behind the hashes. Here hashing has its own small pool;
beyond `workers + queue_limit` hashes in flight a caller is refused at once (HashingBusy,
answered 503 with Retry-After), so a flood of sign-ins costs a bounded amount of memory and
CPU and never delays anything but other sign-ins.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from api.http.saturation import Saturated
from commands.identity.accounts import Passwords

T = TypeVar("T")
RETRY_AFTER_SECONDS = 1


class HashingBusy(Saturated):
    """Every hashing worker is busy and the queue is full: retry in a moment."""

    detail = "too many sign-ins at once; retry after the given seconds"
    retry_after_seconds = RETRY_AFTER_SECONDS


class PasswordHashing:
    """The password KDF behind its own bounded executor: identity's `HashingPool` port
    (api/identity/hashing_pool.py), built by the composition root."""

    def __init__(self, passwords: Passwords, workers: int, queue_limit: int) -> None:
        self.passwords = passwords
        self.capacity = workers + queue_limit
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="password-hashing")
        self._slots = threading.BoundedSemaphore(self.capacity)

    async def run(self, work: Callable[..., T], *args: Any) -> T:
        """Run `work(*args)` on a hashing thread, or raise HashingBusy if none can take it."""
        if not self._slots.acquire(blocking=False):
            raise HashingBusy("too many sign-ins at once")
        try:
            future: Future[T] = self._executor.submit(work, *args)
        except BaseException:
            self._slots.release()
            raise
        future.add_done_callback(lambda _: self._slots.release())
        return await asyncio.wrap_future(future)

    async def hash(self, password: str) -> str:
        return await self.run(self.passwords.hash, password)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
