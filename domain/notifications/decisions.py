"""Whether, when and on which channels a notification goes: one ordered pipeline of pure
decision steps, each recorded.

Each step looks at the request and what is known about the recipient and answers a
`Decision`: channels it rules out (each with its reason), a time to hold until, or a reason
to suppress the notification altogether. The pipeline folds the steps' decisions in order
into one `Routing`, which the aggregate records (`Notification.route`). Part 1 has the steps
an engine needs (a channel must reach the recipient, who may have unsubscribed from the
category on it; `send_at` holds); preferences, quiet hours, throttles and digests are
further steps of the same shape.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final, Protocol

from domain.notifications.channels import CHANNEL_OF_KIND, IN_APP

UNSUBSCRIBED: Final = "unsubscribed"  # the reason a channel the recipient opted out of is skipped


@dataclass(frozen=True)
class RoutingRequest:
    category: str
    priority: str
    channels: tuple[str, ...]
    send_at: datetime | None


@dataclass(frozen=True)
class RecipientFacts:
    """What the write side knows when it routes: the kinds of address the recipient has, the
    kinds some configured provider reaches (the inbox is always both), and the (channel,
    category) pairs the recipient unsubscribed from."""

    address_kinds: frozenset[str]
    provided_kinds: frozenset[str]
    opted_out: frozenset[tuple[str, str]] = frozenset()


@dataclass(frozen=True)
class Decision:
    step: str
    ruled_out: tuple[tuple[str, str], ...] = ()  # (channel, reason)
    hold_until: datetime | None = None
    suppress: str | None = None


@dataclass(frozen=True)
class Routing:
    channels: tuple[str, ...]
    skipped: tuple[tuple[str, str], ...] = ()
    hold_until: datetime | None = None
    suppressed: str | None = None
    trace: tuple[Decision, ...] = field(default=(), repr=False)


class DecisionStep(Protocol):
    @property
    def name(self) -> str: ...

    def decide(self, request: RoutingRequest, facts: RecipientFacts,
               now: datetime) -> Decision: ...


class ChannelsThatReach:
    """A channel stays only if the recipient has an address on it that a configured provider
    reaches (the inbox always does) and has not unsubscribed from the category on it."""

    name = "reachability"

    def decide(self, request: RoutingRequest, facts: RecipientFacts,
               now: datetime) -> Decision:
        ruled_out = []
        for channel in request.channels:
            if channel == IN_APP:
                continue
            kinds = {k for k, c in CHANNEL_OF_KIND.items() if c == channel}
            if not kinds & facts.provided_kinds:
                ruled_out.append((channel, "no provider is configured for it"))
            elif not kinds & facts.address_kinds & facts.provided_kinds:
                ruled_out.append((channel, "the recipient has no address on it"))
            elif (channel, request.category) in facts.opted_out:
                ruled_out.append((channel, UNSUBSCRIBED))
        return Decision(self.name, ruled_out=tuple(ruled_out))


class SendAt:
    """A notification asked for later waits until then."""

    name = "send_at"

    def decide(self, request: RoutingRequest, facts: RecipientFacts,
               now: datetime) -> Decision:
        if request.send_at is not None and request.send_at > now:
            return Decision(self.name, hold_until=request.send_at)
        return Decision(self.name)


DELIVERY_ENGINE_STEPS: tuple[DecisionStep, ...] = (ChannelsThatReach(), SendAt())


def decide(request: RoutingRequest, facts: RecipientFacts, now: datetime,
           steps: Sequence[DecisionStep] = DELIVERY_ENGINE_STEPS) -> Routing:
    kept = list(dict.fromkeys(request.channels))
    skipped: list[tuple[str, str]] = []
    hold_until: datetime | None = None
    trace = []
    for step in steps:
        decision = step.decide(request, facts, now)
        trace.append(decision)
        for channel, reason in decision.ruled_out:
            if channel in kept:
                kept.remove(channel)
                skipped.append((channel, f"{step.name}: {reason}"))
        if decision.suppress is not None:
            return Routing((), tuple(skipped), None, f"{step.name}: {decision.suppress}",
                           tuple(trace))
        if decision.hold_until is not None:
            hold_until = max(hold_until or decision.hold_until, decision.hold_until)
    suppressed = None if kept else "no channel can reach the recipient"
    return Routing(tuple(kept), tuple(skipped), hold_until, suppressed, tuple(trace))
