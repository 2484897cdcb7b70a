"""Direct conversation ids: keyed for new pairs; pairs opened before keep theirs."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from commands.identity.users import RegisterUser
from commands.messaging.conversations import OpenDirectConversation
from domain.messaging.conversations import (
    DIRECT,
    Conversation,
    direct_conversation_id,
    legacy_direct_conversation_id,
)
from event_log.log import EventLog
from event_log.writer import GroupCommitWriter
from parley.bootstrap import HANDLERS
from tests.builders import DIRECT_ID_KEY, a_cause, a_handle


@pytest.fixture
def writer(event_log: EventLog) -> Iterator[GroupCommitWriter]:
    group_commit = GroupCommitWriter(event_log, HANDLERS)
    group_commit.start()
    yield group_commit
    group_commit.stop()


def two_people(writer: GroupCommitWriter) -> tuple[uuid.UUID, uuid.UUID]:
    ada, bob = (uuid.UUID(writer.execute(RegisterUser(a_handle(), name), a_cause())
                          .body["user_id"]) for name in ("Ada", "Bob"))
    return ada, bob


def test_a_new_pair_gets_the_keyed_id_whoever_opens_it(writer: GroupCommitWriter) -> None:
    ada, bob = two_people(writer)
    opened = writer.execute(OpenDirectConversation(ada, bob, DIRECT_ID_KEY), a_cause(ada))
    again = writer.execute(OpenDirectConversation(bob, ada, DIRECT_ID_KEY), a_cause(bob))
    assert (opened.status, again.status) == (201, 200)
    assert opened.body["conversation_id"] == again.body["conversation_id"] == str(
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
    assert (opened.status, opened.body["conversation_id"]) == (200, str(legacy))
