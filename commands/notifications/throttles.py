"""Throttling at dispatch: the buckets' port, and how a dispatcher's batch consults them.

Throttles apply where a notification becomes Dispatched, so what quiet hours or digests
release drains at the throttle's rate, most urgent first. A batch is two commands:
1. `StartDispatches` with the policy and no verdicts dispatches what needs no tokens (nothing
   configured for it, or a critical category with no channel or provider quota) and answers,
   for the rest, the tokens each attempt must take (`ThrottleAsk`), recording nothing for them;
2. the dispatcher takes those tokens (one atomic call to the buckets for the whole batch, in
   priority order) and sends `StartDispatches` again for them with the verdicts: granted ones
   are dispatched, refused ones throttled (`Notification.throttle`: held until the bucket has
   a token, or suppressed). The verdicts are in the command, so the write side decides the same
   on a retry of the command and never calls the buckets itself.

Pumps serve priorities concurrently, so what is released at one moment (the end of quiet
hours: a recipient's held notifications of every priority) is taken from the queue by several
pumps at once, and the buckets grant tokens to whichever batch reaches them first. A
dispatcher's batches therefore take their tokens in turns (`TokenTurns`): a batch waits, for a
bounded time, while a more urgent batch taken before it has not had its tokens decided yet,
so the most urgent get the tokens and the others are throttled behind them, in priority order.
In production several dispatcher processes share the buckets, so their turns are shared too
(`BatchTurns` is the interface; commands/notifications/shared_turns.py the production one).

Tokens are taken before the sends and never given back: a batch that fails after taking them
(the log away, a crash, another dispatcher having taken the notification meanwhile) leaves the
budget spent for sends that did not happen. Throttles err on the side of under-sending; no
failure lets a bucket grant more than its capacity plus its rate over the time elapsed.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final, Protocol
from uuid import UUID

from domain.notifications.channels import rank
from domain.notifications.throttles import Ask, Shortfall, ThrottlePolicy, ThrottleVerdict


class ThrottleBuckets(Protocol):
    """Token buckets shared by every dispatcher of a deployment (Redis in production; in
    process in the embedded default): domain.notifications.throttles.take_all, atomically."""

    def take(self, groups: Sequence[Sequence[Ask]], now: float) -> list[Shortfall | None]:
        """Each group takes all its tokens or none, in order; `now` in epoch seconds."""


@dataclass(frozen=True)
class ThrottleAsk:
    """A notification whose attempt needs these tokens before it may be dispatched."""

    notification_id: UUID
    priority: str
    asks: tuple[Ask, ...]

    @property
    def order(self) -> tuple[int, bool]:
        """Most urgent first; of one priority, those back for a token promised to them."""
        return rank(self.priority), not any(a.redeeming for a in self.asks)


@dataclass(frozen=True)
class Throttling:
    """What StartDispatches is told: the policy, and for the notifications asked about, the
    verdicts (None: granted)."""

    policy: ThrottlePolicy
    verdicts: Mapping[UUID, ThrottleVerdict | None] = field(default_factory=dict)


# How long a batch waits for a more urgent one's tokens: that batch's first write-side
# command (milliseconds); bounded, so a stuck pump delays the others only this long
TURN_PATIENCE_SECONDS: Final = 2.0


class BatchTurns(Protocol):
    """The turns in which batches take their tokens, by rank (smaller: more urgent): within
    one dispatcher (`TokenTurns`, the embedded default) or across every dispatcher of a
    deployment (commands/notifications/shared_turns.py, production)."""

    def enter(self, priority_rank: int) -> Turn:
        """A batch taken from the queue, that may still take tokens."""

    def leave(self, priority_rank: int) -> None:
        """A batch whose tokens are decided (or that needed none, or failed)."""

    def wait_for_more_urgent(self, priority_rank: int) -> bool:
        """Until no more urgent batch that entered before awaits its tokens (False: not
        within the patience)."""


class Turn:
    """One batch's place in its dispatcher's turns, from when it was taken from the queue
    until its tokens were decided (or it needed none, or failed): `done`, once."""

    def __init__(self, turns: BatchTurns, rank: int) -> None:
        self._turns = turns
        self.rank = rank
        self._done = False

    def wait(self) -> bool:
        """Until no more urgent batch taken before this one awaits its tokens (False: not
        within the patience; it goes on all the same)."""
        return self._turns.wait_for_more_urgent(self.rank)

    def done(self) -> None:
        if not self._done:
            self._done = True
            self._turns.leave(self.rank)


class TokenTurns:
    """The batches of one dispatcher (every pump) that may still take tokens, by rank."""

    def __init__(self, patience_seconds: float = TURN_PATIENCE_SECONDS) -> None:
        self._changed = threading.Condition()
        self._waiting: Counter[int] = Counter()
        self._patience = patience_seconds

    def enter(self, priority_rank: int) -> Turn:
        with self._changed:
            self._waiting[priority_rank] += 1
        return Turn(self, priority_rank)

    def leave(self, priority_rank: int) -> None:
        with self._changed:
            self._waiting[priority_rank] -= 1
            if self._waiting[priority_rank] <= 0:
                del self._waiting[priority_rank]
            self._changed.notify_all()

    def wait_for_more_urgent(self, priority_rank: int) -> bool:
        return self.wait_within(priority_rank, self._patience)

    def wait_within(self, priority_rank: int, seconds: float) -> bool:
        """wait_for_more_urgent, for at most `seconds`."""
        with self._changed:
            return self._changed.wait_for(
                lambda: not any(r < priority_rank for r in self._waiting), max(0.0, seconds))

    def ranks(self) -> frozenset[int]:
        """The ranks some batch of this dispatcher awaits its tokens at."""
        with self._changed:
            return frozenset(self._waiting)


class DispatchThrottle:
    """The dispatcher's side: the policy, the buckets it takes tokens from, and the turns in
    which its batches take them."""

    def __init__(self, policy: ThrottlePolicy, buckets: ThrottleBuckets,
                 turns: BatchTurns | None = None) -> None:
        self.policy = policy
        self._buckets = buckets
        self.turns: BatchTurns = turns if turns is not None else TokenTurns()

    def asking(self) -> Throttling:
        return Throttling(self.policy)

    def decide(self, asking: Sequence[ThrottleAsk], now: datetime) -> Throttling:
        """Take the tokens of `asking` in their order (that of equals kept)."""
        ordered = sorted(asking, key=lambda a: a.order)
        shortfalls = self._buckets.take([a.asks for a in ordered], now.timestamp())
        return Throttling(self.policy, verdicts(ordered, shortfalls, now))


def verdicts(asking: Sequence[ThrottleAsk], shortfalls: Sequence[Shortfall | None],
             now: datetime) -> dict[UUID, ThrottleVerdict | None]:
    answers: dict[UUID, ThrottleVerdict | None] = {}
    for ask, shortfall in zip(asking, shortfalls, strict=True):
        if shortfall is None:
            answers[ask.notification_id] = None
            continue
        # to the millisecond, later rather than sooner: released before the token is there,
        # it would only be throttled again
        wait = timedelta(milliseconds=int(shortfall.wait_seconds * 1000) + 1)
        answers[ask.notification_id] = ThrottleVerdict.of(ask.asks[shortfall.ask], shortfall,
                                                          now + wait)
    return answers
