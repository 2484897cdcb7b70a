"""Token turns shared by every dispatcher process of a deployment (production).

`TokenTurns` orders the batches of one process; the buckets are shared by all of them, so a
bulk batch in one process could take the tokens a high-priority batch in another is about to
ask for. `SharedTurns` adds, to this process's turns, a registry (Redis in production:
adapters/notifications/redis_turns.py) where each dispatcher holds a lease on the ranks its
batches await tokens at. A batch waits while a more urgent batch of its own process awaits its
tokens (as in one process) or another dispatcher holds a more urgent rank, both within the one
patience.

The cost is per change, not per notification, nor even per batch: `enter` and `leave` only
count in this process and wake the publisher thread, which sends the set of ranks when it
changed (one round trip, however many batches changed it meanwhile) and renews the lease while
it is not empty; so a pump never waits for Redis to enter or leave, and a critical batch never
touches it. A batch that waits for its tokens asks the registry once, and again with growing
pauses only while a more urgent rank is held elsewhere. A killed dispatcher's lease is not
renewed and stops counting within `lease_seconds`; the registry away (or slow: its calls are
bounded by the client's timeout) costs the cross-process order, never a send, and is logged
once per outage.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Final, Protocol

from commands.notifications.throttles import TURN_PATIENCE_SECONDS, TokenTurns, Turn
from commands.processes.outages import Outage

log = logging.getLogger(__name__)

# How long a dispatcher's hold on its ranks outlives its last renewal: what a killed
# dispatcher delays the others by, at most (each of their waits bounded by the patience)
TURN_LEASE_SECONDS: Final = 3.0
MOST_URGENT_RANK: Final = 0  # nothing is more urgent: such a batch never waits
FIRST_POLL_SECONDS: Final = 0.005
LONGEST_POLL_SECONDS: Final = 0.2


class TurnRegistry(Protocol):
    """Where every dispatcher of a deployment holds the ranks its batches await tokens at."""

    def hold(self, ranks: frozenset[int]) -> None:
        """This dispatcher's ranks are now `ranks`, leased anew (those not in it released)."""

    def more_urgent_than(self, priority_rank: int) -> bool:
        """Whether another dispatcher's live lease holds a rank more urgent than this one."""

    def close(self) -> None: ...


def poll_delays(first: float = FIRST_POLL_SECONDS,
                longest: float = LONGEST_POLL_SECONDS) -> Iterator[float]:
    """The pauses between a waiting batch's looks at the registry: doubling from `first` up
    to `longest`, so a short wait is seen soon and a long one costs a round trip per
    `longest`."""
    delay = first
    while True:
        yield delay
        delay = min(longest, delay * 2)


def renewal_due(held: frozenset[int], published: frozenset[int] | None,
                since_published: float, lease_seconds: float) -> bool:
    """Whether the publisher sends `held` now: it changed since it was last sent (None: not
    yet, or the last send failed), or it is not empty and a third of its lease has passed
    (two renewals may fail before it lapses)."""
    if held != published:
        return True
    return bool(held) and since_published >= lease_seconds / 3


class SharedTurns:
    """This process's turns, and every other dispatcher's through `registry`."""

    def __init__(self, registry: TurnRegistry,
                 patience_seconds: float = TURN_PATIENCE_SECONDS, *,
                 lease_seconds: float = TURN_LEASE_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._local = TokenTurns(patience_seconds)
        self._registry = registry
        self._patience = patience_seconds
        self._lease = lease_seconds
        self._clock = clock
        self._changed = threading.Event()
        self._stopping = threading.Event()
        self._publish_outage = Outage(log, "publishing this dispatcher's token turns")
        self._look_outage = Outage(log, "reading the other dispatchers' token turns")
        self._publisher = threading.Thread(target=self._publish_until_stopped,
                                           name="token-turns", daemon=True)
        self._publisher.start()

    def enter(self, priority_rank: int) -> Turn:
        self._local.enter(priority_rank)
        self._changed.set()
        return Turn(self, priority_rank)

    def leave(self, priority_rank: int) -> None:
        self._local.leave(priority_rank)
        self._changed.set()

    def wait_for_more_urgent(self, priority_rank: int) -> bool:
        deadline = self._clock() + self._patience
        delays = poll_delays()
        while True:
            if not self._local.wait_within(priority_rank, deadline - self._clock()):
                return False
            if priority_rank <= MOST_URGENT_RANK or not self._held_elsewhere(priority_rank):
                return True
            remaining = deadline - self._clock()
            if remaining <= 0 or self._stopping.wait(min(next(delays), remaining)) \
                    or self._clock() >= deadline:
                return False  # not within the patience (or closing): it goes on all the same

    def close(self) -> None:
        """Stop publishing and release this dispatcher's ranks (a batch still in its turn
        stops counting for the others: the process is going)."""
        self._stopping.set()
        self._changed.set()
        self._publisher.join(timeout=5)
        try:
            self._registry.hold(frozenset())
        except Exception as error:  # noqa: BLE001 - the lease lapses on its own
            self._publish_outage.failed(error)
        self._registry.close()

    def _held_elsewhere(self, priority_rank: int) -> bool:
        try:
            held = self._registry.more_urgent_than(priority_rank)
        except Exception as error:  # noqa: BLE001 - logged once per outage; order is lost, not sends
            self._look_outage.failed(error)
            return False
        self._look_outage.recovered()
        return held

    def _publish_until_stopped(self) -> None:
        published: frozenset[int] | None = frozenset()
        published_at = self._clock()
        while not self._stopping.is_set():
            self._changed.wait(self._lease / 3)
            self._changed.clear()
            if self._stopping.is_set():
                return
            held = self._local.ranks()
            if not renewal_due(held, published, self._clock() - published_at, self._lease):
                continue
            try:
                self._registry.hold(held)
            except Exception as error:  # noqa: BLE001 - logged once per outage; retried
                self._publish_outage.failed(error)
                published = None
                self._stopping.wait(min(0.5, self._lease / 3))  # not a busy loop while away
                self._changed.set()  # and then at once, not a third of a lease later
                continue
            self._publish_outage.recovered()
            published, published_at = held, self._clock()
