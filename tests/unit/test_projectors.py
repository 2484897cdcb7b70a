"""Projectors are pure mappings from events to document changes."""

from __future__ import annotations

import uuid

from domain.conversations import Conversation
from projections.messaging import CONVERSATIONS, MESSAGES, MessagingProjector
from tests.builders import a_cause, now


def test_a_sent_message_becomes_a_document_and_refreshes_its_conversation() -> None:
    ada, bob = uuid.uuid4(), uuid.uuid4()
    conversation = Conversation.open_direct(ada, bob, a_cause(ada))
    message_id = uuid.uuid4()
    conversation.send_message(message_id, ada, "hello there", now(), a_cause(ada))
    opened, sent = conversation.collect_events()
    projector = MessagingProjector()

    [created] = projector.changes(opened, 10)
    message, summary = projector.changes(sent, 11)

    assert (created.collection, created.version) == (CONVERSATIONS, 10)
    assert created.fields["member_ids"] == sorted([str(ada), str(bob)])
    assert (message.collection, message.doc_id, message.version) == (MESSAGES, str(message_id), 11)
    assert message.fields["text"] == "hello there" and message.fields["seq"] == 1
    assert (summary.collection, summary.doc_id) == (CONVERSATIONS, str(conversation.id))
    assert summary.fields["last_message_preview"] == "hello there"


def test_events_a_projector_does_not_know_change_nothing() -> None:
    assert MessagingProjector().changes(object(), 1) == []
