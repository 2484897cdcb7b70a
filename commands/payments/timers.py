"""Holds not settled by their end are expired: a durable timer over the payments' due-time
index (projections/payments/payments.py `due_holds`).

Each round asks the index for the payments held past their end and executes one
`ExpireHolds` for them. The index is a read model, so it may name a payment late or after it
settled: the write side decides again (`expire_holds` expires only a hold still held and
due at the round's time), so a repeat, or two processes' rounds, expire nothing twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any, Final, Protocol
from uuid import UUID, uuid5

from commands.payments.steps import ExpireHolds, HoldsExpired
from commands.processes.schedules import Schedule
from event_log.aggregate import Cause

HOLD_EXPIRY_ACTOR: Final = uuid5(UUID("9a4e2c71-5b3d-4f08-b6e1-7c2d8f0a1e93"), "hold-expiry")
EXPIRY_BOUND: Final = 100  # payments a round expires at most: one command, one group commit


class DueHolds(Protocol):
    """projections.payments.payments.PaymentQueries."""

    def due_holds(self, now: datetime, limit: int) -> list[UUID]: ...


class HoldExpiry:
    def __init__(self, index: DueHolds, execute: Callable[[Any, Cause], Any],
                 clock: Callable[[], datetime]) -> None:
        self._index = index
        self._execute = execute
        self._clock = clock

    def schedule(self, every_seconds: float) -> Schedule:
        return Schedule("payment-hold-expiry", every_seconds, self.expire_due,
                        bound=EXPIRY_BOUND, doing="expiring payment holds")

    def expire_due(self, bound: int) -> int:
        """Expire the holds due now (at most `bound`); returns how many expired."""
        now = self._clock()
        due = self._index.due_holds(now, bound)
        if not due:
            return 0
        outcome = self._execute(ExpireHolds(tuple(due), now),
                                Cause(actor_id=HOLD_EXPIRY_ACTOR, correlation_id=uuid.uuid4()))
        expired = getattr(outcome, "result", None)
        return len(expired.payment_ids) if isinstance(expired, HoldsExpired) else 0
