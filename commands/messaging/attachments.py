"""Attachments on the write side: streaming uploads into a blob store, then recording them."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol
from uuid import UUID

from commands.processes.issuing import Effect
from commands.processes.schedules import Schedule
from domain.errors import InvalidCommand
from domain.messaging.attachments import (
    Attachment,
    UploadPolicy,
    storage_key_for,
)
from domain.messaging.errors import AttachmentNotFound
from domain.messaging.upload_quota import PendingUploads, UploadQuota, pending_uploads_id
from event_log.aggregate import Cause
from event_log.batch import Batch
from event_log.outcomes import Handler

# The actor of the commands the expiry sweep issues (no person asked for them).
ATTACHMENT_EXPIRY_ACTOR = uuid.uuid5(uuid.NAMESPACE_URL, "parley:attachment-expiry")
EXPIRY_BOUND = 200  # uploads asked to expire per round of the schedule


@dataclass(frozen=True)
class StoredBlob:
    size: int
    sha256: str


class BlobNotFound(Exception):
    """The blob store holds nothing under this key."""


class BlobStore(Protocol):
    """Where attachment bytes live, by key: a directory today, an object store in production
    would implement the same three calls."""

    def put(self, key: str, chunks: Iterable[bytes]) -> StoredBlob:
        """Stores the chunks as they arrive (never whole in memory) and makes the blob visible
        only once all of them are stored; if `chunks` raises, nothing stays behind."""
        ...

    def open(self, key: str) -> Iterator[bytes]:
        """The blob's bytes in chunks; raises BlobNotFound at once if there is none."""
        ...

    def delete(self, key: str) -> None:
        """Removes the blob; deleting a missing blob is not an error."""
        ...


def store_upload(blobs: BlobStore, policy: UploadPolicy, attachment_id: UUID,
                 content_type: str, chunks: Iterable[bytes],
                 room: UploadRoom | None = None) -> StoredBlob:
    """Streams an upload through the policy (and the uploader's remaining quota, `room`) into
    the store; refused uploads leave nothing."""
    checked = policy.checked(content_type, chunks)
    return blobs.put(storage_key_for(attachment_id), room.checked(checked) if room else checked)


