"""Each user's roster of signed-in devices, so that at most a set number stay in force.

Write-side bookkeeping only: this module is not relayed (adapters/event_log/kafka_relay.py lists the
modules that are) and nothing projects it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from uuid import UUID, uuid5

from domain.errors import InvalidCommand
from event_log.aggregate import Cause, ParleyAggregate

DEFAULT_MAX_DEVICES = 20
DEVICE_ROSTER_NAMESPACE = UUID("6f1c9e24-8b3a-4d57-a0e2-93c4b7d815fa")


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
