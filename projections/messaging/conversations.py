"""Read models of conversations, memberships and messages: pure mappings from events."""

from __future__ import annotations

from functools import singledispatchmethod
from typing import Any
from uuid import UUID

from domain.messaging.conversations import ADMIN, DIRECT, MEMBER, OWNER, Conversation
from domain.messaging.messages import Message
from domain.messaging.read_markers import ReadMarker
from projections.read_model.documents import Upsert

CONVERSATIONS = "conversations"
MEMBERSHIPS = "memberships"
MESSAGES = "messages"
PREVIEW_LENGTH = 120


def membership_id(conversation_id: str, user_id: str) -> str:
    return f"{conversation_id}:{user_id}"


def _text_or_none(value: UUID | None) -> str | None:
    return str(value) if value is not None else None


def _message_patch(event: Any, position: int, fields: dict[str, Any]) -> Upsert:
    """A change to a message; it names the conversation so the cache of its latest page can go."""
    return Upsert(MESSAGES, str(event.originator_id), position,
                  {"conversation_id": str(event.conversation_id), **fields})


def _preview_of_last(event: Any, position: int, preview: str | None) -> Upsert:
    """An edit or unsend of the conversation's last message changes its preview (an unsent
    message's text leaves the read models); of any other message, nothing there."""
    return Upsert(CONVERSATIONS, str(event.conversation_id), position,
                  {"last_message_preview": preview},
                  only_if=("last_message_id", str(event.originator_id)))


def _reaction(event: Any, position: int, on: bool) -> dict[str, Any]:
    """A reaction keeps its history, `{emoji: {user: {position: on}}}`, so a former member
    is shown the reactions as they stood when they left (`reactions_as_of`)."""
    return {"reactions": {event.emoji: {str(event.user_id): {str(position): on}}}}


def _membership(event: Any, position: int, user_id: UUID, **fields: Any) -> Upsert:
    conversation_id = str(event.originator_id)
    return Upsert(MEMBERSHIPS, membership_id(conversation_id, str(user_id)), position,
                  {"conversation_id": conversation_id, "user_id": str(user_id), **fields})


