"""Message digests meet read receipts and unsends: reading a conversation takes the messages it
passed out of the reader's open digest (the digest cancelled when nothing unread is left), so
the flushed digest never announces a message already read; an unsent message leaves every
recipient's digest; a digest flushed already but not yet sent is withdrawn once every message
it announces was read. Each change is an event whose cause is the receipt or the unsend."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from commands.notifications.digest_flush import DIGEST_HANDLERS, DigestsFlushed, FlushDigests
from commands.notifications.reactions import (
    MESSAGE,
    MESSAGES,
    TriggerMessageNotifications,
    caller_of,
)
from commands.notifications.suppression import (
    MESSAGE_DIGEST_CALLER,
    MESSAGE_DIGEST_CATEGORY,
    READ_RECEIPT,
    UNSENT,
    NotificationsWithdrawn,
)
from commands.processes.reactions import event_id_of
from domain.messaging.conversations import Conversation
from domain.messaging.messages import Message
from domain.messaging.read_markers import ReadMarker
from domain.notifications.digests import (
    CANCELLED,
    COLLECTING,
    Digest,
    DigestSlot,
    digest_id,
    digest_slot_id,
)
from domain.notifications.notifications import CANCELLED as NOTIFICATION_CANCELLED
from domain.notifications.notifications import DIGESTED, QUEUED, Notification
from event_log.batch import Batch
from projections.notifications.schedule import NotificationScheduleProjector
from tests.builders import a_cause, now
from tests.unit.notifications.test_cross_domain_suppression import (
    PUSH_AND_EMAIL,
    Log,
    a_group,
    a_user,
    read_up_to,
    unsent,
)

WINDOW = 300


def a_digested_message(log: Log, group: Conversation, sender: Any, text: str) -> int:
    """A message sent and its notifications made with a digest window: its seq."""
    message_id = uuid.uuid4()
    seq = group.send_message(message_id, sender.id, text, now(), a_cause(sender.id))
    log.save(group, Message.post(message_id, group.id, sender.id, seq, a_cause(sender.id)))
    log.run(TriggerMessageNotifications(
        uuid.uuid4(), group.id, message_id, sender.id, text, 0, (), frozenset(), now(), 100,
        900, PUSH_AND_EMAIL, digest_window_seconds=WINDOW))
    return seq


def open_digest(log: Log, group: Conversation, reader: Any) -> Digest:
    slot = log.get(digest_slot_id(caller_of(MESSAGES), reader.id, MESSAGE, str(group.id)))
    assert isinstance(slot, DigestSlot)
    digest = log.get(slot.current)
    assert isinstance(digest, Digest)
    return digest


def flush(log: Log, digest: Digest, at: datetime | None = None) -> DigestsFlushed:
    batch = Batch(log.log.repository)
    result = DIGEST_HANDLERS[FlushDigests](
        batch, FlushDigests((digest.id,), at or digest.flush_at, PUSH_AND_EMAIL.provided_kinds),
        a_cause())
    log.save(*batch.touched())
    assert isinstance(result, DigestsFlushed)
    return result


def book_club(log: Log) -> tuple[Any, Any, Conversation]:
    ada, bob = a_user(log, "Ada"), a_user(log, "Bob")
    return ada, bob, a_group(log, ada, bob)


def test_the_message_digests_slot_named_by_suppression_is_the_one_reactions_fill() -> None:
    assert (caller_of(MESSAGES), MESSAGE) == (MESSAGE_DIGEST_CALLER, MESSAGE_DIGEST_CATEGORY)


def test_a_read_receipt_takes_the_messages_it_passed_out_of_the_open_digest() -> None:
    log = Log()
    ada, bob, group = book_club(log)
    a_digested_message(log, group, ada, "chapter 3 tonight?")
    second = a_digested_message(log, group, ada, "bring snacks")
    a_digested_message(log, group, ada, "and the wine")
    before = open_digest(log, group, bob)
    read, kept = before.member_ids[:2], before.member_ids[2]
    receipt = read_up_to(log, group, bob, second)
    assert log.react(receipt) == NotificationsWithdrawn(undigested=tuple(read))
    digest = open_digest(log, group, bob)
    assert digest.member_ids == [kept] and digest.state == COLLECTING
    [withdrawn] = [e for e in log.events_of(digest.id)
                   if isinstance(e, Digest.MembersWithdrawn)]
    assert withdrawn.reason == READ_RECEIPT and withdrawn.notification_ids == read
    assert withdrawn.causation_id == event_id_of(receipt)
    [sent] = flush(log, digest).notification_ids
    announced = log.get(sent)
    assert announced.title == "1 new messages in Analytical Engine"
    assert announced.body == "Ada: and the wine"


def test_a_read_receipt_past_every_message_cancels_the_digest_and_its_flush_timer() -> None:
    log = Log()
    ada, bob, group = book_club(log)
    a_digested_message(log, group, ada, "chapter 3 tonight?")
    last = a_digested_message(log, group, ada, "bring snacks")
    members = open_digest(log, group, bob).member_ids
    receipt = read_up_to(log, group, bob, last)
    assert log.react(receipt).undigested == tuple(members)
    digest = open_digest(log, group, bob)
    assert digest.state == CANCELLED and digest.count == 0
    assert flush(log, digest) == DigestsFlushed((), ())  # the timer finds nothing to send
    [cancelled] = [e for e in log.events_of(digest.id) if isinstance(e, Digest.Cancelled)]
    assert cancelled.causation_id == event_id_of(receipt)
    [change] = NotificationScheduleProjector().changes(cancelled, 7)
    assert change.fields["flush_pending"] is False
    # the members stay digested: what they were collapsed into is where the receipt is told
    assert {log.get(m).state for m in members} == {DIGESTED}


def test_the_next_message_after_a_cancelled_digest_opens_a_new_one() -> None:
    log = Log()
    ada, bob, group = book_club(log)
    log.react(read_up_to(log, group, bob, a_digested_message(log, group, ada, "hi")))
    a_digested_message(log, group, ada, "still there?")
    digest = open_digest(log, group, bob)
    assert digest.number == 2 and digest.state == COLLECTING and digest.count == 1
    [sent] = flush(log, digest).notification_ids
    assert log.get(sent).body == "Ada: still there?"


def test_lines_of_read_messages_leave_and_later_messages_take_their_places() -> None:
    log = Log()
    ada, bob, group = book_club(log)
    seqs = [a_digested_message(log, group, ada, f"line {n}") for n in range(1, 8)]
    log.react(read_up_to(log, group, bob, seqs[4]))  # lines 1-5 read; 6 and 7 had no line
    for n in (8, 9):
        a_digested_message(log, group, ada, f"line {n}")
    digest = open_digest(log, group, bob)
    [sent] = flush(log, digest).notification_ids
    announced = log.get(sent)
    assert announced.title == "4 new messages in Analytical Engine"
    assert announced.body.splitlines() == ["Ada: line 8", "Ada: line 9", "and 2 more"]
    assert "line 1" not in announced.body and "line 5" not in announced.body


def test_an_unsent_message_leaves_every_recipients_open_digest_with_its_line() -> None:
    log = Log()
    ada, bob = a_user(log, "Ada"), a_user(log, "Bob")
    cy = a_user(log, "Cy")
    group = a_group(log, ada, bob, cy)
    a_digested_message(log, group, ada, "meet at six")
    a_digested_message(log, group, ada, "my password is hunter2")
    secret = log.get(open_digest(log, group, bob).member_ids[1])
    unsend = unsent(log, uuid.UUID(secret.data["message_id"]), ada)
    result = log.react(unsend)
    assert len(result.undigested) == 2  # Bob's and Cy's
    for reader in (bob, cy):
        digest = open_digest(log, group, reader)
        assert digest.count == 1 and digest.lines == ["Ada: meet at six"]
        [withdrawn] = [e for e in log.events_of(digest.id)
                       if isinstance(e, Digest.MembersWithdrawn)]
        assert withdrawn.reason == UNSENT and withdrawn.causation_id == event_id_of(unsend)


def test_a_flushed_digest_not_sent_yet_is_withdrawn_once_all_it_announces_was_read() -> None:
    log = Log()
    ada, bob, group = book_club(log)
    first = a_digested_message(log, group, ada, "chapter 3 tonight?")
    last = a_digested_message(log, group, ada, "bring snacks")
    [sent] = flush(log, open_digest(log, group, bob)).notification_ids
    assert log.get(sent).state == QUEUED
    assert log.react(read_up_to(log, group, bob, first)) == NotificationsWithdrawn()
    assert log.get(sent).state == QUEUED  # it still announces an unread message
    receipt = read_up_to(log, group, bob, last)
    assert log.react(receipt) == NotificationsWithdrawn((sent,))
    assert log.get(sent).state == NOTIFICATION_CANCELLED
    [cancelled] = [e for e in log.events_of(sent) if isinstance(e, Notification.Cancelled)]
    assert cancelled.reason == READ_RECEIPT
    assert cancelled.causation_id == event_id_of(receipt)


def test_a_redelivered_receipt_changes_no_digest() -> None:
    log = Log()
    ada, bob, group = book_club(log)
    a_digested_message(log, group, ada, "hi")
    receipt = read_up_to(log, group, bob, a_digested_message(log, group, ada, "there"))
    assert len(log.react(receipt).undigested) == 2
    digest = open_digest(log, group, bob)
    events = len(log.events_of(digest.id))
    assert log.react(receipt) == NotificationsWithdrawn()
    assert len(log.events_of(digest.id)) == events


@settings(max_examples=40, deadline=None)
@given(st.lists(st.one_of(st.just("message"), st.integers(0, 12)), min_size=1, max_size=14))
def test_a_flushed_digest_announces_exactly_the_messages_sent_after_the_last_receipt(
        steps: list[object]) -> None:
    """Any run of messages and receipts (a receipt at or below the last one moves nothing):
    what the timer flushes announces exactly the unread messages, or nothing is sent."""
    log = Log()
    ada, bob, group = book_club(log)
    sent: list[int] = []
    read = 0
    for step in steps:
        if step == "message":
            sent.append(a_digested_message(log, group, ada, f"message {len(sent) + 1}"))
        elif isinstance(step, int) and sent and step > read and step <= group.last_seq:
            read = step
            event = read_up_to(log, group, bob, step)
            assert isinstance(event, ReadMarker.ReadUpTo)
            log.react(event)
    if not sent:
        return
    unread = [f"Ada: message {n}" for n, seq in enumerate(sent, 1) if seq > read]
    slot_id = digest_slot_id(caller_of(MESSAGES), bob.id, MESSAGE, str(group.id))
    slot = log.get(slot_id)
    announced: list[Notification] = []
    for number in range(1, slot.number + 1):
        digest = log.get(digest_id(slot_id, number))
        result = flush(log, digest, now() + timedelta(seconds=WINDOW + 1))
        announced += [log.get(n) for n in result.notification_ids]
    if not unread:
        assert announced == []
        return
    [digest_notification] = announced
    assert digest_notification.title == f"{len(unread)} new messages in Analytical Engine"
    lines = digest_notification.body.splitlines()
    shown = [line for line in lines if not line.startswith("and ")]
    assert shown == [line for line in unread if line in shown]  # unread ones only, in order
    more = len(unread) - len(shown)
    assert lines[len(shown):] == ([f"and {more} more"] if more else [])


def test_digests_recorded_before_positions_upcast_without_any_and_keep_their_lines() -> None:
    first, second = uuid.uuid4(), uuid.uuid4()
    state: dict[str, Any] = {"member_ids": [first, second], "lines": ["Ada: hi"]}
    Digest.upcast_v1_v2(state)
    assert state == {"member_ids": [first, second], "shown": {str(first): "Ada: hi"},
                     "positions": {}}
    collected: dict[str, Any] = {"notification_id": first, "line": "Ada: hi"}
    Digest.Collected.upcast_v1_v2(collected)
    assert collected["position"] is None
