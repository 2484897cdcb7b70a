"""Attachments: bytes someone uploaded, known by their type, size and sha-256.

The bytes live in a blob store; the domain decides what may be stored (the upload policy: a
size limit, allowed content types, and for images and PDF a check of the first bytes) and
records each completed upload as an `Attachment`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import NoReturn
from uuid import UUID

from domain.errors import (
    AttachmentContentMismatch,
    AttachmentTooLarge,
    InvalidCommand,
    UnsupportedAttachmentType,
)
from domain.events import Cause, ParleyAggregate

DEFAULT_CONTENT_TYPES = (
    "image/jpeg", "image/png", "image/gif", "image/webp", "application/pdf", "text/plain",
    "audio/mpeg", "audio/ogg", "video/mp4",
)
DEFAULT_MAX_BYTES = 25 * 1024 * 1024
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
    """A completed upload: who uploaded what, and where its bytes are stored."""

    def __init__(self, uploader_id: UUID, content_type: str, size: int, sha256: str,
                 storage_key: str, uploaded_at: datetime) -> None:
        self.uploader_id = uploader_id
        self.content_type = content_type
        self.size = size
        self.sha256 = sha256
        self.storage_key = storage_key
        self.uploaded_at = uploaded_at

    class Uploaded(ParleyAggregate.Created):
        uploader_id: UUID
        content_type: str
        size: int
        sha256: str
        storage_key: str
        uploaded_at: datetime

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
                           **cause.as_event_fields())

    def metadata(self) -> dict[str, object]:
        """What a message may carry about this attachment."""
        return {"attachment_id": str(self.id), "content_type": self.content_type,
                "size": self.size, "sha256": self.sha256}
