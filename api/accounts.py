"""Sessions and devices: sign in with a password, refresh, sign out, list and revoke devices.

Access tokens are short-lived JWTs (`sub` user, `did` device); refresh tokens are opaque and
rotate on every use. Sign-in and refresh take no Idempotency-Key: a replay could not return
the secret tokens of the first answer, which are never stored.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from adapters.argon2_passwords import Argon2Passwords
from api.dependencies import (
    CommandContext,
    ConsistencyPosition,
    CorrelationId,
    CurrentSession,
    ParleyDep,
    Session,
    UnkeyedCommands,
    issue_access_token,
    wait_for,
)
from api.problems import QUERY_PROBLEMS, Responses, problem_responses
from commands.accounts import (
    Passwords,
    RefreshSession,
    RefreshToken,
    RevokeDevice,
    SignIn,
    new_refresh_token,
    read_refresh_token,
    verified_password_hash,
)
from commands.batch import Batch
from commands.users import NewSession
from domain.accounts import MAX_PASSWORD_LENGTH, InvalidCredentials, clean_password
from domain.devices import MAX_DEVICE_NAME_LENGTH
from domain.errors import InvalidCommand
from domain.users import user_id_for_handle
from parley.bootstrap import Parley
from projections.accounts import DEVICES, DeviceQueries

sessions = APIRouter(prefix="/v1/sessions", tags=["sessions"])
devices = APIRouter(prefix="/v1/devices", tags=["devices"])

_PASSWORDS = Argon2Passwords()


async def get_passwords() -> Passwords:
    """The password KDF; tests may override this dependency with a cheaper one."""
    return _PASSWORDS


PasswordsDep = Annotated[Passwords, Depends(get_passwords)]
ACCESS_TOKEN_EXAMPLE = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI2ZjAxNTUzOS1kNmRkLTU2ZDEtOGIwNi0wODU5NTFmZTg"
    "zNWEiLCJkaWQiOiJkNjIxMTBiNy0yY2ViLTQxOTctOTczYS05MmZjMjJlMjI4YjYiLCJpYXQiOjE3NjQxMTUyMDAsImV4"
    "cCI6MTc2NDExNjEwMCwicG9zIjoxMDQyfQ.XPQh2-aUWSSGj3ppqrA3qKGIaCfmmLTPwTHSHDdsm2o")
REFRESH_TOKEN_EXAMPLE = ("6f015539-d6dd-56d1-8b06-085951fe835a.d62110b7-2ceb-4197-973a-92fc22e228b6"
                         ".0-w256bteCUaTfTz92UEdGatkOERlNRP2MUdpvcsn5k")
WRONG_PASSWORD = "wrong handle or password (the same answer for both)"
DeviceName = Annotated[str, Field(min_length=1, max_length=MAX_DEVICE_NAME_LENGTH,
                                  examples=["Ada's phone"])]
Password = Annotated[str, Field(min_length=1, max_length=MAX_PASSWORD_LENGTH,
                                examples=["correct horse battery"])]


class SignInRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"handle": "ada", "password": "correct horse battery", "device_name": "Ada's phone"}]})

    handle: Annotated[str, Field(min_length=1, max_length=64, examples=["ada"])]
    password: Password
    device_name: DeviceName


class RefreshRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"refresh_token": REFRESH_TOKEN_EXAMPLE}]})

    refresh_token: Annotated[str, Field(min_length=1, max_length=256)]


class TokenGrant(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "user_id": "6f015539-d6dd-56d1-8b06-085951fe835a",
        "device_id": "d62110b7-2ceb-4197-973a-92fc22e228b6",
        "access_token": ACCESS_TOKEN_EXAMPLE, "token_type": "Bearer", "expires_in": 900,
        "refresh_token": REFRESH_TOKEN_EXAMPLE, "position": 1042}]})

    user_id: uuid.UUID
    device_id: uuid.UUID
    access_token: str
    token_type: str = "Bearer"
    expires_in: int = Field(description="Seconds until the access token expires")
    refresh_token: str = Field(description="Opaque; exchange at /v1/sessions/refresh, once")
    position: int


class DeviceView(BaseModel):
    device_id: uuid.UUID
    name: str
    signed_in_at: datetime
    last_active_at: datetime
    current: bool = Field(description="The device this request was made from")


class DeviceList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"devices": [
        {"device_id": "5a1d2c3e-7f80-4b9a-8c6d-1e2f3a4b5c6d", "name": "registration",
         "signed_in_at": "2026-11-20T09:12:44Z", "last_active_at": "2026-11-20T09:12:44Z",
         "current": False},
        {"device_id": "d62110b7-2ceb-4197-973a-92fc22e228b6", "name": "Ada's phone",
         "signed_in_at": "2026-11-26T08:00:00Z", "last_active_at": "2026-11-26T08:00:00Z",
         "current": True}]}]})

    devices: list[DeviceView]


class DeviceRevoked(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"device_id": "5a1d2c3e-7f80-4b9a-8c6d-1e2f3a4b5c6d", "revoked": True,
         "position": 1187}]})

    device_id: uuid.UUID
    revoked: bool
    position: int


REVOKED_LATER: Responses = {202: {
    "model": DeviceRevoked,
    "description": "revoked; the read model has not caught up yet, so the device's tokens may "
                   "work a moment longer"}}


def new_session(parley: Parley, user_id: uuid.UUID,
                device_name: str) -> tuple[NewSession, RefreshToken]:
    now = datetime.now(UTC)
    refresh = new_refresh_token(user_id, uuid.uuid4())
    expires = now + timedelta(seconds=parley.settings.token_ttl_seconds)
    return NewSession(refresh.device_id, device_name, refresh.digest, now, expires), refresh


def token_grant(parley: Parley, refresh: RefreshToken, position: int) -> TokenGrant:
    session = Session(refresh.user_id, refresh.device_id)
    return TokenGrant(
        user_id=session.user_id, device_id=session.device_id,
        access_token=issue_access_token(parley, session, int(time.time()), position),
        expires_in=parley.settings.access_token_ttl_seconds,
        refresh_token=refresh.value, position=position,
    )


async def sign_in_with_password(
    parley: Parley, passwords: Passwords, request: Request, response: Response, handle: str,
    password: str, device_name: str, correlation: uuid.UUID,
) -> TokenGrant:
    """Verify the password off the writer thread, then record the new device."""
    try:
        user_id: uuid.UUID | None = user_id_for_handle(handle)
        password = clean_password(password)
    except InvalidCommand as error:  # a malformed handle or password is just a wrong one
        raise InvalidCredentials("password", "wrong handle or password") from error
    verified = await asyncio.to_thread(verified_password_hash,
                                       Batch(parley.event_log.repository), passwords,
                                       user_id, password)
    assert user_id is not None
    session, refresh = new_session(parley, user_id, device_name)
    signing_in = CommandContext(parley, request, response, user_id, correlation, None)
    outcome = await signing_in.run(SignIn(user_id, verified, session))
    return token_grant(parley, refresh, outcome.position)


@sessions.post("", status_code=201, response_model=TokenGrant, summary="Sign in",
               responses=problem_responses(400, 422, 503, described={401: WRONG_PASSWORD}))
async def sign_in(body: SignInRequest, request: Request, response: Response,
                  parley: ParleyDep, passwords: PasswordsDep,
                  correlation: CorrelationId) -> TokenGrant:
    """Sign in: a new device, a short-lived access token and a refresh token."""
    return await sign_in_with_password(parley, passwords, request, response, body.handle,
                                       body.password, body.device_name, correlation)


@sessions.post("/refresh", response_model=TokenGrant, summary="Rotate the refresh token",
               responses=problem_responses(400, 422, 503, described={
                   401: "unknown, used, expired or revoked refresh token"}))
async def refresh(body: RefreshRequest, request: Request, response: Response,
                  parley: ParleyDep, correlation: CorrelationId) -> TokenGrant:
    """Exchange a refresh token for new tokens; the one presented stops working."""
    presented = read_refresh_token(body.refresh_token)
    replacement = new_refresh_token(presented.user_id, presented.device_id)
    now = datetime.now(UTC)
    command = RefreshSession(presented, replacement.digest, now,
                             now + timedelta(seconds=parley.settings.token_ttl_seconds))
    refreshing = CommandContext(parley, request, response, presented.user_id, correlation, None)
    outcome = await refreshing.run(command)
    return token_grant(parley, replacement, outcome.position)


async def revoke(commands: CommandContext, device_id: uuid.UUID) -> DeviceRevoked:
    """Revoke, then wait (bounded) until the read model shows it, so that when this answers
    the device's tokens no longer work; 202 if the read model is slower than that."""
    parley = commands.parley
    outcome = await commands.run(RevokeDevice(commands.caller, device_id, datetime.now(UTC)))
    queries = DeviceQueries(parley.store, parley.cache)
    if await asyncio.to_thread(parley.gate.wait, outcome.position, [DEVICES]):
        queries.forget(str(device_id))
    else:
        commands.response.status_code = 202
    return DeviceRevoked(**outcome.body, position=outcome.position)


