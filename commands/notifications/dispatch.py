"""The write side of dispatching: starting attempts, recording what providers answered,
releasing timers that came due, and receipts that came later.

A dispatcher (commands/notifications/dispatcher.py) takes queued notifications in batches:
`StartDispatches` decides, for each, the deliveries of its next attempt (the recipient's
addresses on the channel, read from the recipient's contact points in the log itself, and the
provider for each, among those whose breakers let calls through) and records them, after
re-checking what changed since routing (commands/notifications/recheck.py); the
dispatcher sends them and `RecordAnswers` records the answers, which decide what follows.
Both are written for repeats: a notification not queued is left alone, and one dispatched long
ago and never answered (its dispatcher died) is given its unanswered deliveries again, with the
same attempt ids, so a provider that saw them once sees the same idempotency keys.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final
from uuid import UUID, uuid5

from commands.notifications.providers import Address, Delivery
from commands.notifications.receipts import (
    DELIVERED,
    FAILED,
    UNDELIVERED,
    RecordDeliveryReceipt,
)
from commands.notifications.recheck import Recheck, read_facts, recheck
from commands.notifications.throttles import ThrottleAsk, Throttling
from domain.notifications.category_policy import CategoryPolicy
from domain.notifications.channels import CHANNEL_OF_KIND, IN_APP, INBOX
from domain.notifications.contact_points import ContactPoints, contact_points_id
from domain.notifications.notifications import (
    DISPATCHING,
    NOTIFICATION_NAMESPACE,
    QUEUED,
    Answer,
    Notification,
    PlannedDelivery,
)
from domain.notifications.retries import RetryPolicy
from event_log.aggregate import Cause
from event_log.batch import Batch
from event_log.outcomes import Handler

DEFAULT_STALE_AFTER_SECONDS: Final = 60.0
INBOX_CONTACT_POINT: Final = "inbox"


@dataclass(frozen=True)
class ToSend:
    """One delivery and the provider chosen for it."""

    provider: str
    delivery: Delivery


@dataclass(frozen=True)
class StartDispatches:
    notification_ids: tuple[UUID, ...]
    at: datetime
    # address kind -> the providers that may be called now, in order of preference
    providers: Mapping[str, tuple[str, ...]]
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    stale_after_seconds: float = DEFAULT_STALE_AFTER_SECONDS
    public_url: str = "http://127.0.0.1:8000"
    # a half-open provider's probes: at most this many deliveries of the batch go to it
    probes: Mapping[str, int] = field(default_factory=dict)
    # the throttles' policy and the dispatcher's verdicts (commands/notifications/throttles.py)
    throttling: Throttling | None = None
    # the operator's critical and transactional categories, defaults and default zone: the
    # re-check of what changed since routing (commands/notifications/recheck.py)
    category_policy: CategoryPolicy = field(default_factory=CategoryPolicy)


@dataclass(frozen=True)
class DispatchesStarted:
    to_send: tuple[ToSend, ...]
    # notifications left queued until the dispatcher has taken their tokens, and the probes
    # of half-open providers still unused (the batch's second command may use them)
    asking: tuple[ThrottleAsk, ...] = ()
    probes_left: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ProviderAnswered:
    notification_id: UUID
    answer: Answer


@dataclass(frozen=True)
class RecordAnswers:
    answers: tuple[ProviderAnswered, ...]
    at: datetime
    policy: RetryPolicy = field(default_factory=RetryPolicy)


@dataclass(frozen=True)
class AnswersRecorded:
    recorded: int
    gone_contact_points: int


@dataclass(frozen=True)
class ReleaseDue:
    """Timers the scheduler found due: (notification id, timer id)."""

    timers: tuple[tuple[UUID, int], ...]
    at: datetime


@dataclass(frozen=True)
class TimersReleased:
    released: tuple[UUID, ...]


@dataclass(frozen=True)
class ReceiptRecorded:
    recorded: bool


def jitter_of(notification: UUID, attempt: int) -> float:
    """A uniform draw in [0, 1) that is the same for the same notification and attempt (so a
    repeated command decides the same), and spread across notifications (so retries after one
    provider outage do not come back all at once)."""
    digest = hashlib.blake2b(f"{notification}/{attempt}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def message_key(notification: UUID, channel: str, contact_point_id: str) -> UUID:
    """The same for every attempt of a notification to one address (Delivery.message_key)."""
    return uuid5(NOTIFICATION_NAMESPACE, f"{notification}/{channel}/{contact_point_id}/message")


def _addresses(batch: Batch, notification: Notification, now: datetime) -> list[Address]:
    channel = notification.channel
    kinds = {kind for kind, on in CHANNEL_OF_KIND.items() if on == channel}
    if INBOX in kinds:
        return [Address(INBOX, str(notification.recipient_id), INBOX_CONTACT_POINT)]
    book = batch.find(ContactPoints, contact_points_id(notification.recipient_id))
    if book is None:
        return []
    if notification.contact_point_id is not None:
        return [a for a in book.addresses(kinds, now, include_unverified=True)
                if a.contact_point_id == notification.contact_point_id]
    return list(book.addresses(kinds, now))


def _delivery(notification: Notification, delivery_id: UUID, address: Address, channel: str,
              provider: str, public_url: str) -> Delivery:
    callback = (f"{public_url}/v1/notifications/callbacks/sms/{provider}"
                f"?notification={notification.id}&attempt={delivery_id}")
    return Delivery(delivery_id, notification.id, notification.recipient_id, channel,
                    notification.priority, notification.category, address,
                    notification.content, status_callback_url=callback,
                    message_key=message_key(notification.id, channel,
                                            address.contact_point_id))


def start_dispatches(batch: Batch, command: StartDispatches, cause: Cause) -> DispatchesStarted:
    to_send: list[ToSend] = []
    asking: list[ThrottleAsk] = []
    probes = dict(command.probes)
    notifications = batch.find_all(Notification, command.notification_ids)
    batch.find_all(ContactPoints, [  # read together; `_addresses` finds them in the batch
        contact_points_id(n.recipient_id) for n in notifications.values()
        if n.channel != IN_APP and _to_dispatch(n, command)])
    read_facts(batch, [n for n in notifications.values() if n.state == QUEUED], command.at)
    for nid in dict.fromkeys(command.notification_ids):
        notification = notifications.get(nid)
        if notification is None or not _to_dispatch(notification, command):
            continue
        if notification.state == QUEUED:
            to_send.extend(_start(batch, notification, command, probes, asking, cause))
        else:
            to_send.extend(_again(batch, notification, command))
    return DispatchesStarted(tuple(to_send), tuple(asking), probes)


def _to_dispatch(notification: Notification, command: StartDispatches) -> bool:
    """Queued, or dispatched so long ago that its dispatcher must have died."""
    return notification.state == QUEUED or (
        notification.state == DISPATCHING
        and notification.is_stale_dispatch(command.at, command.stale_after_seconds))


def _provider_for(kind: str, command: StartDispatches, probes: dict[str, int]) -> str | None:
    """The first usable provider for `kind` with room: a half-open one only while it has
    probes left in this batch."""
    for name in command.providers.get(kind, ()):
        if name not in probes:
            return name
        if probes[name] > 0:
            probes[name] -= 1
            return name
    return None


def _deliverable(batch: Batch, notification: Notification, command: StartDispatches,
                 cause: Cause) -> Recheck | None:
    """The addresses the attempt may go to now, re-checked against what changed since routing
    (commands/notifications/recheck.py) before any token is asked for; None: no attempt now
    (no address any more, given up or held by the re-check: recorded)."""
    wanted = notification.wanted_contact_points()
    addresses = [a for a in _addresses(batch, notification, command.at)
                 if wanted is None or a.contact_point_id in wanted]
    if not addresses:
        notification.unreachable("the recipient has no address on it now", command.at, cause)
        return None
    checked = recheck(batch, notification, addresses, command.category_policy, command.at)
    if checked.stops:
        notification.recheck(checked.routing, (), command.at, cause)
        return None
    return checked


def _start(batch: Batch, notification: Notification, command: StartDispatches,
           probes: dict[str, int], asking: list[ThrottleAsk], cause: Cause) -> list[ToSend]:
    channel = notification.channel
    assert channel is not None
    checked = _deliverable(batch, notification, command, cause)
    if checked is None:
        return []
    planned: list[tuple[PlannedDelivery, Address]] = []
    for address in checked.addresses:
        provider = _provider_for(address.kind, command, probes)
        if provider is not None:
            planned.append((PlannedDelivery(address.contact_point_id, address.kind, provider),
                            address))
    if planned and command.throttling is not None and _throttled(
            notification, [p for p, _ in planned], command.throttling, command.at, asking,
            cause):
        for chosen, _ in planned:  # nothing sent: its probes are the batch's again
            if chosen.provider in probes:
                probes[chosen.provider] += 1
        return []
    if checked.left_out:  # recorded with the attempt, not while it waits for its tokens
        notification.recheck(checked.routing, checked.left_out, command.at, cause)
    notification.dispatch([p for p, _ in planned], command.at, cause)
    if not planned:  # every provider it could use is unwell now: counts as a failed attempt
        notification.record([], command.at, command.policy,
                            jitter_of(notification.id, notification.attempt), cause)
        return []
    sent = []
    for delivery in notification.pending_deliveries():
        address = next(a for p, a in planned
                       if p.contact_point_id == delivery["contact_point_id"])
        sent.append(ToSend(delivery["provider"], _delivery(
            notification, UUID(delivery["delivery_id"]), address, channel,
            delivery["provider"], command.public_url)))
    return sent


def _throttled(notification: Notification, planned: Sequence[PlannedDelivery],
               throttling: Throttling, now: datetime, asking: list[ThrottleAsk],
               cause: Cause) -> bool:
    """Whether the throttles keep it from being dispatched now: its tokens not taken yet (it
    stays queued, asked about), or a bucket refused them (it is throttled)."""
    channel = notification.channel
    assert channel is not None
    asks = throttling.policy.asks(
        str(notification.recipient_id), notification.category, notification.priority,
        channel, first_attempt=notification.attempts_made == 0,
        deliveries=Counter(p.provider for p in planned),
        redeeming=notification.redeeming_throttle)
    if not asks:
        return False
    if notification.id not in throttling.verdicts:
        asking.append(ThrottleAsk(notification.id, notification.priority, asks))
        return True
    verdict = throttling.verdicts[notification.id]
    if verdict is None:
        return False
    notification.throttle(verdict, now, cause)
    return True


def _again(batch: Batch, notification: Notification,
           command: StartDispatches) -> list[ToSend]:
    channel = notification.channel
    assert channel is not None
    by_point = {a.contact_point_id: a for a in _addresses(batch, notification, command.at)}
    again = []
    for delivery in notification.pending_deliveries():
        address = by_point.get(delivery["contact_point_id"])
        if address is not None:
            again.append(ToSend(delivery["provider"], _delivery(
                notification, UUID(delivery["delivery_id"]), address, channel,
                delivery["provider"], command.public_url)))
    return again


def record_answers(batch: Batch, command: RecordAnswers, cause: Cause) -> AnswersRecorded:
    by_notification: dict[UUID, list[Answer]] = {}
    for answered in command.answers:
        by_notification.setdefault(answered.notification_id, []).append(answered.answer)
    recorded = gone = 0
    notifications = batch.find_all(Notification, by_notification)
    for nid, answers in by_notification.items():
        notification = notifications.get(nid)
        if notification is None:
            continue
        gone_points = notification.record(answers, command.at, command.policy,
                                          jitter_of(nid, notification.attempt), cause)
        recorded += len(answers)
        if gone_points:
            book = batch.find(ContactPoints, contact_points_id(notification.recipient_id))
            for answer in answers:
                point = _contact_point_of(notification, answer)
                if (book is not None and answer.address_gone and point in gone_points
                        and book.remove_gone(point, answer.provider, answer.code, cause,
                                             at=command.at)):
                    gone += 1
    return AnswersRecorded(recorded, gone)


def _contact_point_of(notification: Notification, answer: Answer) -> str | None:
    entry = notification.deliveries.get(str(answer.delivery_id))
    return None if entry is None else str(entry["contact_point_id"])


def release_due(batch: Batch, command: ReleaseDue, cause: Cause) -> TimersReleased:
    released = []
    notifications = batch.find_all(Notification, (nid for nid, _ in command.timers))
    for nid, timer_id in command.timers:
        notification = notifications.get(nid)
        if notification is not None and notification.release(timer_id, command.at, cause):
            released.append(nid)
    return TimersReleased(tuple(released))


def record_receipt(batch: Batch, command: RecordDeliveryReceipt,
                   cause: Cause) -> ReceiptRecorded:
    notification = batch.find(Notification, command.notification_id)
    if notification is None:
        return ReceiptRecorded(False)
    if command.status == DELIVERED:
        done = notification.confirm_delivery(command.provider_message_id, command.attempt_id,
                                             f"receipt:{command.provider}", command.at, cause)
    elif command.status in (UNDELIVERED, FAILED):
        done = notification.report_undelivered(command.provider_message_id,
                                               command.attempt_id, command.code, command.at,
                                               cause)
    else:
        done = False  # "sent", "queued": nothing the notification does not know already
    return ReceiptRecorded(done)


def started(result: object) -> Sequence[ToSend]:
    return result.to_send if isinstance(result, DispatchesStarted) else ()


DISPATCH_HANDLERS: Mapping[type, Handler] = {
    StartDispatches: start_dispatches,
    RecordAnswers: record_answers,
    ReleaseDue: release_due,
    RecordDeliveryReceipt: record_receipt,
}
