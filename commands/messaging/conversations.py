"""Commands about conversations and the messages in them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from commands.identity.contacts import assert_not_blocked
from commands.messaging.attachments import attach_attachments, require_own_attachments
from commands.messaging.messages import find_message
from domain.identity.errors import UserNotFound
from domain.identity.users import User
from domain.messaging.conversations import (
    DIRECT,
    Conversation,
    direct_conversation_id,
    legacy_direct_conversation_id,
)
from domain.messaging.errors import ConversationNotFound, MessageNotFound, MessageUnsent
from domain.messaging.messages import Message
from event_log.aggregate import Cause
from event_log.batch import Batch


@dataclass(frozen=True)
class OpenDirectConversation:
    """`id_key` keys the pair's conversation id (the composition root's server secret)."""

    opener_id: UUID
    peer_id: UUID
    id_key: bytes = field(repr=False)


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


@dataclass(frozen=True)
class DirectConversationOpened:
    """The pair's conversation; `new`: this command opened it (else it already existed)."""

    conversation_id: UUID
    kind: str
    title: str
    member_ids: tuple[UUID, ...]
    new: bool


@dataclass(frozen=True)
class MessageAccepted:
    message_id: UUID
    conversation_id: UUID
    seq: int
    sent_at: datetime


def _opened(conversation: Conversation, new: bool) -> DirectConversationOpened:
    return DirectConversationOpened(conversation.id, conversation.kind, conversation.title,
                                    conversation.member_ids, new)


def find_conversation(batch: Batch, conversation_id: UUID, member_id: UUID) -> Conversation:
    """The conversation, if `member_id` belongs to it; otherwise it does not exist for them.

    Every command inside a conversation starts here, before any other check (blocks, quoted
    messages, attachments, roles...): for a non-member, whatever else is wrong with the
    request, the answer is the one for an id that does not exist.
    """
    conversation = batch.find(Conversation, conversation_id)
    if conversation is None or not conversation.is_member(member_id):
        raise ConversationNotFound("conversation_id", "no such conversation")
    return conversation


def open_direct_conversation(
    batch: Batch, command: OpenDirectConversation, cause: Cause
) -> DirectConversationOpened:
    # oneself is a known user, never blocked by oneself and never in a conversation with
    # oneself, so `Conversation.open_direct` is where talking to oneself is refused
    if batch.find(User, command.peer_id) is None:
        raise UserNotFound("peer_id", "no such user")
    assert_not_blocked(batch, command.opener_id, command.peer_id)
    existing = _direct_conversation_of(batch, command.opener_id, command.peer_id,
                                       command.id_key)
    if existing is not None:
        return _opened(existing, new=False)
    conversation = Conversation.open_direct(command.opener_id, command.peer_id,
                                            command.id_key, cause)
    batch.add(conversation)
    return _opened(conversation, new=True)


def _direct_conversation_of(batch: Batch, first: UUID, second: UUID,
                            id_key: bytes) -> Conversation | None:
    """The pair's conversation: one opened before ids were keyed keeps its unkeyed id."""
    for conversation_id in (legacy_direct_conversation_id(first, second),
                            direct_conversation_id(first, second, id_key)):
        found = batch.find(Conversation, conversation_id)
        if found is not None and found.kind == DIRECT:
            return found
    return None


def _require_forwardable(batch: Batch, forwarded_from: UUID, command: SendMessage) -> None:
    """The one home of forwarding's rule: only what the forwarder can see (inside their
    window), and not what its sender unsent. A forward copies only the text (attachments
    stay where their uploader shared them), so a message with no text is refused alike."""
    original = find_message(batch, forwarded_from, command.sender_id, "forwarded_from")
    if original.unsent or not command.text:
        raise MessageUnsent("forwarded_from", "the message was unsent")


def send_message(batch: Batch, command: SendMessage, cause: Cause) -> MessageAccepted:
    # a forward is judged by the message it copies first (itself looked up membership-first),
    # then by the conversation it goes to: an unsent message is a 409 whatever the target
    if command.forwarded_from is not None:
        _require_forwardable(batch, command.forwarded_from, command)
    conversation = find_conversation(batch, command.conversation_id, command.sender_id)
    if conversation.kind == DIRECT:
        for member_id in conversation.member_ids:
            if member_id != command.sender_id:
                assert_not_blocked(batch, command.sender_id, member_id)
    if command.reply_to is not None:
        quoted = find_message(batch, command.reply_to, command.sender_id, "reply_to")
        if quoted.conversation_id != conversation.id:
            raise MessageNotFound("reply_to", "no such message in this conversation")
    attachments = require_own_attachments(batch, command.sender_id, command.attachment_ids)
    seq = conversation.send_message(
        command.message_id, command.sender_id, command.text, command.sent_at, cause,
        reply_to=command.reply_to, forwarded_from=command.forwarded_from,
        attachments=tuple(attachments),
    )
    attach_attachments(batch, command.sender_id, command.attachment_ids, conversation.id,
                       command.message_id, cause)
    batch.add(Message.post(command.message_id, conversation.id, command.sender_id, seq, cause))
    return MessageAccepted(command.message_id, conversation.id, seq, command.sent_at)
