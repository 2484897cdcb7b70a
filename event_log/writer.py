"""Group commit: concurrent commands are decided together and saved in one transaction.

Every caller is answered only after the transaction holding its events has committed, so
durability is that of a single command, while the cost of a commit is shared by the batch.

A command waits for the database at most `command_timeout` seconds from its submission: one
still queued after that is answered "not stored" without being tried, and the save is bounded
by the same deadline (the recorder receives it as `timeout_seconds`). A save that fails on the
connection may have committed all the same, so the log is asked, on a fresh connection, whether
it holds the batch's events, and each caller is answered by what it holds.

Commands are decided on the writer's own cache of aggregates (event_log/aggregate_cache.py):
what a batch saved is kept as saved, and before each batch the log is asked once how far it
reaches, so what another process wrote since is read again, not used stale.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import IntegrityError, InterfaceError, OperationalError

from domain.errors import Conflict, DomainError
from event_log.aggregate import Cause
from event_log.aggregate_cache import AggregateCache
from event_log.batch import Batch
from event_log.faults import CommandNotStored, CommandOutcomeUnknown
from event_log.idempotency import CommandReceipt, receipt_id
from event_log.log import EventKey, EventLog
from event_log.outcomes import Handler, Outcome

log = logging.getLogger(__name__)

MAX_ATTEMPTS_ALONE = 8  # with a growing, jittered pause: two processes on one aggregate
MAX_SAVE_ATTEMPTS = 3  # a save known not to have committed (a dropped pooled connection) is retried
MIN_CHECK_SECONDS = 1.0  # asking the log about an in-doubt commit is given at least this long


class WriterStopped(Exception):
    """The writer is shutting down and takes no more commands."""


@dataclass
class Submission:
    command: Any
    cause: Cause
    idempotency_key: str | None
    fingerprint: str
    deadline: float = float("inf")  # time.monotonic() by which the database must have taken it
    future: Future[Outcome[Any]] = field(default_factory=Future)


@dataclass
class _Decided:
    submission: Submission
    outcome: Outcome[Any]
    event_keys: set[tuple[UUID, int]]


class GroupCommitWriter:
    """One writer thread per process: takes whatever commands are waiting, saves them at once."""

    def __init__(
        self,
        log: EventLog,
        handlers: Mapping[type, Handler],
        *,
        max_batch: int = 256,
        linger_seconds: float = 0.0,
        on_commit: Callable[[int], None] | None = None,
        command_timeout: float = 30.0,
        cache: AggregateCache | None = None,
    ) -> None:
        self._log = log
        self._cache = cache if cache is not None else AggregateCache(log)
        self._handlers = handlers
        self._max_batch = max_batch
        self._linger = linger_seconds
        self._on_commit = on_commit
        self._command_timeout = command_timeout
        self._queue: queue.Queue[Submission | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="group-commit", daemon=True)
        self._stopping = False
        self.batch_sizes: list[int] = []

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping = True
        self._queue.put(None)
        self._thread.join(timeout=10)

    def submit(
        self, command: Any, cause: Cause, idempotency_key: str | None = None, fingerprint: str = ""
    ) -> Future[Outcome[Any]]:
        if self._stopping:
            raise WriterStopped("the writer is stopping")
        submission = Submission(command, cause, idempotency_key, fingerprint,
                                time.monotonic() + self._command_timeout)
        # Running from now on: a caller that stops waiting (a dropped request) cannot cancel
        # it, so its answer, set later by the writer thread, cannot fail the rest of the batch.
        submission.future.set_running_or_notify_cancel()
        self._queue.put(submission)
        return submission.future

    @property
    def longest_answer_seconds(self) -> float:
        """How long a caller can have to wait for its answer: the command's bound, then the
        question to the log after a failure in doubt; beyond it, something is wedged.
        """
        return 2 * self._command_timeout + MIN_CHECK_SECONDS + 5

    def execute(self, command: Any, cause: Cause, timeout: float = 30.0) -> Outcome[Any]:
        """Submit and wait: for callers outside the HTTP API (seeding, tests, tools)."""
        return self.submit(command, cause).result(timeout=timeout)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            deadline = time.monotonic() + self._linger
            while len(batch) < self._max_batch:
                try:
                    remaining = deadline - time.monotonic()
                    item = self._queue.get(timeout=remaining) if remaining > 0 else (
                        self._queue.get_nowait()
                    )
                except queue.Empty:
                    break
                if item is None:
                    self._queue.put(None)
                    break
                batch.append(item)
            self.batch_sizes.append(len(batch))
            try:
                self._commit(self._in_time(batch))
            except Exception as error:  # noqa: BLE001 - every caller must hear of the failure
                log.error("group commit failed: %s", type(error).__name__)
                for submission in batch:
                    if not submission.future.done():
                        submission.future.set_exception(error)

    def _in_time(self, submissions: list[Submission]) -> list[Submission]:
        """The submissions still in time; the others hear that nothing of theirs was stored."""
        now = time.monotonic()
        for late in (s for s in submissions if s.deadline <= now):
            late.future.set_exception(self._not_stored())
        return [s for s in submissions if s.deadline > now]

    def _fail_unread(self, submissions: list[Submission], error: Exception) -> None:
        log.warning("the event log could not be read to decide commands: %s",
                    type(error).__name__)
        for submission in submissions:
            if not submission.future.done():
                submission.future.set_exception(CommandNotStored(
                    "the database could not be read in time; nothing was stored, retry"))

    def _not_stored(self) -> CommandNotStored:
        return CommandNotStored(f"the database did not take the command within "
                                f"{self._command_timeout:g} s; nothing was stored, retry")

    def _commit(self, submissions: list[Submission]) -> None:
        if not submissions:
            return
        try:
            batch = self._fresh_batch()
        except (OperationalError, InterfaceError) as error:
            self._fail_unread(submissions, error)
            return
        decided: list[_Decided] = []
        for submission in submissions:
            batch.begin_command()
            try:
                outcome = self._decide(batch, submission)
            except (OperationalError, InterfaceError) as error:
                # The log could not be read to decide: nothing of this batch was saved.
                self._fail_unread(submissions, error)
                return
            except DomainError as error:
                if batch.command_added_events():
                    # A handler failed half-way: its partial events poison the batch.
                    self._commit_each_alone(submissions)
                    return
                batch.distrust_command()
                submission.future.set_exception(error)
                continue
            decided.append(
                _Decided(submission, outcome, batch.command_event_keys())
            )
        if not decided:
            self._cache.keep(batch.kept(), {})
            return
        try:
            positions = self._save(batch, min(d.submission.deadline for d in decided))
        except IntegrityError:
            # Another process wrote to one of these aggregates first: redo each on fresh state.
            self._commit_each_alone([d.submission for d in decided])
            return
        self._cache.keep(batch.kept(), positions)
        self._answer(decided, positions)

    def _fresh_batch(self) -> Batch:
        """A batch over the writer's cache, after it forgot what other processes changed."""
        self._cache.catch_up()
        return Batch(self._log.repository, self._cache)

    def _commit_each_alone(self, submissions: list[Submission]) -> None:
        for submission in submissions:
            if submission.future.done():
                continue
            for attempt in range(MAX_ATTEMPTS_ALONE):
                if submission.deadline <= time.monotonic():
                    submission.future.set_exception(self._not_stored())
                    break
                try:
                    batch = self._fresh_batch()
                    outcome = self._decide(batch, submission)
                    positions = self._save(batch, submission.deadline)
                except IntegrityError:
                    time.sleep(random.uniform(0, 0.001 * 2 ** attempt))  # let the other go first
                    continue
                except (OperationalError, InterfaceError) as error:  # only reads raise these here
                    self._fail_unread([submission], error)
                    break
                except (DomainError, CommandNotStored, CommandOutcomeUnknown) as error:
                    submission.future.set_exception(error)
                    break
                self._cache.keep(batch.kept(), positions)
                self._answer([_Decided(submission, outcome, set(positions))], positions)
                break
            else:
                submission.future.set_exception(
                    Conflict("request", "the command conflicted with concurrent changes; retry")
                )

    def _save(self, batch: Batch, deadline: float) -> dict[EventKey, int]:
        """Stores the batch's events by `deadline` and answers their positions, or raises what
        its callers must hear: `CommandNotStored`, `CommandOutcomeUnknown` or `IntegrityError`.
        """
        touched = batch.touched()
        events: list[DomainEventProtocol[UUID]] = [e for a in touched for e in a.pending_events]
        to_save: list[Any] = touched  # at first the aggregates, so snapshots are taken
        for _ in range(MAX_SAVE_ATTEMPTS):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self._not_stored()
            try:
                recordings = self._log.save(*to_save, timeout_seconds=remaining)
            except CommandNotStored:
                raise
            except (OperationalError, InterfaceError) as error:
                positions = self._resolve(events, deadline, error)
                if positions is not None:
                    return positions
                to_save = list(events)  # not stored: the same events again, on a new connection
                continue
            return {(r.domain_event.originator_id, r.domain_event.originator_version):
                    r.notification.id for r in recordings}
        raise self._not_stored()

    def _resolve(self, events: list[DomainEventProtocol[UUID]], deadline: float,
                 error: Exception) -> dict[EventKey, int] | None:
        """After a failed save: the events' positions if it committed after all, else None."""
        timeout = max(deadline - time.monotonic(), MIN_CHECK_SECONDS)
        try:
            positions = self._log.committed_positions(events, timeout)
        except IntegrityError:
            raise  # another writer holds one of these versions: decided again on fresh state
        except Exception as check_error:  # whatever stops the check, the outcome is unknown
            log.warning("a commit failed in doubt (%s) and the log could not be asked (%s)",
                        type(error).__name__, type(check_error).__name__)
            raise CommandOutcomeUnknown(
                "the database failed while storing the command and could not be asked whether "
                "it was stored; retry with the same Idempotency-Key (or client_message_id)"
            ) from check_error
        if positions is not None:
            log.warning("a commit failed in doubt (%s) but was stored: answered as stored",
                        type(error).__name__)
        return positions

    def _decide(self, batch: Batch, submission: Submission) -> Outcome[Any]:
        key = submission.idempotency_key
        receipt_key = receipt_id(submission.cause.actor_id, key) if key else None
        if receipt_key is not None:
            receipt = batch.find(CommandReceipt, receipt_key)
            if receipt is not None:
                return Outcome(receipt.replay_for(submission.fingerprint), replayed=True)
        handler = self._handlers[type(submission.command)]
        result = handler(batch, submission.command, submission.cause)
        if receipt_key is not None:
            batch.add(CommandReceipt.issue(receipt_key, submission.fingerprint, result,
                                           submission.cause))
        return Outcome(result)

    def _answer(self, decided: list[_Decided], positions: dict[tuple[UUID, int], int]) -> None:
        newest = max(positions.values(), default=0)
        current: int | None = None
        for item in decided:
            own = [positions[k] for k in item.event_keys if k in positions]
            if own:
                item.outcome.position = max(own)
            else:
                if current is None:
                    current = self._log.recorder.max_notification_id() or 0
                item.outcome.position = current
            item.submission.future.set_result(item.outcome)
        if newest and self._on_commit is not None:
            self._on_commit(newest)
