"""The notifications about a conversation's messages that may still go out to one recipient:
a write-side index (log only), so that a read receipt or an unsent message finds the
notifications it makes pointless without scanning (commands/notifications/suppression.py).

It holds only what is pending: a notification leaves it (`Settled`, with the reason) once it
was withdrawn, once a read receipt passed its message, or, when the index is full, once it is
found finished; if every notice is still pending at the limit, the oldest is forgotten, so
that the work a receipt causes stays bounded (its own event says so).
"""

from __future__ import annotations

from typing import Any, Final
from uuid import UUID, uuid5

from domain.notifications.notifications import NOTIFICATION_NAMESPACE
from event_log.aggregate import SNAPSHOT_EVERY, Cause, ParleyAggregate

MAX_NOTICES: Final = 200  # per recipient and conversation

# Why a notice left the index
WITHDRAWN: Final = "withdrawn"  # the read receipt or unsend cancelled what was pending
READ_PAST: Final = "read_past"  # a read receipt passed its message; nothing was pending
FINISHED: Final = "finished"  # found finished (sent, delivered, failed) when room was made
FORGOTTEN: Final = "forgotten_at_limit"  # the index was full of pending ones: the oldest


def conversation_notices_id(recipient_id: UUID, conversation_id: UUID) -> UUID:
    return uuid5(NOTIFICATION_NAMESPACE, f"conversation-notices/{conversation_id}/{recipient_id}")


class ConversationNotices(ParleyAggregate):
    snapshot_every = SNAPSHOT_EVERY  # a busy conversation notes and settles without end

    def __init__(self, recipient_id: UUID, conversation_id: UUID) -> None:
        self.recipient_id = recipient_id
        self.conversation_id = conversation_id
        # notification id -> [message id, seq], in the order they were noted
        self.notices: dict[str, list[Any]] = {}

    class Opened(ParleyAggregate.Created):
        recipient_id: UUID
        conversation_id: UUID

    class Noted(ParleyAggregate.Event):
        """A notification about message `message_id` (at `seq` in the conversation)."""

        notification_id: UUID
        message_id: UUID
        seq: int

        def apply(self, aggregate: Any) -> None:
            aggregate.notices[str(self.notification_id)] = [str(self.message_id), self.seq]

    class Settled(ParleyAggregate.Event):
        notification_ids: list[UUID]
        reason: str

        def apply(self, aggregate: Any) -> None:
            for notification in self.notification_ids:
                aggregate.notices.pop(str(notification), None)

    @classmethod
    def open(cls, recipient_id: UUID, conversation_id: UUID,
             cause: Cause) -> ConversationNotices:
        return cls._create(cls.Opened, id=conversation_notices_id(recipient_id, conversation_id),
                           recipient_id=recipient_id, conversation_id=conversation_id,
                           **cause.as_event_fields())

    @property
    def full(self) -> bool:
        return len(self.notices) >= MAX_NOTICES

    def notification_ids(self) -> list[UUID]:
        return [UUID(n) for n in self.notices]

    def up_to(self, seq: int) -> list[UUID]:
        """The notifications about messages at or before `seq`."""
        return [UUID(n) for n, (_, at) in self.notices.items() if at <= seq]

    def about(self, message_id: UUID) -> list[UUID]:
        return [UUID(n) for n, (message, _) in self.notices.items() if message == str(message_id)]

    def oldest(self, count: int) -> list[UUID]:
        """The `count` notices of the earliest messages."""
        ordered = sorted(self.notices.items(), key=lambda item: int(item[1][1]))
        return [UUID(n) for n, _ in ordered[:max(count, 0)]]

    def note(self, notification_id: UUID, message_id: UUID, seq: int, cause: Cause) -> bool:
        """Noted once; the caller makes room first (`full`), so the index never exceeds
        MAX_NOTICES."""
        if str(notification_id) in self.notices or self.full:
            return False
        self.trigger_event(self.Noted, notification_id=notification_id, message_id=message_id,
                           seq=seq, **cause.as_event_fields())
        return True

    def settle(self, notification_ids: list[UUID], reason: str, cause: Cause) -> None:
        present = [n for n in dict.fromkeys(notification_ids) if str(n) in self.notices]
        if present:
            self.trigger_event(self.Settled, notification_ids=present, reason=reason,
                               **cause.as_event_fields())
