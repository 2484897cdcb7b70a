"""Signed checkpoints of the hash chain's head: written on demand and periodically."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from commands.audit.integrity import ChainRecords
from commands.processes.schedules import Schedule, ScheduledJob
from event_log.hash_chain import Checkpoint, sign_checkpoint

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CheckpointOutcome:
    """The latest checkpoint after a request to sign one, and whether it was written now."""

    checkpoint: Checkpoint | None
    written: bool


def write_checkpoint(records: ChainRecords, key: bytes, now: datetime) -> CheckpointOutcome:
    """Sign the chain's current head, unless the latest checkpoint already covers it.

    An empty log has nothing to sign: the outcome then holds no checkpoint.
    """
    head = records.chain_head()
    latest = records.latest_checkpoint()
    if head is None or (latest is not None and latest.position >= head.position):
        return CheckpointOutcome(latest, written=False)
    checkpoint = sign_checkpoint(key, head, now)
    if not records.insert_checkpoint(checkpoint):  # another process signed this head first
        return CheckpointOutcome(records.latest_checkpoint(), written=False)
    return CheckpointOutcome(checkpoint, written=True)


class CheckpointSchedule(ScheduledJob):
    """A scheduled job that signs the head every `every_seconds` when it has moved."""

    def __init__(self, records: ChainRecords, key: bytes, every_seconds: float,
                 clock: Callable[[], datetime]) -> None:
        self._records = records
        self._key = key
        self._clock = clock
        self._outcome: CheckpointOutcome | None = None
        self.written = 0
        super().__init__(Schedule("chain-checkpoints", every_seconds, self._sign, bound=1,
                                  doing="writing a chain checkpoint"), log)

    def _sign(self, _bound: int) -> int:
        self._outcome = write_checkpoint(self._records, self._key, self._clock())
        return int(self._outcome.written)

    def run_once(self) -> int | None:
        outcome = self.tick()
        return None if outcome is None else int(outcome.written)

    def tick(self) -> CheckpointOutcome | None:
        """Write one checkpoint now if the head moved; a failure is retried at the next tick
        (logged once per outage: a WARNING when it starts, an INFO when it is over)."""
        self._outcome = None
        if super().run_once() is None or self._outcome is None:
            return None
        outcome = self._outcome
        if outcome.written and outcome.checkpoint is not None:
            self.written += 1
            log.info("chain checkpoint signed", extra={"position": outcome.checkpoint.position})
        return outcome
