"""Contacts, blocks and the block check, through the group-commit writer."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from commands.identity.accounts import ACCOUNT_HANDLERS
from commands.identity.contacts import (
    CONTACT_HANDLERS,
    AnswerFriendRequest,
    BlockUser,
    RequestFriendship,
    UnblockUser,
    assert_not_blocked,
)
from commands.identity.users import RegisterUser
from domain.identity.contacts import ContactBlocked
from event_log.aggregate import Cause
from event_log.batch import Batch
from event_log.log import EventLog
from event_log.outcomes import Outcome
from event_log.writer import GroupCommitWriter
from parley.bootstrap import HANDLERS
from tests.builders import a_cause, a_handle, now


@dataclass(frozen=True)
class Reach:
    """A stand-in for a conversation command: `sender` tries to reach `recipient`."""

    sender_id: uuid.UUID
    recipient_id: uuid.UUID


def reach(batch: Batch, command: Reach, cause: Cause) -> Outcome:
    assert_not_blocked(batch, command.sender_id, command.recipient_id)
    return Outcome(200, {})


@pytest.fixture
def writer(event_log: EventLog) -> Iterator[GroupCommitWriter]:
    handlers = HANDLERS | ACCOUNT_HANDLERS | CONTACT_HANDLERS | {Reach: reach}
    group_commit = GroupCommitWriter(event_log, handlers, linger_seconds=0.005)
    group_commit.start()
    yield group_commit
    group_commit.stop()


def someone(writer: GroupCommitWriter) -> uuid.UUID:
    return uuid.UUID(writer.execute(RegisterUser(a_handle(), "Someone"),
                                    a_cause()).body["user_id"])


def test_a_block_stops_both_directions_and_an_unblock_lifts_it(writer: GroupCommitWriter,
                                                               event_log: EventLog) -> None:
    ada, bob, cy = someone(writer), someone(writer), someone(writer)
    writer.execute(Reach(bob, ada), a_cause(bob))
    writer.execute(BlockUser(ada, bob, now()), a_cause(ada))
    for sender, recipient in ((bob, ada), (ada, bob)):
        with pytest.raises(ContactBlocked):
            writer.execute(Reach(sender, recipient), a_cause(sender))
    writer.execute(Reach(cy, ada), a_cause(cy))  # others are not affected
    writer.execute(UnblockUser(ada, bob, now()), a_cause(ada))
    writer.execute(Reach(bob, ada), a_cause(bob))
    assert_not_blocked(Batch(event_log.repository), bob, ada)


def test_a_block_is_seen_by_later_commands_of_the_same_batch(writer: GroupCommitWriter) -> None:
    ada, bob = someone(writer), someone(writer)
    for _ in range(20):
        futures = [writer.submit(BlockUser(ada, bob, now()), a_cause(ada)),
                   writer.submit(Reach(bob, ada), a_cause(bob))]
        futures[0].result(timeout=10)
        with pytest.raises(ContactBlocked):
            futures[1].result(timeout=10)
        writer.execute(UnblockUser(ada, bob, now()), a_cause(ada))
    assert max(writer.batch_sizes) > 1, "nothing was batched"


def test_people_without_a_blocklist_reach_each_other(event_log: EventLog) -> None:
    assert_not_blocked(Batch(event_log.repository), uuid.uuid4(), uuid.uuid4())


def test_a_block_ends_a_friendship_in_the_same_commit(writer: GroupCommitWriter) -> None:
    ada, bob = someone(writer), someone(writer)
    writer.execute(RequestFriendship(ada, bob, now()), a_cause(ada))
    writer.execute(AnswerFriendRequest(bob, ada, True, now()), a_cause(bob))
    writer.execute(BlockUser(bob, ada, now()), a_cause(bob))
    writer.execute(UnblockUser(bob, ada, now()), a_cause(bob))
    asked = writer.execute(RequestFriendship(ada, bob, now()), a_cause(ada))
    assert (asked.status, asked.body["state"]) == (201, "outgoing")


def test_two_mutual_requests_in_one_batch_make_one_friendship(writer: GroupCommitWriter) -> None:
    ada, bob = someone(writer), someone(writer)
    futures = [writer.submit(RequestFriendship(ada, bob, now()), a_cause(ada)),
               writer.submit(RequestFriendship(bob, ada, now()), a_cause(bob))]
    states = [f.result(timeout=10).body["state"] for f in futures]
    assert states == ["outgoing", "friend"]
