"""Conversations: opening direct ones, listing them, their members and one's own settings."""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from api.http.dependencies import Commands, ConsistencyPosition, Gate, UserId, wait_for
from api.http.pagination import Cursor, Limit, decode_cursor, encode_cursor
from api.http.problems import COMMAND_PROBLEMS, QUERY_PROBLEMS, Problem, problem_responses
from api.messaging.answers import reply
from api.messaging.dependencies import DirectIdKey, Messaging
from commands.messaging.conversations import OpenDirectConversation
from commands.messaging.groups import ChangeMemberSettings

router = APIRouter(prefix="/v1/conversations", tags=["conversations"])
MESSAGING = ["messaging"]
MESSAGING_AND_BLOCKS = ["messaging", "contacts"]  # a block hides previews and unread counts


class DirectConversationRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"peer_id": "a43240e6-dc52-5a92-a031-6851e4c908ef"}]})

    peer_id: uuid.UUID


class ConversationOpened(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"conversation_id": "2364c6c6-43b8-42fb-a6c1-52c31e87dbdd", "kind": "direct",
         "member_ids": ["6f015539-d6dd-56d1-8b06-085951fe835a",
                        "a43240e6-dc52-5a92-a031-6851e4c908ef"], "position": 1077}]})

    conversation_id: uuid.UUID
    kind: str
    member_ids: list[uuid.UUID]
    position: int


class MySettings(BaseModel):
    role: str | None = None
    muted_until: datetime | None = None
    archived: bool = False
    pinned: bool = False


class ConversationView(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "conversation_id": "82fa4e3d-4c47-4bbd-b2ec-79c134d82cad", "kind": "group",
        "title": "Book club", "photo_ref": "blobs/2c9e41",
        "owner_id": "6f015539-d6dd-56d1-8b06-085951fe835a",
        "last_activity_at": "2026-11-26T09:30:12.481Z", "last_seq": 42,
        "last_message_preview": "Next book: @bob picks", "unread_count": 3,
        "my_settings": {"role": "member", "muted_until": "2026-11-27T08:00:00Z",
                        "archived": False, "pinned": True}}]})

    conversation_id: uuid.UUID
    kind: str
    title: str = ""
    photo_ref: str = ""
    owner_id: uuid.UUID | None = None
    member_ids: list[uuid.UUID] | None = None
    last_activity_at: datetime
    last_seq: int
    last_message_preview: str | None = None
    unread_count: int | None = None
    my_settings: MySettings


class ConversationPage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"conversations": [{
        "conversation_id": "2364c6c6-43b8-42fb-a6c1-52c31e87dbdd", "kind": "direct",
        "member_ids": ["6f015539-d6dd-56d1-8b06-085951fe835a",
                       "a43240e6-dc52-5a92-a031-6851e4c908ef"],
        "last_activity_at": "2026-11-26T09:41:00.120Z", "last_seq": 7,
        "last_message_preview": "Hello, Bob!", "unread_count": 0,
        "my_settings": {"role": "member", "muted_until": None, "archived": False,
                        "pinned": False}}],
        "next_cursor": "WzEyMDQsICIyMzY0YzZjNiJd"}]})

    conversations: list[ConversationView]
    next_cursor: str | None


class Member(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"user_id": "6f015539-d6dd-56d1-8b06-085951fe835a", "role": "owner"}]})

    user_id: uuid.UUID
    role: str


class SettingsRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"muted_until": "2026-11-27T08:00:00Z", "archived": False, "pinned": True}]})

    muted_until: datetime | None = None
    archived: bool = False
    pinned: bool = False


class SettingsChanged(MySettings):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"conversation_id": "82fa4e3d-4c47-4bbd-b2ec-79c134d82cad", "role": "member",
         "muted_until": "2026-11-27T08:00:00Z", "archived": False, "pinned": True,
         "position": 1290}]})

    conversation_id: uuid.UUID
    position: int


@router.post("/direct", status_code=201, response_model=ConversationOpened,
             summary="Open a direct conversation",
             responses=problem_responses(*COMMAND_PROBLEMS, described={
                 403: "one of you blocked the other", 404: "no such user"})
             | {200: {"model": ConversationOpened,
                      "description": "the pair already had this conversation"}})
async def open_direct(body: DirectConversationRequest, commands: Commands,
                      direct_id_key: DirectIdKey) -> ConversationOpened:
    """Open the direct conversation with a peer; the same pair always gets the same one."""
    outcome = await commands.run(OpenDirectConversation(commands.caller, body.peer_id,
                                                          direct_id_key), body)
    return reply(commands.response, outcome, ConversationOpened)


@router.get("", response_model=ConversationPage, summary="List the caller's conversations",
            responses=problem_responses(400, *QUERY_PROBLEMS))
def list_conversations(caller: UserId, gate: Gate, messaging: Messaging, limit: Limit = 50,
                       cursor: Cursor = None, position: ConsistencyPosition = None
                       ) -> ConversationPage:
    """The caller's conversations, most recently active first (from the cache)."""
    wait_for(gate, position, MESSAGING_AND_BLOCKS)
    after = decode_cursor(cursor)
    if after is not None and not (isinstance(after[0], int) and isinstance(after[1], str)):
        raise Problem(400, "Bad cursor", "the cursor is not one this API issued")
    page = messaging.conversations(str(caller), limit, after, token=position)
    return ConversationPage(conversations=[ConversationView(**d) for d in page.documents],
                            next_cursor=encode_cursor(page.next_after))


@router.get("/{conversation_id}", response_model=ConversationView,
            summary="One conversation", responses=problem_responses(
                *QUERY_PROBLEMS, described={404: "no such conversation, or not a member"}))
def get_conversation(conversation_id: uuid.UUID, caller: UserId, gate: Gate, messaging: Messaging,
                     position: ConsistencyPosition = None) -> ConversationView:
    """One conversation the caller belongs to."""
    wait_for(gate, position, MESSAGING)
    return ConversationView(**messaging.conversation(str(conversation_id), str(caller)))


@router.get("/{conversation_id}/members", response_model=list[Member],
            summary="A conversation's members", responses=problem_responses(
                *QUERY_PROBLEMS, described={404: "no such conversation, or not a member"}))
def list_members(conversation_id: uuid.UUID, caller: UserId, gate: Gate, messaging: Messaging,
                 position: ConsistencyPosition = None) -> list[Member]:
    """Current members and their roles."""
    wait_for(gate, position, MESSAGING)
    return [Member(**m) for m in messaging.members(str(conversation_id), str(caller))]


@router.put("/{conversation_id}/settings", response_model=SettingsChanged,
            summary="Mute, archive or pin a conversation", responses=problem_responses(
                *COMMAND_PROBLEMS, described={404: "no such conversation, or not a member"}))
async def change_settings(conversation_id: uuid.UUID, body: SettingsRequest,
                          commands: Commands) -> SettingsChanged:
    """Mute until a time, archive, pin: the caller's own view of a conversation."""
    command = ChangeMemberSettings(conversation_id, commands.caller, body.muted_until,
                                   body.archived, body.pinned)
    outcome = await commands.run(command, body)
    return reply(commands.response, outcome, SettingsChanged)
