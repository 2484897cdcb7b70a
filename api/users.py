"""Registration and the user directory."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Annotated

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
    issue_token,
    wait_for,
)
from commands.users import RegisterUser
from domain.users import user_id_for_handle

router = APIRouter(prefix="/v1/users", tags=["users"])


class Registration(BaseModel):
    handle: Annotated[str, Field(min_length=3, max_length=32, examples=["ada"])]
    name: Annotated[str, Field(min_length=1, max_length=80, examples=["Ada Lovelace"])]


class Registered(BaseModel):
    user_id: uuid.UUID
    handle: str
    name: str
    token: str
    position: int


class UserProfile(BaseModel):
    user_id: uuid.UUID
    handle: str
    name: str


@router.post("", status_code=201, response_model=Registered,
             responses={409: {"description": "handle taken"}})
async def register(
    body: Registration, request: Request, response: Response, parley: ParleyDep,
    correlation: CorrelationId, idempotency_key: IdempotencyKey = None,
) -> Registered:
    """Register a user and receive a bearer token (the only unauthenticated command)."""
    assert parley.writer is not None
    user_id = user_id_for_handle(body.handle)
    outcome = await asyncio.wrap_future(parley.writer.submit(
        RegisterUser(body.handle, body.name), cause_of(user_id, correlation),
        idempotency_key, fingerprint(request, body.model_dump()),
    ))
    response.status_code = outcome.status
    response.headers["Parley-Position"] = str(outcome.position)
    return Registered(**outcome.body, position=outcome.position,
                      token=issue_token(parley, user_id, int(time.time())))


@router.get("/{user_id}", response_model=UserProfile)
def profile(user_id: uuid.UUID, _caller: UserId, parley: ParleyDep,
            position: ConsistencyPosition = None) -> UserProfile:
    """A user's public profile."""
    wait_for(parley, position, ["users"])
    assert parley.users is not None
    return UserProfile(**parley.users.user(str(user_id)))
