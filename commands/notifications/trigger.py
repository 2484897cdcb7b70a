"""Asking for notifications (the trigger API, and Parley's own process managers), cancelling
them by their cancellation key, reading them in the inbox, and redriving dead letters."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final
from uuid import UUID, uuid5

from commands.notifications.dedup import claim_dedup_key, dedup_fact, read_dedup_keys
from commands.notifications.digests import digest_target, join_digest, read_digest_slots
from commands.notifications.preferences import preference_facts
from commands.notifications.sms_consent import read_sms_consents, sms_consents
from commands.notifications.templates import (
    Rendered,
    TemplateRenderer,
    recipient_locales,
    renderings_of,
    templated,
)
from domain.identity.users import User
from domain.notifications.cancellation import CancellationKey, cancellation_key_id
from domain.notifications.category_policy import CategoryPolicy
from domain.notifications.channels import CHANNEL_OF_KIND, CHANNELS, EMAIL, INBOX, PRIORITIES
from domain.notifications.contact_points import ContactPoints, contact_points_id
from domain.notifications.content import Content, content_problem
from domain.notifications.decisions import RecipientFacts, RoutingRequest, decide
from domain.notifications.digests import DigestAsk
from domain.notifications.errors import (
    BadSchedule,
    ContentTooLarge,
    NotificationNotFound,
    UnknownCategory,
    UnknownChannel,
    UnknownRecipient,
)
from domain.notifications.notifications import Notification
from domain.notifications.pipeline import DECISION_STEPS
from domain.notifications.preferences import PreferenceFacts
from event_log.aggregate import Cause
from event_log.batch import Batch
from event_log.outcomes import Handler

MAX_RECIPIENTS: Final = 1000
SEND_AT_SKEW: Final = timedelta(seconds=60)  # a send_at this little in the past means "now"
MAX_SEND_AHEAD: Final = timedelta(days=30)
DEFAULT_CATEGORIES: Final = ("message", "mention", "friend_request", "security", "account",
                             "payment", "marketing", "system")


@dataclass(frozen=True)
class TriggerNotifications:
    """One request for notifications: one notification per recipient.

    `caller` says who asked ("apikey:<id>", "process:<name>"); `provided_kinds` are the address
    kinds some configured provider reaches (given by the composition root),
    `categories` the categories the deployment defines and `policy` what the operator set
    for them (critical, transactional, default preferences)."""

    request_id: UUID
    caller: str
    recipients: tuple[UUID, ...]
    category: str
    priority: str
    channels: tuple[str, ...]
    content: Content = field(repr=False)
    at: datetime
    fallback_after_seconds: int | None = None
    send_at: datetime | None = None
    cancellation_key: str | None = None
    provided_kinds: frozenset[str] = frozenset({INBOX})
    categories: frozenset[str] = frozenset(DEFAULT_CATEGORIES)
    policy: CategoryPolicy = field(default_factory=CategoryPolicy)
    # Parley's own: to this one contact point of the (single) recipient, verified or not
    # (an email address's verification link); its channel must be the plan's only one
    contact_point_id: str | None = None
    # the same key (the caller's, per recipient) within the window is suppressed as a
    # duplicate (domain/notifications/dedup.py); the window is resolved by the caller
    dedup_key: str | None = None
    dedup_window_seconds: int = 3600
    # the operator's word that claims of the per-recipient DedupKey (before DedupKeyHolders)
    # may still be within their windows: read them too
    dedup_legacy_keys: bool = False
    # collapsed with the recipient's others of the category and key (digests.py)
    digest: DigestAsk | None = None
    # templated: the variables each channel's template is rendered with (then `content`
    # gives no text), and the locale when the recipient's preferences name none
    template_variables: Mapping[str, Any] | None = field(default=None, repr=False)
    locale: str | None = None


@dataclass(frozen=True)
class RequestedNotification:
    notification_id: UUID
    recipient_id: UUID
    state: str


@dataclass(frozen=True)
class NotificationsRequested:
    """Flat, so that a keyed request's receipt can keep it (event_log/idempotency.py)."""

    request_id: UUID
    notification_ids: tuple[UUID, ...]
    recipient_ids: tuple[UUID, ...]
    states: tuple[str, ...]

    @property
    def notifications(self) -> tuple[RequestedNotification, ...]:
        return tuple(RequestedNotification(*row) for row in zip(
            self.notification_ids, self.recipient_ids, self.states, strict=True))


@dataclass(frozen=True)
class CancelNotifications:
    caller: str
    cancellation_key: str
    at: datetime


@dataclass(frozen=True)
class NotificationsCancelled:
    cancelled: tuple[UUID, ...]
    # already dispatched (or finished): cancelling came too late for them
    not_cancelled: tuple[UUID, ...]


@dataclass(frozen=True)
class MarkNotificationRead:
    reader_id: UUID
    notification_id: UUID
    at: datetime


@dataclass(frozen=True)
class MarkNotificationsRead:
    """Mark all of these the reader's own (the inbox's unread ones, read by the route)."""

    reader_id: UUID
    notification_ids: tuple[UUID, ...]
    at: datetime


