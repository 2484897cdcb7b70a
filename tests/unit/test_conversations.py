"""The conversation aggregate's rules."""

from __future__ import annotations

import json
import uuid

import pytest
from eventsourcing.application import Application
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import InvalidCommand
from domain.messaging.conversations import (
    MAX_MESSAGE_BYTES,
    Conversation,
    clean_message_text,
    direct_conversation_id,
    legacy_direct_conversation_id,
)
from domain.messaging.errors import CannotTalkToSelf, MessageTooLong, NotAMember
from tests.builders import DIRECT_ID_KEY, a_cause, now


def a_direct_conversation() -> tuple[Conversation, uuid.UUID, uuid.UUID]:
    ada, bob = uuid.uuid4(), uuid.uuid4()
    return Conversation.open_direct(ada, bob, DIRECT_ID_KEY, a_cause(ada)), ada, bob


def test_the_same_pair_always_shares_one_direct_conversation() -> None:
    ada, bob = uuid.uuid4(), uuid.uuid4()
    key = DIRECT_ID_KEY
    assert direct_conversation_id(ada, bob, key) == direct_conversation_id(bob, ada, key)
    assert direct_conversation_id(ada, bob, key) != direct_conversation_id(ada, uuid.uuid4(), key)


def test_a_direct_conversation_id_cannot_be_computed_without_the_server_key() -> None:
    ada, bob = uuid.uuid4(), uuid.uuid4()
    keyed = direct_conversation_id(ada, bob, DIRECT_ID_KEY)
    assert keyed != direct_conversation_id(ada, bob, b"another server's key")
    assert keyed != legacy_direct_conversation_id(ada, bob)
    with pytest.raises(ValueError):
        direct_conversation_id(ada, bob, b"")


def test_a_late_joiner_sees_only_messages_sent_after_joining() -> None:
    owner, early, late = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    group = Conversation.create_group(uuid.uuid4(), owner, "Team", (early,), 10, a_cause(owner))
    before = group.send_message(uuid.uuid4(), owner, "before", now(), a_cause(owner))
    group.add_members(owner, (late,), 10, a_cause(owner))
    after = group.send_message(uuid.uuid4(), owner, "after", now(), a_cause(owner))
    assert (group.shows_message(early, before), group.shows_message(early, after)) == (
        True, True)
    assert (group.shows_message(late, before), group.shows_message(late, after)) == (
        False, True)
    group.remove_member(owner, late, a_cause(owner))
    assert not group.shows_message(late, after)


def test_a_version_1_snapshot_reads_with_every_member_there_from_the_start() -> None:
    state: dict[str, object] = {"member_ids": ()}
    Conversation.upcast_v1_v2(state)
    assert state["joined_seq"] == {}


def test_nobody_opens_a_direct_conversation_with_themselves() -> None:
    ada = uuid.uuid4()
    with pytest.raises(CannotTalkToSelf):
        Conversation.open_direct(ada, ada, DIRECT_ID_KEY, a_cause(ada))


def test_messages_are_numbered_in_the_order_they_are_sent() -> None:
    conversation, ada, bob = a_direct_conversation()
    seqs = [conversation.send_message(uuid.uuid4(), sender, "hi", now(), a_cause(sender))
            for sender in (ada, bob, ada)]
    assert seqs == [1, 2, 3]
    sent = [e for e in conversation.collect_events() if isinstance(e, Conversation.MessageSent)]
    assert [e.seq for e in sent] == [1, 2, 3]


def test_a_non_member_cannot_send() -> None:
    conversation, _, _ = a_direct_conversation()
    stranger = uuid.uuid4()
    with pytest.raises(NotAMember):
        conversation.send_message(uuid.uuid4(), stranger, "hi", now(), a_cause(stranger))
    assert conversation.last_seq == 0


def test_every_event_records_its_cause() -> None:
    ada, bob = uuid.uuid4(), uuid.uuid4()
    cause = a_cause(ada)
    conversation = Conversation.open_direct(ada, bob, DIRECT_ID_KEY, cause)
    conversation.send_message(uuid.uuid4(), ada, "hi", now(), cause)
    events = conversation.collect_events()
    assert {(e.actor_id, e.correlation_id) for e in events} == {(ada, cause.correlation_id)}
    assert len({e.event_id for e in events}) == 2


def test_text_over_the_byte_limit_is_refused_even_when_few_characters() -> None:
    with pytest.raises(MessageTooLong):
        clean_message_text("😀" * (MAX_MESSAGE_BYTES // 4 + 1))
    assert clean_message_text("😀" * (MAX_MESSAGE_BYTES // 4))


@pytest.mark.parametrize("text", ["", "   ", "bell\x07", "nul\x00byte", "lone \ud800 surrogate"])
def test_empty_text_and_control_characters_are_refused(text: str) -> None:
    with pytest.raises(InvalidCommand):
        clean_message_text(text)


def test_newlines_and_tabs_are_kept() -> None:
    assert clean_message_text("line one\n\tline two") == "line one\n\tline two"


@given(st.lists(st.sampled_from(["ada", "bob"]), min_size=1, max_size=40))
def test_sequence_numbers_are_gapless_whoever_sends(senders: list[str]) -> None:
    conversation, ada, bob = a_direct_conversation()
    people = {"ada": ada, "bob": bob}
    seqs = [conversation.send_message(uuid.uuid4(), people[s], "x", now(), a_cause())
            for s in senders]
    assert seqs == list(range(1, len(senders) + 1))


def test_a_version_1_message_event_reads_as_version_2_with_empty_extras() -> None:
    ada, bob = uuid.uuid4(), uuid.uuid4()
    conversation = Conversation.open_direct(ada, bob, DIRECT_ID_KEY, a_cause(ada))
    conversation.send_message(uuid.uuid4(), ada, "hi", now(), a_cause(ada))
    _, sent = conversation.collect_events()
    mapper = Application(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}).mapper
    stored = mapper.to_stored_event(sent)
    state = json.loads(stored.state)
    assert state.pop("class_version") == 2
    for field in ("reply_to", "forwarded_from", "mention_ids", "attachments"):
        state.pop(field)
    old = type(stored)(stored.originator_id, stored.originator_version, stored.topic,
                       json.dumps(state).encode())
    upcast = mapper.to_domain_event(old)
    assert (upcast.text, upcast.reply_to, upcast.mention_ids, upcast.attachments) == (
        "hi", None, (), ())
