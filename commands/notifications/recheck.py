"""The re-check at dispatch: what changed since routing still counts.

The decision pipeline runs once, at the trigger; a notification may be dispatched much later (a
hold released, a retry, a fallback to its next channel). Before its attempt takes tokens or
reaches a provider, `StartDispatches` asks the steps whose facts can change meanwhile again,
of the current channel alone, with the facts of now: the recipient's preferences (their
`NotificationPreferences`), their email unsubscribes, each number's SMS consent, and the SMS
sending window at the command's time (the same step objects as the trigger's, in the
pipeline's order: `RECHECK_STEPS`). The outcome is recorded on the notification only when it
changes something (`Notification.recheck`): the channel given up for the next one, the
notification held until the SMS window opens, or the numbers without consent left out of the
deliveries. Everything comes from the batch and the command, so a writer's retry decides the
same. An attempt dispatched already and sent again after a crash (the same attempt ids) is not
re-checked: it was decided when it was dispatched.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from commands.notifications.preferences import preference_facts
from domain.notifications.addresses import Address
from domain.notifications.category_policy import CategoryPolicy
from domain.notifications.channels import INBOX, PHONE_NUMBER, SMS
from domain.notifications.consent_steps import numbers_without_consent
from domain.notifications.contact_points import ContactPoints, contact_points_id
from domain.notifications.decisions import (
    DecisionStep,
    RecipientFacts,
    Routing,
    RoutingRequest,
    decide,
)
from domain.notifications.notifications import Notification
from domain.notifications.pipeline import DECISION_STEPS
from domain.notifications.preferences import NotificationPreferences, notification_preferences_id
from domain.notifications.sms_consent import ConsentEvidence, SmsConsent, sms_consent_id
from event_log.batch import Batch

# the steps whose facts may change between routing and dispatch (reachability for the email
# unsubscribes it applies; quiet hours, dedup, digests and send_at were settled by the hold)
RECHECKED: Final = frozenset({"reachability", "preferences", "sms_consent", "sms_window"})
RECHECK_STEPS: Final[tuple[DecisionStep, ...]] = tuple(
    step for step in DECISION_STEPS if step.name in RECHECKED)


@dataclass(frozen=True)
class Recheck:
    """The current channel's routing now, and the addresses it may go to (of those found)."""

    routing: Routing
    addresses: tuple[Address, ...]
    left_out: tuple[str, ...]  # contact point ids: numbers without SMS consent now
    stops: bool  # given up or held: no attempt now


def read_facts(batch: Batch, notifications: Iterable[Notification], now: datetime) -> None:
    """Load what the re-checks of a batch read, in one query per kind (`recheck` then finds
    them in the batch): the recipients' preferences and the SMS numbers' consents."""
    notifications = list(notifications)
    batch.find_all(NotificationPreferences,
                   [notification_preferences_id(n.recipient_id) for n in notifications])
    numbers: list[str] = []
    for notification in notifications:
        if notification.channel != SMS:
            continue
        book = batch.find(ContactPoints, contact_points_id(notification.recipient_id))
        if book is not None:
            numbers.extend(a.value for a in book.addresses({PHONE_NUMBER}, now))
    batch.find_all(SmsConsent, [sms_consent_id(n) for n in numbers])


def recheck(batch: Batch, notification: Notification, addresses: Sequence[Address],
            policy: CategoryPolicy, now: datetime) -> Recheck:
    """The current channel asked again of `RECHECK_STEPS` with the facts of `now`, for these
    addresses (those the dispatch found on it: reachability here is only the unsubscribes)."""
    channel = notification.channel
    assert channel is not None
    request = RoutingRequest(notification.category, notification.priority, (channel,), None,
                             critical=policy.is_critical(notification.category),
                             transactional=policy.is_transactional(notification.category))
    recipient = notification.recipient_id
    book = batch.find(ContactPoints, contact_points_id(recipient))
    kinds = frozenset({INBOX} | {a.kind for a in addresses})
    consents: dict[str, ConsentEvidence | None] = {}
    if channel == SMS:
        found = batch.find_all(SmsConsent, [sms_consent_id(a.value) for a in addresses])
        consents = {a.value: (c.evidence if (c := found.get(sms_consent_id(a.value)))
                              is not None else None) for a in addresses}
    facts = RecipientFacts(
        kinds, kinds, frozenset() if book is None else book.opted_out,
        preferences=preference_facts(batch, [recipient], notification.category, (channel,),
                                     policy).get(recipient),
        sms_consents=consents)
    routing = decide(request, facts, now, RECHECK_STEPS)
    held = routing.hold_until is not None and routing.hold_until > now
    if not routing.channels or held:
        return Recheck(routing, (), (), stops=True)
    unconsented = numbers_without_consent(request, consents)
    kept = tuple(a for a in addresses if a.kind != PHONE_NUMBER or a.value not in unconsented)
    left_out = tuple(a.contact_point_id for a in addresses
                     if a.kind == PHONE_NUMBER and a.value in unconsented)
    return Recheck(routing, kept, left_out, stops=False)
