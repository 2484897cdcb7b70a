"""Attachments: bytes someone uploaded, known by their type, size and sha-256.

The bytes live in a blob store; the domain decides what may be stored (the upload policy: a
size limit, allowed content types, and for images and PDF a check of the first bytes) and
records each completed upload as an `Attachment`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NoReturn
from uuid import UUID

from domain.errors import InvalidCommand
from domain.messaging.errors import (
    AttachmentContentMismatch,
    AttachmentNotFound,
    AttachmentTooLarge,
    UnsupportedAttachmentType,
)
from event_log.aggregate import Cause, ParleyAggregate, values

DEFAULT_CONTENT_TYPES = (
    "image/jpeg", "image/png", "image/gif", "image/webp", "application/pdf", "text/plain",
    "audio/mpeg", "audio/ogg", "video/mp4",
)
DEFAULT_MAX_BYTES = 25 * 1024 * 1024
# How long an upload not (yet) sent in a message is kept before it expires and its bytes go.
DEFAULT_UNATTACHED_TTL_SECONDS = 24 * 3600
SNIFF_BYTES = 12
MEDIA_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*$")
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")

# What the first bytes of a file of each type look like. Types not listed (text, audio,
# video) are taken as declared: their formats have no single reliable signature.
SIGNATURES: dict[str, Callable[[bytes], bool]] = {
    "image/jpeg": lambda head: head.startswith(b"\xff\xd8\xff"),
    "image/png": lambda head: head.startswith(b"\x89PNG\r\n\x1a\n"),
    "image/gif": lambda head: head[:6] in (b"GIF87a", b"GIF89a"),
    "image/webp": lambda head: head[:4] == b"RIFF" and head[8:12] == b"WEBP",
    "application/pdf": lambda head: head.startswith(b"%PDF-"),
}


def media_type(declared: str | None) -> str:
    """The media type of a Content-Type value, without parameters, lower case."""
    normalised = (declared or "").split(";", 1)[0].strip().lower()
    if not MEDIA_TYPE.fullmatch(normalised):
        raise UnsupportedAttachmentType("content_type", "declare the attachment's Content-Type")
    return normalised


def content_matches(content_type: str, head: bytes) -> bool:
    """Whether the first bytes of a file fit its declared type (true for unsniffed types)."""
    signature = SIGNATURES.get(content_type)
    return signature is None or signature(head)


def storage_key_for(attachment_id: UUID) -> str:
    """Where an attachment's bytes are stored: derived from its id, never from user input."""
    return f"attachments/{attachment_id.hex[:2]}/{attachment_id.hex}"


@dataclass(frozen=True)
class UploadPolicy:
    """What may be uploaded: at most `max_bytes`, of one of `content_types`."""

    max_bytes: int = DEFAULT_MAX_BYTES
    content_types: frozenset[str] = field(default_factory=lambda: frozenset(DEFAULT_CONTENT_TYPES))

    def accept_type(self, declared: str | None) -> str:
        """The declared type, normalised, if attachments may have it."""
        content_type = media_type(declared)
        if content_type not in self.content_types:
            raise UnsupportedAttachmentType(
                "content_type", f"attachments may be {', '.join(sorted(self.content_types))}")
        return content_type

    def _too_large(self) -> NoReturn:
        raise AttachmentTooLarge("body", f"an attachment is at most {self.max_bytes} bytes")

    def checked(self, content_type: str, chunks: Iterable[bytes]) -> Iterator[bytes]:
        """Passes `chunks` on, failing as soon as they exceed the limit or their first bytes
        do not fit `content_type`; an empty upload fails at the end."""
        head = b""
        size = 0
        sniffing = content_type in SIGNATURES
        for chunk in chunks:
            size += len(chunk)
            if size > self.max_bytes:
                self._too_large()
            if not sniffing:
                yield chunk
                continue
            head += chunk
            if len(head) >= SNIFF_BYTES:
                self._require_match(content_type, head)
                sniffing = False
                yield head
        if size == 0:
            raise InvalidCommand("body", "an attachment has at least one byte")
        if sniffing:
            self._require_match(content_type, head)
            yield head

    @staticmethod
    def _require_match(content_type: str, head: bytes) -> None:
        if not content_matches(content_type, head):
            raise AttachmentContentMismatch("body", f"the content is not {content_type}")


