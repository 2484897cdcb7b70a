"""Commands that manage group conversations and each member's own settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from commands.batch import Batch
from commands.contacts import assert_not_blocked
from commands.conversations import conversation_body, find_conversation
from commands.outcomes import Handler, Outcome
from domain.conversations import Conversation
from domain.errors import UserNotFound
from domain.events import Cause
from domain.users import User


@dataclass(frozen=True)
class CreateGroup:
    conversation_id: UUID
    owner_id: UUID
    title: str
    member_ids: tuple[UUID, ...]
    member_limit: int


@dataclass(frozen=True)
class ChangeGroup:
    """Rename the group, change its photo, or both at once (all or nothing)."""

    conversation_id: UUID
    actor_id: UUID
    title: str | None = None
    photo_ref: str | None = None


@dataclass(frozen=True)
class AddMembers:
    conversation_id: UUID
    actor_id: UUID
    user_ids: tuple[UUID, ...]
    member_limit: int


@dataclass(frozen=True)
class RemoveMember:
    conversation_id: UUID
    actor_id: UUID
    user_id: UUID


@dataclass(frozen=True)
class LeaveGroup:
    conversation_id: UUID
    user_id: UUID


@dataclass(frozen=True)
class ChangeRole:
    conversation_id: UUID
    actor_id: UUID
    user_id: UUID
    role: str


@dataclass(frozen=True)
class TransferOwnership:
    conversation_id: UUID
    actor_id: UUID
    new_owner_id: UUID


@dataclass(frozen=True)
class ChangeMemberSettings:
    conversation_id: UUID
    user_id: UUID
    muted_until: datetime | None
    archived: bool
    pinned: bool


def _require_users(batch: Batch, actor_id: UUID, user_ids: tuple[UUID, ...]) -> None:
    """Everyone added exists, and nobody is added by someone they blocked (or who blocked them)."""
    for user_id in user_ids:
        if batch.find(User, user_id) is None:
            raise UserNotFound("member_ids", f"no such user: {user_id}")
        if user_id != actor_id:
            assert_not_blocked(batch, actor_id, user_id)


def _group_outcome(conversation: Conversation, status: int = 200) -> Outcome:
    return Outcome(status, conversation_body(conversation) | {
        "owner_id": str(conversation.owner_id),
        "admin_ids": [str(a) for a in conversation.admin_ids],
        "photo_ref": conversation.photo_ref,
    })


def create_group(batch: Batch, command: CreateGroup, cause: Cause) -> Outcome:
    _require_users(batch, command.owner_id, command.member_ids)
    group = Conversation.create_group(command.conversation_id, command.owner_id, command.title,
                                      command.member_ids, command.member_limit, cause)
    batch.add(group)
    return _group_outcome(group, 201)


def change_group(batch: Batch, command: ChangeGroup, cause: Cause) -> Outcome:
    group = find_conversation(batch, command.conversation_id, command.actor_id)
    if command.title is not None:
        group.rename(command.actor_id, command.title, cause)
    if command.photo_ref is not None:
        group.change_photo(command.actor_id, command.photo_ref, cause)
    return _group_outcome(group)


def add_members(batch: Batch, command: AddMembers, cause: Cause) -> Outcome:
    group = find_conversation(batch, command.conversation_id, command.actor_id)
    _require_users(batch, command.actor_id, command.user_ids)
    group.add_members(command.actor_id, command.user_ids, command.member_limit, cause)
    return _group_outcome(group)


def remove_member(batch: Batch, command: RemoveMember, cause: Cause) -> Outcome:
    group = find_conversation(batch, command.conversation_id, command.actor_id)
    group.remove_member(command.actor_id, command.user_id, cause)
    return _group_outcome(group)


def leave_group(batch: Batch, command: LeaveGroup, cause: Cause) -> Outcome:
    group = find_conversation(batch, command.conversation_id, command.user_id)
    group.leave(command.user_id, cause)
    return Outcome(200, {"conversation_id": str(group.id), "left": True})


def change_role(batch: Batch, command: ChangeRole, cause: Cause) -> Outcome:
    group = find_conversation(batch, command.conversation_id, command.actor_id)
    group.set_role(command.actor_id, command.user_id, command.role, cause)
    return _group_outcome(group)


def transfer_ownership(batch: Batch, command: TransferOwnership, cause: Cause) -> Outcome:
    group = find_conversation(batch, command.conversation_id, command.actor_id)
    group.transfer_ownership(command.actor_id, command.new_owner_id, cause)
    return _group_outcome(group)


def change_member_settings(batch: Batch, command: ChangeMemberSettings, cause: Cause) -> Outcome:
    conversation = find_conversation(batch, command.conversation_id, command.user_id)
    conversation.change_member_settings(command.user_id, command.muted_until, command.archived,
                                        command.pinned, cause)
    return Outcome(200, {
        "conversation_id": str(conversation.id),
        "muted_until": command.muted_until.isoformat() if command.muted_until else None,
        "archived": command.archived, "pinned": command.pinned,
    })


GROUP_HANDLERS: dict[type, Handler] = {
    CreateGroup: create_group,
    ChangeGroup: change_group,
    AddMembers: add_members,
    RemoveMember: remove_member,
    LeaveGroup: leave_group,
    ChangeRole: change_role,
    TransferOwnership: transfer_ownership,
    ChangeMemberSettings: change_member_settings,
}
