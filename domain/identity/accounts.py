"""Credentials: what proves who someone is. These events are never relayed nor projected.

The password hash and refresh-token digests live only here, in the event log, so Kafka,
Elasticsearch, the cache and API answers never hold them (adapters/event_log/kafka_relay.py relays
only the modules it lists, and this one is deliberately absent).
"""

from __future__ import annotations

import hmac
import unicodedata
from datetime import datetime
from uuid import UUID, uuid5

from domain.errors import InvalidCommand, Unauthenticated
from domain.identity.errors import PasswordLengthOutOfBounds
from event_log.aggregate import Cause, ParleyAggregate, values

CREDENTIALS_NAMESPACE = UUID("8e0f5a3b-61c2-4d7e-9a14-2b7c0d9e4f58")
REFRESH_GRANT_NAMESPACE = UUID("c3a1e7d2-0b4f-4a96-8d35-71e2f9b6a0c4")
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 128


class InvalidCredentials(Unauthenticated):
    """Wrong handle or password: both get the same answer, so handles do not leak."""


class InvalidRefreshToken(Unauthenticated):
    """The refresh token is unknown, rotated out, expired or its device revoked."""


class RefreshTokenReused(InvalidRefreshToken):
    """A rotated-out refresh token came back: someone holds a copy, so the grant and its device
    were revoked (the same 401 as any invalid token)."""


def credentials_id(user_id: UUID) -> UUID:
    return uuid5(CREDENTIALS_NAMESPACE, str(user_id))


def refresh_grant_id(device_id: UUID) -> UUID:
    return uuid5(REFRESH_GRANT_NAMESPACE, str(device_id))


def clean_password(password: str) -> str:
    """A password is 8 to 128 characters, compared after NFC normalisation."""
    try:
        password.encode("utf-8")
    except UnicodeEncodeError as error:
        raise InvalidCommand("password", "a password must be valid Unicode") from error
    normalised = unicodedata.normalize("NFC", password)
    if not MIN_PASSWORD_LENGTH <= len(normalised) <= MAX_PASSWORD_LENGTH:
        raise PasswordLengthOutOfBounds(
            "password",
            f"a password is {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters",
        )
    return normalised


class Credentials(ParleyAggregate):
    """A user's password hash (a modern KDF's output; the password itself is never stored)."""

    def __init__(self, user_id: UUID, password_hash: str) -> None:
        self.user_id = user_id
        self.password_hash = password_hash

    class Established(ParleyAggregate.Created):
        user_id: UUID
        password_hash: str

    @classmethod
    def establish(cls, user_id: UUID, password_hash: str, cause: Cause) -> Credentials:
        return cls._create(
            cls.Established,
            id=credentials_id(user_id),
            user_id=user_id,
            password_hash=password_hash,
            **cause.as_event_fields(),
        )

    def confirm(self, verified_hash: str) -> None:
        """The password was verified against `verified_hash`: it must still be the current one."""
        if not hmac.compare_digest(verified_hash, self.password_hash):
            raise InvalidCredentials("password", "wrong handle or password")


class RefreshGrant(ParleyAggregate):
    """The digest of one device's current refresh token; rotating it retires the previous one.

    The digests of the last `SPENT_DIGESTS_KEPT` retired tokens are remembered, so that a
    retired token presented again is told from a made-up one: its reuse means a copy is in
    someone else's hands, and the whole grant is revoked (RFC 6819 5.2.2.3; OAuth 2.0 Security
    BCP, refresh-token rotation)."""

    SPENT_DIGESTS_KEPT = 1000

    def __init__(self, user_id: UUID, device_id: UUID, token_digest: str,
                 expires_at: datetime) -> None:
        self.user_id = user_id
        self.device_id = device_id
        self.token_digest = token_digest
        self.expires_at = expires_at
        self.withdrawn = False
        self.spent_digests: list[str] = []

    class Issued(ParleyAggregate.Created):
        user_id: UUID
        device_id: UUID
        token_digest: str
        expires_at: datetime

    class Rotated(ParleyAggregate.Event):
        token_digest: str
        expires_at: datetime

        def apply(self, aggregate: ParleyAggregate) -> None:
            assert isinstance(aggregate, RefreshGrant)
            retired = [*aggregate.spent_digests, aggregate.token_digest]
            aggregate.spent_digests = retired[-RefreshGrant.SPENT_DIGESTS_KEPT:]
            aggregate.token_digest = self.token_digest
            aggregate.expires_at = self.expires_at

    class Withdrawn(ParleyAggregate.Event):
        sets = values(withdrawn=True)

    class ReuseDetected(ParleyAggregate.Event):
        """A retired token was presented again; the grant is withdrawn from then on."""

        detected_at: datetime
        sets = values(withdrawn=True)

    @classmethod
    def issue(cls, user_id: UUID, device_id: UUID, token_digest: str, expires_at: datetime,
              cause: Cause) -> RefreshGrant:
        return cls._create(
            cls.Issued,
            id=refresh_grant_id(device_id),
            user_id=user_id,
            device_id=device_id,
            token_digest=token_digest,
            expires_at=expires_at,
            **cause.as_event_fields(),
        )

    def rotate(self, presented_digest: str, new_digest: str, now: datetime,
               expires_at: datetime, cause: Cause) -> None:
        """Swap the presented token for a new one; the presented one stops working."""
        if (self.withdrawn or now >= self.expires_at
                or not hmac.compare_digest(presented_digest, self.token_digest)):
            raise InvalidRefreshToken("refresh_token", "the refresh token is not valid")
        self.trigger_event(self.Rotated, token_digest=new_digest, expires_at=expires_at,
                           **cause.as_event_fields())

    def withdraw(self, cause: Cause) -> None:
        if not self.withdrawn:
            self.trigger_event(self.Withdrawn, **cause.as_event_fields())

    def was_retired(self, presented_digest: str) -> bool:
        """Whether `presented_digest` is one of a token this grant rotated out."""
        return any(hmac.compare_digest(presented_digest, spent) for spent in self.spent_digests)

    def revoke_for_reuse(self, presented_digest: str, now: datetime, cause: Cause) -> None:
        """A retired token came back: withdraw the grant, so no token of it works any more."""
        if self.withdrawn or not self.was_retired(presented_digest):
            raise InvalidRefreshToken("refresh_token", "the refresh token is not valid")
        self.trigger_event(self.ReuseDetected, detected_at=now, **cause.as_event_fields())
