"""Conversations and the messages sent in them, with their total order."""

from __future__ import annotations

import unicodedata
from datetime import datetime
from uuid import UUID, uuid5

from domain.errors import CannotTalkToSelf, InvalidCommand, MessageTooLong, NotAMember
from domain.events import Cause, ParleyAggregate

DIRECT_CONVERSATION_NAMESPACE = UUID("4a3f9a7e-1c55-4b0e-b1d2-3e7c2f1a9d60")
MAX_MESSAGE_BYTES = 4096


def direct_conversation_id(first: UUID, second: UUID) -> UUID:
    """The same pair of people always shares the same direct conversation."""
    low, high = sorted((first, second))
    return uuid5(DIRECT_CONVERSATION_NAMESPACE, f"{low}:{high}")


def clean_message_text(text: str) -> str:
    """Text is 1..4096 UTF-8 bytes, NFC-normalised, with no control characters but newlines."""
    for ch in text:
        if ch not in "\n\t" and unicodedata.category(ch) in ("Cc", "Cs"):
            raise InvalidCommand("text", "a message may not contain control characters")
    normalised = unicodedata.normalize("NFC", text)
    if not normalised.strip():
        raise InvalidCommand("text", "a message needs some text")
    if len(normalised.encode("utf-8")) > MAX_MESSAGE_BYTES:
        raise MessageTooLong("text", f"a message is at most {MAX_MESSAGE_BYTES} bytes of UTF-8")
    return normalised


class Conversation(ParleyAggregate):
    """A place where members exchange messages, each numbered in one total order."""

    def __init__(self, kind: str, member_ids: tuple[UUID, ...]) -> None:
        self.kind = kind
        self.member_ids = tuple(member_ids)
        self.last_seq = 0

    class Opened(ParleyAggregate.Created):
        kind: str
        member_ids: tuple[UUID, ...]

    class MessageSent(ParleyAggregate.Event):
        message_id: UUID
        sender_id: UUID
        seq: int
        text: str
        sent_at: datetime

        def apply(self, aggregate: ParleyAggregate) -> None:
            assert isinstance(aggregate, Conversation)
            aggregate.last_seq = self.seq

    @classmethod
    def open_direct(cls, opener_id: UUID, peer_id: UUID, cause: Cause) -> Conversation:
        if opener_id == peer_id:
            raise CannotTalkToSelf("peer_id", "a direct conversation needs two different people")
        return cls._create(
            cls.Opened,
            id=direct_conversation_id(opener_id, peer_id),
            kind="direct",
            member_ids=tuple(sorted((opener_id, peer_id))),
            **cause.as_event_fields(),
        )

    def is_member(self, user_id: UUID) -> bool:
        return user_id in self.member_ids

    def send_message(
        self, message_id: UUID, sender_id: UUID, text: str, sent_at: datetime, cause: Cause
    ) -> int:
        """Append a message; returns its sequence number in the conversation."""
        if not self.is_member(sender_id):
            raise NotAMember("conversation_id", "no such conversation")
        seq = self.last_seq + 1
        self.trigger_event(
            self.MessageSent,
            message_id=message_id,
            sender_id=sender_id,
            seq=seq,
            text=clean_message_text(text),
            sent_at=sent_at,
            **cause.as_event_fields(),
        )
        return seq