@dataclass(frozen=True)
class NotificationsRead:
    read: tuple[UUID, ...]


@dataclass(frozen=True)
class RedriveDeadLetters:
    notification_ids: tuple[UUID, ...]
    at: datetime


@dataclass(frozen=True)
class DeadLettersRedriven:
    redriven: tuple[UUID, ...]
    skipped: tuple[UUID, ...]  # not dead-lettered (any more): each is redriven at most once


def check_request(command: TriggerNotifications) -> None:
    """Everything about a trigger that can be refused before anything is written."""
    if not command.recipients:
        raise UnknownRecipient("recipients", "name at least one recipient")
    if len(command.recipients) > MAX_RECIPIENTS:
        raise UnknownRecipient("recipients", f"at most {MAX_RECIPIENTS} recipients per request")
    if command.category not in command.categories:
        raise UnknownCategory("category", f"no such category (one of "
                                          f"{', '.join(sorted(command.categories))})")
    if command.priority not in PRIORITIES:
        raise UnknownChannel("priority", f"one of {', '.join(PRIORITIES)}")
    if not command.channels:
        raise UnknownChannel("channels", "name at least one channel")
    for index, channel in enumerate(command.channels):
        if channel not in CHANNELS:
            raise UnknownChannel(f"channels[{index}]", f"one of {', '.join(CHANNELS)}")
        problem = content_problem(command.content, channel)
        if problem is not None:
            raise ContentTooLarge("content", f"the content {problem}")
    if command.send_at is not None:
        if command.send_at < command.at - SEND_AT_SKEW:
            raise BadSchedule("send_at", "is in the past")
        if command.send_at > command.at + MAX_SEND_AHEAD:
            raise BadSchedule("send_at", f"is more than {MAX_SEND_AHEAD.days} days ahead")


def address_kinds(batch: Batch, user_id: UUID, now: datetime,
                  asked: frozenset[str] = frozenset(CHANNEL_OF_KIND)) -> frozenset[str]:
    """The kinds of address, among `asked`, the recipient can be reached at now (the inbox
    always). Asked for none but the inbox, the contact points are not read at all."""
    kinds = asked - {INBOX}
    if not kinds:
        return frozenset({INBOX})
    book = batch.find(ContactPoints, contact_points_id(user_id))
    if book is None:
        return frozenset({INBOX})
    return frozenset({INBOX} | {a.kind for a in book.addresses(kinds, now)})


def opted_out(batch: Batch, user_id: UUID, channels: tuple[str, ...]
              ) -> frozenset[tuple[str, str]]:
    """The (channel, category) pairs the recipient unsubscribed from (only email has any yet:
    a request without email does not read them)."""
    if EMAIL not in channels:
        return frozenset()
    book = batch.find(ContactPoints, contact_points_id(user_id))
    return frozenset() if book is None else book.opted_out


def kinds_that_matter(command: TriggerNotifications) -> frozenset[str]:
    """The address kinds routing can use for this request: those of its channels that some
    configured provider reaches (the routing steps look at no other; the inbox needs none)."""
    return frozenset(kind for kind, channel in CHANNEL_OF_KIND.items()
                     if channel in command.channels and kind in command.provided_kinds)


def recipient_facts(batch: Batch, command: TriggerNotifications, recipient: UUID,
                    asked: frozenset[str], preferences: PreferenceFacts | None
                    ) -> RecipientFacts:
    """What the decision steps are told of one recipient (read from the batch, where the
    trigger has already loaded every recipient's aggregates together)."""
    kinds = (address_kinds(batch, recipient, command.at, asked)
             if command.contact_point_id is None
             else frozenset(CHANNEL_OF_KIND))  # the one address is checked at dispatch
    return RecipientFacts(
        kinds, command.provided_kinds | {INBOX},
        opted_out(batch, recipient, command.channels),
        preferences=preferences,
        sms_consents=sms_consents(batch, recipient, command.channels, command.at),
        dedup=dedup_fact(batch, command.caller, recipient, command.dedup_key,
                         command.dedup_window_seconds, command.at, command.dedup_legacy_keys),
        digest=digest_target(batch, command.caller, recipient, command.category,
                             command.digest, command.at, command.policy.digests))


