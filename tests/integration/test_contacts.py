"""Contacts, blocks and the block check, through the group-commit writer."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest

from commands.identity.contacts import (
    AnswerFriendRequest,
    BlockUser,
    RequestFriendship,
    UnblockUser,
    assert_not_blocked,
)
from domain.identity.contacts import ContactBlocked
from event_log.aggregate import Cause
from event_log.batch import Batch
from event_log.log import EventLog
from event_log.writer import GroupCommitWriter
from parley.bootstrap import HANDLERS
from tests.builders import a_cause, a_user, now
from tests.integration.conftest import BATCHING_LINGER_SECONDS, StartWriter


@dataclass(frozen=True)
class Reach:
    """A stand-in for a conversation command: `sender` tries to reach `recipient`."""

    sender_id: uuid.UUID
    recipient_id: uuid.UUID


@dataclass(frozen=True)
class Reached:
    """What the stand-in answers: nothing blocked it."""


def reach(batch: Batch, command: Reach, cause: Cause) -> Reached:
    assert_not_blocked(batch, command.sender_id, command.recipient_id)
    return Reached()


@pytest.fixture
def writer(start_writer: StartWriter) -> GroupCommitWriter:
    """The shared batching writer, with a handler for the stand-in command too."""
    return start_writer(HANDLERS | {Reach: reach}, linger_seconds=BATCHING_LINGER_SECONDS)


def someone(writer: GroupCommitWriter) -> uuid.UUID:
    return a_user(writer, "Someone")


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
    assert (asked.result.new, asked.result.state) == (True, "outgoing")


def test_two_mutual_requests_in_one_batch_make_one_friendship(writer: GroupCommitWriter) -> None:
    ada, bob = someone(writer), someone(writer)
    futures = [writer.submit(RequestFriendship(ada, bob, now()), a_cause(ada)),
               writer.submit(RequestFriendship(bob, ada, now()), a_cause(bob))]
    states = [f.result(timeout=10).result.state for f in futures]
    assert states == ["outgoing", "friend"]
