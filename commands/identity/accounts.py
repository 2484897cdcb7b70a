"""Commands about sessions and devices: sign in, refresh, revoke.

Passwords are verified before a command reaches the group-commit writer (a KDF is slow on
purpose, and the writer thread must not wait for it): `verified_password_hash` runs in a
worker thread, and the sign-in command then checks that the hash it verified is still the
current one.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol
from uuid import UUID

from commands.identity.users import ChangeProfile, NewSession, change_profile, start_session
from domain.identity.accounts import (
    Credentials,
    InvalidCredentials,
    InvalidRefreshToken,
    RefreshGrant,
    credentials_id,
    refresh_grant_id,
)
from domain.identity.devices import Device, DeviceNotFound
from event_log.aggregate import Cause
from event_log.batch import Batch
from event_log.outcomes import Handler

REFRESH_TOKEN_BYTES = 32


class Passwords(Protocol):
    """A password KDF (argon2 in adapters/identity/argon2_passwords.py)."""

    def hash(self, password: str) -> str: ...

    def verify(self, password_hash: str, password: str) -> bool: ...

    @property
    def decoy_hash(self) -> str:
        """A hash to verify against when the user is unknown, so both cases take as long."""
        ...


@dataclass(frozen=True)
class RefreshToken:
    """`<user id>.<device id>.<random>`: opaque to clients; only its sha-256 digest is stored.

    The ids let the server find the grant; changing them changes the digest, so they cannot be
    forged."""

    value: str = field(repr=False)
    user_id: UUID
    device_id: UUID
    digest: str = field(repr=False)


def token_digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def new_refresh_token(user_id: UUID, device_id: UUID) -> RefreshToken:
    value = f"{user_id}.{device_id}.{secrets.token_urlsafe(REFRESH_TOKEN_BYTES)}"
    return RefreshToken(value, user_id, device_id, token_digest(value))


def read_refresh_token(value: str) -> RefreshToken:
    """Parse a presented token; anything malformed is just an invalid token."""
    user_part, _, rest = value.partition(".")
    device_part, _, secret = rest.partition(".")
    try:
        user_id, device_id = UUID(user_part), UUID(device_part)
    except ValueError as error:
        raise InvalidRefreshToken("refresh_token", "the refresh token is not valid") from error
    if not secret:
        raise InvalidRefreshToken("refresh_token", "the refresh token is not valid")
    return RefreshToken(value, user_id, device_id, token_digest(value))


def verified_password_hash(batch: Batch, passwords: Passwords, user_id: UUID | None,
                           password: str) -> str:
    """The user's current hash if `password` matches it; unknown users fail the same way."""
    credentials = None if user_id is None else batch.find(Credentials, credentials_id(user_id))
    stored = credentials.password_hash if credentials is not None else passwords.decoy_hash
    if not passwords.verify(stored, password) or credentials is None:
        raise InvalidCredentials("password", "wrong handle or password")
    return stored


@dataclass(frozen=True)
class SignIn:
    user_id: UUID
    verified_hash: str = field(repr=False)
    session: NewSession


@dataclass(frozen=True)
class RefreshSession:
    presented: RefreshToken
    replacement_digest: str = field(repr=False)
    at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class RevokeDevice:
    user_id: UUID
    device_id: UUID
    at: datetime


@dataclass(frozen=True)
class SessionStarted:
    """A device signed in; beyond the device cap, `retired_device_ids` were signed out."""

    user_id: UUID
    device_id: UUID
    retired_device_ids: tuple[UUID, ...] = ()


@dataclass(frozen=True)
class SessionRefreshed:
    user_id: UUID
    device_id: UUID


@dataclass(frozen=True)
class ReusedRefreshTokenRevoked:
    """A token already exchanged came back: its device and grant are revoked (stored, and
    answered as the refusal it is)."""

    user_id: UUID
    device_id: UUID


@dataclass(frozen=True)
class DeviceSignedOut:
    device_id: UUID


def sign_in(batch: Batch, command: SignIn, cause: Cause) -> SessionStarted:
    credentials = batch.find(Credentials, credentials_id(command.user_id))
    if credentials is None:
        raise InvalidCredentials("password", "wrong handle or password")
    credentials.confirm(command.verified_hash)
    device, retired = start_session(batch, command.user_id, command.session, cause)
    return SessionStarted(command.user_id, device.id, retired)


def refresh_session(batch: Batch, command: RefreshSession,
                    cause: Cause) -> SessionRefreshed | ReusedRefreshTokenRevoked:
    device_id = command.presented.device_id
    grant = batch.find(RefreshGrant, refresh_grant_id(device_id))
    device = batch.find(Device, device_id)
    owner = command.presented.user_id
    if (grant is None or device is None or grant.user_id != owner
            or not device.is_in_force_for(owner)):
        raise InvalidRefreshToken("refresh_token", "the refresh token is not valid")
    if grant.was_retired(command.presented.digest):
        # Someone else holds a copy of a token this device used: end the grant and the device,
        # so neither the thief's tokens nor the device's current ones work any more. The events
        # must be stored, so this is a result (answered 401), not an error.
        grant.revoke_for_reuse(command.presented.digest, command.at, cause)
        device.revoke(owner, command.at, cause)
        return ReusedRefreshTokenRevoked(owner, device.id)
    grant.rotate(command.presented.digest, command.replacement_digest, command.at,
                 command.expires_at, cause)
    device.record_refresh(command.at, cause)
    return SessionRefreshed(device.user_id, device.id)


def revoke_device(batch: Batch, command: RevokeDevice, cause: Cause) -> DeviceSignedOut:
    device = batch.find(Device, command.device_id)
    if device is None:
        raise DeviceNotFound("device_id", "no such device")
    device.revoke(command.user_id, command.at, cause)
    grant = batch.find(RefreshGrant, refresh_grant_id(device.id))
    if grant is not None:
        grant.withdraw(cause)
    return DeviceSignedOut(device.id)


ACCOUNT_HANDLERS: dict[type, Handler] = {
    SignIn: sign_in,
    RefreshSession: refresh_session,
    RevokeDevice: revoke_device,
    ChangeProfile: change_profile,
}
