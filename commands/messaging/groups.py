"""Commands that manage group conversations and each member's own settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from uuid import UUID

from commands.identity.contacts import are_contacts, assert_not_blocked
from commands.messaging.conversations import find_conversation
from domain.identity.errors import UserNotFound
from domain.identity.users import User
from domain.messaging.conversations import Conversation
from domain.messaging.errors import ConversationNotFound
from domain.messaging.invitations import (
    DEFAULT_MAX_PENDING_INVITATIONS,
    GroupInvitations,
    invitations_id,
)
from event_log.aggregate import Cause
from event_log.batch import Batch
from event_log.outcomes import Handler


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class CreateGroup:
    conversation_id: UUID
    owner_id: UUID
    title: str
    member_ids: tuple[UUID, ...]
    member_limit: int
    max_pending_invitations: int = DEFAULT_MAX_PENDING_INVITATIONS
    at: datetime = field(default_factory=_now)


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
    max_pending_invitations: int = DEFAULT_MAX_PENDING_INVITATIONS
    at: datetime = field(default_factory=_now)


@dataclass(frozen=True)
class AnswerInvitation:
    """The invitee accepts (joins) or declines a pending invitation to a group."""

    conversation_id: UUID
    invitee_id: UUID
    accept: bool
    member_limit: int
    at: datetime


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


@dataclass(frozen=True)
class GroupChanged:
    """The group as it stands after the command; `invited_ids`: who it invited (people who
    are not the adder's contacts); `new`: the command created the group."""

    conversation_id: UUID
    kind: str
    title: str
    member_ids: tuple[UUID, ...]
    owner_id: UUID | None
    admin_ids: tuple[UUID, ...]
    photo_ref: str
    invited_ids: tuple[UUID, ...] = ()
    new: bool = False


@dataclass(frozen=True)
class InvitationResolved:
    """The invitee joined the group (`accepted`) or declined."""

    conversation_id: UUID
    accepted: bool


@dataclass(frozen=True)
class GroupLeft:
    conversation_id: UUID


@dataclass(frozen=True)
class MemberSettingsSet:
    """The member's own settings for the conversation, as they stand now."""

    conversation_id: UUID
    muted_until: datetime | None
    archived: bool
    pinned: bool


def _group_now(conversation: Conversation, invited: tuple[UUID, ...] = (),
               new: bool = False) -> GroupChanged:
    return GroupChanged(conversation.id, conversation.kind, conversation.title,
                        conversation.member_ids, conversation.owner_id, conversation.admin_ids,
                        conversation.photo_ref, invited, new)


def _contacts_first(batch: Batch, adder_id: UUID,
                    user_ids: tuple[UUID, ...]) -> tuple[tuple[UUID, ...], tuple[UUID, ...]]:
    """(the adder's contacts, everyone else) among `user_ids`, without repeats or the adder."""
    people = tuple(dict.fromkeys(u for u in user_ids if u != adder_id))
    contacts = tuple(u for u in people if are_contacts(batch, adder_id, u))
    return contacts, tuple(u for u in people if u not in contacts)


def _invite(batch: Batch, group: Conversation, inviter_id: UUID, invitee_ids: tuple[UUID, ...],
            at: datetime, max_pending: int, cause: Cause) -> tuple[UUID, ...]:
    """Invite people who are not the inviter's contacts; returns who was invited now."""
    invited: list[UUID] = []
    for invitee_id in invitee_ids:
        invitations = batch.find(GroupInvitations, invitations_id(invitee_id))
        if invitations is None:
            invitations = GroupInvitations.start(invitee_id, cause)
            batch.add(invitations)
        if invitations.receive(group.id, inviter_id, group.title, at, max_pending, cause):
            invited.append(invitee_id)
    return tuple(invited)


def create_group(batch: Batch, command: CreateGroup, cause: Cause) -> GroupChanged:
    """The owner's contacts join at once; anyone else is invited and joins on accepting."""
    _require_users(batch, command.owner_id, command.member_ids)
    contacts, others = _contacts_first(batch, command.owner_id, command.member_ids)
    group = Conversation.create_group(command.conversation_id, command.owner_id, command.title,
                                      contacts, command.member_limit, cause)
    batch.add(group)
    invited = _invite(batch, group, command.owner_id, others, command.at,
                      command.max_pending_invitations, cause)
    return _group_now(group, invited, new=True)


def change_group(batch: Batch, command: ChangeGroup, cause: Cause) -> GroupChanged:
    group = find_conversation(batch, command.conversation_id, command.actor_id)
    if command.title is not None:
        group.rename(command.actor_id, command.title, cause)
    if command.photo_ref is not None:
        group.change_photo(command.actor_id, command.photo_ref, cause)
    return _group_now(group)


def add_members(batch: Batch, command: AddMembers, cause: Cause) -> GroupChanged:
    """The adder's contacts join at once; anyone else is invited and joins on accepting."""
    group = find_conversation(batch, command.conversation_id, command.actor_id)
    group.require_manager(command.actor_id)
    _require_users(batch, command.actor_id, command.user_ids)
    newcomers = tuple(u for u in command.user_ids if not group.is_member(u))
    contacts, others = _contacts_first(batch, command.actor_id, newcomers)
    group.add_members(command.actor_id, contacts, command.member_limit, cause)
    invited = _invite(batch, group, command.actor_id, others, command.at,
                      command.max_pending_invitations, cause)
    return _group_now(group, invited)


def answer_invitation(batch: Batch, command: AnswerInvitation,
                      cause: Cause) -> InvitationResolved:
    """Only a pending invitee may answer; for anyone else the group does not exist."""
    invitations = batch.find(GroupInvitations, invitations_id(command.invitee_id))
    group = batch.find(Conversation, command.conversation_id)
    if invitations is None or group is None or not invitations.is_invited_to(group.id):
        raise ConversationNotFound("conversation_id", "no such conversation")
    if command.accept:
        group.admit(command.invitee_id, command.member_limit, cause)
        invitations.accept(group.id, command.at, cause)
    else:
        invitations.decline(group.id, command.at, cause)
    return InvitationResolved(group.id, command.accept)


def remove_member(batch: Batch, command: RemoveMember, cause: Cause) -> GroupChanged:
    group = find_conversation(batch, command.conversation_id, command.actor_id)
    group.remove_member(command.actor_id, command.user_id, cause)
    return _group_now(group)


def leave_group(batch: Batch, command: LeaveGroup, cause: Cause) -> GroupLeft:
    group = find_conversation(batch, command.conversation_id, command.user_id)
    group.leave(command.user_id, cause)
    return GroupLeft(group.id)


def change_role(batch: Batch, command: ChangeRole, cause: Cause) -> GroupChanged:
    group = find_conversation(batch, command.conversation_id, command.actor_id)
    group.set_role(command.actor_id, command.user_id, command.role, cause)
    return _group_now(group)


def transfer_ownership(batch: Batch, command: TransferOwnership,
                       cause: Cause) -> GroupChanged:
    group = find_conversation(batch, command.conversation_id, command.actor_id)
    group.transfer_ownership(command.actor_id, command.new_owner_id, cause)
    return _group_now(group)


def change_member_settings(batch: Batch, command: ChangeMemberSettings,
                           cause: Cause) -> MemberSettingsSet:
    conversation = find_conversation(batch, command.conversation_id, command.user_id)
    conversation.change_member_settings(command.user_id, command.muted_until, command.archived,
                                        command.pinned, cause)
    return MemberSettingsSet(conversation.id, command.muted_until, command.archived,
                             command.pinned)


GROUP_HANDLERS: dict[type, Handler] = {
    CreateGroup: create_group,
    ChangeGroup: change_group,
    AddMembers: add_members,
    AnswerInvitation: answer_invitation,
    RemoveMember: remove_member,
    LeaveGroup: leave_group,
    ChangeRole: change_role,
    TransferOwnership: transfer_ownership,
    ChangeMemberSettings: change_member_settings,
}
