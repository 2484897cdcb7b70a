"""Conversations: opening direct ones, listing them, their members and one's own settings."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from api.dependencies import (
    ConsistencyPosition,
    CorrelationId,
    IdempotencyKey,
    ParleyDep,
    UserId,
    run_command,
    wait_for,
)
from api.pagination import Cursor, Limit, decode_cursor, encode_cursor
from commands.conversations import OpenDirectConversation
from commands.groups import ChangeMemberSettings

router = APIRouter(prefix="/v1/conversations", tags=["conversations"])
MESSAGING = ["messaging"]


class DirectConversationRequest(BaseModel):
    peer_id: uuid.UUID


class ConversationOpened(BaseModel):
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
    conversations: list[ConversationView]
    next_cursor: str | None


class Member(BaseModel):
    user_id: uuid.UUID
    role: str


class SettingsRequest(BaseModel):
    muted_until: datetime | None = None
    archived: bool = False
    pinned: bool = False


class SettingsChanged(MySettings):
    conversation_id: uuid.UUID
    position: int


@router.post("/direct", status_code=201, response_model=ConversationOpened,
             responses={200: {"description": "the pair already had this conversation"}})
async def open_direct(
    body: DirectConversationRequest, request: Request, response: Response, parley: ParleyDep,
    caller: UserId, correlation: CorrelationId, idempotency_key: IdempotencyKey = None,
) -> ConversationOpened:
    """Open the direct conversation with a peer; the same pair always gets the same one."""
    outcome = await run_command(parley, request, response,
                                OpenDirectConversation(caller, body.peer_id), caller,
                                correlation, idempotency_key, body.model_dump(mode="json"))
    return ConversationOpened(**outcome.body, position=outcome.position)


@router.get("", response_model=ConversationPage)
def list_conversations(caller: UserId, parley: ParleyDep, limit: Limit = 50,
                       cursor: Cursor = None, position: ConsistencyPosition = None
                       ) -> ConversationPage:
    """The caller's conversations, most recently active first."""
    wait_for(parley, position, MESSAGING)
    assert parley.messaging is not None
    page = parley.messaging.conversations(str(caller), limit, decode_cursor(cursor))
    return ConversationPage(conversations=[ConversationView(**d) for d in page.documents],
                            next_cursor=encode_cursor(page.next_after))


@router.get("/{conversation_id}", response_model=ConversationView,
            responses={404: {"description": "no such conversation, or not a member"}})
def get_conversation(conversation_id: uuid.UUID, caller: UserId, parley: ParleyDep,
                     position: ConsistencyPosition = None) -> ConversationView:
    """One conversation the caller belongs to."""
    wait_for(parley, position, MESSAGING)
    assert parley.messaging is not None
    return ConversationView(**parley.messaging.conversation(str(conversation_id), str(caller)))


@router.get("/{conversation_id}/members", response_model=list[Member],
            responses={404: {"description": "no such conversation, or not a member"}})
def list_members(conversation_id: uuid.UUID, caller: UserId, parley: ParleyDep,
                 position: ConsistencyPosition = None) -> list[Member]:
    """Current members and their roles."""
    wait_for(parley, position, MESSAGING)
    assert parley.messaging is not None
    return [Member(**m) for m in parley.messaging.members(str(conversation_id), str(caller))]


@router.put("/{conversation_id}/settings", response_model=SettingsChanged)
async def change_settings(
    conversation_id: uuid.UUID, body: SettingsRequest, request: Request, response: Response,
    parley: ParleyDep, caller: UserId, correlation: CorrelationId,
    idempotency_key: IdempotencyKey = None,
) -> SettingsChanged:
    """Mute until a time, archive, pin: the caller's own view of a conversation."""
    command = ChangeMemberSettings(conversation_id, caller, body.muted_until, body.archived,
                                   body.pinned)
    outcome = await run_command(parley, request, response, command, caller, correlation,
                                idempotency_key, body.model_dump(mode="json"))
    return SettingsChanged(**_without_none(outcome.body), position=outcome.position)


def _without_none(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if v is not None}
