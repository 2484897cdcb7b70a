"""The attachments read model, and who may download an attachment."""

from __future__ import annotations

from datetime import datetime
from functools import singledispatchmethod
from typing import Any, Protocol
from uuid import UUID

from domain.messaging.attachments import Attachment
from domain.messaging.errors import AttachmentNotFound
from projections.read_model.documents import AnyOf, Query, Range, ReadStore, Upsert
from projections.read_model.runner import Projector

ATTACHMENTS = "attachments"
# An upload's life: unattached until first sent; never sent in time: expired, then purged.
UNATTACHED, ATTACHED, EXPIRED, PURGED = "unattached", "attached", "expired", "purged"
KEPT = "kept"  # uploaded before sending was recorded: never expires
GONE = (EXPIRED, PURGED)


def epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


class AttachmentsProjector:
    """One `attachments` document per completed upload, keyed by the attachment id."""

    name = "attachments"
    context = "messaging"
    collections = (ATTACHMENTS,)

    @singledispatchmethod
    def changes(self, event: Any, position: int) -> list[Upsert]:
        return []

    @changes.register
    def _uploaded(self, event: Attachment.Uploaded, position: int) -> list[Upsert]:
        attachment_id = str(event.originator_id)
        return [Upsert(ATTACHMENTS, attachment_id, position, {
            "attachment_id": attachment_id, "uploader_id": str(event.uploader_id),
            "content_type": event.content_type, "size": event.size, "sha256": event.sha256,
            "storage_key": event.storage_key, "uploaded_at": event.uploaded_at.isoformat(),
            "uploaded_at_ms": epoch_ms(event.uploaded_at),
            "state": UNATTACHED if event.expirable else KEPT,
            "position": position,
        })]

    @changes.register
    def _attached(self, event: Attachment.Attached, position: int) -> list[Upsert]:
        return [Upsert(ATTACHMENTS, str(event.originator_id), position, {"state": ATTACHED})]

    @changes.register
    def _expired(self, event: Attachment.Expired, position: int) -> list[Upsert]:
        return [Upsert(ATTACHMENTS, str(event.originator_id), position, {
            "state": EXPIRED, "expired_at": event.expired_at.isoformat()})]

    @changes.register
    def _purged(self, event: Attachment.Purged, position: int) -> list[Upsert]:
        return [Upsert(ATTACHMENTS, str(event.originator_id), position, {"state": PURGED})]


def projectors() -> list[Projector]:
    return [AttachmentsProjector()]


class AttachmentAccess(Protocol):
    """Who may download an attachment; asked on every download (refused: 404, like absent)."""

    def may_read(self, attachment_id: str, user_id: str) -> bool: ...


class UploaderOnly:
    """The default `AttachmentAccess`: only the person who uploaded an attachment reads it.

    Messaging widens this (members of a conversation an attachment was sent to may read it)
    by providing another `AttachmentAccess` on the `Parley` object, which can still ask this
    one about the uploader.
    """

    def __init__(self, store: ReadStore) -> None:
        self._store = store

    def may_read(self, attachment_id: str, user_id: str) -> bool:
        document = self._store.get(ATTACHMENTS, attachment_id)
        return document is not None and document.get("uploader_id") == user_id


def readable_attachment(store: ReadStore, access: AttachmentAccess, attachment_id: str,
                        reader_id: str) -> dict[str, Any]:
    """The attachment's document, if `reader_id` may read it; otherwise not found."""
    document = store.get(ATTACHMENTS, attachment_id)
    if (document is None or document.get("state") in GONE
            or not access.may_read(attachment_id, reader_id)):
        raise AttachmentNotFound("attachment_id", "no such attachment")
    return document


class DueUploadsQuery:
    """Uploads the read model shows unattached (or expired, not yet purged) since before a
    time: the due-time view the attachment expiry sweep works from."""

    def __init__(self, store: ReadStore) -> None:
        self._store = store

    def due_for_expiry(self, uploaded_before: datetime, limit: int) -> list[UUID]:
        page = self._store.query(Query(
            ATTACHMENTS, filters=(AnyOf("state", (UNATTACHED, EXPIRED)),
                                  Range("uploaded_at_ms", lte=epoch_ms(uploaded_before))),
            sort_field="position", descending=False, limit=limit))
        return [UUID(d["attachment_id"]) for d in page.documents]
