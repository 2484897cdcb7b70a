"""Commands about users: registration (the first sign-in), profile and privacy changes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from domain.identity.accounts import Credentials, RefreshGrant, refresh_grant_id
from domain.identity.device_roster import DEFAULT_MAX_DEVICES, DeviceRoster, device_roster_id
from domain.identity.devices import Device
from domain.identity.errors import HandleTaken, UserNotFound
from domain.identity.users import User
from event_log.aggregate import Cause
from event_log.batch import Batch


@dataclass(frozen=True)
class NewSession:
    """A device signing in, with the digest of the refresh token it was given."""

    device_id: UUID
    device_name: str
    refresh_digest: str = field(repr=False)
    at: datetime
    refresh_expires_at: datetime
    max_devices: int = DEFAULT_MAX_DEVICES


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


@dataclass(frozen=True)
class UserRegistered:
    """A new user, signed in on `device_id` when registration started a session."""

    user_id: UUID
    handle: str
    name: str
    device_id: UUID | None = None


@dataclass(frozen=True)
class ProfileUpdated:
    """The user's profile as it stands after the change."""

    user_id: UUID
    handle: str
    name: str
    avatar: str | None


@dataclass(frozen=True)
class PresenceVisibilityUpdated:
    visible_to: str


def start_session(batch: Batch, user_id: UUID, session: NewSession,
                  cause: Cause) -> tuple[Device, tuple[UUID, ...]]:
    """A device and its refresh grant, added to the batch; beyond the user's device cap, their
    least recently used device is signed out (its refresh grant withdrawn). Returns the new
    device and the devices signed out for it."""
    device = Device.sign_in(session.device_id, user_id, session.device_name, session.at, cause)
    roster = batch.find(DeviceRoster, device_roster_id(user_id))
    if roster is None:
        roster = DeviceRoster.start(user_id, cause)
        batch.add(roster)
    last_used: dict[UUID, datetime] = {}
    for device_id in roster.device_ids:
        enrolled = batch.find(Device, device_id)
        if enrolled is not None and enrolled.is_in_force_for(user_id):
            last_used[device_id] = enrolled.last_used_at
    retired = roster.enroll(device.id, last_used, session.max_devices, cause)
    for retired_id in retired:
        retire_device(batch, retired_id, session.at, cause)
    batch.add(device)
    batch.add(RefreshGrant.issue(user_id, device.id, session.refresh_digest,
                                 session.refresh_expires_at, cause))
    return device, retired


def retire_device(batch: Batch, device_id: UUID, at: datetime, cause: Cause) -> None:
    """Sign a device out to make room for a newer one: its tokens stop working."""
    retired = batch.find(Device, device_id)
    if retired is not None:
        retired.retire(at, cause)
    grant = batch.find(RefreshGrant, refresh_grant_id(device_id))
    if grant is not None:
        grant.withdraw(cause)


def register_user(batch: Batch, command: RegisterUser, cause: Cause) -> UserRegistered:
    user = User.register(command.handle, command.name, cause)
    if batch.find(User, user.id) is not None:
        raise HandleTaken("handle", "this handle is taken")
    device_id = None
    if command.password_hash is not None:
        batch.add(Credentials.establish(user.id, command.password_hash, cause))
    if command.session is not None:
        device, _ = start_session(batch, user.id, command.session, cause)
        device_id = device.id
    batch.add(user)
    return UserRegistered(user.id, user.handle, user.name, device_id)


def change_profile(batch: Batch, command: ChangeProfile, cause: Cause) -> ProfileUpdated:
    user = batch.find(User, command.user_id)
    if user is None:
        raise UserNotFound("user_id", "no such user")
    avatar = None if command.clear_avatar else command.avatar or user.avatar
    user.change_profile(command.name or user.name, avatar, cause)
    return ProfileUpdated(user.id, user.handle, user.name, user.avatar)


def change_presence_visibility(batch: Batch, command: ChangePresenceVisibility,
                               cause: Cause) -> PresenceVisibilityUpdated:
    user = batch.find(User, command.user_id)
    if user is None:
        raise UserNotFound("user_id", "no such user")
    user.show_presence_to(command.visible_to, cause)
    return PresenceVisibilityUpdated(user.presence_visible_to)
