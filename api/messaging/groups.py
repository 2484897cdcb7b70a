"""Group conversations: creation, title and photo, members and roles."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from api.http.dependencies import Commands, ConsistencyPosition, Gate, UserId, wait_for
from api.http.display_names import display_name_field
from api.http.problems import COMMAND_PROBLEMS, QUERY_PROBLEMS, Problem, problem_responses
from api.messaging.answers import reply
from api.messaging.dependencies import Invitations, Limits, MessagingLimits
from commands.messaging.groups import (
    AddMembers,
    AnswerInvitation,
    ChangeGroup,
    ChangeRole,
    CreateGroup,
    LeaveGroup,
    RemoveMember,
    TransferOwnership,
)
from domain.messaging.conversations import TITLE
from projections.messaging.invitations import InvitationsProjector

router = APIRouter(prefix="/v1/groups", tags=["groups"])
GROUP_ERRORS = problem_responses(*COMMAND_PROBLEMS, described={
    403: "only the group's owner and admins may do this",
    404: "no such conversation",
})
GROUP_EXAMPLE: dict[str, Any] = {
    "conversation_id": "82fa4e3d-4c47-4bbd-b2ec-79c134d82cad", "kind": "group",
    "title": "Book club", "owner_id": "6f015539-d6dd-56d1-8b06-085951fe835a",
    "admin_ids": ["a43240e6-dc52-5a92-a031-6851e4c908ef"],
    "member_ids": ["6f015539-d6dd-56d1-8b06-085951fe835a", "a43240e6-dc52-5a92-a031-6851e4c908ef",
                   "f989ebef-2c69-500b-9a30-b69671e7fe5e"],
    "photo_ref": "blobs/2c9e41", "invited_ids": ["0b7d1c52-9e3f-5a48-b6c1-2d8e4f7a9c30"],
    "position": 877,
}
INVITATIONS = [InvitationsProjector.name]
NOT_INVITED = "no such conversation, or no pending invitation of the caller to it"
TOO_MANY_INVITATIONS = ("someone invited already has as many pending group invitations as "
                        "they may (PARLEY_MAX_PENDING_GROUP_INVITATIONS), or the "
                        "Idempotency-Key was used for a different request")


class CreateGroupRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"title": "Book club", "member_ids": ["a43240e6-dc52-5a92-a031-6851e4c908ef",
                                              "f989ebef-2c69-500b-9a30-b69671e7fe5e"]}]})

    title: Annotated[str, display_name_field(TITLE, "Book club")]
    member_ids: Annotated[list[uuid.UUID], Field(max_length=1000)] = []


class ChangeGroupRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"minProperties": 1, "examples": [
        {"title": "Book club (2027)"}, {"photo_ref": "blobs/2c9e41"}]})

    title: Annotated[str | None, display_name_field(TITLE)] = None
    photo_ref: Annotated[str | None, Field(max_length=256)] = None


class AddMembersRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"user_ids": ["f989ebef-2c69-500b-9a30-b69671e7fe5e"]}]})

    user_ids: Annotated[list[uuid.UUID], Field(min_length=1, max_length=1000)]


class RoleRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"role": "admin"}]})

    role: Literal["admin", "member"]


class OwnerRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"user_id": "a43240e6-dc52-5a92-a031-6851e4c908ef"}]})

    user_id: uuid.UUID


class GroupView(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [GROUP_EXAMPLE]})

    conversation_id: uuid.UUID
    kind: str
    title: str
    owner_id: uuid.UUID
    admin_ids: list[uuid.UUID]
    member_ids: list[uuid.UUID]
    photo_ref: str
    invited_ids: list[uuid.UUID] = Field(
        default=[], description="People invited by this request (not the adder's contacts): "
                                "they join when they accept")
    position: int


class Invitation(BaseModel):
    conversation_id: uuid.UUID
    title: str
    inviter_id: uuid.UUID
    invited_at: datetime


class InvitationList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"invitations": [
        {"conversation_id": "82fa4e3d-4c47-4bbd-b2ec-79c134d82cad", "title": "Book club",
         "inviter_id": "6f015539-d6dd-56d1-8b06-085951fe835a",
         "invited_at": "2026-11-26T09:30:12.481Z"}]}]})

    invitations: list[Invitation]


class InvitationAnswered(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"conversation_id": "82fa4e3d-4c47-4bbd-b2ec-79c134d82cad", "accepted": True,
         "position": 912}]})

    conversation_id: uuid.UUID
    accepted: bool
    position: int


class Left(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"conversation_id": "82fa4e3d-4c47-4bbd-b2ec-79c134d82cad", "left": True,
         "position": 903}]})

    conversation_id: uuid.UUID
    left: bool
    position: int


@router.post("", status_code=201, response_model=GroupView, summary="Create a group",
             responses=problem_responses(*COMMAND_PROBLEMS, described={
                 403: "one of the people invited blocked the caller, or the other way round",
                 404: "no such user", 409: TOO_MANY_INVITATIONS}))
async def create_group(body: CreateGroupRequest, commands: Commands,
                       limits: Limits) -> GroupView:
    """Create a group; the caller owns it. The caller's contacts join at once; anyone else is
    invited (`invited_ids`) and joins on accepting."""
    command = CreateGroup(uuid.uuid4(), commands.caller, body.title, tuple(body.member_ids),
                          limits.group_member_limit, limits.max_pending_group_invitations,
                          datetime.now(UTC))
    outcome = await commands.run(command, body)
    return reply(commands.response, outcome, GroupView)


@router.patch("/{group_id}", response_model=GroupView, summary="Rename or re-photo a group",
              responses=GROUP_ERRORS)
async def change_group(group_id: uuid.UUID, body: ChangeGroupRequest,
                       commands: Commands) -> GroupView:
    """Rename the group and/or change its photo (owner and admins)."""
    if body.title is None and body.photo_ref is None:
        raise Problem(422, "Invalid request", "send a title, a photo_ref, or both")
    outcome = await commands.run(
        ChangeGroup(group_id, commands.caller, body.title, body.photo_ref), body)
    return reply(commands.response, outcome, GroupView)


@router.post("/{group_id}/members", response_model=GroupView, summary="Add members",
             responses=GROUP_ERRORS | problem_responses(described={409: TOO_MANY_INVITATIONS}))
async def add_members(group_id: uuid.UUID, body: AddMembersRequest,
                      commands: Commands, limits: Limits) -> GroupView:
    """Add members (owner and admins); those already in are ignored. The adder's contacts join
    at once; anyone else is invited (`invited_ids`) and joins on accepting."""
    command = AddMembers(group_id, commands.caller, tuple(body.user_ids),
                         limits.group_member_limit, limits.max_pending_group_invitations,
                         datetime.now(UTC))
    outcome = await commands.run(command, body)
    return reply(commands.response, outcome, GroupView)


@router.delete("/{group_id}/members/{user_id}", response_model=GroupView,
               summary="Remove a member", responses=GROUP_ERRORS)
async def remove_member(group_id: uuid.UUID, user_id: uuid.UUID,
                        commands: Commands) -> GroupView:
    """Remove a member: admins remove members, the owner removes anyone but themselves."""
    outcome = await commands.submit(RemoveMember(group_id, commands.caller, user_id), None)
    return reply(commands.response, outcome, GroupView)


@router.post("/{group_id}/leave", response_model=Left, summary="Leave a group",
             responses=problem_responses(401, 409, 422, 503, described={
                 403: "transfer ownership before leaving the group",
                 404: "no such conversation"}))
async def leave_group(group_id: uuid.UUID, commands: Commands) -> Left:
    """Leave the group (an owner with other members transfers ownership first)."""
    outcome = await commands.submit(LeaveGroup(group_id, commands.caller), None)
    return reply(commands.response, outcome, Left)


@router.put("/{group_id}/members/{user_id}/role", response_model=GroupView,
            summary="Change a member's role", responses=GROUP_ERRORS)
async def change_role(group_id: uuid.UUID, user_id: uuid.UUID, body: RoleRequest,
                      commands: Commands) -> GroupView:
    """Make a member an admin, or an admin a member (owner only)."""
    outcome = await commands.run(ChangeRole(group_id, commands.caller, user_id, body.role), body)
    return reply(commands.response, outcome, GroupView)


@router.post("/{group_id}/owner", response_model=GroupView, summary="Transfer ownership",
             responses=GROUP_ERRORS)
async def transfer_ownership(group_id: uuid.UUID, body: OwnerRequest,
                             commands: Commands) -> GroupView:
    """Hand the group to another member; the previous owner becomes an admin."""
    outcome = await commands.run(TransferOwnership(group_id, commands.caller, body.user_id), body)
    return reply(commands.response, outcome, GroupView)


@router.get("/invitations", response_model=InvitationList,
            summary="The caller's pending group invitations",
            responses=problem_responses(*QUERY_PROBLEMS))
def invitations(gate: Gate, queries: Invitations, caller: UserId,
                position: ConsistencyPosition = None) -> InvitationList:
    """Groups the caller was invited to by people who are not their contacts, newest first:
    only each group's title and who invited them, nothing of its content before accepting."""
    wait_for(gate, position, INVITATIONS)
    pending = queries.pending_for(str(caller))
    return InvitationList(invitations=[Invitation(**d) for d in pending])


