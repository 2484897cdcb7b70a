"""Devices: each sign-in is a device with its own id, listed and revocable by its owner."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from domain.errors import NotFound
from domain.text import DisplayName
from event_log.aggregate import SNAPSHOT_EVERY, Cause, ParleyAggregate, values

MAX_DEVICE_NAME_LENGTH = 64
DEVICE_NAME = DisplayName("device name", "device_name", MAX_DEVICE_NAME_LENGTH)


class DeviceNotFound(NotFound):
    """No such device among the caller's devices in force."""


class Device(ParleyAggregate):
    """One signed-in client of a user; once revoked, its tokens no longer work."""

    snapshot_every = SNAPSHOT_EVERY  # it grows with every token refresh; a sign-in loads all

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
        sets = values(revoked=True)

    @classmethod
    def sign_in(cls, device_id: UUID, user_id: UUID, name: str, at: datetime,
                cause: Cause) -> Device:
        return cls._create(
            cls.SignedIn,
            id=device_id,
            user_id=user_id,
            name=DEVICE_NAME.clean(name),
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
        """Signed out to make room for a newer device of the same user
        (domain.identity.device_roster)."""
        if not self.revoked:
            self.trigger_event(self.Revoked, revoked_at=at, **cause.as_event_fields())