class Attachment(ParleyAggregate):
    """A completed upload: who uploaded what, and where its bytes are stored.

    An upload is unattached until it is first sent in a message. One that stays unattached
    longer than its time to live expires: it can no longer be sent, and its bytes are deleted
    (then it is purged). An attachment that was sent never expires.
    """

    def __init__(self, uploader_id: UUID, content_type: str, size: int, sha256: str,
                 storage_key: str, uploaded_at: datetime, expirable: bool = True) -> None:
        self.uploader_id = uploader_id
        self.content_type = content_type
        self.size = size
        self.sha256 = sha256
        self.storage_key = storage_key
        self.uploaded_at = uploaded_at
        # Uploads recorded before sending was recorded (`Attached`) may have been sent: kept.
        self.expirable = expirable
        self.attached = False
        self.expired = False
        self.purged = False

    class Uploaded(ParleyAggregate.Created):
        uploader_id: UUID
        content_type: str
        size: int
        sha256: str
        storage_key: str
        uploaded_at: datetime
        expirable: bool

        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, object]) -> None:
            """Version 1 predates `Attached`: such an upload may have been sent, so it is kept."""
            state["expirable"] = False

    class Attached(ParleyAggregate.Event):
        """First sent in a message: from now on the attachment is kept."""

        conversation_id: UUID
        message_id: UUID
        sets = values(attached=True)

    class Expired(ParleyAggregate.Event):
        """Never sent within its time to live: it can no longer be sent; its bytes go."""

        uploader_id: UUID
        expired_at: datetime
        sets = values(expired=True)

    class Purged(ParleyAggregate.Event):
        """The expired attachment's bytes were deleted from the blob store."""

        purged_at: datetime
        sets = values(purged=True)

    @classmethod
    def upload(cls, attachment_id: UUID, uploader_id: UUID, content_type: str, size: int,
               sha256: str, uploaded_at: datetime, cause: Cause) -> Attachment:
        if not MEDIA_TYPE.fullmatch(content_type):
            raise UnsupportedAttachmentType("content_type", "not a media type")
        if size < 1:
            raise InvalidCommand("size", "an attachment has at least one byte")
        if not SHA256_HEX.fullmatch(sha256):
            raise InvalidCommand("sha256", "a sha-256 is 64 lower-case hex digits")
        return cls._create(cls.Uploaded, id=attachment_id, uploader_id=uploader_id,
                           content_type=content_type, size=size, sha256=sha256,
                           storage_key=storage_key_for(attachment_id), uploaded_at=uploaded_at,
                           expirable=True, **cause.as_event_fields())

    def usable_by(self, user_id: UUID) -> bool:
        """Whether `user_id` may send it: only its uploader, and only while it has not expired."""
        return self.uploader_id == user_id and not self.expired

    def attach(self, conversation_id: UUID, message_id: UUID, cause: Cause) -> bool:
        """Record the first message it is sent in; returns True if this was the first."""
        if self.expired:
            raise AttachmentNotFound("attachment_ids", f"no such attachment: {self.id}")
        if self.attached:
            return False
        self.trigger_event(self.Attached, conversation_id=conversation_id,
                           message_id=message_id, **cause.as_event_fields())
        return True

    def expire(self, now: datetime, time_to_live: timedelta, cause: Cause) -> bool:
        """Expire it if it was never sent and has outlived `time_to_live`; returns whether its
        bytes are to be deleted (also when it had expired already but is not purged yet)."""
        if self.attached or self.purged or not self.expirable:
            return False
        if not self.expired:
            if now < self.uploaded_at + time_to_live:
                return False
            self.trigger_event(self.Expired, uploader_id=self.uploader_id, expired_at=now,
                               **cause.as_event_fields())
        return True

    def purge(self, now: datetime, cause: Cause) -> None:
        """Its bytes were deleted; only an expired attachment's bytes ever are."""
        if not self.expired:
            raise InvalidCommand("attachment_id", "only an expired attachment is purged")
        if not self.purged:
            self.trigger_event(self.Purged, purged_at=now, **cause.as_event_fields())

    def metadata(self) -> dict[str, object]:
        """What a message may carry about this attachment."""
        return {"attachment_id": str(self.id), "content_type": self.content_type,
                "size": self.size, "sha256": self.sha256}