@dataclass(frozen=True)
class UploadRoom:
    """How many bytes an uploader may still upload before their quota is exhausted."""

    quota: UploadQuota
    free_bytes: int

    def checked(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        size = 0
        for chunk in chunks:
            size += len(chunk)
            if size > self.free_bytes:
                self.quota.refuse()
            yield chunk


def upload_room(batch: Batch, uploader_id: UUID, quota: UploadQuota) -> UploadRoom:
    """The uploader's room for one more upload, as the write side knows it (checked again when
    the upload is recorded); raises UploadQuotaExceeded if there is none."""
    pending = batch.find(PendingUploads, pending_uploads_id(uploader_id))
    if pending is None:
        return UploadRoom(quota, quota.max_bytes)
    return UploadRoom(quota, pending.room_for(quota))


@dataclass(frozen=True)
class RecordAttachment:
    """An upload has been stored; make it an attachment its uploader can use."""

    attachment_id: UUID
    uploader_id: UUID
    content_type: str
    size: int
    sha256: str
    uploaded_at: datetime
    quota: UploadQuota = field(default_factory=UploadQuota)


@dataclass(frozen=True)
class ExpireAttachment:
    """Expire an upload never sent within `time_to_live` (a no-op for any other)."""

    attachment_id: UUID
    now: datetime
    time_to_live: timedelta


@dataclass(frozen=True)
class PurgeAttachment:
    """The expired attachment's bytes have been deleted from the blob store."""

    attachment_id: UUID
    now: datetime


@dataclass(frozen=True)
class AttachmentRecorded:
    """The upload is an attachment its uploader may send."""

    attachment_id: UUID
    content_type: str
    size: int
    sha256: str


@dataclass(frozen=True)
class ExpiryChecked:
    """`expired`: the upload expired now (its bytes, under `storage_key`, may go)."""

    attachment_id: UUID
    expired: bool
    storage_key: str


@dataclass(frozen=True)
class AttachmentPurged:
    attachment_id: UUID


def _pending_uploads(batch: Batch, uploader_id: UUID, cause: Cause) -> PendingUploads:
    pending = batch.find(PendingUploads, pending_uploads_id(uploader_id))
    if pending is None:
        pending = PendingUploads.start(uploader_id, cause)
        batch.add(pending)
    return pending


def record_attachment(batch: Batch, command: RecordAttachment,
                      cause: Cause) -> AttachmentRecorded:
    attachment = Attachment.upload(command.attachment_id, command.uploader_id,
                                   command.content_type, command.size, command.sha256,
                                   command.uploaded_at, cause)
    _pending_uploads(batch, command.uploader_id, cause).hold(
        attachment.id, attachment.size, command.quota, cause)
    batch.add(attachment)
    return AttachmentRecorded(attachment.id, attachment.content_type, attachment.size,
                              attachment.sha256)


def expire_attachment(batch: Batch, command: ExpireAttachment, cause: Cause) -> ExpiryChecked:
    attachment = batch.find(Attachment, command.attachment_id)
    if attachment is None:
        raise AttachmentNotFound("attachment_id", "no such attachment")
    delete_bytes = attachment.expire(command.now, command.time_to_live, cause)
    if delete_bytes:
        _pending_uploads(batch, attachment.uploader_id, cause).release(attachment.id, cause)
    return ExpiryChecked(attachment.id, delete_bytes, attachment.storage_key)


def purge_attachment(batch: Batch, command: PurgeAttachment, cause: Cause) -> AttachmentPurged:
    attachment = batch.find(Attachment, command.attachment_id)
    if attachment is None:
        raise AttachmentNotFound("attachment_id", "no such attachment")
    attachment.purge(command.now, cause)
    return AttachmentPurged(attachment.id)


def attach_attachments(batch: Batch, uploader_id: UUID, attachment_ids: Iterable[UUID],
                       conversation_id: UUID, message_id: UUID, cause: Cause) -> None:
    """The uploader sent these (checked by `require_own_attachments`) in a message: they are
    kept from now on and no longer count against the upload quota."""
    for attachment_id in attachment_ids:
        attachment = batch.find(Attachment, attachment_id)
        assert attachment is not None, "require_own_attachments first"
        if attachment.attach(conversation_id, message_id, cause):
            _pending_uploads(batch, uploader_id, cause).release(attachment_id, cause)


def require_own_attachments(batch: Batch, uploader_id: UUID,
                            attachment_ids: Iterable[UUID]) -> list[dict[str, object]]:
    """The metadata (attachment_id, content_type, size, sha256) of attachments `uploader_id`
    uploaded, in the order given; unknown ids and other people's uploads are not found."""
    found: list[dict[str, object]] = []
    seen: set[UUID] = set()
    for attachment_id in attachment_ids:
        if attachment_id in seen:
            raise InvalidCommand("attachment_ids", "an attachment is listed twice")
        seen.add(attachment_id)
        attachment = batch.find(Attachment, attachment_id)
        if attachment is None or not attachment.usable_by(uploader_id):
            raise AttachmentNotFound("attachment_ids", f"no such attachment: {attachment_id}")
        found.append(attachment.metadata())
    return found


class DueUploads(Protocol):
    """The read model's view of uploads due to expire (or expired but not yet purged)."""

    def due_for_expiry(self, uploaded_before: datetime, limit: int) -> list[UUID]: ...


@dataclass(frozen=True)
class DeleteAttachmentBytes:
    """An effect (not a write-side command): delete an expired attachment's bytes from the
    blob store; harmless when repeated."""

    attachment_id: UUID
    storage_key: str


class AttachmentExpiry:
    """A schedule's work: expires the uploads the read model (the due-time view) shows as
    unattached past their time to live, at most `bound` a round.

    The write side decides: an upload sent meanwhile is not expired, and one expired can no
    longer be sent, so the bytes of an attachment that was sent are never deleted. Deleting
    them is `AttachmentPurge`'s reaction to the expiry. Every step is a no-op when repeated,
    so several processes (or a crash between steps) do no harm.
    """

    def __init__(self, due: DueUploads, execute: Callable[[Any, Cause], object],
                 time_to_live: timedelta, clock: Callable[[], datetime]) -> None:
        self._due, self._execute = due, execute
        self._time_to_live, self._clock = time_to_live, clock

    def schedule(self, every_seconds: float) -> Schedule:
        return Schedule("attachment-expiry", every_seconds, self.expire_due,
                        bound=EXPIRY_BOUND, doing="sweeping expired uploads")

    def expire_due(self, bound: int) -> int:
        """Expire what is due now (at most `bound`); returns how many were asked to expire."""
        now = self._clock()
        asked = 0
        for attachment_id in self._due.due_for_expiry(now - self._time_to_live, bound):
            cause = Cause(actor_id=ATTACHMENT_EXPIRY_ACTOR, correlation_id=uuid.uuid4())
            try:
                self._execute(ExpireAttachment(attachment_id, now, self._time_to_live), cause)
            except AttachmentNotFound:
                continue
            asked += 1
        return asked


class AttachmentPurge:
    """A process manager: an attachment that expired has its bytes deleted, then is recorded
    as purged (at the moment it expired, as the sweep that expired it always did)."""

    name = "attachment-purge"
    actor_id = ATTACHMENT_EXPIRY_ACTOR
    reacts_to: tuple[type, ...] = (Attachment.Expired,)

    def react(self, event: Any) -> list[object]:
        if not isinstance(event, Attachment.Expired):
            return []
        attachment_id = event.originator_id
        return [DeleteAttachmentBytes(attachment_id, storage_key_for(attachment_id)),
                PurgeAttachment(attachment_id, event.expired_at)]


def attachment_effects(blobs: BlobStore) -> dict[type, Effect]:
    """How `AttachmentPurge`'s effects reach the blob store."""
    def delete_bytes(command: DeleteAttachmentBytes, _key: str) -> None:
        blobs.delete(command.storage_key)

    return {DeleteAttachmentBytes: delete_bytes}


ATTACHMENT_HANDLERS: dict[type, Handler] = {
    RecordAttachment: record_attachment,
    ExpireAttachment: expire_attachment,
    PurgeAttachment: purge_attachment,
}
