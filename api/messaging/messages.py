"""Messages: send, list, read one, edit, unsend, react, hide for oneself."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from api.http.dependencies import Commands, ConsistencyPosition, Gate, UserId, wait_for
from api.http.pagination import Cursor, Limit, decode_cursor, encode_cursor
from api.http.problems import COMMAND_PROBLEMS, QUERY_PROBLEMS, problem_responses
from api.http.rate_limits import enforce
from api.messaging.answers import reply
from api.messaging.dependencies import Limits, Messaging, SendLimiter
from commands.messaging.conversations import SendMessage
from commands.messaging.messages import EditMessage, HideMessage, React, Unreact, UnsendMessage
from domain.messaging.conversations import MAX_MESSAGE_BYTES

router = APIRouter(tags=["messages"])
MESSAGING = ["messaging", "contacts"]  # views leave out what people the reader blocked did
NOT_FOUND = "no such message or conversation, or not a member"
UNSENT = "the message was unsent, or the Idempotency-Key was used for a different request"
SEND_PROBLEMS = problem_responses(*COMMAND_PROBLEMS, 429, described={
    403: "one of the two people in this direct conversation blocked the other",
    404: NOT_FOUND})
READ_PROBLEMS = problem_responses(*QUERY_PROBLEMS, described={404: NOT_FOUND})
EDITED_ENOUGH = ("the message was unsent, or edited as many times as a message may be, or the "
                 "Idempotency-Key was used for a different request")
CHANGE_PROBLEMS = problem_responses(401, 422, 503, described={404: NOT_FOUND, 409: UNSENT})
Emoji = Annotated[str, Path(min_length=1, max_length=32, examples=["👍"])]


class SendMessageRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"text": "Next book: @bob picks", "client_message_id": "m-2026-11-26-0001"},
        {"text": "Agreed!", "reply_to": "cb2da26c-c747-4438-b574-a85c8057760c",
         "attachment_ids": ["10037ee8-e149-4c96-b778-2d732322202e"]}]})

    # the domain's byte limit, stated in the schema's unit (characters): see `domain.text`
    text: Annotated[str, Field(max_length=MAX_MESSAGE_BYTES, examples=["hello @bob"],
                               description="May be empty only when attachments are sent")] = ""
    reply_to: uuid.UUID | None = Field(None, description="The message this one quotes")
    attachment_ids: Annotated[list[uuid.UUID], Field(
        max_length=10, description="Attachments the caller uploaded (POST /v1/attachments)")] = []
    client_message_id: Annotated[
        str | None, Field(min_length=1, max_length=64, pattern=r"^[\x21-\x7e]+$",
                          description="Resending with the same id returns the first message")
    ] = None


class ForwardRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"conversation_id": "82fa4e3d-4c47-4bbd-b2ec-79c134d82cad"}]})

    conversation_id: uuid.UUID = Field(description="Where to forward the message")


class EditMessageRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"text": "Next book: @cyrus picks"}]})

    text: Annotated[str, Field(min_length=1, max_length=MAX_MESSAGE_BYTES)]


class MessageSentResponse(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"message_id": "cb2da26c-c747-4438-b574-a85c8057760c",
         "conversation_id": "82fa4e3d-4c47-4bbd-b2ec-79c134d82cad", "seq": 42,
         "sent_at": "2026-11-26T09:30:12.481Z", "position": 1204}]})

    message_id: uuid.UUID
    conversation_id: uuid.UUID
    seq: int
    sent_at: datetime
    position: int


class MessageChanged(BaseModel):
    """What changed; only the fields the command touched are set."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"message_id": "cb2da26c-c747-4438-b574-a85c8057760c",
         "conversation_id": "82fa4e3d-4c47-4bbd-b2ec-79c134d82cad", "seq": 42,
         "position": 1231, "revision": 2},
        {"message_id": "cb2da26c-c747-4438-b574-a85c8057760c",
         "conversation_id": "82fa4e3d-4c47-4bbd-b2ec-79c134d82cad", "seq": 42,
         "position": 1240, "emoji": "👍", "reacted": True}]})

    message_id: uuid.UUID
    conversation_id: uuid.UUID
    seq: int
    position: int
    revision: int | None = None
    unsent: bool | None = None
    emoji: str | None = None
    reacted: bool | None = None
    hidden: bool | None = None


