"""Per-request dependencies: the built Parley, the caller, the cause of commands."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, Protocol, TypeVar

import jwt
from fastapi import Depends, Header, Query, Request, Response
from pydantic import BaseModel
from starlette.requests import HTTPConnection

from api.http.command_writer import CommandWriter
from api.http.problems import Problem
from api.http.request_ids import request_id_of
from event_log.aggregate import Cause
from event_log.faults import CommandOutcomeUnknown
from event_log.outcomes import Outcome
from parley.bootstrap import Parley
from projections.read_model.consistency import ConsistencyGate

TOKEN_ALGORITHM = "HS256"
# Tolerated difference between clocks. A token is refused once it is older than the access
# TTL plus this, whatever its `exp` says: a forged or mis-issued long-lived token is useless.
CLOCK_SKEW_SECONDS = 30
IDEMPOTENCY_KEY_PATTERN = r"^[\x21-\x7e]{1,128}$"


async def get_parley(connection: HTTPConnection) -> Parley:
    """The one place api/ reaches the built Parley; routes are given its parts (below, and
    api/<context>/dependencies.py), never the whole."""
    parley: Parley = connection.app.state.parley
    return parley


ParleyDep = Annotated[Parley, Depends(get_parley)]

Q = TypeVar("Q")


def read_model(cls: type[Q]) -> Callable[[HTTPConnection], Awaitable[Q]]:
    """A dependency giving the process's one `cls` query object, built from the read store
    by the composition root (a context's manifest lists it under `store_queries`):
    `Balances = Annotated[BalanceQueries, Depends(read_model(BalanceQueries))]`."""

    async def given(connection: HTTPConnection) -> Q:
        built: Q = connection.app.state.parley.store_queries[cls]
        return built

    given.__name__ = f"read_model_{cls.__name__}"
    return given


async def get_gate(parley: ParleyDep) -> ConsistencyGate:
    return parley.gate


Gate = Annotated[ConsistencyGate, Depends(get_gate)]


async def get_writer(parley: ParleyDep) -> CommandWriter:
    return parley.writer


Writer = Annotated[CommandWriter, Depends(get_writer)]


@dataclass(frozen=True)
class Session:
    """Who is calling, and from which device (each sign-in is a device)."""

    user_id: uuid.UUID
    device_id: uuid.UUID
    issued_at_position: int = 0  # the log position its token was issued at


class DevicesInForce(Protocol):
    """Identity's devices read model as authentication reads it: the port identity publishes
    (`projections.identity.devices.DeviceQueries`), so this shared core names no context."""

    projection: str  # the read model to wait for when a device is not known yet

    def in_force(self, device_id: str, user_id: str) -> bool | None: ...


@dataclass(frozen=True)
class AccessTokens:
    """How access tokens are signed and checked, and whose devices are still in force."""

    secret_key: str
    ttl_seconds: int
    devices: DevicesInForce
    gate: ConsistencyGate


async def get_access_tokens(parley: ParleyDep) -> AccessTokens:
    return AccessTokens(parley.secret_key, parley.settings.access_token_ttl_seconds,
                        parley.devices, parley.gate)


Tokens = Annotated[AccessTokens, Depends(get_access_tokens)]


def issue_access_token(tokens: AccessTokens, session: Session, issued_at: int,
                       position: int) -> str:
    """A short-lived bearer token; `pos` is where its device was created in the log."""
    claims = {"sub": str(session.user_id), "did": str(session.device_id), "iat": issued_at,
              "exp": issued_at + tokens.ttl_seconds, "pos": position}
    return jwt.encode(claims, tokens.secret_key, algorithm=TOKEN_ALGORITHM)


def device_in_force(tokens: AccessTokens, session: Session, position: int) -> bool:
    """Checked on every request, so a revoked device's tokens stop working at once.

    Through the cache (invalidated by the devices projector). A device the read model does not
    know yet was signed in moments ago: wait, bounded, for its position, then decide.
    """
    devices = tokens.devices
    in_force = devices.in_force(str(session.device_id), str(session.user_id))
    if in_force is None and position > 0 and tokens.gate.wait(position, [devices.projection]):
        in_force = devices.in_force(str(session.device_id), str(session.user_id))
    return bool(in_force)


def authenticate(tokens: AccessTokens, token: str) -> Session:
    """The session a bearer token stands for (also for WebSocket handshakes); raises 401."""
    challenge = {"WWW-Authenticate": "Bearer"}
    try:
        claims = jwt.decode(token, tokens.secret_key, algorithms=[TOKEN_ALGORITHM],
                            options={"require": ["sub", "did", "exp", "iat"]},
                            leeway=CLOCK_SKEW_SECONDS)
        issued_ago = time.time() - int(claims["iat"])
        if issued_ago > tokens.ttl_seconds + CLOCK_SKEW_SECONDS:
            raise Problem(401, "Unauthorized", "the token is invalid or expired", challenge)
        position = int(claims.get("pos", 0))
        session = Session(uuid.UUID(str(claims["sub"])), uuid.UUID(str(claims["did"])),
                          position)
    except (jwt.PyJWTError, ValueError, TypeError) as error:
        raise Problem(401, "Unauthorized", "the token is invalid or expired", challenge) from error
    if not device_in_force(tokens, session, position):
        raise Problem(401, "Unauthorized", "this device was signed out", challenge)
    return session


async def current_session(
    tokens: Tokens, authorization: Annotated[str | None, Header()] = None
) -> Session:
    if not authorization or not authorization.lower().startswith("bearer "):
        raise Problem(401, "Unauthorized", "send 'Authorization: Bearer <token>'",
                      {"WWW-Authenticate": "Bearer"})
    return await asyncio.to_thread(authenticate, tokens, authorization[7:].strip())


CurrentSession = Annotated[Session, Depends(current_session)]


async def current_user_id(session: CurrentSession) -> uuid.UUID:
    return session.user_id


UserId = Annotated[uuid.UUID, Depends(current_user_id)]


async def correlation_id(request: Request) -> uuid.UUID:
    """The request's id (`X-Request-Id`, kept or made by `api.http.request_ids.RequestIds`)."""
    return request_id_of(request.scope)


CorrelationId = Annotated[uuid.UUID, Depends(correlation_id)]

IdempotencyKey = Annotated[
    str | None, Header(alias="Idempotency-Key", pattern=IDEMPOTENCY_KEY_PATTERN)
]

ConsistencyPosition = Annotated[
    int | None,
    Query(ge=0, le=2**62, description="Wait (bounded) until read models reach this position"),
]


def cause_of(user_id: uuid.UUID, correlation: uuid.UUID) -> Cause:
    return Cause(actor_id=user_id, correlation_id=correlation)


def fingerprint(request: Request, payload: Any) -> str:
    """What makes two keyed requests 'the same': method, path and the parsed body."""
    canonical = json.dumps(payload, sort_keys=True, default=str)
    digest = hashlib.sha256(f"{request.method} {request.url.path} {canonical}".encode())
    return digest.hexdigest()


def wait_for(gate: ConsistencyGate, position: int | None, projections: list[str]) -> None:
    if not gate.wait(position, projections):
        raise Problem(503, "Not yet consistent",
                      f"read models have not reached position {position} yet; retry",
                      {"Retry-After": "1"})


@dataclass(frozen=True)
class CommandContext:
    """What a command route needs to submit a command on the caller's behalf."""

    writer: CommandWriter
    request: Request
    response: Response
    caller: uuid.UUID
    correlation: uuid.UUID
    idempotency_key: str | None

    async def run(self, command: Any, body: BaseModel | None = None) -> Outcome[Any]:
        """Submit `command`; a keyed retry is the same request if it sends the same `body`."""
        return await self.submit(command, {} if body is None else body.model_dump(mode="json"))

    async def submit(self, command: Any, payload: Any) -> Outcome[Any]:
        """Submit to the group-commit writer; `payload` is what a keyed retry must repeat.

        The outcome's typed result is the route's to answer (its context's `answers.reply`
        sets the status and builds the body); the log position is always a header."""
        writer = self.writer
        submitted = asyncio.wrap_future(writer.submit(
            command, cause_of(self.caller, self.correlation), self.idempotency_key,
            fingerprint(self.request, payload)
        ))
        try:
            outcome = await asyncio.wait_for(asyncio.shield(submitted),
                                             writer.longest_answer_seconds)
        except TimeoutError as error:  # the writer is wedged: the command may yet commit
            submitted.add_done_callback(_answered_too_late)
            raise CommandOutcomeUnknown(
                "no answer from the event log in time; retry with the same Idempotency-Key "
                "(or client_message_id)") from error
        self.response.headers["Parley-Position"] = str(outcome.position)
        return outcome


def _answered_too_late(submitted: asyncio.Future[Any]) -> None:
    """Takes the late outcome of a command whose caller was answered 503 already, so a
    failure (CommandNotStored) is not logged by asyncio as "never retrieved"."""
    if not submitted.cancelled():
        submitted.exception()


async def command_context(
    request: Request, response: Response, writer: Writer, caller: UserId,
    correlation: CorrelationId, idempotency_key: IdempotencyKey = None,
) -> CommandContext:
    return CommandContext(writer, request, response, caller, correlation, idempotency_key)


async def unkeyed_command_context(
    request: Request, response: Response, writer: Writer, caller: UserId,
    correlation: CorrelationId,
) -> CommandContext:
    """For the caller's commands that take no `Idempotency-Key`."""
    return CommandContext(writer, request, response, caller, correlation, None)


Commands = Annotated[CommandContext, Depends(command_context)]
UnkeyedCommands = Annotated[CommandContext, Depends(unkeyed_command_context)]
