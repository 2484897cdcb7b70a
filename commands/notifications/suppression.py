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

With message digests on (PARLEY_MESSAGE_DIGEST_WINDOW_SECONDS > 0) a message notification
joins the recipient's digest of the conversation instead of being sent: a read receipt takes
the members it passed out of that digest (Digest.MembersWithdrawn, then Digest.Cancelled if
none is left; each member sits at its message's seq), so the flushed digest never announces a
message already read, and an unsend takes its message's member out. A digest flushed already
whose notification has not gone out (held for quiet hours, say) is withdrawn like any other
notification once the receipt has passed every message it announces. The digest is found by
its slot's id (the reader, the conversation), so this costs a receipt two reads more.
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
from domain.notifications.digests import FLUSHED, Digest, DigestSlot, digest_id, digest_slot_id
from domain.notifications.notifications import DISPATCHING, Notification
from event_log.aggregate import Cause
from event_log.batch import Batch
from event_log.outcomes import Handler

SUPPRESSION: Final = "cross-domain-suppression"
SUPPRESSION_ACTOR: Final = UUID("0b7d3e5a-9c21-5f46-8e1b-2a6c4d9f7e30")
READ_RECEIPT: Final = "read_receipt"
UNSENT: Final = "unsent"
# Parley's own message digests' slot: reactions.py's caller_of(MESSAGES) and MESSAGE (that
# module imports this one)
MESSAGE_DIGEST_CALLER: Final = "process:message-notifications"
MESSAGE_DIGEST_CATEGORY: Final = "message"


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
    undigested: tuple[UUID, ...] = ()  # members taken out of a digest before its flush


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
    done = NotificationsWithdrawn()
    if notices is not None:
        done = _withdraw(batch, notices, notices.up_to(command.up_to_seq), READ_RECEIPT,
                         command.at, cause)
    undigested, flushed = _withdraw_read_from_digests(batch, command, cause)
    return NotificationsWithdrawn(done.withdrawn + flushed, done.in_flight, undigested)


def withdraw_unsent_notifications(batch: Batch, command: WithdrawUnsentNotifications,
                                  cause: Cause) -> NotificationsWithdrawn:
    """Every member's index of the conversation (at most the group's member limit)."""
    conversation = batch.find(Conversation, command.conversation_id)
    if conversation is None:
        return NotificationsWithdrawn()
    withdrawn: list[UUID] = []
    in_flight: list[UUID] = []
    undigested: list[UUID] = []
    message = batch.find(Message, command.message_id)
    for member in conversation.member_ids:
        if message is not None:
            undigested += _withdraw_unsent_from_digest(batch, member, command, message.seq,
                                                       cause)
        notices = batch.find(ConversationNotices,
                             conversation_notices_id(member, command.conversation_id))
        if notices is None:
            continue
        about = notices.about(command.message_id)
        if about:
            done = _withdraw(batch, notices, about, UNSENT, command.at, cause)
            withdrawn += done.withdrawn
            in_flight += done.in_flight
    return NotificationsWithdrawn(tuple(withdrawn), tuple(in_flight), tuple(undigested))


def message_digest_slot(batch: Batch, recipient_id: UUID,
                        conversation_id: UUID) -> DigestSlot | None:
    """The recipient's message digests of the conversation (None: never digested)."""
    return batch.find(DigestSlot, digest_slot_id(MESSAGE_DIGEST_CALLER, recipient_id,
                                                 MESSAGE_DIGEST_CATEGORY, str(conversation_id)))


def _withdraw_read_from_digests(batch: Batch, command: WithdrawReadNotifications,
                                cause: Cause) -> tuple[tuple[UUID, ...], tuple[UUID, ...]]:
    """The members the receipt passed leave the reader's open digest of the conversation;
    a digest flushed already (the open one, or the one before it) whose notification is
    still pending is withdrawn once the receipt passed all it announces. Answers the members
    taken out and the digest notifications withdrawn."""
    slot = message_digest_slot(batch, command.user_id, command.conversation_id)
    if slot is None:
        return (), ()
    numbers = [slot.number - 1, slot.number] if slot.number > 1 else [slot.number]
    found = batch.find_all(Digest, [digest_id(slot.id, n) for n in numbers])
    undigested: list[UUID] = []
    flushed: list[UUID] = []
    for digest in found.values():
        if digest.state == FLUSHED:
            if digest.flushed_into is not None and digest.announces_only_up_to(
                    command.up_to_seq):
                notification = batch.find(Notification, digest.flushed_into)
                if notification is not None and notification.withdraw(
                        READ_RECEIPT, command.at, cause):
                    flushed.append(notification.id)
            continue
        undigested += digest.withdraw(digest.members_up_to(command.up_to_seq), READ_RECEIPT,
                                      command.at, cause)
    return tuple(undigested), tuple(flushed)


def _withdraw_unsent_from_digest(batch: Batch, member: UUID,
                                 command: WithdrawUnsentNotifications, seq: int,
                                 cause: Cause) -> list[UUID]:
    """The unsent message's member leaves the member's open digest of the conversation."""
    slot = message_digest_slot(batch, member, command.conversation_id)
    digest = None if slot is None else batch.find(Digest, slot.current)
    if digest is None:
        return []
    return digest.withdraw(digest.members_at(seq), UNSENT, command.at, cause)


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