MESSAGE_EXAMPLE: dict[str, Any] = {
    "message_id": "cb2da26c-c747-4438-b574-a85c8057760c",
    "conversation_id": "82fa4e3d-4c47-4bbd-b2ec-79c134d82cad",
    "sender_id": "6f015539-d6dd-56d1-8b06-085951fe835a", "seq": 42,
    "text": "Next book: @cyrus picks", "sent_at": "2026-11-26T09:30:12.481Z", "revision": 2,
    "edited_at": "2026-11-26T09:31:05.002Z", "unsent": False,
    "reactions": [{"emoji": "👍", "count": 1,
                   "user_ids": ["a43240e6-dc52-5a92-a031-6851e4c908ef"]}],
    "reply_to": None, "forwarded_from": None,
    "mention_ids": ["f989ebef-2c69-500b-9a30-b69671e7fe5e"],
    "attachments": [{"attachment_id": "10037ee8-e149-4c96-b778-2d732322202e",
                     "content_type": "image/png", "size": 48213,
                     "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}],
}


class Reaction(BaseModel):
    emoji: str
    count: int
    user_ids: list[uuid.UUID]


class MessageView(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [MESSAGE_EXAMPLE]})

    message_id: uuid.UUID
    conversation_id: uuid.UUID
    sender_id: uuid.UUID
    seq: int
    text: str | None = None
    sent_at: datetime
    revision: int = 1
    edited_at: datetime | None = None
    unsent: bool = False
    reactions: list[Reaction] = []
    reply_to: uuid.UUID | None = None
    forwarded_from: uuid.UUID | None = None
    mention_ids: list[uuid.UUID] = []
    attachments: list[dict[str, Any]] = []


class Revision(BaseModel):
    revision: int
    text: str
    at: datetime


class MessageDetail(MessageView):
    model_config = ConfigDict(json_schema_extra={"examples": [MESSAGE_EXAMPLE | {"revisions": [
        {"revision": 1, "text": "Next book: @bob picks", "at": "2026-11-26T09:30:12.481Z"},
        {"revision": 2, "text": "Next book: @cyrus picks", "at": "2026-11-26T09:31:05.002Z"}]}]})

    revisions: list[Revision]


class MessagePage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"messages": [MESSAGE_EXAMPLE], "next_cursor": "WzQyLCAiY2IyZGEyNmMiXQ"}]})

    messages: list[MessageView]
    next_cursor: str | None


@router.post("/v1/conversations/{conversation_id}/messages", status_code=201,
             response_model=MessageSentResponse, summary="Send a message",
             responses=SEND_PROBLEMS)
async def send(conversation_id: uuid.UUID, body: SendMessageRequest,
               commands: Commands, limiter: SendLimiter) -> MessageSentResponse:
    """Send a text message to a conversation the caller belongs to (rate-limited per user)."""
    # Redis in production: off the event loop
    await asyncio.to_thread(enforce, limiter, f"send:{commands.caller}")
    command = SendMessage(conversation_id, commands.caller, uuid.uuid4(), body.text,
                          datetime.now(UTC), reply_to=body.reply_to,
                          attachment_ids=tuple(body.attachment_ids))
    if body.client_message_id and not commands.idempotency_key:
        # a resend with the same client message id is a no-op returning the first message
        keyed = replace(commands,
                        idempotency_key=f"message:{conversation_id}:{body.client_message_id}")
        outcome = await keyed.submit(command, {"client_message_id": body.client_message_id})
    else:
        outcome = await commands.run(command, body)
    return reply(commands.response, outcome, MessageSentResponse)


@router.get("/v1/conversations/{conversation_id}/messages", response_model=MessagePage,
            summary="Page through a conversation's messages",
            responses=problem_responses(*QUERY_PROBLEMS, 400, described={404: NOT_FOUND}))
def list_messages(
    conversation_id: uuid.UUID, caller: UserId, gate: Gate, messaging: Messaging, limit: Limit = 50,
    cursor: Cursor = None, position: ConsistencyPosition = None,
    direction: Annotated[Literal["older", "newer"], Query(
        description="older: newest first (default); newer: oldest first")] = "older",
    from_seq: Annotated[int | None, Query(ge=0, le=2**62, description=(
        "Start (exclusive) at this sequence number instead of the newest/oldest"))] = None,
) -> MessagePage:
    """Messages the caller may see, a page at a time, in either direction."""
    wait_for(gate, position, MESSAGING)
    page = messaging.messages(str(conversation_id), str(caller), limit,
                                     decode_cursor(cursor), newer=direction == "newer",
                                     from_seq=from_seq, token=position)
    return MessagePage(messages=[MessageView(**d) for d in page.documents],
                       next_cursor=encode_cursor(page.next_after))


@router.get("/v1/messages/{message_id}/context", response_model=MessagePage,
            summary="Jump to a message", responses=READ_PROBLEMS)
def jump_to_message(message_id: uuid.UUID, caller: UserId, gate: Gate, messaging: Messaging,
                    limit: Limit = 50, position: ConsistencyPosition = None) -> MessagePage:
    """Jump to a message: it and its neighbours, oldest first; page on with `from_seq`."""
    wait_for(gate, position, MESSAGING)
    page = messaging.around(str(message_id), str(caller), limit)
    return MessagePage(messages=[MessageView(**d) for d in page.documents], next_cursor=None)


