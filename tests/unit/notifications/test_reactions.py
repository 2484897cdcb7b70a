"""Parley's own notifications as specifications: each process manager is a pure function
(an event in, the same commands out however often it is handed the event), and the write side
turns them into notifications: a preview push to the members without a live socket (a
mention high, the rest normal, email after the fallback delay), a friend request to its
addressee, a verification link to a new email address only, whose token verifies it."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from concurrent.futures import Future
from datetime import datetime, timedelta
from typing import Any

import pytest

from commands.notifications import trigger
from commands.notifications.reactions import (
    EMAIL_VERIFICATIONS,
    MESSAGES,
    NOTHING,
    REACTION_HANDLERS,
    Deployment,
    EmailVerifications,
    FriendRequestNotifications,
    MessageNotifications,
    NotifyFriendRequest,
    NotifyNewMessage,
    OwnNotificationsTriggered,
    ReactionSettings,
    SendEmailVerification,
    TriggerEmailVerification,
    TriggerFriendRequestNotification,
    TriggerMessageNotifications,
    category_request_id,
    preview,
    reaction_effects,
)
from commands.notifications.trigger import request_id_for
from commands.processes.reactions import event_id_of
from domain.identity.contacts import Blocklist, Contact
from domain.identity.users import User
from domain.messaging.conversations import Conversation
from domain.notifications.contact_points import ContactPoints, contact_points_id
from domain.notifications.email_verification import EmailVerification
from domain.notifications.notifications import Notification, notification_id
from event_log.aggregate import Cause
from event_log.batch import Batch
from event_log.log import EventLog
from tests.builders import a_cause, now

KEY = b"v" * 32
VERIFICATION = EmailVerification(KEY, ttl_seconds=3600)
PUSH_AND_EMAIL = Deployment(frozenset({"in_app", "fcm", "email"}))
URL = "https://app.parley.test"
FCM = "fM3xQ2rLTeK:APA91bHq8xY2kWJ7n0Xc_V4dR9sZ1tL6uP3oQ5eA8bC"


class Log:
    """An in-memory event log; each command runs on a fresh batch, as the writer runs it."""

    def __init__(self) -> None:
        self.log = EventLog(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})

    def save(self, *aggregates: Any) -> None:
        self.log.save(*aggregates)

    def run(self, command: Any) -> OwnNotificationsTriggered:
        batch = Batch(self.log.repository)
        result = REACTION_HANDLERS[type(command)](batch, command, a_cause())
        self.log.save(*batch.touched())
        assert isinstance(result, OwnNotificationsTriggered)
        return result

    def notification(self, notification_id: uuid.UUID) -> Notification:
        found = self.log.repository.get(notification_id)
        assert isinstance(found, Notification)
        return found

    def events_of(self, notification_id: uuid.UUID) -> list[Any]:
        return list(self.log.repository.event_store.get(notification_id))


def a_user(log: Log, name: str) -> User:
    """Someone with a phone (an FCM token), so a push can reach them."""
    user = User.register(f"u{uuid.uuid4().hex[:12]}", name, a_cause())
    points = ContactPoints.start(user.id, a_cause(user.id))
    points.register_device_token(uuid.uuid4(), uuid.uuid4(), "fcm", FCM, 20, now(),
                                 a_cause(user.id))
    log.save(user, points)
    return user


def a_group(log: Log, owner: User, *members: User) -> Conversation:
    group = Conversation.create_group(uuid.uuid4(), owner.id, "Analytical Engine",
                                      tuple(m.id for m in members), 50, a_cause(owner.id))
    log.save(group)
    return group


def sent(conversation: Conversation, sender: User, text: str) -> Conversation.MessageSent:
    conversation.send_message(uuid.uuid4(), sender.id, text, now(), a_cause(sender.id))
    [event] = [e for e in conversation.collect_events()
               if isinstance(e, Conversation.MessageSent)]
    return event


def a_message_command(conversation: Conversation, event: Conversation.MessageSent,
                      online: frozenset[uuid.UUID] = frozenset(), *, preview_chars: int = 100,
                      fallback: int = 900) -> TriggerMessageNotifications:
    return TriggerMessageNotifications(
        uuid.uuid4(), conversation.id, event.message_id, event.sender_id, event.text, 0,
        tuple(event.mention_ids), online, now(), preview_chars, fallback, PUSH_AND_EMAIL)


# --- the process managers: pure --------------------------------------------------------------


def test_a_sent_message_answers_one_effect_naming_it_and_keyed_by_its_event() -> None:
    log = Log()
    ada, bob = a_user(log, "Ada"), a_user(log, "Bob")
    group = a_group(log, ada, bob)
    event = sent(group, ada, f"Hello @{bob.handle}")
    manager = MessageNotifications()

    [effect] = manager.react(event)

    assert isinstance(effect, NotifyNewMessage)
    assert (effect.conversation_id, effect.message_id, effect.sender_id) == (
        group.id, event.message_id, ada.id)
    assert effect.mention_ids == (bob.id,) and effect.text == f"Hello @{bob.handle}"
    assert effect.request_id == request_id_for(MESSAGES, event_id_of(event))
    assert effect.cause.causation_id == event_id_of(event)
    assert effect.cause.actor_id == manager.actor_id
    assert manager.react(event) == [effect]  # the same event: the same command, the same key


def test_a_friend_request_answers_the_addressees_notification() -> None:
    ada, bob = uuid.uuid4(), uuid.uuid4()
    contact = Contact.start(ada, bob, a_cause(ada))
    contact.request_friendship(ada, now(), a_cause(ada))
    [event] = [e for e in contact.collect_events() if isinstance(e, Contact.FriendRequested)]

    [effect] = FriendRequestNotifications().react(event)

    assert isinstance(effect, NotifyFriendRequest)
    assert (effect.requester_id, effect.addressee_id) == (ada, bob)
    assert FriendRequestNotifications().react(event) == [effect]


def test_an_added_email_address_answers_its_verification_and_nothing_else_does() -> None:
    user = uuid.uuid4()
    points = ContactPoints.start(user, a_cause(user))
    point = uuid.uuid4()
    points.add_email(point, "ada@example.com", 20, now(), a_cause(user))
    points.add_phone(uuid.uuid4(), "+442079460018", 20, now(), a_cause(user))
    events = points.collect_events()
    manager = EmailVerifications()

    answered = [command for event in events for command in manager.react(event)]

    [effect] = answered
    assert isinstance(effect, SendEmailVerification)
    assert (effect.contact_points_id, effect.contact_point_id) == (points.id, point)
    assert effect.request_id == request_id_for(EMAIL_VERIFICATIONS,
                                               event_id_of(events[1]))


def test_an_unverified_address_added_again_answers_a_new_verification() -> None:
    user, point = uuid.uuid4(), uuid.uuid4()
    points = ContactPoints.start(user, a_cause(user))
    asked_at = now()
    points.add_email(point, "ada@example.com", 20, asked_at, a_cause(user))
    points.add_email(uuid.uuid4(), "ada@example.com", 20, asked_at + timedelta(minutes=5),
                     a_cause(user))
    manager = EmailVerifications()

    answered = [c for event in points.collect_events() for c in manager.react(event)]

    assert [c.contact_point_id for c in answered] == [point, point]
    assert answered[1].asked_at == asked_at + timedelta(minutes=5)
    assert answered[0].request_id != answered[1].request_id  # a new link, a new notification


def test_a_manager_answers_nothing_for_an_event_it_does_not_react_to() -> None:
    user = User.register("ada_l", "Ada", a_cause())
    [registered] = user.collect_events()
    for manager in (MessageNotifications(), FriendRequestNotifications(), EmailVerifications()):
        assert manager.react(registered) == []


# --- messages on the write side ----------------------------------------------------------------


def test_each_member_but_the_sender_gets_a_preview_push_with_email_fallback() -> None:
    log = Log()
    ada, bob, cy = a_user(log, "Ada Lovelace"), a_user(log, "Bob"), a_user(log, "Cy")
    group = a_group(log, ada, bob, cy)
    event = sent(group, ada, "The engine weaves algebraic patterns")
    command = a_message_command(group, event)

    result = log.run(command)

    assert set(result.recipient_ids) == {bob.id, cy.id}
    for made in result.notification_ids:
        notification = log.notification(made)
        assert (notification.category, notification.priority) == ("message", "normal")
        assert notification.requested_channels == ["push", "email"]
        assert notification.fallback_after_seconds == 900
        assert notification.title == "Ada Lovelace"
        assert notification.body == "The engine weaves algebraic patterns"
        assert notification.data == {"conversation_id": str(group.id),
                                     "message_id": str(event.message_id)}
        assert notification.deep_link == f"parley://conversations/{group.id}"
        assert notification.state == "queued" and notification.caller == f"process:{MESSAGES}"


def test_a_mentioned_member_gets_a_high_priority_mention_the_others_a_message() -> None:
    log = Log()
    ada, bob, cy = a_user(log, "Ada"), a_user(log, "Bob"), a_user(log, "Cy")
    group = a_group(log, ada, bob, cy)
    event = sent(group, ada, f"@{bob.handle} look at this")

    result = log.run(a_message_command(group, event))

    by_recipient = dict(zip(result.recipient_ids, result.notification_ids, strict=True))
    mention, message = log.notification(by_recipient[bob.id]), log.notification(
        by_recipient[cy.id])
    assert (mention.category, mention.priority) == ("mention", "high")
    assert (message.category, message.priority) == ("message", "normal")
    assert mention.request_id != message.request_id  # two requests, one per category


def test_a_member_with_a_live_socket_is_not_pushed_and_the_log_says_why() -> None:
    log = Log()
    ada, bob, cy = a_user(log, "Ada"), a_user(log, "Bob"), a_user(log, "Cy")
    group = a_group(log, ada, bob, cy)
    event = sent(group, ada, "hello")

    result = log.run(a_message_command(group, event, online=frozenset({bob.id})))

    assert len(set(result.notification_ids)) == len(result.recipient_ids) == 2  # one each
    by_recipient = dict(zip(result.recipient_ids, result.notification_ids, strict=True))
    assert result.suppressed_online == (by_recipient[bob.id],)
    online, offline = log.notification(by_recipient[bob.id]), log.notification(
        by_recipient[cy.id])
    assert online.state == "suppressed" and offline.state == "queued"
    [suppressed] = [e for e in log.events_of(online.id)
                    if isinstance(e, Notification.Suppressed)]
    assert suppressed.reason.startswith("live_socket:")
    assert not [e for e in log.events_of(online.id) if isinstance(e, Notification.Queued)]


def test_a_member_who_blocked_the_sender_is_not_pushed_their_message() -> None:
    log = Log()
    ada, bob, cy = a_user(log, "Ada"), a_user(log, "Bob"), a_user(log, "Cy")
    group = a_group(log, ada, bob, cy)
    blocklist = Blocklist.start(bob.id, a_cause(bob.id))
    blocklist.block(ada.id, now(), a_cause(bob.id))
    log.save(blocklist)

    result = log.run(a_message_command(group, sent(group, ada, f"@{bob.handle} hi")))

    by_recipient = dict(zip(result.recipient_ids, result.notification_ids, strict=True))
    blocked, other = log.notification(by_recipient[bob.id]), log.notification(
        by_recipient[cy.id])
    assert blocked.state == "suppressed" and other.state == "queued"
    [suppressed] = [e for e in log.events_of(blocked.id)
                    if isinstance(e, Notification.Suppressed)]
    assert suppressed.reason.startswith("blocked:")
    assert result.suppressed_online == ()


def test_a_group_larger_than_one_request_takes_is_notified_in_several(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(trigger, "MAX_RECIPIENTS", 2)
    log = Log()
    ada = a_user(log, "Ada")
    others = [a_user(log, f"Member {n}") for n in range(5)]
    group = a_group(log, ada, *others)

    result = log.run(a_message_command(group, sent(group, ada, "all hands")))

    assert set(result.recipient_ids) == {o.id for o in others}
    requests = {log.notification(n).request_id for n in result.notification_ids}
    assert len(requests) == 3  # 2 + 2 + 1


def test_the_members_are_the_conversations_members_when_it_is_handled() -> None:
    log = Log()
    ada, bob = a_user(log, "Ada"), a_user(log, "Bob")
    group = a_group(log, ada, bob)
    event = sent(group, ada, "first")
    log.save(group)
    later = a_user(log, "Later")
    group = log.log.repository.get(group.id)
    group.admit(later.id, 50, a_cause(ada.id))
    log.save(group)

    result = log.run(a_message_command(group, event))

    assert set(result.recipient_ids) == {bob.id, later.id}


def test_a_preview_is_the_first_characters_of_the_text() -> None:
    assert preview("a" * 150, 100, 0) == "a" * 100 + "\u2026"
    assert preview("short\n\n text", 100, 0) == "short text"
    assert preview("", 100, 2) == "Sent an attachment"
    assert len(preview("word " * 40, 100, 0)) <= 101


def test_a_recipients_notification_id_is_derived_from_the_request_and_them() -> None:
    log = Log()
    ada, bob = a_user(log, "Ada"), a_user(log, "Bob")
    group = a_group(log, ada, bob)
    command = a_message_command(group, sent(group, ada, "hi"))
    assert log.run(command).notification_ids == (
        notification_id(category_request_id(command.request_id, "message"), bob.id),)


# --- friend requests and email verification on the write side --------------------------------


def test_the_addressee_of_a_friend_request_is_notified_on_push_and_in_app() -> None:
    log = Log()
    ada, bob = a_user(log, "Ada Lovelace"), a_user(log, "Bob")

    result = log.run(TriggerFriendRequestNotification(uuid.uuid4(), ada.id, bob.id, now(),
                                                      PUSH_AND_EMAIL))

    [notification_id] = result.notification_ids
    notification = log.notification(notification_id)
    assert notification.recipient_id == bob.id
    assert (notification.category, notification.priority) == ("friend_request", "normal")
    assert notification.requested_channels == ["push", "in_app"]
    assert "Ada Lovelace" in notification.body
    assert notification.inbox  # in the inbox whether or not a push reaches Bob


def an_added_email(log: Log) -> tuple[ContactPoints, uuid.UUID, datetime]:
    user = a_user(log, "Ada")
    points = log.log.repository.get(contact_points_id(user.id))
    point, asked_at = uuid.uuid4(), now()
    points.add_email(point, "ada@example.com", 20, asked_at, a_cause(user.id))
    log.save(points)
    return points, point, asked_at


def verification_of(points: ContactPoints, point: uuid.UUID, asked_at: datetime,
                    at: datetime | None = None) -> TriggerEmailVerification:
    return TriggerEmailVerification(uuid.uuid4(), points.id, point, asked_at, at or now(),
                                    VERIFICATION, URL, PUSH_AND_EMAIL)


def test_a_new_email_address_is_sent_a_link_whose_token_verifies_that_address() -> None:
    log = Log()
    points, point, asked_at = an_added_email(log)

    [notification_id] = log.run(verification_of(points, point, asked_at)).notification_ids

    notification = log.notification(notification_id)
    assert notification.contact_point_id == str(point)  # that address, although unverified
    assert (notification.category, notification.priority) == ("account", "high")
    assert notification.requested_channels == ["email"]
    link = notification.deep_link
    assert link is not None and link.startswith(f"{URL}/verify-email#token=")
    assert "token" not in notification.body  # the email shows the link (its deep link)
    claim = VERIFICATION.read(link.partition("#token=")[2], now())
    assert (claim.user_id, claim.contact_point_id) == (points.user_id, point)


def test_the_token_is_derived_from_the_event_so_a_repeat_makes_the_same_link() -> None:
    log = Log()
    points, point, asked_at = an_added_email(log)
    first = log.notification(log.run(verification_of(points, point, asked_at))
                             .notification_ids[0])
    later = now() + timedelta(minutes=3)  # handled again later, after a crash
    second = log.notification(log.run(verification_of(points, point, asked_at, later))
                              .notification_ids[0])
    assert first.deep_link == second.deep_link


def test_no_link_is_sent_to_an_address_removed_or_verified_meanwhile() -> None:
    log = Log()
    points, point, asked_at = an_added_email(log)
    points = log.log.repository.get(points.id)
    points.verify_email(point, now(), a_cause())
    log.save(points)
    assert log.run(verification_of(points, point, asked_at)) == NOTHING

    points, point, asked_at = an_added_email(log)
    points = log.log.repository.get(points.id)
    points.remove(point, now(), a_cause())
    log.save(points)
    assert log.run(verification_of(points, point, asked_at)) == NOTHING


def test_no_command_shows_the_key_the_text_or_the_link_in_its_repr() -> None:
    _, point, asked_at = an_added_email(Log())
    command = TriggerEmailVerification(uuid.uuid4(), uuid.uuid4(), point, asked_at, now(),
                                       VERIFICATION, URL)
    assert "vvvv" not in repr(command) and repr(KEY) not in repr(command)
    secret_text = "my bank PIN is 4321"
    effect = NotifyNewMessage(uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4(),
                              secret_text, 0, (), now(), a_cause())
    assert secret_text not in repr(effect)
    assert secret_text not in repr(TriggerMessageNotifications(
        uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), secret_text, 0, (),
        frozenset(), now(), 100, 900))


# --- the effects: presence asked, then one keyed write-side command ----------------------------


class Submitted:
    """A stand-in for the writer's submit: records what it was given."""

    def __init__(self) -> None:
        self.commands: list[tuple[Any, Cause, str | None]] = []

    def __call__(self, command: Any, cause: Cause, idempotency_key: str | None = None,
                 fingerprint: str = "") -> Future[Any]:
        self.commands.append((command, cause, idempotency_key))
        done: Future[Any] = Future()
        done.set_result(NOTHING)
        return done


