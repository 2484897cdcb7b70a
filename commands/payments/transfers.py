"""The ledger's own command, as TigerBeetle's `create_transfers`: a linked chain of
operations (create, post, void, expire), recorded all together or refused all together.

Funding, payouts and the payment saga build their chains themselves; this command is the
ledger's interface for operators' tools and for tests that drive the ledger directly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from commands.payments import ledger
from domain.payments.transfers import Operation
from event_log.aggregate import Cause
from event_log.batch import Batch
from event_log.outcomes import Handler


@dataclass(frozen=True)
class RecordTransfers:
    operations: tuple[Operation, ...]
    at: datetime


@dataclass(frozen=True)
class TransfersRecorded:
    created: tuple[UUID, ...]


def record_transfers(batch: Batch, command: RecordTransfers, cause: Cause) -> TransfersRecorded:
    created = ledger.record(batch, command.operations, command.at, cause)
    return TransfersRecorded(tuple(t.id for t in created))


TRANSFER_HANDLERS: Mapping[type, Handler] = {RecordTransfers: record_transfers}
