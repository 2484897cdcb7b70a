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

from api.http.dependencies import (
    CommandContext,
    ConsistencyPosition,
    CorrelationId,
    CurrentSession,
    Gate,
    Session,
    UnkeyedCommands,
    issue_access_token,
    wait_for,
)
from api.http.display_names import display_name_field
from api.http.problems import QUERY_PROBLEMS, Responses, problem_responses
from api.identity.answers import reply
from api.identity.dependencies import Devices, Hashing, Sessions, SessionsDep
from api.identity.hashing_pool import HashingPool
from api.identity.sign_in_throttle import SignInThrottle, client_address
from commands.identity.accounts import (
    RefreshSession,
    RefreshToken,
    ReusedRefreshTokenRevoked,
    RevokeDevice,
    SessionStarted,
    SignIn,
    new_refresh_token,
    read_refresh_token,
    verified_password_hash,
)
from commands.identity.users import NewSession
from domain.errors import InvalidCommand, Unauthenticated
from domain.identity.accounts import (
    MAX_PASSWORD_LENGTH,
    InvalidCredentials,
    RefreshTokenReused,
    clean_password,
)
from domain.identity.devices import DEVICE_NAME
from domain.identity.users import user_id_for_handle
from projections.identity.devices import DEVICES

sessions = APIRouter(prefix="/v1/sessions", tags=["sessions"])
devices = APIRouter(prefix="/v1/devices", tags=["devices"])

async def get_sign_in_throttle(auth: SessionsDep) -> SignInThrottle:
    return auth.throttle


ThrottleDep = Annotated[SignInThrottle, Depends(get_sign_in_throttle)]
ACCESS_TOKEN_EXAMPLE = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI2ZjAxNTUzOS1kNmRkLTU2ZDEtOGIwNi0wODU5NTFmZTg"
    "zNWEiLCJkaWQiOiJkNjIxMTBiNy0yY2ViLTQxOTctOTczYS05MmZjMjJlMjI4YjYiLCJpYXQiOjE3NjQxMTUyMDAsImV4"
    "cCI6MTc2NDExNjEwMCwicG9zIjoxMDQyfQ.XPQh2-aUWSSGj3ppqrA3qKGIaCfmmLTPwTHSHDdsm2o")
REFRESH_TOKEN_EXAMPLE = ("6f015539-d6dd-56d1-8b06-085951fe835a.d62110b7-2ceb-4197-973a-92fc22e228b6"
                         ".0-w256bteCUaTfTz92UEdGatkOERlNRP2MUdpvcsn5k")
WRONG_PASSWORD = "wrong handle or password (the same answer for both)"
SIGN_IN, REFRESH = "sign-in", "refresh"
THROTTLED = {429: "too many attempts from this address or for this account (the wait doubles "
                  "with each failure); retry after the seconds in Retry-After"}
HASHING_BUSY = "too many sign-ins at once; retry after the seconds in Retry-After"
DeviceName = Annotated[str, display_name_field(DEVICE_NAME, "Ada's phone")]
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


def new_session(auth: Sessions, user_id: uuid.UUID,
                device_name: str) -> tuple[NewSession, RefreshToken]:
    now = datetime.now(UTC)
    refresh = new_refresh_token(user_id, uuid.uuid4())
    expires = now + timedelta(seconds=auth.token_ttl_seconds)
    return NewSession(refresh.device_id, device_name, refresh.digest, now, expires,
                      auth.max_devices_per_user), refresh


def token_grant(auth: Sessions, refresh: RefreshToken, position: int) -> TokenGrant:
    session = Session(refresh.user_id, refresh.device_id)
    return TokenGrant(
        user_id=session.user_id, device_id=session.device_id,
        access_token=issue_access_token(auth.tokens, session, int(time.time()), position),
        expires_in=auth.tokens.ttl_seconds,
        refresh_token=refresh.value, position=position,
    )


async def sign_in_with_password(
    auth: Sessions, passwords: HashingPool, request: Request, response: Response,
    handle: str, password: str, device_name: str, correlation: uuid.UUID,
) -> TokenGrant:
    """Throttle, verify the password on the hashing pool, then record the new device."""
    throttle, source = auth.throttle, client_address(request)
    account = throttle.account(handle)
    await asyncio.to_thread(throttle.admit, SIGN_IN, source, account)  # Redis: off the loop
    try:
        user_id: uuid.UUID | None = user_id_for_handle(handle)
        password = clean_password(password)
    except InvalidCommand as error:  # a malformed handle or password is just a wrong one
        await asyncio.to_thread(throttle.failed, SIGN_IN, source, account)
        raise InvalidCredentials("password", "wrong handle or password") from error
    try:
        verified = await passwords.run(verified_password_hash,
                                       auth.new_batch(), passwords.passwords,
                                       user_id, password)
    except InvalidCredentials:
        await asyncio.to_thread(throttle.failed, SIGN_IN, source, account)
        raise
    await asyncio.to_thread(throttle.succeeded, SIGN_IN, account)
    assert user_id is not None
    session, refresh = new_session(auth, user_id, device_name)
    signing_in = CommandContext(auth.writer, request, response, user_id, correlation, None)
    outcome = await signing_in.run(SignIn(user_id, verified, session))
    started: SessionStarted = outcome.result
    for retired in started.retired_device_ids:  # over the device cap
        await forget_revoked(auth, retired, outcome.position)
    return token_grant(auth, refresh, outcome.position)


