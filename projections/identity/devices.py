"""The devices read model: a user's devices in force, and the check every request makes."""

from __future__ import annotations

from functools import singledispatchmethod
from typing import Any

from domain.identity.devices import Device
from projections.read_model.documents import Eq, Query, ReadStore, Upsert
from projections.read_model.runner import Cache, Projector, cache_key

DEVICES = "devices"
IN_FORCE = "active"
REVOKED = "revoked"
MAX_LISTED_DEVICES = 200


class DeviceProjector:
    """Maps device events to `devices` documents (never any token material: there is none)."""

    name = "devices"
    context = "identity"
    collections = (DEVICES,)

    @singledispatchmethod
    def changes(self, event: Any, position: int) -> list[Upsert]:
        return []

    @changes.register
    def _signed_in(self, event: Device.SignedIn, position: int) -> list[Upsert]:
        return [Upsert(DEVICES, str(event.originator_id), position, {
            "device_id": str(event.originator_id),
            "user_id": str(event.user_id),
            "name": event.name,
            "signed_in_at": event.signed_in_at.isoformat(),
            "last_active_at": event.signed_in_at.isoformat(),
            "state": IN_FORCE,
            "position": position,
        })]

    @changes.register
    def _refreshed(self, event: Device.Refreshed, position: int) -> list[Upsert]:
        return [Upsert(DEVICES, str(event.originator_id), position,
                       {"last_active_at": event.refreshed_at.isoformat()})]

    @changes.register
    def _revoked(self, event: Device.Revoked, position: int) -> list[Upsert]:
        return [Upsert(DEVICES, str(event.originator_id), position,
                       {"state": REVOKED, "revoked_at": event.revoked_at.isoformat()})]


class DeviceQueries:
    """Devices as the read model knows them; single devices come through the cache."""

    projection = DEVICES  # what a reader waits for (api.http.dependencies.DevicesInForce)

    def __init__(self, store: ReadStore, cache: Cache) -> None:
        self._store = store
        self._cache = cache

    def device(self, device_id: str) -> dict[str, Any] | None:
        key = cache_key(DEVICES, device_id)
        document = self._cache.get(key)
        if document is None:
            document = self._store.get(DEVICES, device_id)
            if document is not None:
                self._cache.set(key, document)
                # The projector may have changed the document, and invalidated the cache,
                # between our read and our set: read again so a stale copy (say, of a device
                # revoked meanwhile) never stays cached.
                again = self._store.get(DEVICES, device_id)
                if again != document:
                    self._cache.delete([key])
                    document = again
        return document

    def in_force(self, device_id: str, user_id: str) -> bool | None:
        """True or False once the device is projected; None while it is not (yet) known."""
        document = self.device(device_id)
        if document is None:
            return None
        return bool(document["user_id"] == user_id and document["state"] == IN_FORCE)

    def devices_of(self, user_id: str) -> list[dict[str, Any]]:
        """The user's devices in force, oldest sign-in first."""
        page = self._store.query(Query(DEVICES, [Eq("user_id", user_id), Eq("state", IN_FORCE)],
                                       sort_field="position", descending=False,
                                       limit=MAX_LISTED_DEVICES))
        return page.documents

    def forget(self, device_id: str) -> None:
        """Drop the cached copy (after a revocation has been projected)."""
        self._cache.delete([cache_key(DEVICES, device_id)])


def projectors() -> list[Projector]:
    return [DeviceProjector()]
