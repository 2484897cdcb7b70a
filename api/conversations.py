"""Direct conversations and their messages."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from api.dependencies import (
    ConsistencyPosition,
    CorrelationId,
    IdempotencyKey,
    ParleyDep,
    UserId,
    cause_of,
    fingerprint,
    wait_for,
)
from api.pagination import Cursor, Limit, decode_cursor, encode_cursor
from commands.conversations import OpenDirectConversation, SendMessage
from commands.outcomes import Outcome
from parley.bootstrap import Parley

router = APIRouter(prefix="/v1/conversations", tags=["conversations"])
MESSAGING = ["messaging"]


class DirectConversationRequest(BaseModel):
    peer_id: uuid.UUID


class ConversationOpened(BaseModel):
    conversation_id: uuid.UUID
    kind: str
    member_ids: list[uuid.UUID]
    position: int


class SendMessageRequest(BaseModel):
    text: Annotated[str, Field(min_length=1, max_length=4096, examples=["hello"])]


class MessageSentResponse(BaseModel):
    message_id: uuid.UUID
    conversation_id: uuid.UUID
    seq: int
    sent_at: datetime
    position: int


class MessageView(BaseModel):
    message_id: uuid.UUID
    conversation_id: uuid.UUID
    sender_id: uuid.UUID
    seq: int
    text: str
    sent_at: datetime


class MessagePage(BaseModel):
    messages: list[MessageView]
    next_cursor: str | None


class ConversationView(BaseModel):
    conversation_id: uuid.UUID
    kind: str
    member_ids: list[uuid.UUID]
    last_activity_at: datetime
    last_seq: int
    last_message_preview: str | None = None


class ConversationPage(BaseModel):
    conversations: list[ConversationView]
    next_cursor: str | None


async def run_command(
    parley: Parley, request: Request, response: Response, command: Any, actor: uuid.UUID,
    correlation: uuid.UUID, idempotency_key: str | None, payload: Any,
) -> Outcome:
    assert parley.writer is not None
    outcome = await asyncio.wrap_future(parley.writer.submit(
        command, cause_of(actor, correlation), idempotency_key, fingerprint(request, payload)
    ))
    response.status_code = outcome.status
    response.headers["Parley-Position"] = str(outcome.position)
    return outcome


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


@router.post("/{conversation_id}/messages", status_code=201, response_model=MessageSentResponse,
             responses={404: {"description": "no such conversation, or not a member"}})
async def send(
    conversation_id: uuid.UUID, body: SendMessageRequest, request: Request, response: Response,
    parley: ParleyDep, caller: UserId, correlation: CorrelationId,
    idempotency_key: IdempotencyKey = None,
) -> MessageSentResponse:
    """Send a text message to a conversation the caller belongs to."""
    command = SendMessage(conversation_id, caller, uuid.uuid4(), body.text, datetime.now(UTC))
    outcome = await run_command(parley, request, response, command, caller, correlation,
                                idempotency_key, body.model_dump())
    return MessageSentResponse(**outcome.body, position=outcome.position)


@router.get("/{conversation_id}/messages", response_model=MessagePage,
            responses={404: {"description": "no such conversation, or not a member"}})
def list_messages(conversation_id: uuid.UUID, caller: UserId, parley: ParleyDep,
                  limit: Limit = 50, cursor: Cursor = None,
                  position: ConsistencyPosition = None) -> MessagePage:
    """Messages of a conversation, newest first, with cursor pagination."""
    wait_for(parley, position, MESSAGING)
    assert parley.messaging is not None
    page = parley.messaging.messages(str(conversation_id), str(caller), limit,
                                     decode_cursor(cursor))
    return MessagePage(messages=[MessageView(**d) for d in page.documents],
                       next_cursor=encode_cursor(page.next_after))
