"""Commands on sent messages: edit, unsend, react, hide for oneself."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from domain.messaging.conversations import Conversation
from domain.messaging.errors import MessageNotFound
from domain.messaging.messages import DEFAULT_MAX_EDITS, Message
from event_log.aggregate import Cause
from event_log.batch import Batch
from event_log.outcomes import Handler


@dataclass(frozen=True)
class EditMessage:
    message_id: UUID
    editor_id: UUID
    text: str
    edited_at: datetime
    max_edits: int = DEFAULT_MAX_EDITS


@dataclass(frozen=True)
class UnsendMessage:
    message_id: UUID
    actor_id: UUID
    unsent_at: datetime


@dataclass(frozen=True)
class React:
    message_id: UUID
    user_id: UUID
    emoji: str


@dataclass(frozen=True)
class Unreact:
    message_id: UUID
    user_id: UUID
    emoji: str


@dataclass(frozen=True)
class HideMessage:
    message_id: UUID
    user_id: UUID


def find_message(batch: Batch, message_id: UUID, member_id: UUID,
                 field: str = "message_id") -> Message:
    """The message, if it lies inside `member_id`'s current membership window (a member now,
    and it was sent after they joined); otherwise it does not exist for them, exactly as an
    unknown id. Every command that names a message (acting on it, replying to it, forwarding
    it) looks it up here first, before any other check."""
    message = batch.find(Message, message_id)
    conversation = batch.find(Conversation, message.conversation_id) if message else None
    if (message is None or conversation is None
            or not conversation.shows_message(member_id, message.seq)):
        raise MessageNotFound(field, "no such message")
    return message


@dataclass(frozen=True)
class MessageEdited:
    """The message's text is now its `revision`."""

    message_id: UUID
    conversation_id: UUID
    seq: int
    revision: int


@dataclass(frozen=True)
class MessageWithdrawn:
    """Unsent for everyone."""

    message_id: UUID
    conversation_id: UUID
    seq: int


@dataclass(frozen=True)
class ReactionChanged:
    """The caller's `emoji` is now on the message (`reacted`) or no longer."""

    message_id: UUID
    conversation_id: UUID
    seq: int
    emoji: str
    reacted: bool


@dataclass(frozen=True)
class MessageHidden:
    """Deleted for the caller only."""

    message_id: UUID
    conversation_id: UUID
    seq: int


def edit_message(batch: Batch, command: EditMessage, cause: Cause) -> MessageEdited:
    message = find_message(batch, command.message_id, command.editor_id)
    revision = message.edit(command.editor_id, command.text, command.edited_at, cause,
                            command.max_edits)
    return MessageEdited(message.id, message.conversation_id, message.seq, revision)


def unsend_message(batch: Batch, command: UnsendMessage, cause: Cause) -> MessageWithdrawn:
    message = find_message(batch, command.message_id, command.actor_id)
    message.unsend(command.actor_id, command.unsent_at, cause)
    return MessageWithdrawn(message.id, message.conversation_id, message.seq)


def react(batch: Batch, command: React, cause: Cause) -> ReactionChanged:
    message = find_message(batch, command.message_id, command.user_id)
    message.react(command.user_id, command.emoji, cause)
    return ReactionChanged(message.id, message.conversation_id, message.seq, command.emoji,
                           reacted=True)


def unreact(batch: Batch, command: Unreact, cause: Cause) -> ReactionChanged:
    message = find_message(batch, command.message_id, command.user_id)
    message.unreact(command.user_id, command.emoji, cause)
    return ReactionChanged(message.id, message.conversation_id, message.seq, command.emoji,
                           reacted=False)


def hide_message(batch: Batch, command: HideMessage, cause: Cause) -> MessageHidden:
    message = find_message(batch, command.message_id, command.user_id)
    message.hide_for(command.user_id, cause)
    return MessageHidden(message.id, message.conversation_id, message.seq)


MESSAGE_HANDLERS: dict[type, Handler] = {
    EditMessage: edit_message,
    UnsendMessage: unsend_message,
    React: react,
    Unreact: unreact,
    HideMessage: hide_message,
}
