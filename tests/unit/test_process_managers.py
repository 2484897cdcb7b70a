"""Process managers and schedules: pure reactions, keys and causes, and how the runner and a
scheduled job treat refusals and failures (no I/O: fakes of the log, positions and writer)."""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from commands.messaging.attachments import (
    ATTACHMENT_EXPIRY_ACTOR,
    AttachmentExpiry,
    AttachmentPurge,
    DeleteAttachmentBytes,
    ExpireAttachment,
    PurgeAttachment,
)
from commands.processes.issuing import IssueCommands
from commands.processes.reactions import cause_of, idempotency_key
from commands.processes.runner import ProcessManagerRunner
from commands.processes.schedules import Schedule, ScheduledJob
from domain.errors import Conflict, InvalidCommand
from domain.messaging.attachments import Attachment, storage_key_for
from domain.messaging.errors import AttachmentNotFound
from event_log.aggregate import Cause
from event_log.faults import CommandNotStored
from tests.builders import a_cause, now

DAY = timedelta(days=1)


def an_expired_upload() -> tuple[Attachment, Attachment.Expired]:
    attachment = Attachment.upload(uuid.uuid4(), uuid.uuid4(), "image/png", 10, "0" * 64,
                                   now() - 2 * DAY, a_cause())
    attachment.expire(now(), DAY, a_cause())
    expired = attachment.pending_events[-1]
    assert isinstance(expired, Attachment.Expired)
    return attachment, expired


def test_an_expired_upload_causes_its_bytes_to_be_deleted_then_its_purge() -> None:
    attachment, expired = an_expired_upload()
    assert AttachmentPurge().react(expired) == [
        DeleteAttachmentBytes(attachment.id, storage_key_for(attachment.id)),
        PurgeAttachment(attachment.id, expired.expired_at),
    ]


def test_the_purge_reacts_to_nothing_but_an_expiry() -> None:
    attachment, _ = an_expired_upload()
    uploaded = attachment.pending_events[0]
    assert AttachmentPurge().reacts_to == (Attachment.Expired,)
    assert AttachmentPurge().react(uploaded) == []


def test_a_reaction_is_the_same_every_time_the_event_is_handled() -> None:
    _, expired = an_expired_upload()
    assert AttachmentPurge().react(expired) == AttachmentPurge().react(expired)


def test_each_command_of_a_reaction_has_its_own_key_derived_from_the_causing_event() -> None:
    _, expired = an_expired_upload()
    _, other = an_expired_upload()
    keys = {idempotency_key("attachment-purge", e, i) for e in (expired, other) for i in (0, 1)}
    assert len(keys) == 4
    assert idempotency_key("attachment-purge", expired, 0) == idempotency_key(
        "attachment-purge", expired, 0)
    assert str(expired.event_id) in idempotency_key("attachment-purge", expired, 1)


def test_a_process_managers_commands_name_the_causing_event_in_its_request_chain() -> None:
    _, expired = an_expired_upload()
    cause = cause_of(AttachmentPurge(), expired)
    assert cause == Cause(ATTACHMENT_EXPIRY_ACTOR, expired.correlation_id, expired.event_id)


@dataclass(frozen=True)
class At:
    position: int
    event: Any


class Echo:
    """Answers one command per event: the event itself."""

    name = "echo"
    actor_id = uuid.uuid4()
    reacts_to: tuple[type, ...] = (Attachment.Expired,)

    def react(self, event: Any) -> Sequence[Any]:
        return [event]


class FakeLog:
    def __init__(self, events: list[At], head: int) -> None:
        self.events, self.head = events, head

    def __call__(self, after: int, limit: int) -> tuple[list[At], int]:
        return [e for e in self.events if e.position > after][:limit], self.head


class FakePositions:
    def __init__(self) -> None:
        self.at: dict[str, int] = {}

    def position(self, manager: str) -> int:
        return self.at.get(manager, 0)

    def record(self, manager: str, position: int) -> None:
        self.at[manager] = max(position, self.at.get(manager, 0))


