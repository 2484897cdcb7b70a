"""Attachments on the write side: streaming uploads into a blob store, then recording them."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID

from commands.batch import Batch
from commands.outcomes import Handler, Outcome
from domain.attachments import Attachment, UploadPolicy, storage_key_for
from domain.errors import AttachmentNotFound, InvalidCommand
from domain.events import Cause


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
                 content_type: str, chunks: Iterable[bytes]) -> StoredBlob:
    """Streams an upload through the policy into the store; refused uploads leave nothing."""
    return blobs.put(storage_key_for(attachment_id), policy.checked(content_type, chunks))


@dataclass(frozen=True)
class RecordAttachment:
    """An upload has been stored; make it an attachment its uploader can use."""

    attachment_id: UUID
    uploader_id: UUID
    content_type: str
    size: int
    sha256: str
    uploaded_at: datetime


def record_attachment(batch: Batch, command: RecordAttachment, cause: Cause) -> Outcome:
    attachment = Attachment.upload(command.attachment_id, command.uploader_id,
                                   command.content_type, command.size, command.sha256,
                                   command.uploaded_at, cause)
    batch.add(attachment)
    return Outcome(201, attachment.metadata())


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
        if attachment is None or attachment.uploader_id != uploader_id:
            raise AttachmentNotFound("attachment_ids", f"no such attachment: {attachment_id}")
        found.append(attachment.metadata())
    return found


ATTACHMENT_HANDLERS: dict[type, Handler] = {RecordAttachment: record_attachment}
