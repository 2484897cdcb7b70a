"""Cross-domain suppression as specifications: a read receipt withdraws its reader's pending
notifications about the conversation's messages at or before it (a queued or waiting push is
cancelled, an accepted push's scheduled email fallback is), an unsent message withdraws every
recipient's pending notification of it, each withdrawal naming its cause; a redelivered event
changes nothing, and the index the receipts read stays bounded."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from eventsourcing.application import AggregateNotFoundError
from hypothesis import given, settings
from hypothesis import strategies as st

from commands.notifications.reactions import (
    REACTION_HANDLERS,
    Deployment,
    TriggerMessageNotifications,
)
from commands.notifications.suppression import (
    READ_RECEIPT,
    SUPPRESSION_HANDLERS,
    UNSENT,
    CrossDomainSuppression,
    NotificationsWithdrawn,
    WithdrawReadNotifications,
    WithdrawUnsentNotifications,
    note_message_notifications,
)
from commands.processes.reactions import cause_of, event_id_of
from domain.identity.users import User
from domain.messaging.conversations import Conversation
from domain.messaging.messages import Message
from domain.messaging.read_markers import ReadMarker, read_marker_id
from domain.notifications.contact_points import ContactPoints
from domain.notifications.content import Content
from domain.notifications.conversation_notices import (
    FINISHED,
    FORGOTTEN,
    MAX_NOTICES,
    ConversationNotices,
    conversation_notices_id,
)
from domain.notifications.decisions import RecipientFacts, RoutingRequest, decide
from domain.notifications.notifications import (
    ACCEPTED,
    CANCELLED,
    DISPATCHING,
    QUEUED,
    Answer,
    Notification,
    PlannedDelivery,
)
from domain.notifications.retries import RetryPolicy
from event_log.aggregate import Cause
from event_log.batch import Batch
from event_log.log import EventLog
from projections.notifications.schedule import NotificationScheduleProjector
from tests.builders import a_cause, now

PUSH_AND_EMAIL = Deployment(frozenset({"in_app", "fcm", "email"}))
FCM = "fM3xQ2rLTeK:APA91bHq8xY2kWJ7n0Xc_V4dR9sZ1tL6uP3oQ5eA8bC"
HANDLERS = {**REACTION_HANDLERS, **SUPPRESSION_HANDLERS}
MANAGER = CrossDomainSuppression()


class Log:
    """An in-memory event log; each command runs on a fresh batch, as the writer runs it."""

    def __init__(self) -> None:
        self.log = EventLog(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})

    def save(self, *aggregates: Any) -> None:
        self.log.save(*aggregates)

    def run(self, command: Any, cause: Cause | None = None) -> Any:
        batch = Batch(self.log.repository)
        result = HANDLERS[type(command)](batch, command, cause or a_cause())
        self.log.save(*batch.touched())
        return result

    def get(self, aggregate_id: uuid.UUID) -> Any:
        return self.log.repository.get(aggregate_id)

    def events_of(self, aggregate_id: uuid.UUID) -> list[Any]:
        return list(self.log.repository.event_store.get(aggregate_id))

    def react(self, event: Any) -> Any:
        """As the runner hands the manager's command to the writer: under the event's cause."""
        [command] = MANAGER.react(event)
        return self.run(command, cause_of(MANAGER, event))


def a_user(log: Log, name: str) -> User:
    """Someone with a phone (an FCM token) and a verified email address, so a push can reach
    them and an email fall back."""
    user = User.register(f"u{uuid.uuid4().hex[:12]}", name, a_cause())
    points = ContactPoints.start(user.id, a_cause(user.id))
    points.register_device_token(uuid.uuid4(), uuid.uuid4(), "fcm", FCM, 20, now(),
                                 a_cause(user.id))
    address = uuid.uuid4()
    points.add_email(address, f"{user.handle}@example.com", 20, now(), a_cause(user.id))
    points.verify_email(address, now(), a_cause(user.id))
    log.save(user, points)
    return user


def a_group(log: Log, owner: User, *members: User) -> Conversation:
    group = Conversation.create_group(uuid.uuid4(), owner.id, "Analytical Engine",
                                      tuple(m.id for m in members), 50, a_cause(owner.id))
    log.save(group)
    return group


def a_message(log: Log, group: Conversation, sender: User) -> uuid.UUID:
    """A message sent (as the messaging handler records it: the conversation's event and the
    message's own aggregate)."""
    message_id = uuid.uuid4()
    seq = group.send_message(message_id, sender.id, "hello", now(), a_cause(sender.id))
    log.save(group, Message.post(message_id, group.id, sender.id, seq, a_cause(sender.id)))
    return message_id


def notified(log: Log, group: Conversation, sender: User, message_id: uuid.UUID
             ) -> dict[uuid.UUID, uuid.UUID]:
    """The message notifications' handler has run: recipient -> their notification."""
    result = log.run(TriggerMessageNotifications(
        uuid.uuid4(), group.id, message_id, sender.id, "hello", 0, (), frozenset(), now(), 100,
        900, PUSH_AND_EMAIL))
    return dict(zip(result.recipient_ids, result.notification_ids, strict=True))


def a_message_notified(log: Log, group: Conversation, sender: User
                       ) -> dict[uuid.UUID, uuid.UUID]:
    return notified(log, group, sender, a_message(log, group, sender))


def read_up_to(log: Log, group: Conversation, reader: User, seq: int) -> ReadMarker.ReadUpTo:
    """The reader's receipt moved to `seq`: the stored event."""
    try:
        marker = log.get(read_marker_id(group.id, reader.id))
    except AggregateNotFoundError:  # their first receipt in it
        marker = ReadMarker.start(group.id, reader.id, a_cause(reader.id))
    marker.mark_read(seq, group.last_seq, a_cause(reader.id))
    log.save(marker)
    event = log.events_of(marker.id)[-1]
    assert isinstance(event, ReadMarker.ReadUpTo)
    return event


def unsent(log: Log, message_id: uuid.UUID, sender: User) -> Message.Unsent:
    message = log.get(message_id)
    message.unsend(sender.id, now(), a_cause(sender.id))
    log.save(message)
    event = log.events_of(message_id)[-1]
    assert isinstance(event, Message.Unsent)
    return event


def accept_push(log: Log, notification_id: uuid.UUID) -> Notification:
    """Its push was dispatched and accepted: the email fallback is scheduled."""
    notification = log.get(notification_id)
    notification.dispatch([PlannedDelivery("cp-1", "fcm", "fcm-main")], now(), a_cause())
    [delivery] = notification.pending_deliveries()
    notification.record([Answer(uuid.UUID(delivery["delivery_id"]), "fcm-main", True, 9,
                                provider_message_id="m-1")], now(), RetryPolicy(), 0.5,
                        a_cause())
    log.save(notification)
    assert notification.state == ACCEPTED and notification.fallback_pending
    return notification


def cancellation_of(log: Log, notification_id: uuid.UUID) -> Any:
    [event] = [e for e in log.events_of(notification_id)
               if isinstance(e, (Notification.Cancelled, Notification.FallbackCancelled))]
    return event


# --- the process manager: pure ----------------------------------------------------------------


def test_a_read_receipt_answers_one_withdrawal_for_its_reader_up_to_its_position() -> None:
    log = Log()
    ada, bob = a_user(log, "Ada"), a_user(log, "Bob")
    group = a_group(log, ada, bob)
    a_message(log, group, ada)
    receipt = read_up_to(log, group, bob, 1)

    assert MANAGER.react(receipt) == MANAGER.react(receipt) == [
        WithdrawReadNotifications(group.id, bob.id, 1, receipt.timestamp)]


def test_an_unsent_message_answers_one_withdrawal_of_it() -> None:
    log = Log()
    ada, bob = a_user(log, "Ada"), a_user(log, "Bob")
    group = a_group(log, ada, bob)
    message = a_message(log, group, ada)
    event = unsent(log, message, ada)

    assert MANAGER.react(event) == [WithdrawUnsentNotifications(group.id, message,
                                                                event.unsent_at)]
    assert MANAGER.react(log.events_of(message)[0]) == []  # Message.Posted: not its concern


# --- the write side -------------------------------------------------------------------------


def test_a_read_receipt_cancels_the_readers_pending_pushes_at_or_before_it_and_says_why() -> None:
    log = Log()
    ada, bob, cy = a_user(log, "Ada"), a_user(log, "Bob"), a_user(log, "Cy")
    group = a_group(log, ada, bob, cy)
    first, second, third = (a_message_notified(log, group, ada) for _ in range(3))
    receipt = read_up_to(log, group, bob, 2)

    result = log.react(receipt)

    assert result == NotificationsWithdrawn((first[bob.id], second[bob.id]))
    for read in (first[bob.id], second[bob.id]):
        assert log.get(read).state == CANCELLED
        cancelled = cancellation_of(log, read)
        assert cancelled.reason == READ_RECEIPT
        assert cancelled.causation_id == event_id_of(receipt)  # which receipt, on the log
    assert log.get(third[bob.id]).state == QUEUED  # a later message: still Bob's to get
    assert all(log.get(n[cy.id]).state == QUEUED for n in (first, second, third))  # not Cy's


def test_a_read_receipt_cancels_an_accepted_pushs_scheduled_email_fallback() -> None:
    log = Log()
    ada, bob = a_user(log, "Ada"), a_user(log, "Bob")
    group = a_group(log, ada, bob)
    push = accept_push(log, a_message_notified(log, group, ada)[bob.id])
    timer = push.timer
    assert timer is not None

    log.react(read_up_to(log, group, bob, 1))

    after = log.get(push.id)
    assert after.state == ACCEPTED and after.timer is None  # the push stands; no email
    assert cancellation_of(log, push.id).reason == READ_RECEIPT
    assert not after.release(timer.timer_id, timer.due_at + timedelta(seconds=1), a_cause())
    assert after.channel == "push"


def test_a_push_out_with_a_provider_when_read_gets_no_email_fallback_once_accepted() -> None:
    log = Log()
    ada, bob = a_user(log, "Ada"), a_user(log, "Bob")
    group = a_group(log, ada, bob)
    notification_id = a_message_notified(log, group, ada)[bob.id]
    out = log.get(notification_id)
    out.dispatch([PlannedDelivery("cp-1", "fcm", "fcm-main")], now(), a_cause())
    log.save(out)

    assert log.react(read_up_to(log, group, bob, 1)) == NotificationsWithdrawn(
        (notification_id,), (notification_id,))
    assert log.get(notification_id).state == DISPATCHING  # it cannot be called back

    accept_push_answer(log, notification_id)
    answered = log.get(notification_id)
    assert answered.state == ACCEPTED and answered.timer is None  # and no email follows
    [withdrawn] = [e for e in log.events_of(notification_id)
                   if isinstance(e, Notification.WithdrawnInFlight)]
    assert withdrawn.reason == READ_RECEIPT
    assert notification_id not in log.get(conversation_notices_id(bob.id, group.id)
                                          ).notification_ids()


def test_a_push_withdrawn_in_flight_that_fails_is_cancelled_not_retried() -> None:
    log = Log()
    ada, bob = a_user(log, "Ada"), a_user(log, "Bob")
    group = a_group(log, ada, bob)
    message = a_message(log, group, ada)
    notification_id = notified(log, group, ada, message)[bob.id]
    out = log.get(notification_id)
    out.dispatch([PlannedDelivery("cp-1", "fcm", "fcm-main")], now(), a_cause())
    log.save(out)
    log.react(unsent(log, message, ada))

    failing = log.get(notification_id)
    [delivery] = failing.pending_deliveries()
    failing.record([Answer(uuid.UUID(delivery["delivery_id"]), "fcm-main", False, 9,
                           code="UNAVAILABLE", retryable=True)], now(), RetryPolicy(), 0.5,
                   a_cause())
    log.save(failing)

    assert log.get(notification_id).state == CANCELLED
    assert cancellation_of(log, notification_id).reason == UNSENT
    assert not [e for e in log.events_of(notification_id) if isinstance(e, Notification.Retried)]


def accept_push_answer(log: Log, notification_id: uuid.UUID) -> None:
    notification = log.get(notification_id)
    [delivery] = notification.pending_deliveries()
    notification.record([Answer(uuid.UUID(delivery["delivery_id"]), "fcm-main", True, 9,
                                provider_message_id="m-1")], now(), RetryPolicy(), 0.5,
                        a_cause())
    log.save(notification)


def test_an_unsent_message_withdraws_every_recipients_pending_notification_of_it_only() -> None:
    log = Log()
    ada, bob, cy = a_user(log, "Ada"), a_user(log, "Bob"), a_user(log, "Cy")
    group = a_group(log, ada, bob, cy)
    message = a_message(log, group, ada)
    of_it = notified(log, group, ada, message)
    other = a_message_notified(log, group, ada)
    accept_push(log, of_it[cy.id])  # Cy's push went out: its email fallback is pending
    event = unsent(log, message, ada)

    result = log.react(event)

    assert set(result.withdrawn) == {of_it[bob.id], of_it[cy.id]}
    assert log.get(of_it[bob.id]).state == CANCELLED
    assert log.get(of_it[cy.id]).timer is None
    for withdrawn in of_it.values():
        cancelled = cancellation_of(log, withdrawn)
        assert cancelled.reason == UNSENT and cancelled.causation_id == event_id_of(event)
    assert all(log.get(n).state == QUEUED for n in other.values())


def test_a_redelivered_receipt_or_unsend_changes_nothing() -> None:
    log = Log()
    ada, bob = a_user(log, "Ada"), a_user(log, "Bob")
    group = a_group(log, ada, bob)
    message = a_message(log, group, ada)
    notification_id = notified(log, group, ada, message)[bob.id]
    receipt = read_up_to(log, group, bob, 1)
    log.react(receipt)
    events = len(log.events_of(notification_id))
    index = len(log.events_of(conversation_notices_id(bob.id, group.id)))

    assert log.react(receipt) == NotificationsWithdrawn()
    assert log.react(unsent(log, message, ada)) == NotificationsWithdrawn()
    assert len(log.events_of(notification_id)) == events
    assert len(log.events_of(conversation_notices_id(bob.id, group.id))) == index


def test_a_message_read_or_unsent_before_its_notification_was_made_is_suppressed_so() -> None:
    log = Log()
    ada, bob = a_user(log, "Ada"), a_user(log, "Bob")
    group = a_group(log, ada, bob)
    read_first = a_message(log, group, ada)
    log.react(read_up_to(log, group, bob, 1))  # nothing to withdraw yet
    unsent_first = a_message(log, group, ada)
    log.react(unsent(log, unsent_first, ada))

    for message, reason, inputs in (
            (read_first, READ_RECEIPT, {"read_up_to": 1, "message_seq": 1}),
            (unsent_first, UNSENT, {"message_id": str(unsent_first)})):
        notification = log.get(notified(log, group, ada, message)[bob.id])
        [suppressed] = [e for e in log.events_of(notification.id)
                        if isinstance(e, Notification.Suppressed)]
        assert suppressed.reason.startswith(f"{reason}:")
        [decided] = [e for e in log.events_of(notification.id)
                     if isinstance(e, Notification.Decided)]
        [step] = [s for s in decided.steps if s["step"] == reason]
        assert step["inputs"] == inputs  # what the decision looked at, on the log
        assert not [e for e in log.events_of(notification.id)
                    if isinstance(e, Notification.Queued)]
    with pytest.raises(AggregateNotFoundError):  # nothing pending: no index to read
        log.get(conversation_notices_id(bob.id, group.id))


def test_finished_notifications_leave_a_full_index_first_then_the_oldest_pending_one() -> None:
    log = Log()
    ada, bob = a_user(log, "Ada"), a_user(log, "Bob")
    group = a_group(log, ada, bob)
    notices = ConversationNotices.open(bob.id, group.id, a_cause())
    gone = [uuid.uuid4() for _ in range(MAX_NOTICES)]  # no such notifications: finished
    for seq, notification_id in enumerate(gone, start=1):
        assert notices.note(notification_id, uuid.uuid4(), seq, a_cause())
    assert not notices.note(uuid.uuid4(), uuid.uuid4(), MAX_NOTICES + 1, a_cause())  # full
    log.save(notices)

    first = a_message_notified(log, group, ada)[bob.id]

    index = log.get(notices.id)
    assert index.notification_ids() == [first]
    [settled] = [e for e in log.events_of(notices.id)
                 if isinstance(e, ConversationNotices.Settled)]
    assert settled.reason == FINISHED and set(settled.notification_ids) == set(gone)

    batch = Batch(log.log.repository)
    pending = [pending_notification(batch, bob.id) for _ in range(MAX_NOTICES)]
    note_message_notifications(batch, group.id, a_message(log, group, ada),
                               [(bob.id, n) for n in pending], a_cause())
    log.save(*batch.touched())
    index = log.get(notices.id)
    assert len(index.notices) == MAX_NOTICES and first not in index.notification_ids()
    forgotten = [e for e in log.events_of(notices.id)
                 if isinstance(e, ConversationNotices.Settled) and e.reason == FORGOTTEN]
    assert [e.notification_ids for e in forgotten] == [[first]]


def pending_notification(batch: Batch, recipient: uuid.UUID) -> uuid.UUID:
    """A queued push notification (not about any message: filling the index)."""
    notification = Notification.request(
        uuid.uuid4(), recipient, category="message", priority="normal", channels=("push",),
        fallback_after_seconds=None, content=Content("Ada", "hello"), send_at=None,
        cancellation_key=None, caller="process:test", at=now(), cause=a_cause())
    facts = RecipientFacts(frozenset({"fcm"}), frozenset({"fcm"}))
    notification.route(decide(RoutingRequest("message", "normal", ("push",), None), facts,
                              now()), now(), a_cause())
    batch.add(notification)
    return notification.id


@settings(max_examples=20)
@given(st.lists(st.one_of(st.just("message"), st.integers(min_value=0, max_value=8),
                          st.just("redeliver")), max_size=10))
def test_after_any_run_of_messages_and_receipts_exactly_those_read_are_withdrawn(
        steps: list[Any]) -> None:
    """Messages, read receipts (to any position so far, which never move back) and a
    redelivered last receipt, in any order: whatever of Bob's is at or before his receipt is
    withdrawn, whatever is after it is still queued, and a redelivery changes nothing."""
    log = Log()
    ada, bob = a_user(log, "Ada"), a_user(log, "Bob")
    group = a_group(log, ada, bob)
    notifications: list[uuid.UUID] = []  # Bob's, by seq - 1
    receipts: list[ReadMarker.ReadUpTo] = []
    for step in steps:
        if step == "message":
            notifications.append(a_message_notified(log, group, ada)[bob.id])
        elif step == "redeliver" and receipts:
            before = [len(log.events_of(n)) for n in notifications]
            log.react(receipts[-1])
            assert [len(log.events_of(n)) for n in notifications] == before
        elif isinstance(step, int) and 0 < step <= group.last_seq:
            marker_seq = receipts[-1].seq if receipts else 0
            if step > marker_seq:
                receipts.append(read_up_to(log, group, bob, step))
                log.react(receipts[-1])
    read = receipts[-1].seq if receipts else 0
    states = [log.get(n).state for n in notifications]
    assert states == [CANCELLED] * min(read, len(states)) + [QUEUED] * (len(states) - read)


def test_the_due_time_index_drops_a_cancelled_fallbacks_timer() -> None:
    log = Log()
    ada, bob = a_user(log, "Ada"), a_user(log, "Bob")
    group = a_group(log, ada, bob)
    push = accept_push(log, a_message_notified(log, group, ada)[bob.id])
    log.react(read_up_to(log, group, bob, 1))
    projector = NotificationScheduleProjector()
    events = log.events_of(push.id)
    [scheduled] = [e for e in events if isinstance(e, Notification.FallbackScheduled)]
    [cancelled] = [e for e in events if isinstance(e, Notification.FallbackCancelled)]

    [pending] = projector.changes(scheduled, 10)
    [dropped] = projector.changes(cancelled, 11)

    assert pending.fields["timer_pending"] is True
    assert dropped.fields == {"timer_pending": False}
    assert dropped.only_if == ("timer_kind", "fallback")  # a later timer is not touched