class HeldLocks:
    def __init__(self) -> None:
        self.held: list[str] = []

    @contextlib.contextmanager
    def hold(self, name: str) -> Iterator[None]:
        self.held.append(name)
        yield


def a_runner(issue: Any, positions: FakePositions, locks: HeldLocks | None = None,
             ) -> tuple[ProcessManagerRunner, list[Attachment.Expired]]:
    events = [an_expired_upload()[1], an_expired_upload()[1]]
    log = FakeLog([At(3, events[0]), At(7, events[1])], head=9)
    return ProcessManagerRunner(Echo(), log, positions, issue, locks or HeldLocks()), events


def test_the_runner_issues_under_the_managers_lock_and_records_the_position_read_up_to() -> None:
    issued: list[tuple[Any, Cause, str]] = []
    positions, locks = FakePositions(), HeldLocks()
    runner, events = a_runner(lambda c, cause, key: issued.append((c, cause, key)), positions,
                              locks)
    assert runner.run_once() and not runner.run_once()
    assert [c for c, _, _ in issued] == events
    assert [k for _, _, k in issued] == [idempotency_key("echo", e, 0) for e in events]
    assert positions.at == {"echo": 9} and locks.held == ["process-echo", "process-echo"]


def test_a_refused_command_is_a_decision_the_manager_goes_past(
        caplog: pytest.LogCaptureFixture) -> None:
    def refuse(command: Any, cause: Cause, key: str) -> None:
        raise InvalidCommand("attachment_id", "only an expired attachment is purged")

    positions = FakePositions()
    runner, _ = a_runner(refuse, positions)
    caplog.set_level(logging.INFO, logger="commands.processes.runner")
    assert runner.run_once()
    assert positions.at == {"echo": 9}
    assert "refused (InvalidCommand)" in caplog.text


@pytest.mark.parametrize("failure", [
    CommandNotStored("the database did not take the command"),
    Conflict("request", "the command conflicted with concurrent changes; retry"),
])
def test_a_command_not_stored_leaves_the_position_so_the_next_round_issues_it_again(
        failure: Exception) -> None:
    attempts: list[str] = []

    def failing_once(command: Any, cause: Cause, key: str) -> None:
        attempts.append(key)
        if len(attempts) == 1:
            raise failure

    positions = FakePositions()
    runner, events = a_runner(failing_once, positions)
    with pytest.raises(type(failure)):
        runner.run_once()
    assert positions.at == {}
    assert runner.run_once()
    assert attempts[0] == attempts[1] == idempotency_key("echo", events[0], 0)
    assert positions.at == {"echo": 9}


class Submitted:
    def __init__(self) -> None:
        self.keys: list[str | None] = []

    def __call__(self, command: Any, cause: Cause, idempotency_key: str | None = None,
                 fingerprint: str = "") -> Any:
        from concurrent.futures import Future

        self.keys.append(idempotency_key)
        future: Future[Any] = Future()
        future.set_result("stored")
        return future


def test_effects_go_to_their_port_and_every_other_command_to_the_writer_keyed() -> None:
    deleted: list[tuple[str, str]] = []
    submit = Submitted()
    issue = IssueCommands(submit, {DeleteAttachmentBytes: lambda c, k: deleted.append(
        (c.storage_key, k))})
    attachment_id = uuid.uuid4()
    issue(DeleteAttachmentBytes(attachment_id, "attachments/ab/cd"), a_cause(), "k0")
    assert issue(PurgeAttachment(attachment_id, now()), a_cause(), "k1") == "stored"
    assert deleted == [("attachments/ab/cd", "k0")] and submit.keys == ["k1"]


