"""Signed checkpoints of the hash chain's head: written on demand and periodically."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from commands.audit.integrity import ChainRecords
from commands.processes.outages import Outage
from commands.processes.schedules import Every
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


class CheckpointSchedule:
    """A daemon thread that signs the head every `every_seconds` when it has moved."""

    def __init__(self, records: ChainRecords, key: bytes, every_seconds: float,
                 clock: Callable[[], datetime]) -> None:
        self._records = records
        self._key = key
        self._clock = clock
        self._schedule = Every(every_seconds, self.tick, name="chain-checkpoints")
        self._outage = Outage(log, "writing a chain checkpoint")
        self.written = 0

    def start(self) -> None:
        self._schedule.start()

    def stop(self) -> None:
        self._schedule.stop()

    def tick(self) -> CheckpointOutcome | None:
        """Write one checkpoint now if the head moved; a failure is retried at the next tick
        (logged once per outage: a WARNING when it starts, an INFO when it is over)."""
        try:
            outcome = write_checkpoint(self._records, self._key, self._clock())
        except Exception as error:  # noqa: BLE001 - the database away: the next tick retries
            self._outage.failed(error)
            return None
        self._outage.recovered()
        if outcome.written and outcome.checkpoint is not None:
            self.written += 1
            log.info("chain checkpoint signed", extra={"position": outcome.checkpoint.position})
        return outcome
