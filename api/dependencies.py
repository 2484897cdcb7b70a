"""Per-request dependencies: the built Parley, the caller, the cause of commands."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Annotated, Any

import jwt
from fastapi import Depends, Header, Query, Request

from api.problems import Problem
from domain.events import Cause
from parley.bootstrap import Parley

TOKEN_ALGORITHM = "HS256"
IDEMPOTENCY_KEY_PATTERN = r"^[\x21-\x7e]{1,128}$"


async def get_parley(request: Request) -> Parley:
    parley: Parley = request.app.state.parley
    return parley


ParleyDep = Annotated[Parley, Depends(get_parley)]


def issue_token(parley: Parley, user_id: uuid.UUID, issued_at: int) -> str:
    claims = {"sub": str(user_id), "iat": issued_at,
              "exp": issued_at + parley.settings.token_ttl_seconds}
    return jwt.encode(claims, parley.secret_key, algorithm=TOKEN_ALGORITHM)


async def current_user_id(
    parley: ParleyDep, authorization: Annotated[str | None, Header()] = None
) -> uuid.UUID:
    challenge = {"WWW-Authenticate": "Bearer"}
    if not authorization or not authorization.lower().startswith("bearer "):
        raise Problem(401, "Unauthorized", "send 'Authorization: Bearer <token>'", challenge)
    try:
        claims = jwt.decode(authorization[7:].strip(), parley.secret_key,
                            algorithms=[TOKEN_ALGORITHM], options={"require": ["sub", "exp"]})
        return uuid.UUID(str(claims["sub"]))
    except (jwt.PyJWTError, ValueError) as error:
        raise Problem(401, "Unauthorized", "the token is invalid or expired", challenge) from error


UserId = Annotated[uuid.UUID, Depends(current_user_id)]


async def correlation_id(x_request_id: Annotated[str | None, Header()] = None) -> uuid.UUID:
    try:
        return uuid.UUID(x_request_id) if x_request_id else uuid.uuid4()
    except ValueError:
        return uuid.uuid4()


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


def wait_for(parley: Parley, position: int | None, projections: list[str]) -> None:
    if not parley.gate.wait(position, projections):
        raise Problem(503, "Not yet consistent",
                      f"read models have not reached position {position} yet; retry",
                      {"Retry-After": "1"})
