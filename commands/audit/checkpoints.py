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


class ChainCheckpoints:
    """A schedule's work: signs the chain's head when it has moved since the latest checkpoint,
    and tells the log of each checkpoint signed."""

    def __init__(self, records: ChainRecords, key: bytes, clock: Callable[[], datetime]) -> None:
        self._records = records
        self._key = key
        self._clock = clock
        self.last: CheckpointOutcome | None = None
        self.written = 0

    def schedule(self, every_seconds: float) -> Schedule:
        return Schedule("chain-checkpoints", every_seconds, self.sign, bound=1,
                        doing="writing a chain checkpoint", logger=log, after=self._signed)

    def sign(self, _bound: int) -> int:
        self.last = None
        self.last = write_checkpoint(self._records, self._key, self._clock())
        return int(self.last.written)

    def _signed(self, written: int) -> None:
        if written and self.last is not None and self.last.checkpoint is not None:
            self.written += 1
            log.info("chain checkpoint signed", extra={"position": self.last.checkpoint.position})


class CheckpointSchedule(ScheduledJob):
    """The checkpoint schedule as one job (what the composition root makes of the audit
    context's declared schedule), which can also be ticked on demand."""

    def __init__(self, records: ChainRecords, key: bytes, every_seconds: float,
                 clock: Callable[[], datetime]) -> None:
        self.checkpoints = ChainCheckpoints(records, key, clock)
        super().__init__(self.checkpoints.schedule(every_seconds))

    @property
    def written(self) -> int:
        return self.checkpoints.written

    def tick(self) -> CheckpointOutcome | None:
        """Write one checkpoint now if the head moved; a failure is retried at the next tick
        (logged once per outage: a WARNING when it starts, an INFO when it is over)."""
        self.checkpoints.last = None
        if self.run_once() is None:
            return None
        return self.checkpoints.last
