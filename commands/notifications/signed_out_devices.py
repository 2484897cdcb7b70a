"""A process manager: a device signed out (revoked by its owner, or retired beyond the device
cap) takes its push registrations with it, so nothing more is pushed to a device nobody is
signed in on (a push may preview a message)."""

from __future__ import annotations

from typing import Any, Final
from uuid import UUID

from commands.notifications.contact_points import RemoveDeviceContactPoints
from domain.identity.devices import Device

SIGNED_OUT_DEVICES_ACTOR: Final = UUID("4e9b1c7a-2d63-5f80-b1a4-7c05d9e83f26")


class SignedOutDevices:
    """Device.Revoked -> RemoveDeviceContactPoints (keyed by the event: at most once)."""

    name = "contact-points-of-signed-out-devices"
    actor_id = SIGNED_OUT_DEVICES_ACTOR
    reacts_to: tuple[type, ...] = (Device.Revoked,)

    def react(self, event: Any) -> list[object]:
        if not isinstance(event, Device.Revoked):
            return []
        return [RemoveDeviceContactPoints(event.originator_id, event.revoked_at)]
