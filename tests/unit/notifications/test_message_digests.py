"""Parley's own message notifications with a digest window (PARLEY_MESSAGE_DIGEST_WINDOW_SECONDS):
a conversation's messages collapse into one notification per recipient, flushed into "N new
messages in <group>"; mentions are still sent at once; without a window nothing is digested."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from commands.notifications.digest_flush import DigestsFlushed, FlushDigests, flush_digests
from commands.notifications.reactions import (
    MESSAGES,
    REACTION_HANDLERS,
    Deployment,
    TriggerMessageNotifications,
    caller_of,
)
from domain.identity.users import User
from domain.messaging.conversations import Conversation
from domain.notifications.contact_points import ContactPoints
from domain.notifications.digests import digest_id, digest_slot_id
from domain.notifications.notifications import DIGESTED, Notification
from event_log.batch import Batch
from event_log.log import EventLog
from tests.builders import a_cause, a_handle

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
WINDOW = 300
PUSH = Deployment(frozenset({"in_app", "fcm"}))
FCM = "fM3xQ2rLTeK:APA91bHq8xY2kWJ7n0Xc_V4dR9sZ1tL6uP3oQ5eA8bC"


class Log:
    def __init__(self) -> None:
        self.log = EventLog(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})

    def run(self, handler: Any, command: Any) -> Any:
        batch = Batch(self.log.repository)
        result = handler(batch, command, a_cause())
        self.log.save(*batch.touched())
        return result

    def get(self, aggregate_id: uuid.UUID) -> Any:
        return self.log.repository.get(aggregate_id)


def a_user(log: Log, name: str) -> User:
    user = User.register(a_handle(), name, a_cause())
    points = ContactPoints.start(user.id, a_cause(user.id))
    points.register_device_token(uuid.uuid4(), uuid.uuid4(), "fcm", FCM, 20, NOW,
                                 a_cause(user.id))
    log.log.save(user, points)
    return user


def message(log: Log, group: Conversation, sender: User, text: str, at: datetime,
            window: int = WINDOW) -> TriggerMessageNotifications:
    group.send_message(uuid.uuid4(), sender.id, text, at, a_cause(sender.id))
    [event] = [e for e in group.collect_events() if isinstance(e, Conversation.MessageSent)]
    log.log.save(group)
    return TriggerMessageNotifications(
        uuid.uuid4(), group.id, event.message_id, sender.id, text, 0, tuple(event.mention_ids),
        frozenset(), at, 100, 900, PUSH, digest_window_seconds=window)


def notified(log: Log, command: TriggerMessageNotifications) -> Notification:
    result = log.run(REACTION_HANDLERS[TriggerMessageNotifications], command)
    [nid] = result.notification_ids
    found = log.get(nid)
    assert isinstance(found, Notification)
    return found


def test_a_conversations_messages_collapse_into_one_notification_per_recipient() -> None:
    log = Log()
    ada, bob = a_user(log, "Ada"), a_user(log, "Bob")
    group = Conversation.create_group(uuid.uuid4(), ada.id, "Book club", (bob.id,), 50,
                                      a_cause(ada.id))
    log.log.save(group)
    first = notified(log, message(log, group, ada, "chapter 3 tonight?", NOW))
    second = notified(log, message(log, group, ada, "bring snacks",
                                   NOW + timedelta(seconds=10)))
    assert first.state == second.state == DIGESTED
    slot = digest_slot_id(caller_of(MESSAGES), bob.id, "message", str(group.id))
    due = NOW + timedelta(seconds=WINDOW)
    flushed = log.run(flush_digests, FlushDigests((digest_id(slot, 1),), due,
                                                  PUSH.provided_kinds))
    assert isinstance(flushed, DigestsFlushed) and len(flushed.notification_ids) == 1
    sent = log.get(flushed.notification_ids[0])
    assert sent.title == "2 new messages in Book club"
    assert sent.body.splitlines() == ["Ada: chapter 3 tonight?", "Ada: bring snacks"]
    assert sent.channels == ["push"]  # Bob has a phone, no email address


def test_a_mention_is_sent_at_once_and_without_a_window_nothing_is_digested() -> None:
    log = Log()
    ada, bob = a_user(log, "Ada"), a_user(log, "Bob")
    group = Conversation.create_group(uuid.uuid4(), ada.id, "Book club", (bob.id,), 50,
                                      a_cause(ada.id))
    log.log.save(group)
    mention = notified(log, message(log, group, ada, f"@{bob.handle} you there?", NOW))
    alone = notified(log, message(log, group, ada, "hello", NOW, window=0))
    assert mention.category == "mention" and mention.state != DIGESTED
    assert alone.state != DIGESTED