@router.post("/v1/messages/{message_id}/forward", status_code=201,
             response_model=MessageSentResponse, summary="Forward a message",
             responses=problem_responses(*COMMAND_PROBLEMS, 429, described={
                 403: "one of the two people in the target direct conversation blocked the "
                      "other", 404: NOT_FOUND, 409: UNSENT}))
async def forward(
    message_id: uuid.UUID, body: ForwardRequest, commands: Commands, gate: Gate,
    messaging: Messaging, limiter: SendLimiter, position: ConsistencyPosition = None,
) -> MessageSentResponse:
    """Forward a message the caller can see into another conversation they belong to."""
    caller = commands.caller
    await asyncio.to_thread(enforce, limiter, f"send:{caller}")
    await asyncio.to_thread(wait_for, gate, position, MESSAGING)
    # the read model supplies the text (the write side keeps none); whether the message may
    # be forwarded (visible, not unsent) is the write side's rule (commands.messaging)
    original = await asyncio.to_thread(messaging.message, str(message_id), str(caller))
    command = SendMessage(body.conversation_id, caller, uuid.uuid4(),
                          original.get("text") or "", datetime.now(UTC),
                          forwarded_from=message_id)
    # attachments are not forwarded: each stays readable only where its uploader shared it
    outcome = await commands.run(command, body)
    return reply(commands.response, outcome, MessageSentResponse)


@router.get("/v1/messages/{message_id}", response_model=MessageDetail,
            summary="Read one message", responses=READ_PROBLEMS)
def get_message(message_id: uuid.UUID, caller: UserId, gate: Gate, messaging: Messaging,
                position: ConsistencyPosition = None) -> MessageDetail:
    """One message with its reactions and its edit history."""
    wait_for(gate, position, MESSAGING)
    return MessageDetail(**messaging.message(str(message_id), str(caller)))


@router.patch("/v1/messages/{message_id}", response_model=MessageChanged,
              summary="Edit a message",
              responses=problem_responses(400, described={403: "only the sender edits a message"})
              | CHANGE_PROBLEMS | problem_responses(described={409: EDITED_ENOUGH}))
async def edit_message(message_id: uuid.UUID, body: EditMessageRequest,
                       commands: Commands, limits: Limits) -> MessageChanged:
    """Edit one's own message; every version stays in its history (at most
    `PARLEY_MAX_EDITS_PER_MESSAGE` edits, then 409)."""
    outcome = await commands.run(
        EditMessage(message_id, commands.caller, body.text, datetime.now(UTC),
                    limits.max_edits_per_message), body)
    return reply(commands.response, outcome, MessageChanged)


@router.delete("/v1/messages/{message_id}", response_model=MessageChanged,
               summary="Unsend a message for everyone",
               responses=problem_responses(described={403: "only the sender unsends a message"})
               | CHANGE_PROBLEMS)
async def unsend_message(message_id: uuid.UUID, commands: Commands) -> MessageChanged:
    """Unsend for everyone: others see a tombstone; the content leaves read models and search."""
    outcome = await commands.submit(
        UnsendMessage(message_id, commands.caller, datetime.now(UTC)), None)
    return reply(commands.response, outcome, MessageChanged)


@router.post("/v1/messages/{message_id}/hide", response_model=MessageChanged,
             summary="Delete a message for me", responses=problem_responses(
                 401, 409, 422, 503, described={404: NOT_FOUND}))
async def hide_message(message_id: uuid.UUID, commands: Commands) -> MessageChanged:
    """Delete for me: the message disappears from the caller's views only."""
    outcome = await commands.submit(HideMessage(message_id, commands.caller), None)
    return reply(commands.response, outcome, MessageChanged)


@router.put("/v1/messages/{message_id}/reactions/{emoji}", response_model=MessageChanged,
            summary="React to a message", responses=CHANGE_PROBLEMS)
async def add_reaction(message_id: uuid.UUID, emoji: Emoji,
                       commands: Commands) -> MessageChanged:
    """React with an emoji (at most one of each emoji per person)."""
    outcome = await commands.submit(React(message_id, commands.caller, emoji), {"emoji": emoji})
    return reply(commands.response, outcome, MessageChanged)


@router.delete("/v1/messages/{message_id}/reactions/{emoji}", response_model=MessageChanged,
               summary="Take a reaction back", responses=CHANGE_PROBLEMS)
async def remove_reaction(message_id: uuid.UUID, emoji: Emoji,
                          commands: Commands) -> MessageChanged:
    """Take one's reaction back."""
    outcome = await commands.submit(Unreact(message_id, commands.caller, emoji),
                                    {"emoji": emoji})
    return reply(commands.response, outcome, MessageChanged)
