"""How messaging's command results are answered over HTTP: one status and body per result."""

from __future__ import annotations

from typing import Any

from api.http.answers import Answer, Answers
from commands.messaging.attachments import AttachmentRecorded
from commands.messaging.conversations import DirectConversationOpened, MessageAccepted
from commands.messaging.groups import (
    GroupChanged,
    GroupLeft,
    InvitationResolved,
    MemberSettingsSet,
)
from commands.messaging.messages import (
    MessageEdited,
    MessageHidden,
    MessageWithdrawn,
    ReactionChanged,
)
from commands.messaging.read_markers import DeliveryMarked, ReadMarked


def _opened(result: DirectConversationOpened) -> Answer:
    return Answer(201 if result.new else 200, {
        "conversation_id": str(result.conversation_id), "kind": result.kind,
        "title": result.title, "member_ids": [str(m) for m in result.member_ids]})


def _sent(result: MessageAccepted) -> Answer:
    return Answer(201, {"message_id": str(result.message_id),
                        "conversation_id": str(result.conversation_id), "seq": result.seq,
                        "sent_at": result.sent_at.isoformat()})


def _message(result: MessageEdited | MessageWithdrawn | ReactionChanged | MessageHidden,
             **change: Any) -> Answer:
    return Answer(200, {"message_id": str(result.message_id),
                        "conversation_id": str(result.conversation_id), "seq": result.seq,
                        **change})


def _edited(result: MessageEdited) -> Answer:
    return _message(result, revision=result.revision)


def _withdrawn(result: MessageWithdrawn) -> Answer:
    return _message(result, unsent=True)


def _reaction(result: ReactionChanged) -> Answer:
    return _message(result, emoji=result.emoji, reacted=result.reacted)


def _hidden(result: MessageHidden) -> Answer:
    return _message(result, hidden=True)


def _read(result: ReadMarked) -> Answer:
    return Answer(200, {"conversation_id": str(result.conversation_id),
                        "read_seq": result.read_seq})


def _delivered(result: DeliveryMarked) -> Answer:
    return Answer(200, {"conversation_id": str(result.conversation_id),
                        "device_id": str(result.device_id),
                        "delivered_seq": result.delivered_seq})


def _group(result: GroupChanged) -> Answer:
    return Answer(201 if result.new else 200, {
        "conversation_id": str(result.conversation_id), "kind": result.kind,
        "title": result.title, "member_ids": [str(m) for m in result.member_ids],
        "owner_id": str(result.owner_id), "admin_ids": [str(a) for a in result.admin_ids],
        "photo_ref": result.photo_ref, "invited_ids": [str(i) for i in result.invited_ids]})


def _invitation(result: InvitationResolved) -> Answer:
    return Answer(200, {"conversation_id": str(result.conversation_id),
                        "accepted": result.accepted})


def _left(result: GroupLeft) -> Answer:
    return Answer(200, {"conversation_id": str(result.conversation_id), "left": True})


def _settings(result: MemberSettingsSet) -> Answer:
    muted_until = result.muted_until.isoformat() if result.muted_until else None
    return Answer(200, {"conversation_id": str(result.conversation_id),
                        "muted_until": muted_until, "archived": result.archived,
                        "pinned": result.pinned})


def _uploaded(result: AttachmentRecorded) -> Answer:
    return Answer(201, {"attachment_id": str(result.attachment_id),
                        "content_type": result.content_type, "size": result.size,
                        "sha256": result.sha256})


MESSAGING_ANSWERS = Answers({
    DirectConversationOpened: _opened,
    MessageAccepted: _sent,
    MessageEdited: _edited,
    MessageWithdrawn: _withdrawn,
    ReactionChanged: _reaction,
    MessageHidden: _hidden,
    ReadMarked: _read,
    DeliveryMarked: _delivered,
    GroupChanged: _group,
    InvitationResolved: _invitation,
    GroupLeft: _left,
    MemberSettingsSet: _settings,
    AttachmentRecorded: _uploaded,
})
reply = MESSAGING_ANSWERS.reply
