"""Direct conversation ids: keyed for new pairs; pairs opened before keep theirs."""

from __future__ import annotations

import uuid

from commands.messaging.conversations import OpenDirectConversation
from domain.messaging.conversations import (
    DIRECT,
    Conversation,
    direct_conversation_id,
    legacy_direct_conversation_id,
)
from event_log.log import EventLog
from event_log.writer import GroupCommitWriter
from tests.builders import DIRECT_ID_KEY, a_cause, a_user


def two_people(writer: GroupCommitWriter) -> tuple[uuid.UUID, uuid.UUID]:
    return a_user(writer, "Ada"), a_user(writer, "Bob")


def test_a_new_pair_gets_the_keyed_id_whoever_opens_it(writer: GroupCommitWriter) -> None:
    ada, bob = two_people(writer)
    opened = writer.execute(OpenDirectConversation(ada, bob, DIRECT_ID_KEY), a_cause(ada))
    again = writer.execute(OpenDirectConversation(bob, ada, DIRECT_ID_KEY), a_cause(bob))
    assert (opened.result.new, again.result.new) == (True, False)
    assert opened.result.conversation_id == again.result.conversation_id == (
        direct_conversation_id(ada, bob, DIRECT_ID_KEY))


def test_a_pair_that_opened_their_conversation_before_ids_were_keyed_keeps_it(
        writer: GroupCommitWriter, event_log: EventLog) -> None:
    ada, bob = two_people(writer)
    legacy = legacy_direct_conversation_id(ada, bob)
    stored = Conversation._create(Conversation.Opened, id=legacy, kind=DIRECT,
                                  member_ids=tuple(sorted((ada, bob))),
                                  **a_cause(ada).as_event_fields())
    event_log.save(stored)  # as a conversation opened by an earlier release
    opened = writer.execute(OpenDirectConversation(bob, ada, DIRECT_ID_KEY), a_cause(bob))
    assert (opened.result.new, opened.result.conversation_id) == (False, legacy)