class Sockets:
    def __init__(self, *online: uuid.UUID) -> None:
        self.online = set(online)
        self.asked: list[uuid.UUID] = []

    def open_for(self, user_id: uuid.UUID, now: datetime) -> bool:
        self.asked.append(user_id)
        return user_id in self.online


def effects(submit: Submitted, sockets: Sockets, members: tuple[uuid.UUID, ...],
            clock: Callable[[], datetime] = now) -> dict[type, Any]:
    return reaction_effects(submit, deployment=lambda: PUSH_AND_EMAIL, sockets=sockets,
                            members=lambda _conversation: members, verification=VERIFICATION,
                            settings=ReactionSettings(preview_chars=40,
                                                      message_email_fallback_seconds=60,
                                                      max_age_seconds=3600, public_url=URL),
                            clock=clock)


def a_message_effect(sender: uuid.UUID, sent_at: datetime | None = None) -> NotifyNewMessage:
    return NotifyNewMessage(uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), sender, "hi", 0, (),
                            sent_at or now(), a_cause())


def test_the_message_effect_asks_presence_about_the_others_and_submits_under_its_key() -> None:
    ada, bob, cy = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    submit, sockets = Submitted(), Sockets(bob)
    effect = a_message_effect(ada)
    key = f"process:{MESSAGES}:{uuid.uuid4()}:0"

    effects(submit, sockets, (ada, bob, cy))[NotifyNewMessage](effect, key)

    [(command, cause, used_key)] = submit.commands
    assert isinstance(command, TriggerMessageNotifications)
    assert command.online == frozenset({bob}) and ada not in sockets.asked
    assert (cause, used_key) == (effect.cause, key)
    assert (command.preview_chars, command.fallback_after_seconds) == (40, 60)
    assert command.deployment == PUSH_AND_EMAIL


