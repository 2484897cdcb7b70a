"""Read and delivery receipts, and unread counts."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from api.dependencies import (
    ConsistencyPosition,
    CorrelationId,
    CurrentSession,
    IdempotencyKey,
    ParleyDep,
    UserId,
    run_command,
    wait_for,
)
from commands.read_markers import MarkDelivered, MarkRead

router = APIRouter(tags=["receipts"])
MESSAGING = ["messaging"]


class UpTo(BaseModel):
    up_to_seq: Annotated[int, Field(ge=0, le=2**62, description="Highest sequence number seen")]


class ReadRecorded(BaseModel):
    conversation_id: uuid.UUID
    read_seq: int
    position: int


class DeliveryRecorded(BaseModel):
    conversation_id: uuid.UUID
    device_id: uuid.UUID
    delivered_seq: int
    position: int


class DeviceDelivery(BaseModel):
    user_id: uuid.UUID
    device_ids: list[uuid.UUID]


class Receipts(BaseModel):
    message_id: uuid.UUID
    read_by: list[uuid.UUID]
    delivered_to: list[DeviceDelivery]


class Unread(BaseModel):
    total: int
    conversations: dict[uuid.UUID, int]


@router.post("/v1/conversations/{conversation_id}/read", response_model=ReadRecorded)
async def mark_read(
    conversation_id: uuid.UUID, body: UpTo, request: Request, response: Response,
    parley: ParleyDep, caller: UserId, correlation: CorrelationId,
    idempotency_key: IdempotencyKey = None,
) -> ReadRecorded:
    """The caller has read up to `up_to_seq`; receipts never move backwards."""
    outcome = await run_command(parley, request, response,
                                MarkRead(conversation_id, caller, body.up_to_seq), caller,
                                correlation, idempotency_key, body.model_dump())
    return ReadRecorded(**outcome.body, position=outcome.position)


@router.post("/v1/conversations/{conversation_id}/delivered", response_model=DeliveryRecorded)
async def mark_delivered(
    conversation_id: uuid.UUID, body: UpTo, request: Request, response: Response,
    parley: ParleyDep, session: CurrentSession, correlation: CorrelationId,
    idempotency_key: IdempotencyKey = None,
) -> DeliveryRecorded:
    """The calling device has received messages up to `up_to_seq`."""
    command = MarkDelivered(conversation_id, session.user_id, session.device_id, body.up_to_seq)
    outcome = await run_command(parley, request, response, command, session.user_id,
                                correlation, idempotency_key, body.model_dump())
    return DeliveryRecorded(**outcome.body, position=outcome.position)


@router.get("/v1/messages/{message_id}/receipts", response_model=Receipts)
def receipts(message_id: uuid.UUID, caller: UserId, parley: ParleyDep,
             position: ConsistencyPosition = None) -> Receipts:
    """Who has read the message, and which devices it has reached."""
    wait_for(parley, position, MESSAGING)
    assert parley.messaging is not None
    return Receipts(**parley.messaging.receipts(str(message_id), str(caller)))


@router.get("/v1/unread", response_model=Unread)
def unread(caller: UserId, parley: ParleyDep, position: ConsistencyPosition = None) -> Unread:
    """Unread messages per conversation and in total."""
    wait_for(parley, position, MESSAGING)
    assert parley.messaging is not None
    return Unread(**parley.messaging.unread(str(caller)))
