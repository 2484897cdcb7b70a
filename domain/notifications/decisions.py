"""Whether, when and on which channels a notification goes: one ordered pipeline of pure
decision steps, each recorded.

Each step looks at the request and what is known about the recipient and answers a
`Decision`: channels it rules out (each with its reason), a time to hold until, a reason to
suppress the notification altogether, or a new order of the channels kept (`reroute`), and
`inputs`: what it looked at (the rule that matched, the local time, ...). The pipeline folds
the steps' decisions in order into one `Routing`, which the aggregate records
(`Notification.route`: `Decided` with every step's record, then `Routed`). The steps and
their order are one tuple, `DECISION_STEPS` in domain/notifications/pipeline.py; this module
has the shapes, the fold and part 1's two steps (a channel must reach the recipient, who may
have unsubscribed from the category on it; `send_at` holds).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from typing import TYPE_CHECKING, Any, Final, Protocol
from uuid import UUID

from domain.notifications.channels import CHANNEL_OF_KIND, IN_APP
from domain.notifications.preferences import PreferenceFacts

if TYPE_CHECKING:
    from domain.notifications.collapsing import DedupFact, DigestTarget
    from domain.notifications.sms_consent import ConsentEvidence

UNSUBSCRIBED: Final = "unsubscribed"  # the reason a channel the recipient opted out of is skipped

# A decision's outcome, as its record names it
SEND: Final = "send"
HOLD: Final = "hold"
SUPPRESS: Final = "suppress"
REROUTE: Final = "reroute"
RULE_OUT: Final = "rule_out"  # sends, on fewer channels
DIGEST: Final = "digest"  # collapsed into a digest: sends nothing itself


@dataclass(frozen=True)
class RoutingRequest:
    """What was asked. `critical` (an operator's critical category: security alerts, payment
    confirmations) bypasses opt-outs, quiet hours, throttles and digests, never reachability;
    `transactional` (critical ones and e.g. account mail) is exempt from the SMS sending
    window and needs no marketing consent. A step is asked with `channels` narrowed to those
    still in play (what earlier steps ruled out is gone)."""

    category: str
    priority: str
    channels: tuple[str, ...]
    send_at: datetime | None
    critical: bool = False
    transactional: bool = False

    def earliest(self, now: datetime) -> datetime:
        """The first moment it may go, as asked (now, or its send_at if later): the time a
        step about the clock (quiet hours, a sending window) looks at."""
        return self.send_at if self.send_at is not None and self.send_at > now else now


@dataclass(frozen=True)
class RecipientFacts:
    """What the write side knows when it routes: the kinds of address the recipient has, the
    kinds some configured provider reaches (the inbox is always both), and the (channel,
    category) pairs the recipient unsubscribed from."""

    address_kinds: frozenset[str]
    provided_kinds: frozenset[str]
    opted_out: frozenset[tuple[str, str]] = frozenset()
    # the recipient's choices for the request's category, their zone and quiet hours
    # (domain/notifications/preference_steps.py); None: all on, no zone of their own
    preferences: PreferenceFacts | None = None
    # the request's dedup key and who holds it (domain/notifications/dedup.py)
    dedup: DedupFact | None = None
    # the digest it would join, if asked to be digested (domain/notifications/digests.py)
    digest: DigestTarget | None = None
    # each of the recipient's phone numbers -> the SMS consent it stands on (None: never
    # asked); read only for a request with SMS (domain/notifications/consent_steps.py)
    sms_consents: Mapping[str, ConsentEvidence | None] = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    """One step's answer. `inputs` is JSON-able (str, numbers, bools, None, lists, dicts;
    datetimes, dates and times are written as ISO 8601): it is recorded as it is, so the log
    says years later which rule matched. `reroute` is a new order of the channels still kept
    (a channel it leaves out is skipped; it cannot add one no earlier step checked)."""

    step: str
    ruled_out: tuple[tuple[str, str], ...] = ()  # (channel, reason)
    hold_until: datetime | None = None
    suppress: str | None = None
    reroute: tuple[str, ...] | None = None
    inputs: Mapping[str, Any] = field(default_factory=dict)
    digest_into: UUID | None = None  # collapsed into this digest

    @property
    def outcome(self) -> str:
        if self.suppress is not None:
            return SUPPRESS
        if self.digest_into is not None:
            return DIGEST
        if self.hold_until is not None:
            return HOLD
        if self.reroute is not None:
            return REROUTE
        return RULE_OUT if self.ruled_out else SEND

    def record(self) -> dict[str, Any]:
        """The step as `Notification.Decided` records it (JSON types only)."""
        entry: dict[str, Any] = {"step": self.step, "outcome": self.outcome}
        if self.ruled_out:
            entry["ruled_out"] = [[channel, reason] for channel, reason in self.ruled_out]
        if self.hold_until is not None:
            entry["hold_until"] = self.hold_until.isoformat()
        if self.suppress is not None:
            entry["reason"] = self.suppress
        if self.reroute is not None:
            entry["rerouted"] = list(self.reroute)
        if self.digest_into is not None:
            entry["digest_into"] = str(self.digest_into)
        entry["inputs"] = jsonable(self.inputs)
        return entry


_JSON_SCALARS: Final = frozenset({str, int, float, bool, type(None)})


def jsonable(value: Any) -> Any:
    """`value` in JSON's types: mappings with str keys, lists, ISO 8601 for moments."""
    kind = type(value)  # the usual types first, by identity (every notification's trace)
    if kind in _JSON_SCALARS:
        return value
    if kind is dict:
        return {k if type(k) is str else str(k): jsonable(v) for k, v in value.items()}
    if kind is list:
        return [jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (frozenset, set)):
        return sorted(jsonable(v) for v in value)
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


