"""Receipts of commands sent with an idempotency key, so a retry returns the first result."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid5

from domain.errors import Conflict
from event_log.aggregate import Cause, ParleyAggregate

RECEIPT_NAMESPACE = UUID("b4e2d0c9-5f3a-4e61-8c7b-2d9e1f0a6b43")


class IdempotencyKeyReused(Conflict):
    """The same key came back with a different request."""


def receipt_id(actor_id: UUID, key: str) -> UUID:
    """Keys are scoped to the caller: two users may pick the same key."""
    return uuid5(RECEIPT_NAMESPACE, f"{actor_id}:{key}")


class CommandReceipt(ParleyAggregate):
    """The first outcome of a keyed command."""

    def __init__(self, fingerprint: str, status: int, body: dict[str, Any]) -> None:
        self.fingerprint = fingerprint
        self.status = status
        self.body = dict(body)

    class Issued(ParleyAggregate.Created):
        fingerprint: str
        status: int
        body: dict[str, Any]

    @classmethod
    def issue(
        cls, id: UUID, fingerprint: str, status: int, body: dict[str, Any], cause: Cause
    ) -> CommandReceipt:
        return cls._create(
            cls.Issued, id=id, fingerprint=fingerprint, status=status, body=body,
            **cause.as_event_fields(),
        )

    def replay_for(self, fingerprint: str) -> tuple[int, dict[str, Any]]:
        if fingerprint != self.fingerprint:
            raise IdempotencyKeyReused(
                "Idempotency-Key", "this Idempotency-Key was used for a different request"
            )
        return self.status, dict(self.body)
