"""Group commit: concurrent commands are decided together and saved in one transaction.

Every caller is answered only after the transaction holding its events has committed, so
durability is that of a single command, while the cost of a commit is shared by the batch.
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

from eventsourcing.persistence import IntegrityError

from commands.batch import Batch
from commands.log import EventLog
from commands.outcomes import Handler, Outcome
from domain.errors import Conflict, DomainError
from domain.events import Cause
from domain.receipts import CommandReceipt, receipt_id

log = logging.getLogger(__name__)

MAX_ATTEMPTS_ALONE = 8  # with a growing, jittered pause: two processes on one aggregate


class WriterStopped(Exception):
    """The writer is shutting down and takes no more commands."""


@dataclass
class Submission:
    command: Any
    cause: Cause
    idempotency_key: str | None
    fingerprint: str
    future: Future[Outcome] = field(default_factory=Future)


@dataclass
class _Decided:
    submission: Submission
    outcome: Outcome
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
    ) -> None:
        self._log = log
        self._handlers = handlers
        self._max_batch = max_batch
        self._linger = linger_seconds
        self._on_commit = on_commit
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
    ) -> Future[Outcome]:
        if self._stopping:
            raise WriterStopped("the writer is stopping")
        submission = Submission(command, cause, idempotency_key, fingerprint)
        self._queue.put(submission)
        return submission.future

    def execute(self, command: Any, cause: Cause, timeout: float = 30.0) -> Outcome:
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
                self._commit(batch)
            except Exception as error:  # noqa: BLE001 - every caller must hear of the failure
                log.error("group commit failed: %s", type(error).__name__)
                for submission in batch:
                    if not submission.future.done():
                        submission.future.set_exception(error)

    def _commit(self, submissions: list[Submission]) -> None:
        batch = Batch(self._log.repository)
        decided: list[_Decided] = []
        for submission in submissions:
            keys_before = batch.pending_event_keys()
            try:
                outcome = self._decide(batch, submission)
            except DomainError as error:
                if batch.pending_event_keys() != keys_before:
                    # A handler failed half-way: its partial events poison the batch.
                    self._commit_each_alone(submissions)
                    return
                submission.future.set_exception(error)
                continue
            decided.append(
                _Decided(submission, outcome, batch.pending_event_keys() - keys_before)
            )
        if not decided:
            return
        try:
            recordings = self._log.save(*batch.touched())
        except IntegrityError:
            # Another process wrote to one of these aggregates first: redo each on fresh state.
            self._commit_each_alone([d.submission for d in decided])
            return
        positions = {
            (r.domain_event.originator_id, r.domain_event.originator_version): r.notification.id
            for r in recordings
        }
        self._answer(decided, positions)

    def _commit_each_alone(self, submissions: list[Submission]) -> None:
        for submission in submissions:
            if submission.future.done():
                continue
            for attempt in range(MAX_ATTEMPTS_ALONE):
                batch = Batch(self._log.repository)
                try:
                    outcome = self._decide(batch, submission)
                    recordings = self._log.save(*batch.touched())
                except IntegrityError:
                    time.sleep(random.uniform(0, 0.001 * 2 ** attempt))  # let the other go first
                    continue
                except DomainError as error:
                    submission.future.set_exception(error)
                    break
                positions = {
                    (r.domain_event.originator_id, r.domain_event.originator_version):
                    r.notification.id
                    for r in recordings
                }
                keys = set(positions)
                self._answer([_Decided(submission, outcome, keys)], positions)
                break
            else:
                submission.future.set_exception(
                    Conflict("request", "the command conflicted with concurrent changes; retry")
                )

    def _decide(self, batch: Batch, submission: Submission) -> Outcome:
        key = submission.idempotency_key
        receipt_key = receipt_id(submission.cause.actor_id, key) if key else None
        if receipt_key is not None:
            receipt = batch.find(CommandReceipt, receipt_key)
            if receipt is not None:
                status, body = receipt.replay_for(submission.fingerprint)
                return Outcome(status, body, replayed=True)
        handler = self._handlers[type(submission.command)]
        outcome = handler(batch, submission.command, submission.cause)
        if receipt_key is not None:
            batch.add(
                CommandReceipt.issue(
                    receipt_key, submission.fingerprint, outcome.status, outcome.body,
                    submission.cause,
                )
            )
        return outcome

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