class MessagingProjector:
    """Maps conversation and message events to documents."""

    name = "messaging"
    context = "messaging"
    collections = (CONVERSATIONS, MEMBERSHIPS, MESSAGES)

    @singledispatchmethod
    def changes(self, event: Any, position: int) -> list[Upsert]:
        return []

    def _opened(self, event: Any, position: int, title: str, owner: UUID | None) -> list[Upsert]:
        conversation_id = str(event.originator_id)
        summary = {
            "conversation_id": conversation_id, "kind": event.kind, "title": title,
            "owner_id": str(owner) if owner else None, "photo_ref": "",
            "created_at": event.timestamp.isoformat(),
            "last_activity_at": event.timestamp.isoformat(), "last_seq": 0,
            "position": position,
        }
        if event.kind == DIRECT:
            summary["member_ids"] = [str(m) for m in event.member_ids]
        joined = {"joined_seq": 0, "left_seq": None, "active": True,
                  "joined_position": position, "left_position": None}
        return [Upsert(CONVERSATIONS, conversation_id, position, summary)] + [
            _membership(event, position, m, role=OWNER if m == owner else MEMBER, **joined)
            for m in event.member_ids
        ]

    @changes.register
    def _direct_opened(self, event: Conversation.Opened, position: int) -> list[Upsert]:
        return self._opened(event, position, "", None)

    @changes.register
    def _group_created(self, event: Conversation.GroupCreated, position: int) -> list[Upsert]:
        return self._opened(event, position, event.title, event.owner_id)

    @changes.register
    def _message_sent(self, event: Conversation.MessageSent, position: int) -> list[Upsert]:
        conversation_id = str(event.originator_id)
        return [
            Upsert(MESSAGES, str(event.message_id), position, {
                "message_id": str(event.message_id), "conversation_id": conversation_id,
                "sender_id": str(event.sender_id), "seq": event.seq, "text": event.text,
                "sent_at": event.sent_at.isoformat(), "revision": 1, "position": position,
                "sent_at_ms": int(event.sent_at.timestamp() * 1000),
                "revisions": {"1": {"text": event.text, "at": event.sent_at.isoformat(),
                                    "position": position}},
                "reply_to": _text_or_none(event.reply_to),
                "forwarded_from": _text_or_none(event.forwarded_from),
                "mention_ids": [str(m) for m in event.mention_ids],
                "attachments": [dict(a) for a in event.attachments],
                "attachment_ids": [str(a["attachment_id"]) for a in event.attachments],
                "has_attachments": bool(event.attachments),
            }),
            Upsert(CONVERSATIONS, conversation_id, position, {
                "last_activity_at": event.sent_at.isoformat(), "last_seq": event.seq,
                "last_message_preview": event.text[:PREVIEW_LENGTH], "position": position,
                "last_sender_id": str(event.sender_id), "last_message_id": str(event.message_id),
            }),
            _membership(event, position, event.sender_id, last_sent_seq=event.seq),
        ]

    @changes.register
    def _renamed(self, event: Conversation.Renamed, position: int) -> list[Upsert]:
        return [Upsert(CONVERSATIONS, str(event.originator_id), position, {"title": event.title})]

    @changes.register
    def _photo(self, event: Conversation.PhotoChanged, position: int) -> list[Upsert]:
        return [Upsert(CONVERSATIONS, str(event.originator_id), position,
                       {"photo_ref": event.photo_ref})]

    @changes.register
    def _added(self, event: Conversation.MembersAdded, position: int) -> list[Upsert]:
        return [_membership(event, position, u, role=MEMBER, joined_seq=event.at_seq,
                            left_seq=None, active=True, joined_position=position,
                            left_position=None) for u in event.user_ids]

    @changes.register
    def _removed(self, event: Conversation.MemberRemoved, position: int) -> list[Upsert]:
        return [_membership(event, position, event.user_id, left_seq=event.at_seq, active=False,
                            left_by_choice=event.left_by_choice, left_position=position)]

    @changes.register
    def _role(self, event: Conversation.RoleChanged, position: int) -> list[Upsert]:
        return [_membership(event, position, event.user_id, role=event.role)]

    @changes.register
    def _transferred(self, event: Conversation.OwnershipTransferred,
                     position: int) -> list[Upsert]:
        return [
            Upsert(CONVERSATIONS, str(event.originator_id), position,
                   {"owner_id": str(event.new_owner_id)}),
            _membership(event, position, event.previous_owner_id, role=ADMIN),
            _membership(event, position, event.new_owner_id, role=OWNER),
        ]

    @changes.register
    def _settings(self, event: Conversation.MemberSettingsChanged,
                  position: int) -> list[Upsert]:
        muted = event.muted_until.isoformat() if event.muted_until else None
        return [_membership(event, position, event.user_id, muted_until=muted,
                            archived=event.archived, pinned=event.pinned)]

    @changes.register
    def _edited(self, event: Message.Edited, position: int) -> list[Upsert]:
        at = event.edited_at.isoformat()
        return [_message_patch(event, position, {
            "text": event.text, "edited_at": at, "revision": event.revision,
            "revisions": {str(event.revision): {"text": event.text, "at": at,
                                                "position": position}},
        }), _preview_of_last(event, position, event.text[:PREVIEW_LENGTH])]

    @changes.register
    def _unsent(self, event: Message.Unsent, position: int) -> list[Upsert]:
        return [_message_patch(event, position, {
            "unsent": True, "unsent_at": event.unsent_at.isoformat(), "text": None,
            "revisions": None, "reactions": None, "edited_at": None,
        }), _preview_of_last(event, position, None)]

    @changes.register
    def _reacted(self, event: Message.ReactionAdded, position: int) -> list[Upsert]:
        return [_message_patch(event, position, _reaction(event, position, True))]

    @changes.register
    def _unreacted(self, event: Message.ReactionRemoved, position: int) -> list[Upsert]:
        return [_message_patch(event, position, _reaction(event, position, False))]

    @changes.register
    def _hidden(self, event: Message.HiddenForMember, position: int) -> list[Upsert]:
        return [_message_patch(event, position, {"hidden_for": {str(event.user_id): True}})]

    @changes.register
    def _read(self, event: ReadMarker.ReadUpTo, position: int) -> list[Upsert]:
        return [Upsert(MEMBERSHIPS, membership_id(str(event.conversation_id), str(event.user_id)),
                       position, {"read_seq": event.seq})]

    @changes.register
    def _delivered(self, event: ReadMarker.DeliveredUpTo, position: int) -> list[Upsert]:
        return [Upsert(MEMBERSHIPS, membership_id(str(event.conversation_id), str(event.user_id)),
                       position, {"delivered": {str(event.device_id): event.seq}})]
