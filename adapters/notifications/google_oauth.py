"""OAuth2 for a Google service account: a signed JWT assertion exchanged for an access token.

The assertion (RFC 7523) is signed RS256 with the account's private key, names the account
(`iss`), the scope asked for and the token endpoint (`aud`), and lasts an hour; the endpoint
answers an opaque access token and how long it lasts. The token is kept until a minute before
it expires, shared by every concurrent send (one exchange at a time), and dropped when the
service refuses it, so the next send exchanges a fresh one.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from adapters.notifications.http_posts import bounded, retryable
from commands.notifications.providers import ProviderAnswer

JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ASSERTION_LIFETIME_SECONDS = 3600
EXPIRY_MARGIN_SECONDS = 60


@dataclass(frozen=True)
class ServiceAccount:
    """The parts of a service account's JSON key file that the token exchange needs."""

    client_email: str
    private_key: RSAPrivateKey = field(repr=False)
    token_uri: str

    @classmethod
    def from_key(cls, key: Any, where: str) -> ServiceAccount:
        """From the key file's JSON object; a ValueError names the bad field of `where`."""
        if not isinstance(key, Mapping):
            raise ValueError(f"{where} must be a JSON object")
        for name in ("client_email", "private_key", "token_uri"):
            if not isinstance(key.get(name), str) or not key[name]:
                raise ValueError(f"{where}.{name} must be a non-empty string")
        try:
            private_key = load_pem_private_key(key["private_key"].encode(), password=None)
        except (ValueError, TypeError):
            private_key = None
        if not isinstance(private_key, RSAPrivateKey):
            raise ValueError(f"{where}.private_key must be an unencrypted RSA key in PEM")
        return cls(key["client_email"], private_key, key["token_uri"])

    @classmethod
    def from_file(cls, path: str, where: str) -> ServiceAccount:
        try:
            key = json.loads(Path(path).read_text())
        except (OSError, ValueError) as error:
            raise ValueError(f"{where} must name a readable JSON key file") from error
        return cls.from_key(key, where)

    def assertion(self, scope: str, now: float) -> str:
        issued = int(now)
        claims = {"iss": self.client_email, "scope": scope, "aud": self.token_uri,
                  "iat": issued, "exp": issued + ASSERTION_LIFETIME_SECONDS}
        return jwt.encode(claims, self.private_key, algorithm="RS256")


class TokenRefused(Exception):
    """The token endpoint did not give a token; `answer` is what the send answers instead."""

    def __init__(self, answer: ProviderAnswer) -> None:
        super().__init__(answer.code)
        self.answer = answer


class AccessTokens:
    """The service account's current access token for one scope, exchanged when needed."""

    def __init__(self, account: ServiceAccount, scope: str, client: httpx.AsyncClient, *,
                 timeout_seconds: float, clock: Callable[[], float] = time.time) -> None:
        self._account = account
        self._scope = scope
        self._client = client
        self._timeout = timeout_seconds
        self._clock = clock
        self._token: str | None = None
        self._good_until = 0.0
        self._exchange = asyncio.Lock()

    def __repr__(self) -> str:
        return f"AccessTokens({self._account.client_email!r}, {self._scope!r})"

    async def current(self) -> str:
        """A token good for at least another minute; raises TokenRefused if none is given."""
        async with self._exchange:
            if self._token is None or self._clock() >= self._good_until:
                self._token, self._good_until = await self._exchanged()
            return self._token

    def refused(self, token: str) -> None:
        """The service refused `token`: the next `current()` exchanges a new one (unless a
        concurrent send already has)."""
        if self._token == token:
            self._token = None

    async def _exchanged(self) -> tuple[str, float]:
        now = self._clock()
        form = {"grant_type": JWT_BEARER_GRANT,
                "assertion": self._account.assertion(self._scope, now)}
        response = await bounded(self._client, "POST", self._account.token_uri,
                                 seconds=self._timeout, data=form)
        if isinstance(response, ProviderAnswer):
            raise TokenRefused(response)
        if response.status_code >= 500 or response.status_code == 429:
            raise TokenRefused(retryable("auth", response, f"token endpoint answered "
                                                           f"{response.status_code}"))
        try:
            answer = response.json()
            token, lifetime = answer.get("access_token"), float(answer.get("expires_in", 3600))
            error = str(answer.get("error", ""))[:64]
        except (ValueError, AttributeError, TypeError):
            token, lifetime, error = None, 0.0, ""
        if response.status_code != 200 or not isinstance(token, str) or not token:
            # 400 invalid_grant and the like: the key or the account is wrong, not the moment
            raise TokenRefused(ProviderAnswer.failed(
                "auth", retryable=False,
                detail=f"token endpoint answered {response.status_code} {error}".strip()))
        return token, now + lifetime - EXPIRY_MARGIN_SECONDS