def test_an_old_message_or_friend_request_is_not_notified_when_first_reached() -> None:
    submit = Submitted()
    run = effects(submit, Sockets(), ())
    old = now() - timedelta(hours=2)
    assert run[NotifyNewMessage](a_message_effect(uuid.uuid4(), old), "k") == NOTHING
    assert run[NotifyFriendRequest](NotifyFriendRequest(
        uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), old, a_cause()), "k") == NOTHING
    assert submit.commands == []


def test_without_a_push_or_email_provider_a_message_writes_nothing() -> None:
    submit = Submitted()
    inbox_only = reaction_effects(
        submit, deployment=Deployment, sockets=Sockets(), members=lambda _c: (),
        verification=VERIFICATION, settings=ReactionSettings(), clock=now)
    assert inbox_only[NotifyNewMessage](a_message_effect(uuid.uuid4()), "k") == NOTHING
    assert submit.commands == []
    inbox_only[NotifyFriendRequest](NotifyFriendRequest(
        uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), now(), a_cause()), "k")
    assert len(submit.commands) == 1  # the inbox always takes a friend request


@pytest.mark.parametrize("age, sent", [(timedelta(minutes=5), True),
                                       (timedelta(hours=2), False)])
def test_a_verification_link_is_sent_only_while_it_would_still_be_valid(
        age: timedelta, sent: bool) -> None:
    submit = Submitted()
    effect = SendEmailVerification(uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), now() - age,
                                   a_cause())
    effects(submit, Sockets(), ())[SendEmailVerification](effect, "k")
    assert bool(submit.commands) is sent
    if sent:
        [(command, _, _)] = submit.commands
        assert isinstance(command, TriggerEmailVerification)
        assert command.verification == VERIFICATION and command.public_url == URL
