"""Registration, profiles and the user directory."""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from api.http.dependencies import (
    Commands,
    ConsistencyPosition,
    CorrelationId,
    CurrentSession,
    Gate,
    IdempotencyKey,
    UserId,
    cause_of,
    fingerprint,
    wait_for,
)
from api.http.display_names import display_name_field
from api.http.problems import COMMAND_PROBLEMS, QUERY_PROBLEMS, Problem, problem_responses
from api.identity.accounts import (
    ACCESS_TOKEN_EXAMPLE,
    REFRESH_TOKEN_EXAMPLE,
    Password,
    ThrottleDep,
    new_session,
    sign_in_with_password,
    token_grant,
)
from api.identity.answers import IDENTITY_ANSWERS, reply
from api.identity.dependencies import Hashing, SessionsDep, UserDirectory
from api.identity.sign_in_throttle import client_address
from commands.identity.users import ChangePresenceVisibility, ChangeProfile, RegisterUser
from domain.identity.accounts import MIN_PASSWORD_LENGTH
from domain.identity.users import MAX_AVATAR_LENGTH, NAME, user_id_for_handle

router = APIRouter(prefix="/v1/users", tags=["users"])
# domain.identity.users.HANDLE_PATTERN, before handles are lower-cased (ASCII only: "\u212a".lower()
# is "k", so a pattern checked only after lower-casing would let look-alikes through)
HANDLE_SCHEMA_PATTERN = r"^[A-Za-z0-9_]{3,32}$"
REGISTRATION_DEVICE = "registration"
REGISTRATION = "registration"
USERS = ["users"]


class Registration(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"handle": "ada", "name": "Ada Lovelace", "password": "correct horse battery"}]})

    handle: Annotated[str, Field(min_length=3, max_length=32, pattern=HANDLE_SCHEMA_PATTERN,
                                 description="3 to 32 of a-z, 0-9 and '_' (compared "
                                             "case-insensitively)", examples=["ada"])]
    name: Annotated[str, display_name_field(NAME, "Ada Lovelace")]
    password: Password = Field(description=(
        "8 to 128 characters, any (spaces too); not a common or breached password, not made "
        "of the handle, the name or 'parley', not one character repeated or a plain sequence"),
        # the length is checked with the other rules (errors[].type password_length)
        json_schema_extra={"minLength": MIN_PASSWORD_LENGTH})


class Registered(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "user_id": "6f015539-d6dd-56d1-8b06-085951fe835a", "handle": "ada",
        "name": "Ada Lovelace", "device_id": "d62110b7-2ceb-4197-973a-92fc22e228b6",
        "access_token": ACCESS_TOKEN_EXAMPLE,
        "token_type": "Bearer", "expires_in": 900, "refresh_token": REFRESH_TOKEN_EXAMPLE,
        "position": 1042}]})

    user_id: uuid.UUID
    handle: str
    name: str
    device_id: uuid.UUID
    access_token: str = Field(description="The bearer token, as sign-in answers it")
    token_type: str = "Bearer"
    expires_in: int
    refresh_token: str
    position: int


class UserProfile(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"user_id": "6f015539-d6dd-56d1-8b06-085951fe835a", "handle": "ada",
         "name": "Ada Lovelace", "avatar": "blobs/7f3a9c"}]})

    user_id: uuid.UUID
    handle: str
    name: str
    avatar: str | None = None


class ProfileChange(BaseModel):
    model_config = ConfigDict(json_schema_extra={"minProperties": 1, "examples": [
        {"name": "Ada King"}, {"avatar": "blobs/7f3a9c"}, {"avatar": None}]})

    name: Annotated[str | None, display_name_field(NAME, "Ada King")] = None
    avatar: Annotated[str | None, Field(min_length=1, max_length=MAX_AVATAR_LENGTH,
                                        description="An opaque reference; null removes it",
                                        examples=["blobs/7f3a9c"])] = None


class ProfileChanged(UserProfile):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"user_id": "6f015539-d6dd-56d1-8b06-085951fe835a", "handle": "ada",
         "name": "Ada King", "avatar": "blobs/7f3a9c", "position": 1311}]})

    position: int


# domain.identity.users.PRESENCE_AUDIENCES
PresenceAudience = Literal["everyone", "contacts", "nobody"]


class Privacy(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"presence": "contacts"}]})

    presence: PresenceAudience = Field(description=(
        "Who sees when you are online and when you were last seen, among the people who share "
        "a conversation with you (strangers never do): `everyone` (the default), `contacts` "
        "(friends only) or `nobody`. People you blocked, or who blocked you, never do."))


class PrivacyChanged(Privacy):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"presence": "contacts", "position": 1312}]})

    position: int


class UserSearchResults(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"users": [
        {"user_id": "6f015539-d6dd-56d1-8b06-085951fe835a", "handle": "ada",
         "name": "Ada Lovelace", "avatar": "blobs/7f3a9c"},
        {"user_id": "4c0e8b1a-29d3-5f7e-a6b4-0d9c8e7f6a5b", "handle": "adam",
         "name": "Adam Smith", "avatar": None}]}]})

    users: list[UserProfile]


