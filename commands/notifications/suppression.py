"""Cross-domain suppression: what happens in the messenger withdraws the notifications about
it that have not gone out yet.

- A read receipt (ReadMarker.ReadUpTo: the reader's receipt moved to `seq`, from whichever of
  their devices) withdraws that reader's pending push and email notifications about the
  conversation's messages at or before `seq`: held, queued or waiting to be tried again, they
  are cancelled; accepted with an email fallback scheduled, the fallback is
  (Notification.FallbackCancelled). Reason "read_receipt".
- An unsent message (Message.Unsent) withdraws every recipient's pending notifications about
  it. Reason "unsent".

Each withdrawal is an event on the notification whose `causation_id` is the receipt's or the
unsend's event id (the runner's cause for the command), so the log answers "why no email?"
with "read on another device at 10:02". The process manager keys its commands by the event
(the runner's idempotency keys), and withdrawing is idempotent in the aggregate too, so a
redelivered event changes nothing. A push out with a provider at that moment cannot be
called back, but it is withdrawn in flight (Notification.WithdrawnInFlight): its answer is
recorded and nothing follows it (no email fallback, retry or next channel).

The notifications are found through the recipient's index of the conversation
(domain/notifications/conversation_notices.py), which the message notifications' handler
fills in the same batch as it makes them (`note_message_notifications`), so a receipt reads
one aggregate and at most MAX_NOTICES notifications. The handler also checks the receipt and
the message *before* notifying (`already_read_or_unsent`): a receipt or an unsend handled
before the message's notification existed still suppresses it, recorded as that
notification's decision.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Final
from uuid import UUID

from domain.messaging.conversations import Conversation
from domain.messaging.messages import Message
from domain.messaging.read_markers import ReadMarker, read_marker_id
from domain.notifications.conversation_notices import (
    FINISHED,
    FORGOTTEN,
    MAX_NOTICES,
    READ_PAST,
    WITHDRAWN,
    ConversationNotices,
    conversation_notices_id,
)
from domain.notifications.decisions import Decision, DecisionStep, RecipientFacts, RoutingRequest
from domain.notifications.notifications import DISPATCHING, Notification
from event_log.aggregate import Cause
from event_log.batch import Batch
from event_log.outcomes import Handler

SUPPRESSION: Final = "cross-domain-suppression"
SUPPRESSION_ACTOR: Final = UUID("0b7d3e5a-9c21-5f46-8e1b-2a6c4d9f7e30")
READ_RECEIPT: Final = "read_receipt"
UNSENT: Final = "unsent"


@dataclass(frozen=True)
class WithdrawReadNotifications:
    """`user_id` has read `conversation_id` up to `up_to_seq` (at `at`)."""

    conversation_id: UUID
    user_id: UUID
    up_to_seq: int
    at: datetime


@dataclass(frozen=True)
class WithdrawUnsentNotifications:
    conversation_id: UUID
    message_id: UUID
    at: datetime


@dataclass(frozen=True)
class NotificationsWithdrawn:
    """Flat, so a keyed command's receipt keeps it: those withdrawn, and of them those out
    with a provider at that moment (withdrawn in flight)."""

    withdrawn: tuple[UUID, ...] = ()
    in_flight: tuple[UUID, ...] = ()


class CrossDomainSuppression:
    """ReadMarker.ReadUpTo -> WithdrawReadNotifications; Message.Unsent ->
    WithdrawUnsentNotifications."""

    name = SUPPRESSION
    actor_id = SUPPRESSION_ACTOR
    reacts_to: tuple[type, ...] = (ReadMarker.ReadUpTo, Message.Unsent)

    def react(self, event: Any) -> list[object]:
        if isinstance(event, ReadMarker.ReadUpTo):
            return [WithdrawReadNotifications(event.conversation_id, event.user_id, event.seq,
                                              event.timestamp)]
        if isinstance(event, Message.Unsent):
            return [WithdrawUnsentNotifications(event.conversation_id, event.originator_id,
                                                event.unsent_at)]
        return []


# --- the write side -------------------------------------------------------------------------


def withdraw_read_notifications(batch: Batch, command: WithdrawReadNotifications,
                                cause: Cause) -> NotificationsWithdrawn:
    notices = batch.find(ConversationNotices,
                         conversation_notices_id(command.user_id, command.conversation_id))
    if notices is None:
        return NotificationsWithdrawn()
    return _withdraw(batch, notices, notices.up_to(command.up_to_seq), READ_RECEIPT,
                     command.at, cause)


def withdraw_unsent_notifications(batch: Batch, command: WithdrawUnsentNotifications,
                                  cause: Cause) -> NotificationsWithdrawn:
    """Every member's index of the conversation (at most the group's member limit)."""
    conversation = batch.find(Conversation, command.conversation_id)
    if conversation is None:
        return NotificationsWithdrawn()
    withdrawn: list[UUID] = []
    in_flight: list[UUID] = []
    for member in conversation.member_ids:
        notices = batch.find(ConversationNotices,
                             conversation_notices_id(member, command.conversation_id))
        if notices is None:
            continue
        about = notices.about(command.message_id)
        if about:
            done = _withdraw(batch, notices, about, UNSENT, command.at, cause)
            withdrawn += done.withdrawn
            in_flight += done.in_flight
    return NotificationsWithdrawn(tuple(withdrawn), tuple(in_flight))


def _withdraw(batch: Batch, notices: ConversationNotices, notification_ids: Sequence[UUID],
              reason: str, at: datetime, cause: Cause) -> NotificationsWithdrawn:
    """Withdraw what is pending of these; each leaves the index."""
    found = batch.find_all(Notification, notification_ids)
    withdrawn: list[UUID] = []
    in_flight: list[UUID] = []
    passed: list[UUID] = []
    for notification_id in notification_ids:
        notification = found.get(notification_id)
        out = notification is not None and notification.state == DISPATCHING
        if notification is not None and notification.withdraw(reason, at, cause):
            withdrawn.append(notification_id)
            if out:
                in_flight.append(notification_id)
        else:
            passed.append(notification_id)
    notices.settle(withdrawn, WITHDRAWN, cause)
    notices.settle(passed, READ_PAST if reason == READ_RECEIPT else FINISHED, cause)
    return NotificationsWithdrawn(tuple(withdrawn), tuple(in_flight))


# --- what the message notifications' handler asks (commands/notifications/reactions.py) -----


@dataclass(frozen=True)
class AlreadyRead:
    """A decision step: the recipient's read receipt had passed the message before its
    notification was decided (they read it on some device)."""

    read_seq: int
    message_seq: int
    name: ClassVar[str] = READ_RECEIPT

    def decide(self, request: RoutingRequest, facts: RecipientFacts,
               now: datetime) -> Decision:
        return Decision(self.name, suppress="the recipient had read the message",
                        inputs={"read_up_to": self.read_seq, "message_seq": self.message_seq})


@dataclass(frozen=True)
class AlreadyUnsent:
    """A decision step: the message was unsent before its notification was decided."""

    message_id: UUID
    name: ClassVar[str] = UNSENT

    def decide(self, request: RoutingRequest, facts: RecipientFacts,
               now: datetime) -> Decision:
        return Decision(self.name, suppress="the message was unsent",
                        inputs={"message_id": str(self.message_id)})


def already_read_or_unsent(batch: Batch, conversation_id: UUID, message_id: UUID,
                           recipients: Iterable[UUID]) -> dict[UUID, DecisionStep]:
    """The recipients whose notification of the message is pointless already, each with the
    step that suppresses it."""
    message = batch.find(Message, message_id)
    if message is None:
        return {}
    if message.unsent:
        return {r: AlreadyUnsent(message_id) for r in recipients}
    markers = batch.find_all(ReadMarker, (read_marker_id(conversation_id, r) for r in recipients))
    return {marker.user_id: AlreadyRead(marker.read_seq, message.seq)
            for marker in markers.values() if marker.read_seq >= message.seq}


def note_message_notifications(batch: Batch, conversation_id: UUID, message_id: UUID,
                               made: Iterable[tuple[UUID, UUID]], cause: Cause) -> None:
    """Put each (recipient, notification) of the message that is still pending in the
    recipient's index of the conversation."""
    message = batch.find(Message, message_id)
    if message is None:
        return
    for recipient, notification_id in made:
        notification = batch.find(Notification, notification_id)
        if notification is None or not notification.pending:
            continue
        notices_id = conversation_notices_id(recipient, conversation_id)
        notices = batch.find(ConversationNotices, notices_id)
        if notices is None:
            notices = ConversationNotices.open(recipient, conversation_id, cause)
            batch.add(notices)
        _make_room(batch, notices, cause)
        notices.note(notification_id, message_id, message.seq, cause)


def _make_room(batch: Batch, notices: ConversationNotices, cause: Cause) -> None:
    """At the limit, those found finished leave; if every one is still pending, the oldest."""
    if not notices.full:
        return
    ids = notices.notification_ids()
    found = batch.find_all(Notification, ids)
    notices.settle([n for n in ids if n not in found or not found[n].pending], FINISHED, cause)
    if notices.full:
        notices.settle(notices.oldest(len(notices.notices) - MAX_NOTICES + 1), FORGOTTEN, cause)


SUPPRESSION_HANDLERS: Mapping[type, Handler] = {
    WithdrawReadNotifications: withdraw_read_notifications,
    WithdrawUnsentNotifications: withdraw_unsent_notifications,
}