@sessions.delete("/current", response_model=DeviceRevoked, summary="Sign out this device",
                 responses=problem_responses(401, 422, 503) | REVOKED_LATER)
async def sign_out(session: CurrentSession, commands: UnkeyedCommands) -> DeviceRevoked:
    """Sign out: revokes the device this request comes from, with its tokens."""
    return await revoke(commands, session.device_id)


@devices.get("", response_model=DeviceList, summary="List the caller's devices",
             responses=problem_responses(*QUERY_PROBLEMS))
def list_devices(session: CurrentSession, parley: ParleyDep,
                 position: ConsistencyPosition = None) -> DeviceList:
    """The caller's devices in force, oldest sign-in first."""
    wait_for(parley, position, [DEVICES])
    documents = DeviceQueries(parley.store, parley.cache).devices_of(str(session.user_id))
    return DeviceList(devices=[
        DeviceView(**d, current=d["device_id"] == str(session.device_id)) for d in documents
    ])


@devices.delete("/{device_id}", response_model=DeviceRevoked, summary="Revoke a device",
                responses=problem_responses(401, 422, 503, described={
                    404: "no such device of the caller's"}) | REVOKED_LATER)
async def revoke_device(device_id: uuid.UUID, commands: UnkeyedCommands) -> DeviceRevoked:
    """Revoke one of the caller's devices: its access and refresh tokens stop working."""
    return await revoke(commands, device_id)


def routers() -> list[APIRouter]:
    return [sessions, devices]
