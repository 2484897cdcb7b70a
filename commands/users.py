"""Commands about users: registration (the first sign-in), profile and privacy changes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from commands.batch import Batch
from commands.outcomes import Outcome
from domain.accounts import Credentials, RefreshGrant
from domain.devices import Device
from domain.errors import HandleTaken, UserNotFound
from domain.events import Cause
from domain.users import User


@dataclass(frozen=True)
class NewSession:
    """A device signing in, with the digest of the refresh token it was given."""

    device_id: UUID
    device_name: str
    refresh_digest: str = field(repr=False)
    at: datetime
    refresh_expires_at: datetime


@dataclass(frozen=True)
class RegisterUser:
    handle: str
    name: str
    password_hash: str | None = field(default=None, repr=False)
    session: NewSession | None = None


@dataclass(frozen=True)
class ChangeProfile:
    user_id: UUID
    name: str | None = None
    avatar: str | None = None
    clear_avatar: bool = False


@dataclass(frozen=True)
class ChangePresenceVisibility:
    """Who sees when the user is online and last seen: everyone, contacts or nobody."""

    user_id: UUID
    visible_to: str


def start_session(batch: Batch, user_id: UUID, session: NewSession, cause: Cause) -> Device:
    """A device and its refresh grant, added to the batch."""
    device = Device.sign_in(session.device_id, user_id, session.device_name, session.at, cause)
    batch.add(device)
    batch.add(RefreshGrant.issue(user_id, device.id, session.refresh_digest,
                                 session.refresh_expires_at, cause))
    return device


def register_user(batch: Batch, command: RegisterUser, cause: Cause) -> Outcome:
    user = User.register(command.handle, command.name, cause)
    if batch.find(User, user.id) is not None:
        raise HandleTaken("handle", "this handle is taken")
    body: dict[str, object] = {"user_id": str(user.id), "handle": user.handle,
                               "name": user.name}
    if command.password_hash is not None:
        batch.add(Credentials.establish(user.id, command.password_hash, cause))
    if command.session is not None:
        body["device_id"] = str(start_session(batch, user.id, command.session, cause).id)
    batch.add(user)
    return Outcome(201, body)


def profile_body(user: User) -> dict[str, object]:
    return {"user_id": str(user.id), "handle": user.handle, "name": user.name,
            "avatar": user.avatar}


def change_profile(batch: Batch, command: ChangeProfile, cause: Cause) -> Outcome:
    user = batch.find(User, command.user_id)
    if user is None:
        raise UserNotFound("user_id", "no such user")
    avatar = None if command.clear_avatar else command.avatar or user.avatar
    user.change_profile(command.name or user.name, avatar, cause)
    return Outcome(200, profile_body(user))


def change_presence_visibility(batch: Batch, command: ChangePresenceVisibility,
                               cause: Cause) -> Outcome:
    user = batch.find(User, command.user_id)
    if user is None:
        raise UserNotFound("user_id", "no such user")
    user.show_presence_to(command.visible_to, cause)
    return Outcome(200, {"presence": user.presence_visible_to})
