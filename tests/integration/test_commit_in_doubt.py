"""A save that fails on its connection is answered by what the log holds, within a bound.

The faults are injected by wrapping the embedded recorder's insert: it commits and then raises
the connection error a lost COMMIT acknowledgement raises, or raises without committing.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import IntegrityError, OperationalError, StoredEvent

from commands.messaging.conversations import MessageAccepted
from domain.messaging.conversations import Conversation
from event_log.faults import CommandNotStored, CommandOutcomeUnknown
from event_log.log import EventLog
from event_log.writer import GroupCommitWriter
from parley.bootstrap import HANDLERS, event_log_env
from tests.builders import a_cause, a_direct_conversation, a_message, embedded_settings
from tests.integration.conftest import StartWriter

Insert = Callable[..., Sequence[int] | None]


@pytest.fixture
def event_log(tmp_path: Path) -> Iterator[EventLog]:
    """Parley's own embedded log (its chained recorder), whose inserts the tests break."""
    log = EventLog(env=event_log_env(embedded_settings(tmp_path)))
    yield log
    log.close()


@pytest.fixture
def writer(start_writer: StartWriter) -> GroupCommitWriter:
    return start_writer(command_timeout=5.0)


def failing_insert(event_log: EventLog, *, commits: bool, times: int = 1,
                   delay: float = 0.0) -> list[int]:
    """Makes the next `times` inserts fail on their connection, after committing or not."""
    real: Insert = event_log.recorder.insert_events
    calls: list[int] = []

    def insert(stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        calls.append(len(stored_events))
        time.sleep(delay)
        if len(calls) > times:
            return real(stored_events, **kwargs)
        if commits:
            real(stored_events, **kwargs)
        raise OperationalError("server closed the connection unexpectedly")

    event_log.recorder.insert_events = insert  # type: ignore[method-assign]
    return calls


def sent_texts(event_log: EventLog, conversation: uuid.UUID) -> list[str]:
    events = event_log.events.get(conversation)
    return [e.text for e in events if isinstance(e, Conversation.MessageSent)]


def test_a_send_committed_before_its_connection_was_lost_is_answered_as_stored_once(
    writer: GroupCommitWriter, event_log: EventLog
) -> None:
    conversation, ada, _ = a_direct_conversation(writer)
    failing_insert(event_log, commits=True)
    outcome = writer.submit(a_message(ada, conversation, "in doubt"),
                            a_cause(ada)).result(timeout=10)
    assert isinstance(outcome.result, MessageAccepted) and outcome.result.seq == 1
    assert outcome.position == event_log.recorder.max_notification_id()
    assert sent_texts(event_log, conversation) == ["in doubt"]
    again = writer.submit(a_message(ada, conversation, "next"), a_cause(ada)).result(timeout=10)
    assert again.result.seq == 2


def test_a_send_that_failed_before_committing_is_tried_again_and_stored_once(
    writer: GroupCommitWriter, event_log: EventLog
) -> None:
    conversation, ada, _ = a_direct_conversation(writer)
    calls = failing_insert(event_log, commits=False)
    outcome = writer.submit(a_message(ada, conversation, "retried"),
                            a_cause(ada)).result(timeout=10)
    assert outcome.result.seq == 1 and len(calls) == 2
    assert sent_texts(event_log, conversation) == ["retried"]


def test_a_send_the_log_never_takes_is_answered_not_stored(
    writer: GroupCommitWriter, event_log: EventLog
) -> None:
    conversation, ada, _ = a_direct_conversation(writer)
    failing_insert(event_log, commits=False, times=1000)
    with pytest.raises(CommandNotStored):
        writer.submit(a_message(ada, conversation, "lost"), a_cause(ada)).result(timeout=10)
    assert sent_texts(event_log, conversation) == []


def test_a_commit_in_doubt_that_cannot_be_checked_is_answered_outcome_unknown(
    writer: GroupCommitWriter, event_log: EventLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    conversation, ada, _ = a_direct_conversation(writer)
    failing_insert(event_log, commits=True)

    def unreachable(*_: Any) -> None:
        raise OperationalError("could not connect to server")

    monkeypatch.setattr(event_log.recorder, "recorded", unreachable)
    with pytest.raises(CommandOutcomeUnknown, match="same Idempotency-Key"):
        writer.submit(a_message(ada, conversation, "unknown"), a_cause(ada)).result(timeout=10)


def test_a_command_still_waiting_at_its_timeout_is_answered_not_stored_and_never_stored(
    event_log: EventLog, start_writer: StartWriter,
) -> None:
    writer = start_writer(command_timeout=0.3)
    try:
        conversation, ada, _ = a_direct_conversation(writer)
        calls = failing_insert(event_log, commits=False, times=1000, delay=0.2)
        started = time.monotonic()
        with pytest.raises(CommandNotStored, match=r"within 0\.3 s"):
            writer.submit(a_message(ada, conversation, "late"), a_cause(ada)).result(timeout=10)
        assert time.monotonic() - started < 1.0 and len(calls) <= 2
        event_log.recorder.insert_events = type(event_log.recorder).insert_events.__get__(
            event_log.recorder)  # type: ignore[method-assign]
        writer.execute(a_message(ada, conversation, "after"), a_cause(ada))
    finally:
        writer.stop()
    assert sent_texts(event_log, conversation) == ["after"]


def test_a_save_refused_because_another_writer_took_its_version_is_decided_again(
    writer: GroupCommitWriter, event_log: EventLog, tmp_path: Path
) -> None:
    """psycopg's pipeline can report a unique violation as "pipeline aborted", a connection
    error: the log then shows another writer's event at the version, so the command is a
    conflict, decided again on fresh state, not saved again as it was until it times out."""
    conversation, ada, _ = a_direct_conversation(writer)
    other_log = EventLog(env=event_log_env(embedded_settings(tmp_path)))
    other = GroupCommitWriter(other_log, HANDLERS)
    other.start()
    real: Insert = event_log.recorder.insert_events
    calls: list[int] = []

    def insert(stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        calls.append(len(stored_events))
        if len(calls) == 1:  # another process sends first
            other.execute(a_message(ada, conversation, "theirs"), a_cause(ada))
        try:
            return real(stored_events, **kwargs)
        except IntegrityError:  # as psycopg's pipeline reported it, now and then
            raise OperationalError("pipeline aborted") from None

    event_log.recorder.insert_events = insert  # type: ignore[method-assign]
    try:
        outcome = writer.submit(a_message(ada, conversation, "ours"),
                                a_cause(ada)).result(timeout=10)
    finally:
        other.stop()
        other_log.close()
    assert isinstance(outcome.result, MessageAccepted) and outcome.result.seq == 2
    assert sent_texts(event_log, conversation) == ["theirs", "ours"]
