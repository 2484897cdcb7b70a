"""Process managers on the real embedded event log and group-commit writer: each causing event
issues its commands once, a restart re-issues nothing in effect, and a manager resumes from
the position it recorded."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from psycopg_pool import ConnectionPool

from adapters.processes.log_reactions import ReactionsReader
from adapters.processes.postgres_positions import PostgresProcessPositions
from adapters.processes.sqlite_positions import SQLiteProcessPositions
from adapters.read_model.file_locks import FileLocks
from adapters.read_model.postgres_locks import PostgresLocks
from commands.messaging.attachments import (
    AttachmentPurge,
    ExpireAttachment,
    RecordAttachment,
    attachment_effects,
)
from commands.messaging.messages import EditMessage
from commands.processes.issuing import IssueCommands
from commands.processes.runner import CommandIssuer, ProcessManager, ProcessManagerRunner
from domain.messaging.attachments import Attachment, storage_key_for
from domain.messaging.conversations import Conversation
from domain.messaging.messages import Message
from event_log.aggregate import Cause
from event_log.log import EventLog
from event_log.writer import GroupCommitWriter
from parley.bootstrap import HANDLERS
from tests.builders import a_cause, a_direct_conversation, a_message, now

SEEN_ACTOR = uuid.uuid5(uuid.NAMESPACE_URL, "parley-tests:seen-marker")


class MarksMessagesSeen:
    """A stand-in for a notification manager, with a command that is NOT harmless repeated:
    every sent message is edited once (each edit adds a revision), by its sender."""

    name = "seen-marker"
    actor_id = SEEN_ACTOR
    reacts_to: tuple[type, ...] = (Conversation.MessageSent,)

    def react(self, event: Any) -> Sequence[Any]:
        return [EditMessage(event.message_id, event.sender_id, f"{event.text} (seen)",
                            event.sent_at)]


class CrashBeforeRecording(SQLiteProcessPositions):
    """Positions whose first `record` fails: the process dies after issuing, before recording."""

    crashed = False

    def record(self, manager: str, position: int) -> None:
        if not self.crashed:
            self.crashed = True
            raise RuntimeError("killed before the position was recorded")
        super().record(manager, position)


class Issued:
    """The real issuer, with a list of what it was asked to issue."""

    def __init__(self, issue: CommandIssuer) -> None:
        self._issue = issue
        self.commands: list[Any] = []

    def __call__(self, command: Any, cause: Cause, key: str) -> object:
        self.commands.append(command)
        return self._issue(command, cause, key)


def a_runner(manager: ProcessManager, event_log: EventLog, writer: GroupCommitWriter,
             tmp_path: Path, positions: SQLiteProcessPositions | None = None,
             issue: CommandIssuer | None = None) -> ProcessManagerRunner:
    """What a (re)started process builds: everything afresh but the files."""
    return ProcessManagerRunner(
        manager, ReactionsReader(event_log, manager.reacts_to),
        positions or SQLiteProcessPositions(tmp_path / "process_positions.sqlite3"),
        issue or IssueCommands(writer.submit), FileLocks(tmp_path / "locks"))


def run_until_caught_up(runner: ProcessManagerRunner) -> None:
    for _ in range(100):
        if not runner.run_once():
            return
    raise AssertionError("the process manager never caught up")


def sent(writer: GroupCommitWriter, conversation: uuid.UUID, sender: uuid.UUID) -> uuid.UUID:
    command = a_message(sender, conversation, "hello")
    writer.execute(command, a_cause(sender))
    return command.message_id


def edits(event_log: EventLog, message_id: uuid.UUID) -> list[Message.Edited]:
    return [e for e in event_log.events.get(message_id) if isinstance(e, Message.Edited)]


def test_a_process_manager_issues_its_command_once_per_causing_event(
        event_log: EventLog, writer: GroupCommitWriter, tmp_path: Path) -> None:
    conversation, ada, _ = a_direct_conversation(writer)
    first, second = sent(writer, conversation, ada), sent(writer, conversation, ada)
    runner = a_runner(MarksMessagesSeen(), event_log, writer, tmp_path)
    run_until_caught_up(runner)
    assert not runner.run_once(), "nothing new: nothing issued"
    for message_id in (first, second):
        [edit] = edits(event_log, message_id)
        assert edit.text == "hello (seen)" and edit.actor_id == SEEN_ACTOR
    [caused] = [e for e in event_log.events.get(conversation)
                if isinstance(e, Conversation.MessageSent) and e.message_id == first]
    [edit] = edits(event_log, first)
    assert edit.causation_id == caused.event_id, "the command names its causing event"
    assert edit.correlation_id == caused.correlation_id, "in the causing request's chain"


def test_a_crash_between_issuing_and_recording_the_position_issues_nothing_twice(
        event_log: EventLog, writer: GroupCommitWriter, tmp_path: Path) -> None:
    conversation, ada, _ = a_direct_conversation(writer)
    message_id = sent(writer, conversation, ada)
    crashing = a_runner(MarksMessagesSeen(), event_log, writer, tmp_path,
                        positions=CrashBeforeRecording(tmp_path / "process_positions.sqlite3"))
    with pytest.raises(RuntimeError, match="killed"):
        crashing.run_once()
    assert len(edits(event_log, message_id)) == 1, "issued before the crash"
    issued = Issued(IssueCommands(writer.submit))
    restarted = a_runner(MarksMessagesSeen(), event_log, writer, tmp_path, issue=issued)
    run_until_caught_up(restarted)
    assert len(issued.commands) == 1, "the restart handles the event again ..."
    assert len(edits(event_log, message_id)) == 1, "... but its key makes it the same command"


def test_a_restarted_process_manager_resumes_from_its_recorded_position(
        event_log: EventLog, writer: GroupCommitWriter, tmp_path: Path) -> None:
    conversation, ada, _ = a_direct_conversation(writer)
    before = sent(writer, conversation, ada)
    run_until_caught_up(a_runner(MarksMessagesSeen(), event_log, writer, tmp_path))
    after = sent(writer, conversation, ada)
    issued = Issued(IssueCommands(writer.submit))
    run_until_caught_up(a_runner(MarksMessagesSeen(), event_log, writer, tmp_path,
                                 issue=issued))
    assert [c.message_id for c in issued.commands] == [after], "only what came after"
    assert len(edits(event_log, before)) == len(edits(event_log, after)) == 1


class DeletedBlobs:
    def __init__(self) -> None:
        self.deleted: list[str] = []

    def put(self, key: str, chunks: Any) -> Any:
        raise NotImplementedError

    def open(self, key: str) -> Any:
        raise NotImplementedError

    def delete(self, key: str) -> None:
        self.deleted.append(key)


def test_an_expired_upload_has_its_bytes_deleted_and_is_purged_once(
        event_log: EventLog, writer: GroupCommitWriter, tmp_path: Path) -> None:
    uploader, attachment_id, day = uuid.uuid4(), uuid.uuid4(), timedelta(days=1)
    writer.execute(RecordAttachment(attachment_id, uploader, "image/png", 10, "0" * 64,
                                    now() - 2 * day), a_cause(uploader))
    expired_at = now()
    writer.execute(ExpireAttachment(attachment_id, expired_at, day), a_cause())
    blobs = DeletedBlobs()
    issue = IssueCommands(writer.submit, attachment_effects(blobs))
    run_until_caught_up(a_runner(AttachmentPurge(), event_log, writer, tmp_path, issue=issue))
    run_until_caught_up(a_runner(AttachmentPurge(), event_log, writer, tmp_path, issue=issue))
    assert blobs.deleted == [storage_key_for(attachment_id)]
    history = list(event_log.events.get(attachment_id))
    [expired] = [e for e in history if isinstance(e, Attachment.Expired)]
    [purged] = [e for e in history if isinstance(e, Attachment.Purged)]
    assert purged.purged_at == expired_at and purged.causation_id == expired.event_id
    assert event_log.repository.get(attachment_id).purged


@pytest.mark.services
def test_a_process_manager_on_postgresql_issues_once_and_resumes_after_a_restart(
        open_postgres_log: Callable[..., EventLog], namespace_pool: ConnectionPool,
        namespace: str) -> None:
    event_log = open_postgres_log()
    writer = GroupCommitWriter(event_log, HANDLERS)
    writer.start()
    try:
        conversation, ada, _ = a_direct_conversation(writer)
        first = a_message(ada, conversation, "hello")
        writer.execute(first, a_cause(ada))
        issued = Issued(IssueCommands(writer.submit))

        def started() -> ProcessManagerRunner:
            manager = MarksMessagesSeen()
            return ProcessManagerRunner(manager, ReactionsReader(event_log, manager.reacts_to),
                                        PostgresProcessPositions(namespace_pool), issued,
                                        PostgresLocks(namespace_pool, namespace))

        run_until_caught_up(started())
        second = a_message(ada, conversation, "again")
        writer.execute(second, a_cause(ada))
        run_until_caught_up(started())
        assert [c.message_id for c in issued.commands] == [first.message_id, second.message_id]
        assert len(edits(event_log, first.message_id)) == 1
        assert len(edits(event_log, second.message_id)) == 1
    finally:
        writer.stop()
