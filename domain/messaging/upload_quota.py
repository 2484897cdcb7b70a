"""The upload quota: how many uploads not yet sent in a message one person may hold.

Write-side bookkeeping only: this module is not relayed (adapters/event_log/kafka_relay.py lists the
modules that are) and nothing projects it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NoReturn
from uuid import UUID, uuid5

from domain.messaging.attachments import DEFAULT_MAX_BYTES
from domain.messaging.errors import UploadQuotaExceeded
from event_log.aggregate import SNAPSHOT_EVERY, Cause, ParleyAggregate

DEFAULT_MAX_UNATTACHED_UPLOADS = 50
DEFAULT_MAX_UNATTACHED_BYTES = 10 * DEFAULT_MAX_BYTES
PENDING_UPLOADS_NAMESPACE = UUID("2b8e4f61-93d7-4a0c-b5e2-7c16f0a9d348")


def pending_uploads_id(uploader_id: UUID) -> UUID:
    return uuid5(PENDING_UPLOADS_NAMESPACE, str(uploader_id))


@dataclass(frozen=True)
class UploadQuota:
    """How many unattached uploads, and how many bytes of them, one person may hold."""

    max_uploads: int = DEFAULT_MAX_UNATTACHED_UPLOADS
    max_bytes: int = DEFAULT_MAX_UNATTACHED_BYTES

    def refuse(self) -> NoReturn:
        raise UploadQuotaExceeded(
            "body", f"unattached uploads are limited to {self.max_uploads} files and "
                    f"{self.max_bytes} bytes per person: send or wait for older ones to expire")


class PendingUploads(ParleyAggregate):
    """One person's uploads not sent in any message yet, held against their upload quota."""

    snapshot_every = SNAPSHOT_EVERY  # it grows with every upload

    def __init__(self, uploader_id: UUID) -> None:
        self.uploader_id = uploader_id
        self.sizes: dict[str, int] = {}  # by attachment id (str: a snapshot is JSON)

    class Started(ParleyAggregate.Created):
        uploader_id: UUID

    class UploadHeld(ParleyAggregate.Event):
        attachment_id: UUID
        size: int

        def apply(self, aggregate: ParleyAggregate) -> None:
            assert isinstance(aggregate, PendingUploads)
            aggregate.sizes[str(self.attachment_id)] = self.size

    class UploadReleased(ParleyAggregate.Event):
        """Sent in a message, or expired: no longer counts against the quota."""

        attachment_id: UUID

        def apply(self, aggregate: ParleyAggregate) -> None:
            assert isinstance(aggregate, PendingUploads)
            aggregate.sizes.pop(str(self.attachment_id), None)

    @classmethod
    def start(cls, uploader_id: UUID, cause: Cause) -> PendingUploads:
        return cls._create(cls.Started, id=pending_uploads_id(uploader_id),
                           uploader_id=uploader_id, **cause.as_event_fields())

    @property
    def held_bytes(self) -> int:
        return sum(self.sizes.values())

    def room_for(self, quota: UploadQuota) -> int:
        """How many more bytes may be uploaded now; raises if no further upload fits at all."""
        if len(self.sizes) >= quota.max_uploads or self.held_bytes >= quota.max_bytes:
            quota.refuse()
        return quota.max_bytes - self.held_bytes

    def hold(self, attachment_id: UUID, size: int, quota: UploadQuota, cause: Cause) -> None:
        if str(attachment_id) in self.sizes:
            return
        if size > self.room_for(quota):
            quota.refuse()
        self.trigger_event(self.UploadHeld, attachment_id=attachment_id, size=size,
                           **cause.as_event_fields())

    def release(self, attachment_id: UUID, cause: Cause) -> None:
        if str(attachment_id) in self.sizes:
            self.trigger_event(self.UploadReleased, attachment_id=attachment_id,
                               **cause.as_event_fields())
