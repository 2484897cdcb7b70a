"""A caller's cancellation key: the notifications it was given to, so that one call can
cancel whatever of them has not been dispatched yet."""

from __future__ import annotations

from typing import Any, Final
from uuid import UUID, uuid5

from domain.notifications.errors import CancellationKeyFull
from domain.notifications.notifications import NOTIFICATION_NAMESPACE
from event_log.aggregate import SNAPSHOT_EVERY, Cause, ParleyAggregate

MAX_PER_KEY: Final = 10_000
MAX_KEY_LENGTH: Final = 200


def cancellation_key_id(caller: str, key: str) -> UUID:
    """Keys are the caller's own: two callers using the same key never touch each other's."""
    return uuid5(NOTIFICATION_NAMESPACE, f"cancellation/{caller}/{key}")


class CancellationKey(ParleyAggregate):
    snapshot_every = SNAPSHOT_EVERY

    def __init__(self, caller: str, key: str) -> None:
        self.caller = caller
        self.key = key
        self.notification_ids: list[UUID] = []

    class Opened(ParleyAggregate.Created):
        caller: str
        key: str

    class Included(ParleyAggregate.Event):
        notification_id: UUID

        def apply(self, aggregate: Any) -> None:
            aggregate.notification_ids.append(self.notification_id)

    @classmethod
    def open(cls, caller: str, key: str, cause: Cause) -> CancellationKey:
        return cls._create(cls.Opened, id=cancellation_key_id(caller, key), caller=caller,
                           key=key, **cause.as_event_fields())

    def check_room(self, more: int) -> None:
        if len(self.notification_ids) + more > MAX_PER_KEY:
            raise CancellationKeyFull("cancellation_key",
                                      f"at most {MAX_PER_KEY} notifications per cancellation key")

    def include(self, notification_id: UUID, cause: Cause) -> None:
        self.trigger_event(self.Included, notification_id=notification_id,
                           **cause.as_event_fields())
