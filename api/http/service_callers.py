"""Service callers: routes that services call present an API key, not a user's access token.

A route declares the scope it needs, `caller: Annotated[ServiceCaller,
Depends(require_scope("notifications:trigger"))]`, and is given who is calling. The key is
`Authorization: Bearer pk_<key_id>_<secret>` (told from a user's access token by its prefix);
it is checked against its aggregate in the event log on every request, through the
`ServiceKeys` port identity implements (commands/identity/api_keys.py), so this core names no
context. A missing, malformed, unknown or revoked key, or a user's token, all get the same
401; a good key without the scope a 403. Nothing here logs or raises with the key in it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Protocol

from fastapi import Depends, Header

from api.http.dependencies import ParleyDep
from api.http.problems import Problem

CHALLENGE = {"WWW-Authenticate": "Bearer"}
NOT_A_KEY = "send 'Authorization: Bearer pk_...' with a live API key"


class IssuedKey(Protocol):
    """A live key as the log holds it (identity's `ApiKey` aggregate is one)."""

    @property
    def key_id(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def scopes(self) -> tuple[str, ...]: ...


class ServiceKeys(Protocol):
    """Identity's API keys as a request checks them (blocking: the log is read)."""

    scopes: frozenset[str]  # every scope there is: a route can only require one of them

    def presented(self, text: str) -> IssuedKey | None:
        """The live key `text` presents, or None for anything else."""
        ...


@dataclass(frozen=True)
class ServiceCaller:
    """The service calling: its key's public id, its name, what it may do."""

    key_id: str
    name: str
    scopes: frozenset[str]


async def get_service_keys(parley: ParleyDep) -> ServiceKeys:
    return parley.service_keys


Keys = Annotated[ServiceKeys, Depends(get_service_keys)]


async def service_caller(keys: Keys,
                         authorization: Annotated[str | None, Header()] = None) -> ServiceCaller:
    """Who is calling, by the API key presented; the same 401 whatever is wrong with it."""
    scheme, _, token = (authorization or "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token.startswith("pk_"):
        raise Problem(401, "Unauthorized", NOT_A_KEY, CHALLENGE)
    key = await asyncio.to_thread(keys.presented, token)
    if key is None:
        raise Problem(401, "Unauthorized", NOT_A_KEY, CHALLENGE)
    return ServiceCaller(key.key_id, key.name, frozenset(key.scopes))


def require_scope(scope: str) -> Callable[..., Awaitable[ServiceCaller]]:
    """A dependency giving the calling service, if its key holds `scope` (else 401 or 403)."""

    async def caller_with_scope(
        keys: Keys, authorization: Annotated[str | None, Header()] = None,
    ) -> ServiceCaller:
        if scope not in keys.scopes:  # the route's mistake, never the caller's: fail loudly
            raise LookupError(f"no such scope: {scope!r}")
        caller = await service_caller(keys, authorization)
        if scope not in caller.scopes:
            raise Problem(403, "Forbidden", f"this API key lacks the scope {scope!r}")
        return caller

    caller_with_scope.__name__ = f"service_caller_with_{scope.replace(':', '_')}"
    return caller_with_scope
