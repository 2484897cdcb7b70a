"""Commands that record read and delivery receipts."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from commands.messaging.conversations import find_conversation
from domain.messaging.read_markers import ReadMarker, read_marker_id
from event_log.aggregate import Cause
from event_log.batch import Batch
from event_log.outcomes import Handler


@dataclass(frozen=True)
class MarkRead:
    conversation_id: UUID
    user_id: UUID
    up_to_seq: int


@dataclass(frozen=True)
class MarkDelivered:
    conversation_id: UUID
    user_id: UUID
    device_id: UUID
    up_to_seq: int


@dataclass(frozen=True)
class ReadMarked:
    """The reader's read receipt now stands at `read_seq` (it never moves backwards)."""

    conversation_id: UUID
    read_seq: int


@dataclass(frozen=True)
class DeliveryMarked:
    """The device's delivery receipt now stands at `delivered_seq`."""

    conversation_id: UUID
    device_id: UUID
    delivered_seq: int


def _marker(batch: Batch, conversation_id: UUID, user_id: UUID, cause: Cause) -> ReadMarker:
    marker = batch.find(ReadMarker, read_marker_id(conversation_id, user_id))
    if marker is None:
        marker = ReadMarker.start(conversation_id, user_id, cause)
        batch.add(marker)
    return marker


def mark_read(batch: Batch, command: MarkRead, cause: Cause) -> ReadMarked:
    conversation = find_conversation(batch, command.conversation_id, command.user_id)
    marker = _marker(batch, conversation.id, command.user_id, cause)
    read_seq = marker.mark_read(command.up_to_seq, conversation.last_seq, cause)
    return ReadMarked(conversation.id, read_seq)


def mark_delivered(batch: Batch, command: MarkDelivered, cause: Cause) -> DeliveryMarked:
    conversation = find_conversation(batch, command.conversation_id, command.user_id)
    marker = _marker(batch, conversation.id, command.user_id, cause)
    seq = marker.mark_delivered(command.device_id, command.up_to_seq, conversation.last_seq,
                                cause)
    return DeliveryMarked(conversation.id, command.device_id, seq)


READ_MARKER_HANDLERS: dict[type, Handler] = {MarkRead: mark_read, MarkDelivered: mark_delivered}
