"""How far each member has read, and each of their devices has received, a conversation."""

from __future__ import annotations

from uuid import UUID, uuid5

from domain.errors import InvalidCommand
from event_log.aggregate import Cause, ParleyAggregate, copied

READ_MARKER_NAMESPACE = UUID("9b0e5a3c-2f71-4d8e-a6c4-7e1d3b5f9a02")


def read_marker_id(conversation_id: UUID, user_id: UUID) -> UUID:
    return uuid5(READ_MARKER_NAMESPACE, f"{conversation_id}:{user_id}")


class ReadMarker(ParleyAggregate):
    """Receipts only move forward: a lower sequence number than already recorded is a no-op."""

    def __init__(self, conversation_id: UUID, user_id: UUID) -> None:
        self.conversation_id = conversation_id
        self.user_id = user_id
        self.read_seq = 0
        self.delivered: dict[UUID, int] = {}

    class Started(ParleyAggregate.Created):
        conversation_id: UUID
        user_id: UUID

    class ReadUpTo(ParleyAggregate.Event):
        conversation_id: UUID
        user_id: UUID
        seq: int
        copies = copied(read_seq="seq")

    class DeliveredUpTo(ParleyAggregate.Event):
        conversation_id: UUID
        user_id: UUID
        device_id: UUID
        seq: int

        def apply(self, aggregate: ParleyAggregate) -> None:
            assert isinstance(aggregate, ReadMarker)
            aggregate.delivered[self.device_id] = self.seq

    @classmethod
    def start(cls, conversation_id: UUID, user_id: UUID, cause: Cause) -> ReadMarker:
        return cls._create(cls.Started, id=read_marker_id(conversation_id, user_id),
                           conversation_id=conversation_id, user_id=user_id,
                           **cause.as_event_fields())

    @staticmethod
    def _check(seq: int, last_seq: int) -> None:
        if not 0 <= seq <= last_seq:
            raise InvalidCommand("up_to_seq", f"up_to_seq must be between 0 and {last_seq}")

    def mark_read(self, seq: int, last_seq: int, cause: Cause) -> int:
        """Returns the read position after the command."""
        self._check(seq, last_seq)
        if seq > self.read_seq:
            self.trigger_event(self.ReadUpTo, conversation_id=self.conversation_id,
                               user_id=self.user_id, seq=seq, **cause.as_event_fields())
        return self.read_seq

    def mark_delivered(self, device_id: UUID, seq: int, last_seq: int, cause: Cause) -> int:
        self._check(seq, last_seq)
        if seq > self.delivered.get(device_id, 0):
            self.trigger_event(self.DeliveredUpTo, conversation_id=self.conversation_id,
                               user_id=self.user_id, device_id=device_id, seq=seq,
                               **cause.as_event_fields())
        return self.delivered.get(device_id, 0)
