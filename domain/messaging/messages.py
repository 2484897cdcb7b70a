"""A message's life after it was sent: edits, unsending, reactions, hiding."""

from __future__ import annotations

import unicodedata
from datetime import datetime
from uuid import UUID

from domain.errors import InvalidCommand, NotAllowed
from domain.messaging.conversations import clean_message_text
from domain.messaging.errors import MessageUnsent, TooManyEdits
from event_log.aggregate import Cause, ParleyAggregate

MAX_EMOJI_CODE_POINTS = 10
# Every revision stays in the message's history (and in every reader's view of it), so the
# number of edits bounds how large one message can grow: 50 edits of 4096 bytes ≈ 200 KB.
DEFAULT_MAX_EDITS = 50


def clean_emoji(emoji: str) -> str:
    """A reaction is one emoji (a short run of symbol code points), nothing else."""
    normalised = unicodedata.normalize("NFC", emoji)
    if not 1 <= len(normalised) <= MAX_EMOJI_CODE_POINTS:
        raise InvalidCommand("emoji", "a reaction is a single emoji")
    allowed = {"So", "Sk", "Mn", "Me", "Cf"}
    if any(unicodedata.category(ch) not in allowed for ch in normalised if ch != "\u200d"):
        raise InvalidCommand("emoji", "a reaction is a single emoji")
    if not any(unicodedata.category(ch) == "So" for ch in normalised):
        raise InvalidCommand("emoji", "a reaction is a single emoji")
    return normalised


class Message(ParleyAggregate):
    """What may still happen to a sent message; its content lives in the conversation's log."""

    def __init__(self, conversation_id: UUID, sender_id: UUID, seq: int) -> None:
        self.conversation_id = conversation_id
        self.sender_id = sender_id
        self.seq = seq
        self.unsent = False
        self.edit_count = 0
        self.reactions: set[tuple[UUID, str]] = set()
        self.hidden_for: set[UUID] = set()

    class Posted(ParleyAggregate.Created):
        conversation_id: UUID
        sender_id: UUID
        seq: int

    class Edited(ParleyAggregate.Event):
        conversation_id: UUID
        text: str
        edited_at: datetime
        revision: int

        def apply(self, aggregate: ParleyAggregate) -> None:
            assert isinstance(aggregate, Message)
            aggregate.edit_count = self.revision - 1

    class Unsent(ParleyAggregate.Event):
        conversation_id: UUID
        unsent_at: datetime

        def apply(self, aggregate: ParleyAggregate) -> None:
            assert isinstance(aggregate, Message)
            aggregate.unsent = True
            aggregate.reactions.clear()

    class ReactionAdded(ParleyAggregate.Event):
        conversation_id: UUID
        user_id: UUID
        emoji: str

        def apply(self, aggregate: ParleyAggregate) -> None:
            assert isinstance(aggregate, Message)
            aggregate.reactions.add((self.user_id, self.emoji))

    class ReactionRemoved(ParleyAggregate.Event):
        conversation_id: UUID
        user_id: UUID
        emoji: str

        def apply(self, aggregate: ParleyAggregate) -> None:
            assert isinstance(aggregate, Message)
            aggregate.reactions.discard((self.user_id, self.emoji))

    class HiddenForMember(ParleyAggregate.Event):
        conversation_id: UUID
        user_id: UUID

        def apply(self, aggregate: ParleyAggregate) -> None:
            assert isinstance(aggregate, Message)
            aggregate.hidden_for.add(self.user_id)

    @classmethod
    def post(
        cls, message_id: UUID, conversation_id: UUID, sender_id: UUID, seq: int, cause: Cause
    ) -> Message:
        return cls._create(cls.Posted, id=message_id, conversation_id=conversation_id,
                           sender_id=sender_id, seq=seq, **cause.as_event_fields())

    def _require_sent(self) -> None:
        if self.unsent:
            raise MessageUnsent("message_id", "the message was unsent")

    def edit(self, editor_id: UUID, text: str, edited_at: datetime, cause: Cause,
             max_edits: int = DEFAULT_MAX_EDITS) -> int:
        """Returns the new revision number (the original text is revision 1)."""
        if editor_id != self.sender_id:
            raise NotAllowed("message_id", "only the sender edits a message")
        self._require_sent()
        if self.edit_count >= max_edits:
            raise TooManyEdits("message_id", f"a message can be edited at most {max_edits} times")
        revision = self.edit_count + 2
        self.trigger_event(self.Edited, text=clean_message_text(text), edited_at=edited_at,
                           revision=revision, conversation_id=self.conversation_id,
                               **cause.as_event_fields())
        return revision

    def unsend(self, actor_id: UUID, unsent_at: datetime, cause: Cause) -> None:
        if actor_id != self.sender_id:
            raise NotAllowed("message_id", "only the sender unsends a message")
        if not self.unsent:
            self.trigger_event(self.Unsent, unsent_at=unsent_at,
                               conversation_id=self.conversation_id, **cause.as_event_fields())

    def react(self, user_id: UUID, emoji: str, cause: Cause) -> None:
        self._require_sent()
        emoji = clean_emoji(emoji)
        if (user_id, emoji) not in self.reactions:
            self.trigger_event(self.ReactionAdded, user_id=user_id, emoji=emoji,
                               conversation_id=self.conversation_id,
                               **cause.as_event_fields())

    def unreact(self, user_id: UUID, emoji: str, cause: Cause) -> None:
        self._require_sent()
        emoji = clean_emoji(emoji)
        if (user_id, emoji) in self.reactions:
            self.trigger_event(self.ReactionRemoved, user_id=user_id, emoji=emoji,
                               conversation_id=self.conversation_id,
                               **cause.as_event_fields())

    def hide_for(self, user_id: UUID, cause: Cause) -> None:
        if user_id not in self.hidden_for:
            self.trigger_event(self.HiddenForMember, user_id=user_id,
                               conversation_id=self.conversation_id, **cause.as_event_fields())

