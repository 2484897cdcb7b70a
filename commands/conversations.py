"""Commands about conversations and the messages in them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from commands.attachments import require_own_attachments
from commands.batch import Batch
from commands.contacts import assert_not_blocked
from commands.outcomes import Outcome
from domain.conversations import DIRECT, Conversation, direct_conversation_id
from domain.errors import (
    CannotTalkToSelf,
    ConversationNotFound,
    MessageNotFound,
    MessageUnsent,
    UserNotFound,
)
from domain.events import Cause
from domain.messages import Message
from domain.users import User


@dataclass(frozen=True)
class OpenDirectConversation:
    opener_id: UUID
    peer_id: UUID


@dataclass(frozen=True)
class SendMessage:
    conversation_id: UUID
    sender_id: UUID
    message_id: UUID
    text: str
    sent_at: datetime
    reply_to: UUID | None = None
    forwarded_from: UUID | None = None
    attachment_ids: tuple[UUID, ...] = ()


def conversation_body(conversation: Conversation) -> dict[str, object]:
    return {
        "conversation_id": str(conversation.id),
        "kind": conversation.kind,
        "title": conversation.title,
        "member_ids": [str(m) for m in conversation.member_ids],
    }


def find_conversation(batch: Batch, conversation_id: UUID, member_id: UUID) -> Conversation:
    """The conversation, if `member_id` belongs to it; otherwise it does not exist for them."""
    conversation = batch.find(Conversation, conversation_id)
    if conversation is None or not conversation.is_member(member_id):
        raise ConversationNotFound("conversation_id", "no such conversation")
    return conversation


def open_direct_conversation(
    batch: Batch, command: OpenDirectConversation, cause: Cause
) -> Outcome:
    if command.opener_id == command.peer_id:
        raise CannotTalkToSelf("peer_id", "a direct conversation needs two different people")
    if batch.find(User, command.peer_id) is None:
        raise UserNotFound("peer_id", "no such user")
    assert_not_blocked(batch, command.opener_id, command.peer_id)
    existing = batch.find(
        Conversation, direct_conversation_id(command.opener_id, command.peer_id)
    )
    if existing is not None:
        return Outcome(200, conversation_body(existing))
    conversation = Conversation.open_direct(command.opener_id, command.peer_id, cause)
    batch.add(conversation)
    return Outcome(201, conversation_body(conversation))


def _require_forwardable(batch: Batch, message_id: UUID, forwarder_id: UUID) -> None:
    """Only what the forwarder can still see, and not what its sender unsent."""
    original = batch.find(Message, message_id)
    source = batch.find(Conversation, original.conversation_id) if original else None
    if original is None or source is None or not source.is_member(forwarder_id):
        raise MessageNotFound("forwarded_from", "no such message")
    if original.unsent:
        raise MessageUnsent("forwarded_from", "the message was unsent")


def send_message(batch: Batch, command: SendMessage, cause: Cause) -> Outcome:
    conversation = batch.find(Conversation, command.conversation_id)
    if conversation is None:
        raise ConversationNotFound("conversation_id", "no such conversation")
    if conversation.kind == DIRECT:
        for member_id in conversation.member_ids:
            if member_id != command.sender_id:
                assert_not_blocked(batch, command.sender_id, member_id)
    if command.reply_to is not None:
        quoted = batch.find(Message, command.reply_to)
        if quoted is None or quoted.conversation_id != conversation.id:
            raise MessageNotFound("reply_to", "no such message in this conversation")
    if command.forwarded_from is not None:
        _require_forwardable(batch, command.forwarded_from, command.sender_id)
    attachments = require_own_attachments(batch, command.sender_id, command.attachment_ids)
    seq = conversation.send_message(
        command.message_id, command.sender_id, command.text, command.sent_at, cause,
        reply_to=command.reply_to, forwarded_from=command.forwarded_from,
        attachments=tuple(attachments),
    )
    batch.add(Message.post(command.message_id, conversation.id, command.sender_id, seq, cause))
    return Outcome(
        201,
        {
            "message_id": str(command.message_id),
            "conversation_id": str(conversation.id),
            "seq": seq,
            "sent_at": command.sent_at.isoformat(),
        },
    )
