"""Devices: each sign-in is a device with its own id, listed and revocable by its owner."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from uuid import UUID, uuid5

from domain.errors import InvalidCommand, NotFound
from domain.events import Cause, ParleyAggregate

MAX_DEVICE_NAME_LENGTH = 64
DEFAULT_MAX_DEVICES = 20
DEVICE_ROSTER_NAMESPACE = UUID("6f1c9e24-8b3a-4d57-a0e2-93c4b7d815fa")


class DeviceNotFound(NotFound):
    """No such device among the caller's devices in force."""


def clean_device_name(name: str) -> str:
    stripped = " ".join(name.split())
    if not stripped or len(stripped) > MAX_DEVICE_NAME_LENGTH:
        raise InvalidCommand("device_name",
                             f"a device name is 1 to {MAX_DEVICE_NAME_LENGTH} characters")
    if any(not ch.isprintable() for ch in stripped):
        raise InvalidCommand("device_name", "a device name may not contain control characters")
    return stripped


class Device(ParleyAggregate):
    """One signed-in client of a user; once revoked, its tokens no longer work."""

    def __init__(self, user_id: UUID, name: str, signed_in_at: datetime) -> None:
        self.user_id = user_id
        self.name = name
        self.signed_in_at = signed_in_at
        self.last_used_at = signed_in_at
        self.revoked = False

    class SignedIn(ParleyAggregate.Created):
        user_id: UUID
        name: str
        signed_in_at: datetime

    class Refreshed(ParleyAggregate.Event):
        refreshed_at: datetime

        def apply(self, aggregate: ParleyAggregate) -> None:
            assert isinstance(aggregate, Device)
            aggregate.last_used_at = max(aggregate.last_used_at, self.refreshed_at)

    class Revoked(ParleyAggregate.Event):
        revoked_at: datetime

        def apply(self, aggregate: ParleyAggregate) -> None:
            assert isinstance(aggregate, Device)
            aggregate.revoked = True

    @classmethod
    def sign_in(cls, device_id: UUID, user_id: UUID, name: str, at: datetime,
                cause: Cause) -> Device:
        return cls._create(
            cls.SignedIn,
            id=device_id,
            user_id=user_id,
            name=clean_device_name(name),
            signed_in_at=at,
            **cause.as_event_fields(),
        )

    def is_in_force_for(self, user_id: UUID) -> bool:
        return self.user_id == user_id and not self.revoked

    def record_refresh(self, at: datetime, cause: Cause) -> None:
        self.trigger_event(self.Refreshed, refreshed_at=at, **cause.as_event_fields())

    def revoke(self, by_user_id: UUID, at: datetime, cause: Cause) -> None:
        """Only the owner revokes, and only once; anyone else learns nothing (404)."""
        if not self.is_in_force_for(by_user_id):
            raise DeviceNotFound("device_id", "no such device")
        self.trigger_event(self.Revoked, revoked_at=at, **cause.as_event_fields())

    def retire(self, at: datetime, cause: Cause) -> None:
        """Signed out to make room for a newer device of the same user (see DeviceRoster)."""
        if not self.revoked:
            self.trigger_event(self.Revoked, revoked_at=at, **cause.as_event_fields())


def device_roster_id(user_id: UUID) -> UUID:
    return uuid5(DEVICE_ROSTER_NAMESPACE, str(user_id))


class DeviceRoster(ParleyAggregate):
    """The devices a user has signed in, so that at most a set number stay in force.

    A sign-in beyond the cap signs out the user's least recently used device (by its last
    sign-in or token refresh) rather than refusing: a user who lost every device must still be
    able to sign in, and the device signed out is the one least likely to be in use.
    """

    def __init__(self, user_id: UUID) -> None:
        self.user_id = user_id
        self.device_ids: tuple[UUID, ...] = ()

    class Started(ParleyAggregate.Created):
        user_id: UUID

    class DeviceEnrolled(ParleyAggregate.Event):
        device_id: UUID

        def apply(self, aggregate: ParleyAggregate) -> None:
            assert isinstance(aggregate, DeviceRoster)
            aggregate.device_ids = (*aggregate.device_ids, self.device_id)

    class DevicesDropped(ParleyAggregate.Event):
        """Devices no longer in force (revoked, or retired to make room) leave the roster."""

        device_ids: tuple[UUID, ...]

        def apply(self, aggregate: ParleyAggregate) -> None:
            assert isinstance(aggregate, DeviceRoster)
            dropped = set(self.device_ids)
            aggregate.device_ids = tuple(d for d in aggregate.device_ids if d not in dropped)

    @classmethod
    def start(cls, user_id: UUID, cause: Cause) -> DeviceRoster:
        return cls._create(cls.Started, id=device_roster_id(user_id), user_id=user_id,
                           **cause.as_event_fields())

    def enroll(self, device_id: UUID, last_used: Mapping[UUID, datetime], max_devices: int,
               cause: Cause) -> tuple[UUID, ...]:
        """Add a newly signed-in device; returns the devices to retire to stay within the cap.

        `last_used` maps each enrolled device still in force to when it was last used; the
        others have been revoked meanwhile and are dropped. The least recently used go first.
        """
        if max_devices < 1:
            raise InvalidCommand("max_devices", "a user may have at least one device")
        in_force = [d for d in self.device_ids if d in last_used]
        by_use = sorted(in_force, key=lambda d: (last_used[d], str(d)))
        retired = tuple(by_use[:max(0, len(in_force) + 1 - max_devices)])
        dropped = tuple(d for d in self.device_ids if d not in last_used) + retired
        if dropped:
            self.trigger_event(self.DevicesDropped, device_ids=dropped,
                               **cause.as_event_fields())
        self.trigger_event(self.DeviceEnrolled, device_id=device_id, **cause.as_event_fields())
        return retired
