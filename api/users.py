"""Registration, profiles and the user directory."""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from api.accounts import Password, PasswordsDep, new_session, sign_in_with_password, token_grant
from api.dependencies import (
    ConsistencyPosition,
    CorrelationId,
    IdempotencyKey,
    ParleyDep,
    UserId,
    cause_of,
    fingerprint,
    run_command,
    wait_for,
)
from api.problems import Problem
from commands.users import ChangeProfile, RegisterUser
from domain.accounts import clean_password
from domain.users import MAX_AVATAR_LENGTH, user_id_for_handle

router = APIRouter(prefix="/v1/users", tags=["users"])
REGISTRATION_DEVICE = "registration"
USERS = ["users"]


class Registration(BaseModel):
    handle: Annotated[str, Field(min_length=3, max_length=32, examples=["ada"])]
    name: Annotated[str, Field(min_length=1, max_length=80, examples=["Ada Lovelace"])]
    password: Password = Field(description="8 to 128 characters")


class Registered(BaseModel):
    user_id: uuid.UUID
    handle: str
    name: str
    device_id: uuid.UUID
    token: str = Field(description="The access token (same as access_token)")
    access_token: str
    token_type: str = "Bearer"
    expires_in: int
    refresh_token: str
    position: int


class UserProfile(BaseModel):
    user_id: uuid.UUID
    handle: str
    name: str
    avatar: str | None = None


class ProfileChange(BaseModel):
    name: Annotated[str | None, Field(min_length=1, max_length=80, examples=["Ada King"])] = None
    avatar: Annotated[str | None, Field(min_length=1, max_length=MAX_AVATAR_LENGTH,
                                        description="An opaque reference; null removes it",
                                        examples=["blobs/7f3a9c"])] = None


class ProfileChanged(UserProfile):
    position: int


class UserSearchResults(BaseModel):
    users: list[UserProfile]


@router.post("", status_code=201, response_model=Registered,
             responses={409: {"description": "handle taken"}})
async def register(
    body: Registration, request: Request, response: Response, parley: ParleyDep,
    passwords: PasswordsDep, correlation: CorrelationId, idempotency_key: IdempotencyKey = None,
) -> Registered:
    """Register (the only unauthenticated command besides signing in); this is also the first
    sign-in, on a device named "registration". A keyed retry signs in again."""
    assert parley.writer is not None
    user_id = user_id_for_handle(body.handle)
    password = clean_password(body.password)
    password_hash = await asyncio.to_thread(passwords.hash, password)
    session, refresh = new_session(parley, user_id, REGISTRATION_DEVICE)
    # The password is not part of the fingerprint: receipts are stored in the log.
    outcome = await asyncio.wrap_future(parley.writer.submit(
        RegisterUser(body.handle, body.name, password_hash, session),
        cause_of(user_id, correlation), idempotency_key,
        fingerprint(request, body.model_dump(exclude={"password"})),
    ))
    response.status_code = outcome.status
    if outcome.replayed:
        grant = await sign_in_with_password(parley, passwords, request, response, body.handle,
                                            password, REGISTRATION_DEVICE, correlation)
        response.status_code = outcome.status
    else:
        grant = token_grant(parley, refresh, outcome.position)
    response.headers["Parley-Position"] = str(grant.position)
    profile = {k: outcome.body[k] for k in ("handle", "name")}
    return Registered(**profile, **grant.model_dump(), token=grant.access_token)


@router.get("/me", response_model=UserProfile)
def my_profile(caller: UserId, parley: ParleyDep,
               position: ConsistencyPosition = None) -> UserProfile:
    """The caller's own profile."""
    wait_for(parley, position, USERS)
    assert parley.users is not None
    return UserProfile(**parley.users.user(str(caller)))


@router.patch("/me", response_model=ProfileChanged,
              responses={422: {"description": "nothing to change, or an invalid value"}})
async def change_profile(body: ProfileChange, request: Request, response: Response,
                         parley: ParleyDep, caller: UserId,
                         correlation: CorrelationId,
                         idempotency_key: IdempotencyKey = None) -> ProfileChanged:
    """Change the display name and/or the avatar reference (null removes the avatar)."""
    given = body.model_fields_set
    if not given or ("name" in given and body.name is None):
        raise Problem(422, "Invalid request", "send a name and/or an avatar",
                      errors=[{"field": "name", "message": "name may not be null",
                               "type": "rule"}])
    command = ChangeProfile(caller, body.name, body.avatar,
                            clear_avatar="avatar" in given and body.avatar is None)
    outcome = await run_command(parley, request, response, command, caller, correlation,
                                idempotency_key, body.model_dump(exclude_unset=True))
    return ProfileChanged(**outcome.body, position=outcome.position)


@router.get("", response_model=UserSearchResults)
def search_users(
    q: Annotated[str, Query(min_length=1, max_length=100,
                            description="A handle prefix (an optional leading @) or name words")],
    _caller: UserId, parley: ParleyDep,
    limit: Annotated[int, Query(ge=1, le=50)] = 20, position: ConsistencyPosition = None,
) -> UserSearchResults:
    """Find people: handles starting with `q` first, then names holding every word of `q`."""
    wait_for(parley, position, USERS)
    assert parley.users is not None
    return UserSearchResults(users=[UserProfile(**d) for d in parley.users.search(q, limit)])


@router.get("/{user_id}", response_model=UserProfile)
def profile(user_id: uuid.UUID, _caller: UserId, parley: ParleyDep,
            position: ConsistencyPosition = None) -> UserProfile:
    """A user's public profile."""
    wait_for(parley, position, USERS)
    assert parley.users is not None
    return UserProfile(**parley.users.user(str(user_id)))


def routers() -> list[APIRouter]:
    return [router]

