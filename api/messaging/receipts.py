"""Read and delivery receipts, and unread counts."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from api.http.dependencies import (
    Commands,
    ConsistencyPosition,
    CurrentSession,
    Gate,
    UserId,
    wait_for,
)
from api.http.problems import COMMAND_PROBLEMS, QUERY_PROBLEMS, problem_responses
from api.messaging.answers import reply
from api.messaging.dependencies import Messaging
from commands.messaging.read_markers import MarkDelivered, MarkRead

router = APIRouter(tags=["receipts"])
MESSAGING = ["messaging", "contacts"]  # views leave out what people the reader blocked did
NOT_FOUND = "no such conversation"
MARK_PROBLEMS = problem_responses(*COMMAND_PROBLEMS, described={404: NOT_FOUND})


class UpTo(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"up_to_seq": 42}]})

    up_to_seq: Annotated[int, Field(ge=0, le=2**62, description="Highest sequence number seen")]


class ReadRecorded(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"conversation_id": "82fa4e3d-4c47-4bbd-b2ec-79c134d82cad", "read_seq": 42,
         "position": 1262}]})

    conversation_id: uuid.UUID
    read_seq: int
    position: int


class DeliveryRecorded(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"conversation_id": "82fa4e3d-4c47-4bbd-b2ec-79c134d82cad",
         "device_id": "d62110b7-2ceb-4197-973a-92fc22e228b6", "delivered_seq": 42,
         "position": 1259}]})

    conversation_id: uuid.UUID
    device_id: uuid.UUID
    delivered_seq: int
    position: int


class DeviceDelivery(BaseModel):
    user_id: uuid.UUID
    device_count: int = Field(description="How many of this member's devices received it")
    device_ids: list[uuid.UUID] = Field(
        default_factory=list,
        description="Which of the caller's own devices received it; empty for anyone else "
                    "(nobody sees another person's device ids)")


class Receipts(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "message_id": "cb2da26c-c747-4438-b574-a85c8057760c",
        "read_by": ["a43240e6-dc52-5a92-a031-6851e4c908ef"],
        "delivered_to": [{"user_id": "a43240e6-dc52-5a92-a031-6851e4c908ef",
                          "device_count": 1,
                          "device_ids": ["e0623688-9445-4324-89e0-5fff1a1ffc57"]},
                         {"user_id": "f989ebef-2c69-500b-9a30-b69671e7fe5e",
                          "device_count": 2, "device_ids": []}]}]})

    message_id: uuid.UUID
    read_by: list[uuid.UUID]
    delivered_to: list[DeviceDelivery]


class Unread(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"total": 5, "conversations": {"82fa4e3d-4c47-4bbd-b2ec-79c134d82cad": 3,
                                       "2364c6c6-43b8-42fb-a6c1-52c31e87dbdd": 2}}]})

    total: int
    conversations: dict[uuid.UUID, int]


@router.post("/v1/conversations/{conversation_id}/read", response_model=ReadRecorded,
             summary="Mark a conversation read", responses=MARK_PROBLEMS)
async def mark_read(conversation_id: uuid.UUID, body: UpTo,
                    commands: Commands) -> ReadRecorded:
    """The caller has read up to `up_to_seq`; receipts never move backwards."""
    outcome = await commands.run(MarkRead(conversation_id, commands.caller, body.up_to_seq),
                                 body)
    return reply(commands.response, outcome, ReadRecorded)


@router.post("/v1/conversations/{conversation_id}/delivered", response_model=DeliveryRecorded,
             summary="Acknowledge delivery to this device", responses=MARK_PROBLEMS)
async def mark_delivered(conversation_id: uuid.UUID, body: UpTo, commands: Commands,
                         session: CurrentSession) -> DeliveryRecorded:
    """The calling device has received messages up to `up_to_seq`."""
    command = MarkDelivered(conversation_id, session.user_id, session.device_id, body.up_to_seq)
    outcome = await commands.run(command, body)
    return reply(commands.response, outcome, DeliveryRecorded)


@router.get("/v1/messages/{message_id}/receipts", response_model=Receipts,
            summary="Who read and received a message", responses=problem_responses(
                *QUERY_PROBLEMS, described={404: "no such message, or not a member"}))
def receipts(message_id: uuid.UUID, caller: UserId, gate: Gate, messaging: Messaging,
             position: ConsistencyPosition = None) -> Receipts:
    """Who has read the message, and how many devices of each member it has reached (which
    ones only for the caller's own devices)."""
    wait_for(gate, position, MESSAGING)
    return Receipts(**messaging.receipts(str(message_id), str(caller)))


@router.get("/v1/unread", response_model=Unread, summary="Unread counts",
            responses=problem_responses(*QUERY_PROBLEMS))
def unread(caller: UserId, gate: Gate, messaging: Messaging,
           position: ConsistencyPosition = None) -> Unread:
    """Unread messages per conversation and in total."""
    wait_for(gate, position, MESSAGING)
    return Unread(**messaging.unread(str(caller), token=position))
