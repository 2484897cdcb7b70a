"""Projectors are pure mappings from events to document changes."""

from __future__ import annotations

import uuid

from domain.messaging.conversations import Conversation
from domain.messaging.messages import Message
from projections.messaging.conversations import (
    CONVERSATIONS,
    MEMBERSHIPS,
    MESSAGES,
    MessagingProjector,
)
from tests.builders import DIRECT_ID_KEY, a_cause, now


def test_a_sent_message_becomes_a_document_and_refreshes_its_conversation() -> None:
    ada, bob = uuid.uuid4(), uuid.uuid4()
    conversation = Conversation.open_direct(ada, bob, DIRECT_ID_KEY, a_cause(ada))
    message_id = uuid.uuid4()
    conversation.send_message(message_id, ada, "hello there", now(), a_cause(ada))
    opened, sent = conversation.collect_events()
    projector = MessagingProjector()

    created, *memberships = projector.changes(opened, 10)
    message, summary, senders_membership = projector.changes(sent, 11)

    assert (created.collection, created.version) == (CONVERSATIONS, 10)
    assert {m.collection for m in memberships} == {MEMBERSHIPS}
    assert {m.fields["user_id"] for m in memberships} == {str(ada), str(bob)}
    assert (message.collection, message.doc_id, message.version) == (MESSAGES, str(message_id), 11)
    assert message.fields["text"] == "hello there" and message.fields["seq"] == 1
    assert (summary.collection, summary.doc_id) == (CONVERSATIONS, str(conversation.id))
    assert summary.fields["last_message_preview"] == "hello there"
    assert senders_membership.fields["last_sent_seq"] == 1


def test_unsending_removes_the_content_from_the_read_model() -> None:
    ada = uuid.uuid4()
    message = Message.post(uuid.uuid4(), uuid.uuid4(), ada, 1, a_cause(ada))
    message.react(ada, "👍", a_cause(ada))
    message.unsend(ada, now(), a_cause(ada))
    *_, unsent = message.collect_events()
    change, preview = MessagingProjector().changes(unsent, 5)
    assert change.fields["unsent"] is True
    assert change.fields["text"] is None and change.fields["reactions"] is None
    assert preview.fields == {"last_message_preview": None}
    assert preview.only_if == ("last_message_id", str(message.id)), \
        "the conversation's preview goes only if this was its last message"


def test_a_removed_member_keeps_a_membership_that_records_when_they_left() -> None:
    owner, member = uuid.uuid4(), uuid.uuid4()
    group = Conversation.create_group(uuid.uuid4(), owner, "Book club", (member,), 10,
                                      a_cause(owner))
    group.send_message(uuid.uuid4(), owner, "hi", now(), a_cause(owner))
    group.remove_member(owner, member, a_cause(owner))
    removed = group.collect_events()[-1]
    [membership] = MessagingProjector().changes(removed, 9)
    assert membership.fields == {"conversation_id": str(group.id), "user_id": str(member),
                                 "left_seq": 1, "active": False, "left_by_choice": False,
                                 "left_position": 9}


def test_events_a_projector_does_not_know_change_nothing() -> None:
    assert MessagingProjector().changes(object(), 1) == []
