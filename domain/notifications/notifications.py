"""A notification: one request to one recipient, from the request to its last attempt.

Its life, every step an event:

    Requested -> Decided (every decision step's answer and inputs)
              -> Routed (the channels it may use, and why others were skipped)
              -> Suppressed (no channel left) | Held (until send_at, the end of quiet
                 hours, ...: its reason) | Queued (ready now)
    Queued -> [Rechecked: what changed since routing gives the channel up, holds it, or
              leaves numbers out] -> Dispatched (one delivery per address of the channel,
              each with a provider)
           -> per delivery: Accepted (the provider's id) [Delivered] | Failed (code, retryable)
    once every delivery of the attempt is answered:
        any accepted -> the channel is done (a fallback may be scheduled: FallbackScheduled)
        else retryable and attempts left -> Retried (the next due time, the addresses to retry)
        else -> FellBack to the next channel (Queued) | DeadLettered (none left)
    Held, Retried and FallbackScheduled set a timer; Released (by the scheduler, never early)
    queues it again (a fallback only if nothing was delivered or read by then).
    Cancelled (by its cancellation key, before dispatch; or withdrawn by a read receipt or
    an unsend elsewhere, as a scheduled fallback is: FallbackCancelled), Redriven (a dead
    letter, once),
    Read and Clicked (in the inbox, or a tracked link) may come at their times.

Everything a provider said (provider, channel, attempt, latency, cost, code) is in the events,
so analytics and audit read nothing else. The aggregate is pure: the clock, the jitter and
what the providers answered come in as arguments.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final
from uuid import NAMESPACE_URL, UUID, uuid5

from domain.notifications import tracked_links
from domain.notifications.channels import IN_APP
from domain.notifications.content import Content, Rendering
from domain.notifications.decisions import Routing
from domain.notifications.errors import NotificationNotFound
from domain.notifications.retries import RetryPolicy
from domain.notifications.throttles import SUPPRESS, THROTTLED, ThrottleVerdict
from event_log.aggregate import Cause, ParleyAggregate, copied, values

NOTIFICATION_NAMESPACE: Final = uuid5(NAMESPACE_URL, "https://parley.invalid/notifications")

# States (what the aggregate is waiting for)
HELD: Final = "held"  # a timer: send_at, quiet hours, a sending window
QUEUED: Final = "queued"  # ready for a dispatcher
DISPATCHING: Final = "dispatching"  # deliveries out, answers awaited
WAITING: Final = "waiting"  # a timer: the next attempt
ACCEPTED: Final = "accepted"  # a provider took it (a fallback timer may be set)
DELIVERED: Final = "delivered"  # a provider or receipt says it arrived
SUPPRESSED: Final = "suppressed"  # no channel could take it
DEAD_LETTERED: Final = "dead_lettered"
CANCELLED: Final = "cancelled"
DIGESTED: Final = "digested"  # collapsed into a digest, which is sent instead
CANCELLABLE: Final = frozenset({HELD, QUEUED, WAITING})
FINISHED: Final = frozenset({DELIVERED, SUPPRESSED, DEAD_LETTERED, CANCELLED, DIGESTED})

# What a re-check at dispatch did (Rechecked.outcome)
GIVEN_UP: Final = "given_up"
RECHECK_HELD: Final = "held"
NARROWED: Final = "narrowed"

# Timer kinds
SEND_AT: Final = "send_at"
RETRY: Final = "retry"
FALLBACK: Final = "fallback"


def notification_id(request_id: UUID, recipient_id: UUID) -> UUID:
    return uuid5(NOTIFICATION_NAMESPACE, f"{request_id}/{recipient_id}")


def delivery_id(notification: UUID, channel: str, attempt: int, contact_point_id: str) -> UUID:
    """The attempt id a provider is given as its idempotency key: the same for a delivery sent
    again after a crash, different for every real new attempt."""
    return uuid5(NOTIFICATION_NAMESPACE, f"{notification}/{channel}/{attempt}/{contact_point_id}")


@dataclass(frozen=True)
class PlannedDelivery:
    """One address of the channel being attempted and the provider chosen for it."""

    contact_point_id: str
    kind: str
    provider: str


@dataclass(frozen=True)
class Answer:
    """What a provider said about one delivery, as the aggregate records it."""

    delivery_id: UUID
    provider: str
    accepted: bool
    latency_ms: int
    provider_message_id: str | None = None
    delivered: bool = False
    code: str = ""
    retryable: bool = False
    retry_after_seconds: float | None = None
    address_gone: bool = False
    cost_micros: int = 0


@dataclass(frozen=True)
class Timer:
    kind: str
    due_at: datetime
    timer_id: int


class Notification(ParleyAggregate):
    def __init__(self, request_id: UUID, recipient_id: UUID, category: str, priority: str,
                 channels: list[str], fallback_after_seconds: int | None, title: str, body: str,
                 data: dict[str, Any], deep_link: str | None, send_at: datetime | None,
                 cancellation_key: str | None, caller: str, requested_at: datetime,
                 contact_point_id: str | None,
                 renderings: list[dict[str, Any]] | None = None) -> None:
        self.request_id = request_id
        self.recipient_id = recipient_id
        self.category = category
        self.priority = priority
        self.requested_channels = list(channels)
        self.channels: list[str] = []
        self.fallback_after_seconds = fallback_after_seconds
        self.title = title
        self.body = body
        self.data = dict(data)
        self.deep_link = deep_link
        self.send_at = send_at
        self.cancellation_key = cancellation_key
        self.caller = caller
        self.requested_at = requested_at
        # to this one contact point only, verified or not (the email verification link)
        self.contact_point_id = contact_point_id
        self.state = QUEUED
        self.channel_index = 0
        self.attempt = 0
        self.retry_contact_points: list[str] | None = None  # None: every address
        self.deliveries: dict[str, dict[str, Any]] = {}  # of the current attempt
        self.dispatched_at: datetime | None = None
        self.timer: Timer | None = None
        self.timer_count = 0
        self.delivered_at: datetime | None = None
        self.read_at: datetime | None = None
        self.inbox = False  # in the recipient's in-app inbox (beside the channels in order)
        self.posted_at: datetime | None = None
        self.attempts_made = 0
        self.redrives = 0
        self.throttled_at_attempt: int | None = None  # attempts made when last throttled
        self.withdrawn: str | None = None  # why, if withdrawn while out with a provider
        self.rendered: dict[str, dict[str, Any]] = {  # channel -> its template's content
            r["channel"]: {"title": r["title"], "body": r["body"], "html": r["html"]}
            for r in renderings or ()}
        self.clicks: dict[str, datetime] = {}  # "<channel>/<link index>" -> last recorded
        self.clicks_recorded = 0

    # events -----------------------------------------------------------------------------

    class Requested(ParleyAggregate.Created):
        request_id: UUID
        recipient_id: UUID
        category: str
        priority: str
        channels: list[str]
        fallback_after_seconds: int | None
        title: str
        body: str
        data: dict[str, Any]
        deep_link: str | None
        send_at: datetime | None
        cancellation_key: str | None
        caller: str
        requested_at: datetime
        contact_point_id: str | None
        # What each channel's template made of it, and which template, version and locale
        # (`Rendering.record`): version 1 recorded these as TemplateRendered events after it.
        renderings: list[dict[str, Any]]

        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            """Version 1 carried no renderings (its TemplateRendered events did, if any)."""
            state["renderings"] = []

    class Decided(ParleyAggregate.Event):
        """Every decision step's answer, in the pipeline's order (the step, its outcome, what
        it ruled out, held until, suppressed for or rerouted to, and the inputs it looked at:
        domain/notifications/decisions.py `Decision.record`). Routed follows it."""

        steps: list[dict[str, Any]]

    class TemplateRendered(ParleyAggregate.Event):
        """What a template made of the notification on one channel, and which one: its id,
        version and locale (the recipient's, `asked_locale`, or where it fell back to).
        No longer written: `Requested.renderings` (version 2) says the same in the event
        that makes the notification, one event fewer per channel; kept for the logs that
        hold it."""

        channel: str
        template_id: UUID
        version: int
        locale: str
        asked_locale: str | None
        title: str
        body: str
        html: str | None

        def apply(self, aggregate: Any) -> None:
            aggregate.rendered[self.channel] = {"title": self.title, "body": self.body,
                                                "html": self.html}

    class Routed(ParleyAggregate.Event):
        """The decision on channels: those kept, in order, and each skipped one's reason;
        `inbox` if it also goes to the in-app inbox (not a step of the order: the inbox
        shows it when it is due, whatever the other channels do)."""

        channels: list[str]
        skipped: list[list[str]]
        inbox: bool

        def apply(self, aggregate: Any) -> None:
            aggregate.channels = list(self.channels)
            aggregate.inbox = self.inbox

    class PostedToInbox(ParleyAggregate.Event):
        at: datetime
        copies = copied(posted_at="at")

    class Suppressed(ParleyAggregate.Event):
        reason: str
        at: datetime
        sets = values(state=SUPPRESSED)

    class Held(ParleyAggregate.Event):
        until: datetime
        reason: str
        timer_id: int

        def apply(self, aggregate: Any) -> None:
            aggregate.state = HELD
            aggregate.timer = Timer(SEND_AT, self.until, self.timer_id)
            aggregate.timer_count = self.timer_id

    class Queued(ParleyAggregate.Event):
        """Ready for a dispatcher now (dispatchers are fed from these events)."""

        priority: str
        channel: str
        attempt: int
        at: datetime
        sets = values(state=QUEUED, timer=None)

    class Throttled(ParleyAggregate.Event):
        """A dispatch a bucket refused (domain/notifications/throttles.py): which bucket, the
        tokens it had (those promised to notifications held before this one included: it
        waits behind them) and how it refills, when it will have a token for this one, and
        what followed (`policy`: held until then, or suppressed)."""

        channel: str
        bucket: str
        tokens: float
        capacity: float
        refill_per_second: float
        until: datetime
        policy: str
        at: datetime

        def apply(self, aggregate: Any) -> None:
            # until its next dispatch, it is back for the token it was held for
            aggregate.throttled_at_attempt = aggregate.attempts_made

    class Rechecked(ParleyAggregate.Event):
        """At dispatch, the current channel asked again of the decision steps that depend on
        what may have changed since routing (the recipient's preferences, email unsubscribes,
        each number's SMS consent, the SMS sending window at this moment), recorded only when
        that changes something: `steps` as `Decided` records them; `outcome` GIVEN_UP (the
        channel is given up for the next, `reason` the step's: FellBack follows, or Suppressed
        with no channel left), RECHECK_HELD (Held follows, the step's reason) or NARROWED
        (this attempt leaves out the contact points `left_out`: numbers without SMS consent
        now; Dispatched follows)."""

        channel: str
        steps: list[dict[str, Any]]
        outcome: str
        reason: str | None
        left_out: list[str]
        at: datetime

    class Dispatched(ParleyAggregate.Event):
        channel: str
        attempt: int
        deliveries: list[dict[str, str]]  # delivery_id, contact_point_id, kind, provider
        at: datetime

        def apply(self, aggregate: Any) -> None:
            aggregate.state = DISPATCHING
            aggregate.attempt = self.attempt
            aggregate.dispatched_at = self.at
            aggregate.attempts_made += 1
            aggregate.deliveries = {d["delivery_id"]: dict(d, outcome=None)
                                    for d in self.deliveries}

    class Accepted(ParleyAggregate.Event):
        delivery_id: UUID
        channel: str
        attempt: int
        provider: str
        provider_message_id: str | None
        latency_ms: int
        cost_micros: int
        at: datetime

        def apply(self, aggregate: Any) -> None:
            entry = aggregate.deliveries.get(str(self.delivery_id))
            if entry is not None:
                entry.update(outcome="accepted", provider_message_id=self.provider_message_id)

    class Delivered(ParleyAggregate.Event):
        """It reached the recipient: the provider said so (a webhook's 2xx, the inbox), or a
        later receipt did (`source` says which)."""

        delivery_id: UUID | None
        channel: str
        source: str
        at: datetime

        def apply(self, aggregate: Any) -> None:
            aggregate.state = DELIVERED
            aggregate.delivered_at = self.at
            aggregate.timer = None
            entry = aggregate.deliveries.get(str(self.delivery_id))
            if entry is not None:
                entry["outcome"] = "delivered"

    class Failed(ParleyAggregate.Event):
        delivery_id: UUID
        channel: str
        attempt: int
        provider: str
        code: str
        retryable: bool
        address_gone: bool
        latency_ms: int
        at: datetime

        def apply(self, aggregate: Any) -> None:
            entry = aggregate.deliveries.get(str(self.delivery_id))
            if entry is not None:
                entry.update(outcome="failed", retryable=self.retryable,
                             address_gone=self.address_gone)

    class Retried(ParleyAggregate.Event):
        channel: str
        next_attempt: int
        due_at: datetime
        timer_id: int
        contact_point_ids: list[str]

        def apply(self, aggregate: Any) -> None:
            aggregate.state = WAITING
            aggregate.retry_contact_points = list(self.contact_point_ids) or None
            aggregate.timer = Timer(RETRY, self.due_at, self.timer_id)
            aggregate.timer_count = self.timer_id

    class FellBack(ParleyAggregate.Event):
        from_channel: str
        to_channel: str
        reason: str
        at: datetime

        def apply(self, aggregate: Any) -> None:
            aggregate.channel_index += 1
            aggregate.attempt = 0
            aggregate.retry_contact_points = None
            aggregate.deliveries = {}

    class FallbackScheduled(ParleyAggregate.Event):
        due_at: datetime
        timer_id: int
        to_channel: str

        def apply(self, aggregate: Any) -> None:
            aggregate.timer = Timer(FALLBACK, self.due_at, self.timer_id)
            aggregate.timer_count = self.timer_id

    class ChannelAccepted(ParleyAggregate.Event):
        """Every delivery of the attempt is answered and a provider took at least one."""

        channel: str
        attempt: int
        at: datetime

        def apply(self, aggregate: Any) -> None:
            if aggregate.state != DELIVERED:
                aggregate.state = ACCEPTED

    class Released(ParleyAggregate.Event):
        """A timer came due (the scheduler's command, never before `due_at`)."""

        timer_id: int
        kind: str
        at: datetime
        sets = values(timer=None)

    class DeadLettered(ParleyAggregate.Event):
        reason: str
        attempts: int
        at: datetime
        sets = values(state=DEAD_LETTERED, timer=None)

    class Redriven(ParleyAggregate.Event):
        at: datetime

        def apply(self, aggregate: Any) -> None:
            aggregate.redrives += 1
            aggregate.channel_index = 0
            aggregate.attempt = 0
            aggregate.retry_contact_points = None
            aggregate.deliveries = {}

    class Digested(ParleyAggregate.Event):
        """Collapsed into digest `into` (domain/notifications/digests.py): it sends
        nothing itself; the digest, flushed at its timer, is one new notification."""

        into: UUID
        at: datetime
        sets = values(state=DIGESTED, timer=None)

    class Cancelled(ParleyAggregate.Event):
        reason: str
        at: datetime
        sets = values(state=CANCELLED, timer=None)

    class FallbackCancelled(ParleyAggregate.Event):
        """The fallback scheduled after a channel was accepted will not be tried (a read
        receipt or an unsend elsewhere made it pointless); the accepted channel stands."""

        reason: str
        at: datetime
        sets = values(timer=None)

    class WithdrawnInFlight(ParleyAggregate.Event):
        """Out with a provider when a read receipt or an unsend elsewhere withdrew it: the
        attempt's answers are still recorded, and nothing follows them (no fallback, retry or
        next channel; failed, it is cancelled with this reason)."""

        reason: str
        at: datetime
        copies = copied(withdrawn="reason")

    class Read(ParleyAggregate.Event):
        at: datetime

        def apply(self, aggregate: Any) -> None:
            aggregate.read_at = self.at
            if aggregate.timer is not None and aggregate.timer.kind == FALLBACK:
                aggregate.timer = None

    class Clicked(ParleyAggregate.Event):
        """A link of it was followed: on `channel` (an email's tracked link, or the inbox),
        the `link_index`-th of its links there (domain/notifications/tracked_links.py; None:
        the notification itself, tapped in the app), `link` that link, `source` who said so."""

        at: datetime
        link: str | None
        channel: str | None
        link_index: int | None
        source: str

        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            """Version 1 named no channel (nothing recorded one: it had no command)."""
            state.update(channel=None, link_index=None, source="unknown")

        def apply(self, aggregate: Any) -> None:
            aggregate.clicks[f"{self.channel}/{self.link_index}"] = self.at
            aggregate.clicks_recorded += 1

    # commands ---------------------------------------------------------------------------

    @classmethod
    def request(cls, request_id: UUID, recipient_id: UUID, *, category: str, priority: str,
                channels: Sequence[str], fallback_after_seconds: int | None, content: Content,
                send_at: datetime | None, cancellation_key: str | None, caller: str,
                at: datetime, cause: Cause, contact_point_id: str | None = None,
                renderings: Sequence[Rendering] = ()) -> Notification:
        return cls._create(
            cls.Requested, id=notification_id(request_id, recipient_id), request_id=request_id,
            recipient_id=recipient_id, category=category, priority=priority,
            channels=list(channels), fallback_after_seconds=fallback_after_seconds,
            title=content.title, body=content.body, data=dict(content.data),
            deep_link=content.deep_link, send_at=send_at, cancellation_key=cancellation_key,
            caller=caller, requested_at=at, contact_point_id=contact_point_id,
            renderings=[r.record() for r in renderings], **cause.as_event_fields())

    @property
    def content(self) -> Content:
        """What it says on the channel being attempted (its template's rendering, if one was
        used there)."""
        rendered = self.rendered.get(self.channel or "")
        if rendered is not None:
            return Content(rendered["title"], rendered["body"], self.data, self.deep_link,
                           html=rendered["html"])
        return Content(self.title, self.body, self.data, self.deep_link)

    @property
    def channel(self) -> str | None:
        """The channel being attempted (None once every channel has been given up)."""
        return self.channels[self.channel_index] if self.channel_index < len(self.channels) \
            else None

    def route(self, routing: Routing, now: datetime, cause: Cause) -> None:
        """Record the pipeline's decision (domain.notifications.decisions) and what follows
        from it: suppressed, held until a time, or due now."""
        channels = [c for c in routing.channels if c != IN_APP]
        inbox = IN_APP in routing.channels
        self.trigger_event(self.Decided, steps=routing.records(), **cause.as_event_fields())
        self.trigger_event(self.Routed, channels=channels,
                           skipped=[[c, reason] for c, reason in routing.skipped],
                           inbox=inbox, **cause.as_event_fields())
        if routing.suppressed is not None or not (channels or inbox):
            self.trigger_event(self.Suppressed,
                               reason=routing.suppressed or "no channel can reach the recipient",
                               at=now, **cause.as_event_fields())
        elif routing.digest_into is not None:
            self.trigger_event(self.Digested, into=routing.digest_into, at=now,
                               **cause.as_event_fields())
        elif routing.hold_until is not None and routing.hold_until > now:
            # the step that held it latest (send_at, quiet_hours, sms_window, ...); every
            # hold is released like send_at's: due, then queued (by priority, throttled)
            self.trigger_event(self.Held, until=routing.hold_until,
                               reason=routing.hold_reason or SEND_AT,
                               timer_id=self.timer_count + 1, **cause.as_event_fields())
        else:
            self._due(now, cause)

    def _due(self, now: datetime, cause: Cause) -> None:
        """Its time has come: into the inbox if it goes there, and queued for its first
        channel (with no channel but the inbox, the inbox delivered it)."""
        fields = cause.as_event_fields()
        if self.inbox and self.posted_at is None:
            self.trigger_event(self.PostedToInbox, at=now, **fields)
        if self.channels:
            self._queue(now, cause)
        else:
            self.trigger_event(self.Delivered, delivery_id=None, channel=IN_APP,
                               source="inbox", at=now, **fields)

    def _queue(self, now: datetime, cause: Cause) -> None:
        channel = self.channel
        assert channel is not None
        self.trigger_event(self.Queued, priority=self.priority, channel=channel,
                           attempt=self.attempt + 1, at=now, **cause.as_event_fields())

    @property
    def dispatchable(self) -> bool:
        return self.state == QUEUED

    def is_stale_dispatch(self, now: datetime, stale_after_seconds: float) -> bool:
        """Dispatched long ago and still unanswered: the dispatcher probably died."""
        return (self.state == DISPATCHING and self.dispatched_at is not None
                and (now - self.dispatched_at).total_seconds() >= stale_after_seconds)

    def pending_deliveries(self) -> list[dict[str, Any]]:
        """The current attempt's deliveries not answered yet (to send again after a crash:
        same ids, so providers see the same idempotency keys)."""
        return [d for d in self.deliveries.values() if d.get("outcome") is None]

    def wanted_contact_points(self) -> list[str] | None:
        """The addresses the next attempt is for (None: every address of the channel)."""
        return self.retry_contact_points

    def dispatch(self, planned: Sequence[PlannedDelivery], now: datetime, cause: Cause) -> None:
        """Start the next attempt on the current channel with these deliveries. With none (no
        provider may be used now: their breakers are open), the attempt counts and fails at
        once as retryable when settled (`record` with no answers)."""
        channel = self.channel
        if self.state != QUEUED or channel is None:
            raise NotificationNotFound("notification_id", "no notification awaiting dispatch")
        attempt = self.attempt + 1
        deliveries = [{"delivery_id": str(delivery_id(self.id, channel, attempt,
                                                      p.contact_point_id)),
                       "contact_point_id": p.contact_point_id, "kind": p.kind,
                       "provider": p.provider} for p in planned]
        self.trigger_event(self.Dispatched, channel=channel, attempt=attempt,
                           deliveries=deliveries, at=now, **cause.as_event_fields())

    def throttle(self, verdict: ThrottleVerdict, now: datetime, cause: Cause) -> None:
        """A bucket refused its attempt: held until the bucket has a token (the durable timer
        queues it again then), or suppressed where the bucket's policy says so."""
        channel = self.channel
        if self.state != QUEUED or channel is None:
            raise NotificationNotFound("notification_id", "no notification awaiting dispatch")
        fields = cause.as_event_fields()
        self.trigger_event(self.Throttled, channel=channel, bucket=verdict.bucket,
                           tokens=verdict.tokens, capacity=verdict.capacity,
                           refill_per_second=verdict.refill_per_second, until=verdict.until,
                           policy=verdict.policy, at=now, **fields)
        if verdict.policy == SUPPRESS:
            self.trigger_event(self.Suppressed, at=now, **fields,
                               reason=f"throttle: {verdict.bucket} over its limit")
        else:
            self.trigger_event(self.Held, until=max(verdict.until, now), reason=THROTTLED,
                               timer_id=self.timer_count + 1, **fields)

    def recheck(self, routing: Routing, left_out: Sequence[str], now: datetime,
                cause: Cause) -> bool:
        """What the decision steps say of the current channel at dispatch, asked alone
        (`routing`) with the facts of now: ruled out, it is given up for the next channel
        (with none left, suppressed); held, it waits (the durable timer releases it); with
        `left_out` contact points, they are left out of the attempt that follows. Nothing of
        that: nothing is recorded (False)."""
        channel = self.channel
        if self.state != QUEUED or channel is None:
            raise NotificationNotFound("notification_id", "no notification awaiting dispatch")
        reason = next((r for c, r in routing.skipped if c == channel), None)
        if reason is None and channel not in routing.channels:
            reason = routing.suppressed or "no channel can reach the recipient"
        hold = routing.hold_until if reason is None and routing.hold_until is not None \
            and routing.hold_until > now else None
        if reason is None and hold is None and not left_out:
            return False
        outcome = GIVEN_UP if reason is not None else RECHECK_HELD if hold else NARROWED
        fields = cause.as_event_fields()
        given_up = None if reason is None else f"{reason} since routing"
        self.trigger_event(self.Rechecked, channel=channel, steps=routing.records(),
                           outcome=outcome, reason=given_up,
                           left_out=list(left_out) if outcome == NARROWED else [], at=now,
                           **fields)
        if given_up is not None:
            if self._next_channel() is None:
                self.trigger_event(self.Suppressed, reason=f"{channel}: {given_up}", at=now,
                                   **fields)
            else:
                self._give_up_channel(given_up, now, cause)
        elif hold is not None:
            self.trigger_event(self.Held, until=hold, reason=routing.hold_reason or SEND_AT,
                               timer_id=self.timer_count + 1, **fields)
        return True

    @property
    def redeeming_throttle(self) -> bool:
        """Held by a throttle and released since, not dispatched yet: the token it was held
        for should be there for it (domain/notifications/throttles.py, Ask.redeeming)."""
        return self.state == QUEUED and self.throttled_at_attempt == self.attempts_made

    def unreachable(self, reason: str, now: datetime, cause: Cause) -> None:
        """The recipient has no address on the current channel (any more): the next channel
        is tried at once, or the notification dead-lettered."""
        if self.state != QUEUED or self.channel is None:
            raise NotificationNotFound("notification_id", "no notification awaiting dispatch")
        self._give_up_channel(reason, now, cause)

    def record(self, answers: Sequence[Answer], now: datetime, policy: RetryPolicy,
               jitter: float, cause: Cause) -> list[str]:
        """Record the providers' answers to the current attempt; once every delivery is
        answered, decide what follows (accepted, retry, fall back, dead-letter). Answers
        to deliveries not outstanding (late, repeated) are ignored. Returns the contact
        points the providers said are gone."""
        gone: list[str] = []
        channel = self.channel
        if self.state != DISPATCHING or channel is None:
            return gone
        for answer in answers:
            entry = self.deliveries.get(str(answer.delivery_id))
            if entry is None or entry.get("outcome") is not None:
                continue
            fields = cause.as_event_fields()
            if answer.accepted:
                self.trigger_event(self.Accepted, delivery_id=answer.delivery_id,
                                   channel=channel, attempt=self.attempt,
                                   provider=answer.provider,
                                   provider_message_id=answer.provider_message_id,
                                   latency_ms=answer.latency_ms, cost_micros=answer.cost_micros,
                                   at=now, **fields)
                if answer.delivered and self.state != DELIVERED:
                    self.trigger_event(self.Delivered, delivery_id=answer.delivery_id,
                                       channel=channel, source="provider", at=now, **fields)
            else:
                self.trigger_event(self.Failed, delivery_id=answer.delivery_id,
                                   channel=channel, attempt=self.attempt,
                                   provider=answer.provider, code=answer.code[:64],
                                   retryable=answer.retryable,
                                   address_gone=answer.address_gone,
                                   latency_ms=answer.latency_ms, at=now, **fields)
                if answer.address_gone:
                    gone.append(str(entry["contact_point_id"]))
        if self.pending_deliveries():
            return gone
        self._settle_attempt(answers, now, policy, jitter, cause)
        return gone

    def _settle_attempt(self, answers: Sequence[Answer], now: datetime, policy: RetryPolicy,
                        jitter: float, cause: Cause) -> None:
        channel = self.channel
        assert channel is not None
        fields = cause.as_event_fields()
        outcomes = list(self.deliveries.values())
        if self.withdrawn is not None:
            self._settle_withdrawn(outcomes, now, cause)
            return
        if any(d["outcome"] in ("accepted", "delivered") for d in outcomes):
            self.trigger_event(self.ChannelAccepted, channel=channel, attempt=self.attempt,
                               at=now, **fields)
            following = self._next_channel()
            if (self.state != DELIVERED and following is not None
                    and self.fallback_after_seconds is not None):
                self.trigger_event(self.FallbackScheduled,
                                   due_at=now + timedelta(seconds=self.fallback_after_seconds),
                                   timer_id=self.timer_count + 1, to_channel=following,
                                   **fields)
            return
        # no deliveries at all: no provider could be used (breakers open): try again later
        retryable = [str(d["contact_point_id"]) for d in outcomes if d.get("retryable")]
        if (retryable or not outcomes) and policy.may_retry(self.attempt):
            asked = [a.retry_after_seconds for a in answers
                     if a.retry_after_seconds is not None]
            due = policy.next_due(now, self.attempt, jitter, max(asked) if asked else None)
            self.trigger_event(self.Retried, channel=channel, next_attempt=self.attempt + 1,
                               due_at=due, timer_id=self.timer_count + 1,
                               contact_point_ids=retryable if outcomes else [], **fields)
            return
        reason = ("attempts exhausted" if retryable or not outcomes
                  else "the provider refused it")
        self._give_up_channel(reason, now, cause)

    def _next_channel(self) -> str | None:
        following = self.channel_index + 1
        return self.channels[following] if following < len(self.channels) else None

    def _give_up_channel(self, reason: str, now: datetime, cause: Cause) -> None:
        channel = self.channel
        assert channel is not None
        following = self._next_channel()
        fields = cause.as_event_fields()
        if following is None:
            self.trigger_event(self.DeadLettered, reason=f"{channel}: {reason}",
                               attempts=self.attempts_made, at=now, **fields)
            return
        self.trigger_event(self.FellBack, from_channel=channel, to_channel=following,
                           reason=reason, at=now, **fields)
        self._queue(now, cause)

    def release(self, timer_id: int, now: datetime, cause: Cause) -> bool:
        """The scheduler says timer `timer_id` is due: queue again (a fallback only if nothing
        was delivered or read). A timer not current, or not due yet, releases nothing."""
        timer = self.timer
        if timer is None or timer.timer_id != timer_id or now < timer.due_at:
            return False
        fields = cause.as_event_fields()
        self.trigger_event(self.Released, timer_id=timer_id, kind=timer.kind, at=now, **fields)
        if timer.kind == FALLBACK:
            if self.state == ACCEPTED and self.read_at is None:
                self._give_up_channel("not delivered or read in time", now, cause)
        elif timer.kind == SEND_AT:
            self._due(now, cause)
        else:
            self._queue(now, cause)
        return True

    def confirm_delivery(self, provider_message_id: str, delivery: UUID, source: str,
                         now: datetime, cause: Cause) -> bool:
        """A receipt (an SMS status callback) says a delivery arrived."""
        entry = self.deliveries.get(str(delivery))
        if (entry is None or entry.get("provider_message_id") != provider_message_id
                or self.state in (DELIVERED, CANCELLED)):
            return False
        self.trigger_event(self.Delivered, delivery_id=delivery, channel=str(self.channel),
                           source=source, at=now, **cause.as_event_fields())
        return True

    def report_undelivered(self, provider_message_id: str, delivery: UUID, code: str,
                           now: datetime, cause: Cause) -> bool:
        """A receipt says an accepted delivery did not arrive: the channel is given up for
        the next one (or the notification dead-lettered)."""
        entry = self.deliveries.get(str(delivery))
        if (entry is None or entry.get("provider_message_id") != provider_message_id
                or self.state != ACCEPTED):
            return False
        self._give_up_channel(f"undelivered ({code or 'no code'})", now, cause)
        return True

    def cancel(self, reason: str, now: datetime, cause: Cause) -> bool:
        """Only what is not out with a provider now can be cancelled: held, queued, or waiting
        to be tried again (no further attempt is made)."""
        if self.state not in CANCELLABLE:
            return False
        self.trigger_event(self.Cancelled, reason=reason, at=now, **cause.as_event_fields())
        return True

    @property
    def pending(self) -> bool:
        """Something of it may still go out: held, queued, out with a provider, waiting to be
        tried again, or a fallback scheduled."""
        return self.state in CANCELLABLE or self.state == DISPATCHING or self.fallback_pending

    @property
    def fallback_pending(self) -> bool:
        return self.timer is not None and self.timer.kind == FALLBACK

    def withdraw(self, reason: str, now: datetime, cause: Cause) -> bool:
        """A later fact elsewhere (its message read on another device, or unsent) withdraws
        what has not gone out: held, queued or waiting, it is cancelled; accepted with a
        fallback scheduled, the fallback is; out with a provider now, what would follow the
        answers is (WithdrawnInFlight)."""
        if self.state in CANCELLABLE:
            return self.cancel(reason, now, cause)
        if self.state == ACCEPTED and self.fallback_pending:
            self.trigger_event(self.FallbackCancelled, reason=reason, at=now,
                               **cause.as_event_fields())
            return True
        if self.state == DISPATCHING and self.withdrawn is None:
            self.trigger_event(self.WithdrawnInFlight, reason=reason, at=now,
                               **cause.as_event_fields())
            return True
        return False

    def _settle_withdrawn(self, outcomes: Sequence[Mapping[str, Any]], now: datetime,
                          cause: Cause) -> None:
        """The attempt of a notification withdrawn in flight is answered: accepted, the
        channel is done without a fallback; otherwise the notification is cancelled."""
        channel, fields = self.channel, cause.as_event_fields()
        if any(d["outcome"] in ("accepted", "delivered") for d in outcomes):
            self.trigger_event(self.ChannelAccepted, channel=str(channel), attempt=self.attempt,
                               at=now, **fields)
        else:
            self.trigger_event(self.Cancelled, reason=str(self.withdrawn), at=now, **fields)

    def redrive(self, now: datetime, cause: Cause) -> bool:
        """A dead letter is dispatched again from its first channel, once per dead-lettering."""
        if self.state != DEAD_LETTERED:
            return False
        self.trigger_event(self.Redriven, at=now, **cause.as_event_fields())
        self._queue(now, cause)
        return True

    def mark_read(self, reader: UUID, now: datetime, cause: Cause) -> bool:
        if reader != self.recipient_id or self.posted_at is None:
            raise NotificationNotFound("notification_id", "no such notification")
        if self.read_at is not None:
            return False
        self.trigger_event(self.Read, at=now, **cause.as_event_fields())
        return True

    def content_on(self, channel: str) -> Content:
        """What it says on `channel` (its template's rendering there, if one was used)."""
        rendered = self.rendered.get(channel)
        if rendered is None:
            return Content(self.title, self.body, self.data, self.deep_link)
        return Content(rendered["title"], rendered["body"], self.data, self.deep_link,
                       html=rendered["html"])

    def click(self, channel: str, index: int | None, source: str, now: datetime,
              cause: Cause) -> tuple[str | None, bool]:
        """A link of it was followed on `channel` (None: the notification itself, in the
        app): that link and whether it was recorded. Only a link it carried there is one
        (else TrackedLinkNotFound); the same link again within REPEAT_SECONDS, or beyond
        MAX_CLICKS, records nothing."""
        if channel not in self.requested_channels or (channel == IN_APP
                                                      and self.posted_at is None):
            raise tracked_links.unknown_link()
        links = tracked_links.links_of(self.content_on(channel))
        if index is not None and not 0 <= index < len(links):
            raise tracked_links.unknown_link()
        link = None if index is None else links[index]
        last = self.clicks.get(f"{channel}/{index}")
        if ((last is not None and (now - last).total_seconds() < tracked_links.REPEAT_SECONDS)
                or self.clicks_recorded >= tracked_links.MAX_CLICKS):
            return link, False
        self.trigger_event(self.Clicked, at=now, link=link, channel=channel, link_index=index,
                           source=source, **cause.as_event_fields())
        return link, True

    def owned_by(self, user_id: UUID) -> bool:
        return self.recipient_id == user_id

    def attempt_summary(self) -> Mapping[str, Any]:
        return {"state": self.state, "channel": self.channel, "attempt": self.attempt,
                "attempts_made": self.attempts_made}
