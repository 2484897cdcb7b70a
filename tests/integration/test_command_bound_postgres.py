"""Against the real PostgreSQL: a command waits for the log a bounded time, and one answered
503 is never committed later; a commit that lost its connection is answered by what is stored.

The outage is the test's own: its schema's events table locked from another connection (the
shared server keeps running for everyone else).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
import pytest
from eventsourcing.persistence import OperationalError, StoredEvent

from domain.messaging.conversations import Conversation
from event_log.faults import CommandNotStored, CommandOutcomeUnknown
from event_log.log import EventLog
from event_log.writer import GroupCommitWriter
from tests.builders import a_cause, a_direct_conversation, a_message
from tests.integration.conftest import StartWriter

pytestmark = pytest.mark.services
BOUND = 1.0


@pytest.fixture
def event_log(open_postgres_log: Callable[..., EventLog]) -> EventLog:
    return open_postgres_log(command_timeout_seconds=BOUND)


@pytest.fixture
def writer(start_writer: StartWriter) -> GroupCommitWriter:
    return start_writer(command_timeout=BOUND)


def sent_texts(database_url: str, namespace: str, event_log: EventLog,
               conversation: uuid.UUID) -> list[str]:
    with psycopg.connect(database_url) as connection:  # not through the writer's pool
        rows = connection.execute(
            f"SELECT originator_id, originator_version, topic, state FROM "
            f"{namespace}.parley_events WHERE originator_id = %s ORDER BY originator_version",
            (conversation,)).fetchall()
    events = [event_log.mapper.to_domain_event(StoredEvent(*row[:3], bytes(row[3])))
              for row in rows]
    return [e.text for e in events if isinstance(e, Conversation.MessageSent)]


@pytest.mark.parametrize("lock_mode", ["EXCLUSIVE", "ACCESS EXCLUSIVE"])
def test_a_send_while_the_log_takes_nothing_is_answered_503_in_its_bound_and_never_stored(
    writer: GroupCommitWriter, event_log: EventLog, database_url: str, namespace: str,
    lock_mode: str,
) -> None:
    conversation, ada, _ = a_direct_conversation(writer)
    with psycopg.connect(database_url) as blocker:  # holds the lock until the block ends
        blocker.execute(f"LOCK TABLE {namespace}.parley_events IN {lock_mode} MODE")
        started = time.monotonic()
        futures = [writer.submit(a_message(ada, conversation, f"held {n}"), a_cause(ada))
                   for n in range(3)]
        for future in futures:
            with pytest.raises(CommandNotStored):
                future.result(timeout=10)
        waited = time.monotonic() - started
    assert waited < BOUND + 1.0
    time.sleep(0.5)  # a save abandoned in the library or the pool would have committed by now
    assert sent_texts(database_url, namespace, event_log, conversation) == []
    after = writer.execute(a_message(ada, conversation, "after"), a_cause(ada), timeout=10)
    assert after.result.seq == 1
    assert sent_texts(database_url, namespace, event_log, conversation) == ["after"]


def test_a_send_whose_commit_lost_its_connection_is_answered_as_stored_once(
    writer: GroupCommitWriter, event_log: EventLog, database_url: str, namespace: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    conversation, ada, _ = a_direct_conversation(writer)
    recorder = event_log.recorder
    real = recorder.insert_events
    lost = []

    def commit_then_lose_the_connection(stored_events: Sequence[StoredEvent],
                                        **kwargs: Any) -> Sequence[int] | None:
        positions = real(stored_events, **kwargs)
        if not lost:
            lost.append(positions)
            raise OperationalError("server closed the connection unexpectedly")
        return positions

    monkeypatch.setattr(recorder, "insert_events", commit_then_lose_the_connection)
    outcome = writer.execute(a_message(ada, conversation, "in doubt"), a_cause(ada), timeout=10)
    assert outcome.result.seq == 1 and lost
    assert outcome.position == max(lost[0] or [0])
    assert sent_texts(database_url, namespace, event_log, conversation) == ["in doubt"]


def test_a_commit_in_doubt_is_not_judged_while_another_insert_still_holds_the_log(
    writer: GroupCommitWriter, event_log: EventLog, database_url: str, namespace: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As a commit whose connection was lost may still be going on server-side."""
    conversation, ada, _ = a_direct_conversation(writer)
    real = event_log.recorder.insert_events
    inserting = psycopg.connect(database_url)

    def commit_then_lose_the_connection(stored_events: Sequence[StoredEvent],
                                        **kwargs: Any) -> Sequence[int] | None:
        real(stored_events, **kwargs)
        inserting.execute(f"LOCK TABLE {namespace}.parley_events IN EXCLUSIVE MODE")
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(event_log.recorder, "insert_events", commit_then_lose_the_connection)
    try:
        with pytest.raises(CommandOutcomeUnknown):
            writer.submit(a_message(ada, conversation, "in doubt"), a_cause(ada)).result(timeout=10)
    finally:
        inserting.rollback()
        inserting.close()
    assert sent_texts(database_url, namespace, event_log, conversation) == ["in doubt"]