def test_a_scheduled_job_is_bounded_and_logs_a_failing_round_once_per_outage(
        caplog: pytest.LogCaptureFixture) -> None:
    bounds: list[int] = []
    failing = [True, True, False]

    def work(bound: int) -> int:
        bounds.append(bound)
        if failing.pop(0):
            raise OSError("database is locked")
        return 3

    logger = logging.getLogger("tests.schedule")
    caplog.set_level(logging.INFO, logger="tests.schedule")
    job = ScheduledJob(Schedule("sweep", 3600, work, bound=5, doing="sweeping"), logger)
    assert [job.run_once() for _ in range(3)] == [None, None, 3]
    assert bounds == [5, 5, 5]
    shown = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "tests.schedule"]
    assert [level for level, _ in shown] == ["WARNING", "INFO"]
    assert shown[0][1].startswith("sweeping failed (OSError)")


class DueNow:
    def __init__(self, ids: list[uuid.UUID]) -> None:
        self.ids = ids
        self.asked: list[int] = []

    def due_for_expiry(self, uploaded_before: Any, limit: int) -> list[uuid.UUID]:
        self.asked.append(limit)
        return self.ids[:limit]


def test_the_expiry_schedule_asks_at_most_its_bound_to_expire_and_skips_unknown_uploads() -> None:
    known, unknown, later = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    executed: list[Any] = []

    def execute(command: Any, cause: Cause) -> None:
        executed.append(command)
        if command.attachment_id == unknown:
            raise AttachmentNotFound("attachment_id", "no such attachment")

    moment = now()
    due = DueNow([known, unknown, later])
    schedule = AttachmentExpiry(due, execute, DAY, lambda: moment).schedule(60)
    assert schedule.name == "attachment-expiry" and schedule.every_seconds == 60
    assert schedule.work(2) == 1
    assert due.asked == [2]
    assert executed == [ExpireAttachment(known, moment, DAY), ExpireAttachment(unknown, moment,
                                                                                  DAY)]


class PipelinedEcho(Echo):
    name = "pipelined-echo"
    pipelined = True


class LaterIssuer:
    """Records each command as it is issued and answers a future the test resolves."""

    def __init__(self, answers: list[BaseException | None]) -> None:
        self.issued: list[Any] = []
        self.answers = answers
        self.futures: list[Any] = []

    def __call__(self, command: Any, cause: Cause, key: str) -> object:
        raise AssertionError("a pipelined manager's commands are issued with later()")

    def later(self, command: Any, cause: Cause, key: str) -> Future[Any]:
        self.issued.append(command)
        future: Future[Any] = Future()
        self.futures.append(future)
        if len(self.issued) == len(self.answers):  # answered only once all were issued
            for issued, answer in zip(self.futures, self.answers, strict=True):
                if answer is None:
                    issued.set_result(None)
                else:
                    issued.set_exception(answer)
        return future


def a_pipelined_runner(issue: LaterIssuer, positions: FakePositions) -> ProcessManagerRunner:
    events = [an_expired_upload()[1], an_expired_upload()[1], an_expired_upload()[1]]
    log = FakeLog([At(3, events[0]), At(5, events[1]), At(7, events[2])], head=9)
    return ProcessManagerRunner(PipelinedEcho(), log, positions, issue, HeldLocks())


def test_a_pipelined_manager_issues_a_whole_batch_before_awaiting_any_answer() -> None:
    issuer, positions = LaterIssuer([None, InvalidCommand("x", "refused"), None]), FakePositions()
    assert a_pipelined_runner(issuer, positions).run_once()
    assert len(issuer.issued) == 3  # a refusal is a decision: the batch goes on
    assert positions.at["pipelined-echo"] == 9


def test_a_pipelined_batch_with_a_conflict_is_not_recorded_and_is_retried() -> None:
    issuer, positions = LaterIssuer([None, Conflict("x", "retry"), None]), FakePositions()
    with pytest.raises(Conflict):
        a_pipelined_runner(issuer, positions).run_once()
    assert len(issuer.issued) == 3 and "pipelined-echo" not in positions.at