@router.post("", status_code=201, response_model=Registered, summary="Register",
             responses=problem_responses(400, described={
                 409: "this handle is taken, or the Idempotency-Key was used for a different "
                      "request",
                 422: "a field is invalid, or the password is too weak (errors[].type names "
                      "the rule: password_length, common_password, context_password, "
                      "trivial_password)",
                 429: "too many registrations from this address; retry after the seconds in "
                      "Retry-After",
                 503: "too many sign-ins at once, or a backing service is unreachable; retry "
                      "after the seconds in Retry-After"}))
async def register(
    body: Registration, request: Request, response: Response, auth: SessionsDep,
    passwords: Hashing, throttle: ThrottleDep, correlation: CorrelationId,
    idempotency_key: IdempotencyKey = None,
) -> Registered:
    """Register (the only unauthenticated command besides signing in); this is also the first
    sign-in, on a device named "registration". A keyed retry signs in again."""
    await asyncio.to_thread(throttle.admit, REGISTRATION, client_address(request))
    user_id = user_id_for_handle(body.handle)
    password = auth.password_policy.check(body.password, [body.handle, body.name])
    password_hash = await passwords.hash(password)
    session, refresh = new_session(auth, user_id, REGISTRATION_DEVICE)
    # The password is not part of the fingerprint: receipts are stored in the log.
    outcome = await asyncio.wrap_future(auth.writer.submit(
        RegisterUser(body.handle, body.name, password_hash, session),
        cause_of(user_id, correlation), idempotency_key,
        fingerprint(request, body.model_dump(exclude={"password"})),
    ))
    answer = IDENTITY_ANSWERS.answer(outcome.result)
    if outcome.replayed:
        grant = await sign_in_with_password(auth, passwords, request, response, body.handle,
                                            password, REGISTRATION_DEVICE, correlation)
    else:
        grant = token_grant(auth, refresh, outcome.position)
    response.status_code = answer.status
    response.headers["Parley-Position"] = str(grant.position)
    profile = {k: answer.body[k] for k in ("handle", "name")}
    return Registered(**profile, **grant.model_dump())


@router.get("/me", response_model=UserProfile, summary="The caller's profile",
            responses=problem_responses(*QUERY_PROBLEMS))
def my_profile(session: CurrentSession, gate: Gate, users: UserDirectory,
               position: ConsistencyPosition = None) -> UserProfile:
    """The caller's own profile: never older than the caller's sign-in (or `position`)."""
    wait_for(gate, max(position or 0, session.issued_at_position), USERS)
    return UserProfile(**users.user(str(session.user_id)))


@router.patch("/me", response_model=ProfileChanged, summary="Change the caller's profile",
              responses=problem_responses(*COMMAND_PROBLEMS, described={
                  422: "nothing to change, or an invalid value"}))
async def change_profile(body: ProfileChange, commands: Commands) -> ProfileChanged:
    """Change the display name and/or the avatar reference (null removes the avatar)."""
    given = body.model_fields_set
    if not given or ("name" in given and body.name is None):
        raise Problem(422, "Invalid request", "send a name and/or an avatar",
                      errors=[{"field": "name", "message": "name may not be null",
                               "type": "rule"}])
    command = ChangeProfile(commands.caller, body.name, body.avatar,
                            clear_avatar="avatar" in given and body.avatar is None)
    outcome = await commands.submit(command, body.model_dump(exclude_unset=True))
    return reply(commands.response, outcome, ProfileChanged)


@router.get("/me/privacy", response_model=Privacy, summary="The caller's privacy settings",
            responses=problem_responses(*QUERY_PROBLEMS))
def my_privacy(caller: UserId, gate: Gate, users: UserDirectory,
               position: ConsistencyPosition = None) -> Privacy:
    """Who sees the caller's presence (online, last seen)."""
    wait_for(gate, position, USERS)
    return Privacy.model_validate({"presence": users.presence_visible_to(str(caller))})


@router.put("/me/privacy", response_model=PrivacyChanged, summary="Change who sees your presence",
            responses=problem_responses(*COMMAND_PROBLEMS))
async def change_privacy(body: Privacy, commands: Commands) -> PrivacyChanged:
    """Show your online status and last seen to everyone, contacts only, or nobody."""
    outcome = await commands.run(ChangePresenceVisibility(commands.caller, body.presence), body)
    return reply(commands.response, outcome, PrivacyChanged)


@router.get("", response_model=UserSearchResults, summary="Find people",
            responses=problem_responses(*QUERY_PROBLEMS))
def search_users(
    q: Annotated[str, Query(min_length=1, max_length=100,
                            description="A handle prefix (an optional leading @) or name words")],
    _caller: UserId, gate: Gate, users: UserDirectory,
    limit: Annotated[int, Query(ge=1, le=50)] = 20, position: ConsistencyPosition = None,
) -> UserSearchResults:
    """Find people: handles starting with `q` first, then names holding every word of `q`."""
    wait_for(gate, position, USERS)
    return UserSearchResults(users=[UserProfile(**d) for d in users.search(q, limit)])


@router.get("/{user_id}", response_model=UserProfile, summary="A user's profile",
            responses=problem_responses(*QUERY_PROBLEMS, described={404: "no such user"}))
def profile(user_id: uuid.UUID, _caller: UserId, gate: Gate, users: UserDirectory,
            position: ConsistencyPosition = None) -> UserProfile:
    """A user's public profile."""
    wait_for(gate, position, USERS)
    return UserProfile(**users.user(str(user_id)))