def trigger_notifications(batch: Batch, command: TriggerNotifications,
                          cause: Cause) -> NotificationsRequested:
    """A request id is new each time (a route's uuid4, or a process manager's id for the
    event that caused it, whose repeat the writer answers from the keyed command's receipt),
    so its notifications are new: nothing is looked up to find them already there."""
    check_request(command)
    recipients = list(dict.fromkeys(command.recipients))
    for index, recipient in enumerate(recipients):
        if batch.find(User, recipient) is None:
            raise UnknownRecipient(f"recipients[{index}]", "no such user")
    keyed: CancellationKey | None = None
    if command.cancellation_key is not None:
        keyed = batch.find(CancellationKey,
                           cancellation_key_id(command.caller, command.cancellation_key))
        if keyed is None:
            keyed = CancellationKey.open(command.caller, command.cancellation_key, cause)
            batch.add(keyed)
        keyed.check_room(len(recipients))
    request = RoutingRequest(command.category, command.priority, command.channels,
                             command.send_at,
                             critical=command.policy.is_critical(command.category),
                             transactional=command.policy.is_transactional(command.category))
    asked = kinds_that_matter(command)
    preferences = preference_facts(batch, recipients, command.category, command.channels,
                                   command.policy)
    read_dedup_keys(batch, command.caller, recipients, command.dedup_key,
                    command.dedup_legacy_keys)
    read_sms_consents(batch, recipients, command.channels, command.at)
    read_digest_slots(batch, command.caller, recipients, command.category, command.digest)
    made = []
    claiming: list[UUID] = []  # the recipients whose notification claims the dedup key
    renderer = None if command.template_variables is None else TemplateRenderer(
        batch, command.category, command.template_variables, command.content.data,
        command.content.deep_link)
    locales = {} if renderer is None else recipient_locales(batch, recipients, command.locale)
    for recipient in recipients:
        content, renderings = command.content, list[Rendered]()
        if renderer is not None:
            locale = locales[recipient]
            content, renderings = templated(renderer, command.channels, locale)
        notification = Notification.request(
            command.request_id, recipient, category=command.category,
            priority=command.priority, channels=command.channels,
            fallback_after_seconds=command.fallback_after_seconds, content=content,
            send_at=command.send_at, cancellation_key=command.cancellation_key,
            caller=command.caller, at=command.at, cause=cause,
            contact_point_id=command.contact_point_id,
            renderings=renderings_of(renderings, locale) if renderings else ())
        facts = recipient_facts(batch, command, recipient, asked, preferences.get(recipient))
        notification.route(decide(request, facts, command.at, DECISION_STEPS), command.at,
                           cause)
        if facts.dedup is not None and facts.dedup.held_by is None:
            claiming.append(recipient)
        join_digest(batch, facts.digest, notification, command.at, cause)
        batch.add(notification)
        if keyed is not None:
            keyed.include(notification.id, cause)
        made.append(RequestedNotification(notification.id, recipient, notification.state))
    claim_dedup_key(batch, command.caller, command.dedup_key, command.dedup_window_seconds,
                    command.request_id, claiming, command.at, cause)
    return NotificationsRequested(command.request_id, tuple(n.notification_id for n in made),
                                  tuple(n.recipient_id for n in made),
                                  tuple(n.state for n in made))


def cancel_notifications(batch: Batch, command: CancelNotifications,
                         cause: Cause) -> NotificationsCancelled:
    keyed = batch.find(CancellationKey,
                       cancellation_key_id(command.caller, command.cancellation_key))
    cancelled, too_late = [], []
    for nid in keyed.notification_ids if keyed is not None else ():
        notification = batch.find(Notification, nid)
        if notification is None:
            continue
        if notification.cancel("cancelled by its cancellation key", command.at, cause):
            cancelled.append(nid)
        elif notification.state != "cancelled":
            too_late.append(nid)
    return NotificationsCancelled(tuple(cancelled), tuple(too_late))


def mark_read(batch: Batch, command: MarkNotificationRead, cause: Cause) -> NotificationsRead:
    notification = batch.find(Notification, command.notification_id)
    if notification is None or not notification.owned_by(command.reader_id):
        raise NotificationNotFound("notification_id", "no such notification")
    read = notification.mark_read(command.reader_id, command.at, cause)
    return NotificationsRead((notification.id,) if read else ())


def mark_all_read(batch: Batch, command: MarkNotificationsRead,
                  cause: Cause) -> NotificationsRead:
    read = []
    for nid in command.notification_ids:
        notification = batch.find(Notification, nid)
        if (notification is not None and notification.owned_by(command.reader_id)
                and notification.posted_at is not None
                and notification.mark_read(command.reader_id, command.at, cause)):
            read.append(nid)
    return NotificationsRead(tuple(read))


def redrive(batch: Batch, command: RedriveDeadLetters, cause: Cause) -> DeadLettersRedriven:
    redriven, skipped = [], []
    for nid in dict.fromkeys(command.notification_ids):
        notification = batch.find(Notification, nid)
        if notification is not None and notification.redrive(command.at, cause):
            redriven.append(nid)
        else:
            skipped.append(nid)
    return DeadLettersRedriven(tuple(redriven), tuple(skipped))


def request_id_for(process: str, event_id: UUID) -> UUID:
    """A process manager's request id for the event that caused it: the same every time that
    event is handled, so a repeat makes no second notification."""
    return uuid5(event_id, f"notifications/{process}")


TRIGGER_HANDLERS: Mapping[type, Handler] = {
    TriggerNotifications: trigger_notifications,
    CancelNotifications: cancel_notifications,
    MarkNotificationRead: mark_read,
    MarkNotificationsRead: mark_all_read,
    RedriveDeadLetters: redrive,
}