@dataclass(frozen=True)
class Routing:
    channels: tuple[str, ...]
    skipped: tuple[tuple[str, str], ...] = ()
    hold_until: datetime | None = None
    suppressed: str | None = None
    trace: tuple[Decision, ...] = field(default=(), repr=False)
    hold_reason: str | None = None  # the step whose hold is the latest (Held's reason)
    digest_into: UUID | None = None  # a digest took it: it sends nothing itself

    def records(self) -> list[dict[str, Any]]:
        return [decision.record() for decision in self.trace]


class DecisionStep(Protocol):
    @property
    def name(self) -> str: ...

    def decide(self, request: RoutingRequest, facts: RecipientFacts,
               now: datetime) -> Decision: ...


class ChannelsThatReach:
    """A channel stays only if the recipient has an address on it that a configured provider
    reaches (the inbox always does) and has not unsubscribed from the category on it (unless
    the category is critical)."""

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
            elif (channel, request.category) in facts.opted_out and not request.critical:
                # an unsubscribe is an opt-out, which a critical category bypasses (one
                # recorded before the category was made critical)
                ruled_out.append((channel, UNSUBSCRIBED))
        inputs = {"address_kinds": sorted(facts.address_kinds),
                  "provided_kinds": sorted(facts.provided_kinds)}
        return Decision(self.name, ruled_out=tuple(ruled_out), inputs=inputs)


class SendAt:
    """A notification asked for later waits until then."""

    name = "send_at"

    def decide(self, request: RoutingRequest, facts: RecipientFacts,
               now: datetime) -> Decision:
        inputs = {"send_at": request.send_at}
        if request.send_at is not None and request.send_at > now:
            return Decision(self.name, hold_until=request.send_at, inputs=inputs)
        return Decision(self.name, inputs=inputs)


DELIVERY_ENGINE_STEPS: tuple[DecisionStep, ...] = (ChannelsThatReach(), SendAt())


def decide(request: RoutingRequest, facts: RecipientFacts, now: datetime,
           steps: Sequence[DecisionStep] = DELIVERY_ENGINE_STEPS) -> Routing:
    """Fold the steps' decisions in order: ruled-out channels are skipped with their step's
    name, a reroute reorders what is kept, the latest hold wins, the first suppression ends
    the pipeline (later steps are not asked, so they are not in the trace)."""
    kept = list(dict.fromkeys(request.channels))
    skipped: list[tuple[str, str]] = []
    hold_until: datetime | None = None
    hold_reason: str | None = None
    digest_into: UUID | None = None
    trace = []
    for step in steps:
        in_play = tuple(kept)
        asked = request if in_play == request.channels else replace(request, channels=in_play)
        decision = step.decide(asked, facts, now)
        trace.append(decision)
        for channel, reason in decision.ruled_out:
            if channel in kept:
                kept.remove(channel)
                skipped.append((channel, f"{step.name}: {reason}"))
        if decision.suppress is not None:
            return Routing((), tuple(skipped), None, f"{step.name}: {decision.suppress}",
                           tuple(trace))
        if decision.reroute is not None:
            order = [c for c in dict.fromkeys(decision.reroute) if c in kept]
            skipped.extend((c, f"{step.name}: rerouted") for c in kept if c not in order)
            kept = order
        if decision.hold_until is not None and (hold_until is None
                                                or decision.hold_until > hold_until):
            hold_until, hold_reason = decision.hold_until, step.name
        if decision.digest_into is not None:
            digest_into = decision.digest_into
    suppressed = None if kept else "no channel can reach the recipient"
    # with no channel left, nothing is digested: it is suppressed like any other
    return Routing(tuple(kept), tuple(skipped), hold_until, suppressed, tuple(trace),
                   hold_reason, digest_into if kept else None)
