"""Throttles: token buckets, and which buckets a dispatch must take from.

A bucket holds up to `capacity` tokens and gains `refill_per_second` of them continuously;
a send takes tokens, and a bucket without enough answers when it will have them. The math is
here once, pure (time comes in as seconds); the in-process and Redis buckets
(adapters/notifications/memory_buckets.py, redis_buckets.py) apply it, the Redis one in a Lua
script that mirrors `take_all` line by line.

The policy says what a notification's attempt must take, all or nothing:
- the recipient's attention budget (`recipient`): one token per notification, on its first
  attempt only (a retry or a fallback is the same notification), across every channel; a
  critical category bypasses it; over it, the notification is held until a token comes;
- the recipient's bulk cap (`recipient_bulk`, e.g. per day): bulk over it is suppressed;
- a channel's global rate (`channels`, e.g. SMS per second) and a provider's quota
  (`providers`): a token per delivery; over them even a critical notification waits, for
  the shortest time: the next token, not behind those promised to others held before it.

Each held notification is promised a token after those promised before it (the bucket
remembers until when its tokens are promised), so a backlog released at once (quiet hours
ending) drains at the bucket's rate, most urgent first, instead of coming back all at once.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from domain.notifications.category_policy import DEFAULT_CRITICAL_CATEGORIES
from domain.notifications.channels import BULK

HOLD: Final = "hold"  # over the bucket: held until it has a token (a durable timer)
SUPPRESS: Final = "suppress"  # over the bucket: suppressed, with the bucket as its reason
THROTTLED: Final = "throttled"  # the reason of the Held a throttle causes

RECIPIENT: Final = "recipient"
RECIPIENT_BULK: Final = "recipient_bulk"


@dataclass(frozen=True)
class BucketRule:
    capacity: float  # the burst: tokens a full bucket holds
    refill_per_second: float

    def __post_init__(self) -> None:
        if not (self.capacity >= 1 and self.refill_per_second > 0
                and math.isfinite(self.capacity) and math.isfinite(self.refill_per_second)):
            raise ValueError("a bucket needs a capacity of at least 1 and a positive rate")

    @property
    def refills_in_seconds(self) -> int:
        """How long an empty bucket takes to fill: after that, a stored one can be forgotten."""
        return math.ceil(self.capacity / self.refill_per_second) + 1

    @classmethod
    def per_period(cls, limit: int, period_seconds: float) -> BucketRule:
        """At most `limit` in any `period_seconds` from a full bucket, refilling evenly."""
        return cls(float(limit), limit / period_seconds)

    @classmethod
    def per_second(cls, rate: float, burst: float | None = None) -> BucketRule:
        return cls(float(burst if burst is not None else max(1, math.ceil(rate))), rate)


@dataclass(frozen=True)
class BucketState:
    tokens: float
    at: float  # seconds: when `tokens` was true
    # until when the tokens to come are promised to the notifications held for them (each
    # held one is told a later time than the one before, so a held backlog drains at the
    # bucket's rate, not all at once when the first token comes); 0: none
    promised: float = 0.0


def refilled(state: BucketState | None, rule: BucketRule, now: float) -> BucketState:
    """The bucket at `now`. A clock that went back refills nothing (and moves `at` nowhere),
    so no interleaving of clocks grants more than capacity + rate x elapsed."""
    if state is None:
        return BucketState(rule.capacity, now)
    at = max(state.at, now)
    return BucketState(min(rule.capacity, state.tokens + (at - state.at) * rule.refill_per_second),
                       at, state.promised)


@dataclass(frozen=True)
class Ask:
    """Tokens one bucket must give for a dispatch to go ahead."""

    bucket: str  # what it limits, as the event records it: "recipient", "channel:sms", ...
    key: str  # where it is kept: the bucket and whose ("recipient:<user id>")
    rule: BucketRule
    tokens: int = 1
    policy: str = HOLD
    # a critical notification's: held, it waits only for the next token, not for those
    # promised to the ones held before it (nor does it push them later)
    urgent: bool = False
    # back for the token it was held for: it takes one if there is one, promised or not
    # (a newcomer takes none while tokens are promised: it is held after the promised ones)
    redeeming: bool = False

    def grantable(self, state: BucketState, now: float) -> bool:
        return state.tokens >= self.needed and (
            self.urgent or self.redeeming or state.promised <= now)

    @property
    def needed(self) -> float:
        """Never more than a full bucket (a push to more devices than a provider's burst
        waits for a full bucket rather than forever)."""
        return float(min(self.tokens, self.rule.capacity))


@dataclass(frozen=True)
class Shortfall:
    """Why a group of asks was refused: its `ask`-th bucket had `tokens` and will have what
    it needs (after the tokens promised to those held before it) in `wait_seconds`."""

    ask: int
    tokens: float
    wait_seconds: float


def take_all(states: MutableMapping[str, BucketState], groups: Sequence[Sequence[Ask]],
             now: float) -> list[Shortfall | None]:
    """Each group in order takes all its tokens or none (None: taken). A refused group is
    answered by its first suppressing bucket short of tokens, if any (it is suppressed and
    promised nothing); else it is held for the bucket it must wait longest for, each of its
    short holding buckets promising it a token after those promised before (an urgent ask:
    the next token). `states` is updated in place. The Redis script
    (adapters/notifications/redis_buckets.py) is the same algorithm, step for step."""
    answers: list[Shortfall | None] = []
    for asks in groups:
        current = {a.key: refilled(states.get(a.key), a.rule, now) for a in asks}
        short = [(index, ask) for index, ask in enumerate(asks)
                 if not ask.grantable(current[ask.key], now)]
        if not short:
            for ask in asks:
                state = current[ask.key]
                states[ask.key] = BucketState(state.tokens - ask.needed, state.at,
                                              state.promised)
            answers.append(None)
            continue
        suppressing = [(i, a) for i, a in short if a.policy == SUPPRESS]
        if suppressing:
            index, ask = suppressing[0]
            have = current[ask.key].tokens
            answers.append(Shortfall(index, have, max(0.0, ask.needed - have)
                                     / ask.rule.refill_per_second))
            continue
        longest: Shortfall | None = None
        for index, ask in short:
            state = current[ask.key]
            due = now + max(0.0, ask.needed - state.tokens) / ask.rule.refill_per_second
            if not (ask.urgent or ask.redeeming):
                if state.promised > now:
                    due = max(due, state.promised + ask.needed / ask.rule.refill_per_second)
                states[ask.key] = current[ask.key] = BucketState(state.tokens, state.at, due)
            if longest is None or due - now > longest.wait_seconds:
                longest = Shortfall(index, state.tokens, due - now)
        answers.append(longest)
    return answers


@dataclass(frozen=True)
class ThrottleVerdict:
    """A dispatch refused by a bucket: what the notification records (Notification.Throttled)."""

    bucket: str
    tokens: float
    capacity: float
    refill_per_second: float
    until: datetime
    policy: str

    @classmethod
    def of(cls, ask: Ask, shortfall: Shortfall, until: datetime) -> ThrottleVerdict:
        return cls(ask.bucket, round(shortfall.tokens, 6), ask.rule.capacity,
                   ask.rule.refill_per_second, until, ask.policy)


@dataclass(frozen=True)
class ThrottlePolicy:
    """Which buckets an attempt takes from (see the module's docstring); empty: none."""

    recipient: BucketRule | None = None
    recipient_bulk: BucketRule | None = None
    channels: Mapping[str, BucketRule] = field(default_factory=dict)
    providers: Mapping[str, BucketRule] = field(default_factory=dict)
    critical_categories: frozenset[str] = DEFAULT_CRITICAL_CATEGORIES

    @property
    def enabled(self) -> bool:
        return bool(self.recipient or self.recipient_bulk or self.channels or self.providers)

    def asks(self, recipient_id: str, category: str, priority: str, channel: str,
             first_attempt: bool, deliveries: Mapping[str, int],
             redeeming: bool = False) -> tuple[Ask, ...]:
        """What an attempt on `channel` with `deliveries` (provider -> how many) takes;
        `redeeming`: it was held by a throttle for a token that should be there now."""
        asks: list[Ask] = []
        urgent = category in self.critical_categories
        if first_attempt and not urgent:
            if self.recipient_bulk is not None and priority == BULK:
                asks.append(Ask(RECIPIENT_BULK, f"{RECIPIENT_BULK}:{recipient_id}",
                                self.recipient_bulk, policy=SUPPRESS, redeeming=redeeming))
            if self.recipient is not None:
                asks.append(Ask(RECIPIENT, f"{RECIPIENT}:{recipient_id}", self.recipient,
                                redeeming=redeeming))
        count = sum(deliveries.values())
        channel_rule = self.channels.get(channel)
        if channel_rule is not None and count:
            asks.append(Ask(f"channel:{channel}", f"channel:{channel}", channel_rule, count,
                            urgent=urgent, redeeming=redeeming))
        for provider, sends in sorted(deliveries.items()):
            rule = self.providers.get(provider)
            if rule is not None and sends:
                asks.append(Ask(f"provider:{provider}", f"provider:{provider}", rule, sends,
                                urgent=urgent, redeeming=redeeming))
        return tuple(asks)