@sessions.post("", status_code=201, response_model=TokenGrant, summary="Sign in",
               responses=problem_responses(400, 422, described={
                   401: WRONG_PASSWORD, 503: HASHING_BUSY} | THROTTLED))
async def sign_in(body: SignInRequest, request: Request, response: Response,
                  auth: SessionsDep, passwords: Hashing,
                  correlation: CorrelationId) -> TokenGrant:
    """Sign in: a new device, a short-lived access token and a refresh token.

    Throttled per address and per account: after a few failures each further one doubles the
    wait, during which even the right password is refused (429)."""
    return await sign_in_with_password(auth, passwords, request, response, body.handle,
                                       body.password, body.device_name, correlation)


@sessions.post("/refresh", response_model=TokenGrant, summary="Rotate the refresh token",
               responses=problem_responses(400, 422, 503, described={
                   401: "unknown, used, expired or revoked refresh token"} | THROTTLED))
async def refresh(body: RefreshRequest, request: Request, response: Response,
                  auth: SessionsDep, throttle: ThrottleDep,
                  correlation: CorrelationId) -> TokenGrant:
    """Exchange a refresh token for new tokens (see rotate_refresh_token). Throttled per
    address; not per account: refresh tokens cannot be guessed, and an account lock would only
    let a stranger lock its owner out."""
    source = client_address(request)
    await asyncio.to_thread(throttle.admit, REFRESH, source)
    try:
        return await rotate_refresh_token(body, request, response, auth, correlation)
    except Unauthenticated:
        await asyncio.to_thread(throttle.failed, REFRESH, source)
        raise


async def rotate_refresh_token(body: RefreshRequest, request: Request, response: Response,
                               auth: Sessions, correlation: uuid.UUID) -> TokenGrant:
    """Exchange a refresh token for new tokens; the one presented stops working. Presenting
    a token that was already exchanged revokes its device and every token of it."""
    presented = read_refresh_token(body.refresh_token)
    replacement = new_refresh_token(presented.user_id, presented.device_id)
    now = datetime.now(UTC)
    command = RefreshSession(presented, replacement.digest, now,
                             now + timedelta(seconds=auth.token_ttl_seconds))
    refreshing = CommandContext(auth.writer, request, response, presented.user_id, correlation,
                                None)
    outcome = await refreshing.run(command)
    if isinstance(outcome.result, ReusedRefreshTokenRevoked):  # its device was revoked
        await forget_revoked(auth, presented.device_id, outcome.position)
        raise RefreshTokenReused("refresh_token", "the refresh token is not valid")
    return token_grant(auth, replacement, outcome.position)


async def forget_revoked(auth: Sessions, device_id: uuid.UUID, position: int) -> bool:
    """Wait (bounded) until the read model shows the device revoked, and drop it from the
    cache, so its tokens stop working at once; False if the read model is slower than that."""
    if await asyncio.to_thread(auth.gate.wait, position, [DEVICES]):
        auth.devices.forget(str(device_id))
        return True
    return False


async def revoke(commands: CommandContext, auth: Sessions,
                 device_id: uuid.UUID) -> DeviceRevoked:
    """Revoke, then wait (bounded) until the read model shows it, so that when this answers
    the device's tokens no longer work; 202 if the read model is slower than that."""
    outcome = await commands.run(RevokeDevice(commands.caller, device_id, datetime.now(UTC)))
    revoked = reply(commands.response, outcome, DeviceRevoked)
    if not await forget_revoked(auth, device_id, outcome.position):
        commands.response.status_code = 202
    return revoked


@sessions.delete("/current", response_model=DeviceRevoked, summary="Sign out this device",
                 responses=problem_responses(401, 422, 503) | REVOKED_LATER)
async def sign_out(session: CurrentSession, commands: UnkeyedCommands,
                   auth: SessionsDep) -> DeviceRevoked:
    """Sign out: revokes the device this request comes from, with its tokens."""
    return await revoke(commands, auth, session.device_id)


@devices.get("", response_model=DeviceList, summary="List the caller's devices",
             responses=problem_responses(*QUERY_PROBLEMS))
def list_devices(session: CurrentSession, gate: Gate, devices: Devices,
                 position: ConsistencyPosition = None) -> DeviceList:
    """The caller's devices in force, oldest sign-in first."""
    wait_for(gate, position, [DEVICES])
    documents = devices.devices_of(str(session.user_id))
    return DeviceList(devices=[
        DeviceView(**d, current=d["device_id"] == str(session.device_id)) for d in documents
    ])


@devices.delete("/{device_id}", response_model=DeviceRevoked, summary="Revoke a device",
                responses=problem_responses(401, 422, 503, described={
                    404: "no such device of the caller's"}) | REVOKED_LATER)
async def revoke_device(device_id: uuid.UUID, commands: UnkeyedCommands,
                        auth: SessionsDep) -> DeviceRevoked:
    """Revoke one of the caller's devices: its access and refresh tokens stop working."""
    return await revoke(commands, auth, device_id)