async def _answer(group_id: uuid.UUID, commands: Commands, limits: MessagingLimits,
                  accept: bool) -> InvitationAnswered:
    command = AnswerInvitation(group_id, commands.caller, accept,
                               limits.group_member_limit, datetime.now(UTC))
    outcome = await commands.submit(command, None)
    return reply(commands.response, outcome, InvitationAnswered)


@router.post("/{group_id}/invitations/accept", response_model=InvitationAnswered,
             summary="Accept a group invitation",
             responses=problem_responses(*COMMAND_PROBLEMS, described={404: NOT_INVITED}))
async def accept_invitation(group_id: uuid.UUID, commands: Commands,
                            limits: Limits) -> InvitationAnswered:
    """Join the group one was invited to; one sees what is sent from now on."""
    return await _answer(group_id, commands, limits, accept=True)


@router.post("/{group_id}/invitations/decline", response_model=InvitationAnswered,
             summary="Decline a group invitation",
             responses=problem_responses(*COMMAND_PROBLEMS, described={404: NOT_INVITED}))
async def decline_invitation(group_id: uuid.UUID, commands: Commands,
                             limits: Limits) -> InvitationAnswered:
    """Decline an invitation: it is gone, and the group learns nothing else."""
    return await _answer(group_id, commands, limits, accept=False)
