"""Attachments: the upload policy (types, size, first bytes) and the Attachment aggregate."""

from __future__ import annotations

import hashlib
import itertools
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from eventsourcing.application import Application
from hypothesis import given
from hypothesis import strategies as st

from commands.messaging.attachments import (
    AttachmentRecorded,
    RecordAttachment,
    record_attachment,
    require_own_attachments,
)
from domain.errors import InvalidCommand
from domain.messaging.attachments import (
    DEFAULT_CONTENT_TYPES,
    SIGNATURES,
    Attachment,
    UploadPolicy,
    storage_key_for,
)
from domain.messaging.errors import (
    AttachmentContentMismatch,
    AttachmentNotFound,
    AttachmentTooLarge,
    UnsupportedAttachmentType,
    UploadQuotaExceeded,
)
from domain.messaging.upload_quota import PendingUploads, UploadQuota
from event_log.batch import Batch
from projections.messaging.attachments import ATTACHMENTS, AttachmentsProjector
from tests.builders import FILE_HEADS, a_cause, a_file, in_chunks, now

POLICY = UploadPolicy(max_bytes=10_000)


def passed(policy: UploadPolicy, content_type: str, chunks: Iterator[bytes]) -> bytes:
    return b"".join(policy.checked(content_type, chunks))


@pytest.mark.parametrize("declared", ["image/png", "IMAGE/PNG", "image/png; charset=binary",
                                      " text/plain ; charset=utf-8"])
def test_allowed_types_are_accepted_without_parameters_in_lower_case(declared: str) -> None:
    assert POLICY.accept_type(declared) in {"image/png", "text/plain"}


@pytest.mark.parametrize("declared", [None, "", "image", "application/x-msdownload",
                                      "text/html", "image/svg+xml", "../../etc/passwd"])
def test_other_types_are_unsupported(declared: str | None) -> None:
    with pytest.raises(UnsupportedAttachmentType):
        POLICY.accept_type(declared)


def test_the_allowed_types_are_configurable() -> None:
    only_pdf = UploadPolicy(content_types=frozenset({"application/pdf"}))
    assert only_pdf.accept_type("application/pdf") == "application/pdf"
    with pytest.raises(UnsupportedAttachmentType):
        only_pdf.accept_type("image/png")


@given(sizes=st.lists(st.integers(1, 3000), min_size=1, max_size=20),
       content_type=st.sampled_from(DEFAULT_CONTENT_TYPES))
def test_accepted_bytes_pass_unchanged_however_they_are_chunked(
        sizes: list[int], content_type: str) -> None:
    data = a_file(content_type, 10_000)
    cuts = [0]
    for size in sizes:
        cuts.append(min(len(data), cuts[-1] + size))
    cuts.append(len(data))
    chunks = [data[a:b] for a, b in itertools.pairwise(cuts)]
    assert passed(POLICY, content_type, iter(chunks)) == data


def test_an_upload_at_the_limit_passes_and_one_byte_more_is_too_large() -> None:
    assert len(passed(POLICY, "text/plain", in_chunks(b"x" * 10_000, 999))) == 10_000
    with pytest.raises(AttachmentTooLarge):
        passed(POLICY, "text/plain", in_chunks(b"x" * 10_001, 999))


def test_an_oversize_upload_stops_reading_at_the_chunk_that_crossed_the_limit() -> None:
    read: list[int] = []

    def endless() -> Iterator[bytes]:
        while True:
            read.append(1)
            yield b"x" * 1000

    with pytest.raises(AttachmentTooLarge):
        passed(POLICY, "text/plain", endless())
    assert len(read) == 11


def test_an_empty_upload_is_refused() -> None:
    with pytest.raises(InvalidCommand):
        passed(POLICY, "text/plain", iter([b"", b""]))


@pytest.mark.parametrize("content_type", sorted(SIGNATURES))
def test_images_and_pdf_must_start_like_their_type(content_type: str) -> None:
    assert passed(POLICY, content_type, iter([a_file(content_type, 100)]))
    with pytest.raises(AttachmentContentMismatch):
        passed(POLICY, content_type, iter([b"MZ\x90\x00" + b"\x00" * 96]))


@pytest.mark.parametrize("content_type", ["image/png", "application/pdf"])
def test_the_first_bytes_are_checked_even_when_they_arrive_one_at_a_time(
        content_type: str) -> None:
    good = a_file(content_type, 40)
    assert passed(POLICY, content_type, in_chunks(good, 1)) == good
    with pytest.raises(AttachmentContentMismatch):
        passed(POLICY, content_type, in_chunks(a_file("application/pdf" if content_type ==
                                                      "image/png" else "image/png", 40), 1))


def test_a_file_shorter_than_the_sniffed_head_is_still_checked() -> None:
    assert passed(POLICY, "application/pdf", iter([b"%PDF-"])) == b"%PDF-"
    with pytest.raises(AttachmentContentMismatch):
        passed(POLICY, "image/png", iter([b"\x89PN"]))


def test_a_webp_needs_both_its_riff_and_webp_marks() -> None:
    with pytest.raises(AttachmentContentMismatch):
        passed(POLICY, "image/webp", iter([b"RIFF\x00\x00\x00\x00WAVE" + b"\x00" * 20]))
    assert passed(POLICY, "image/webp", iter([FILE_HEADS["image/webp"] + b"\x00" * 20]))


def test_types_without_a_signature_are_taken_as_declared() -> None:
    assert passed(POLICY, "audio/ogg", iter([b"anything at all"])) == b"anything at all"


def test_storage_keys_come_from_the_attachment_id_alone() -> None:
    attachment_id = uuid.uuid4()
    assert storage_key_for(attachment_id) == (
        f"attachments/{attachment_id.hex[:2]}/{attachment_id.hex}")


def an_attachment(uploader_id: uuid.UUID, data: bytes = b"hello") -> Attachment:
    return Attachment.upload(uuid.uuid4(), uploader_id, "text/plain", len(data),
                             hashlib.sha256(data).hexdigest(), now(), a_cause(uploader_id))


def test_an_upload_records_its_metadata_and_where_its_bytes_are() -> None:
    uploader = uuid.uuid4()
    attachment = an_attachment(uploader, b"hello")
    assert (attachment.uploader_id, attachment.size, attachment.content_type) == (
        uploader, 5, "text/plain")
    assert attachment.storage_key == storage_key_for(attachment.id)
    assert attachment.metadata() == {
        "attachment_id": str(attachment.id), "content_type": "text/plain", "size": 5,
        "sha256": hashlib.sha256(b"hello").hexdigest()}


@pytest.mark.parametrize("field, value", [("size", 0), ("sha256", "ABC"),
                                          ("content_type", "not a type")])
def test_an_attachment_needs_a_size_a_digest_and_a_media_type(field: str, value: object) -> None:
    fields: dict[str, object] = {"content_type": "text/plain", "size": 1, "sha256": "0" * 64}
    fields[field] = value
    with pytest.raises(InvalidCommand):
        Attachment.upload(uuid.uuid4(), uuid.uuid4(), uploaded_at=now(),
                          cause=a_cause(), **fields)  # type: ignore[arg-type]


def recorded(batch: Batch, uploader: uuid.UUID) -> uuid.UUID:
    command = RecordAttachment(uuid.uuid4(), uploader, "image/png", 10, "a" * 64, now())
    result = record_attachment(batch, command, a_cause(uploader))
    assert result == AttachmentRecorded(command.attachment_id, "image/png", 10, "a" * 64)
    return command.attachment_id


def test_own_attachments_are_returned_in_the_order_given() -> None:
    batch = Batch(Application().repository)
    ada = uuid.uuid4()
    first, second = recorded(batch, ada), recorded(batch, ada)
    found = require_own_attachments(batch, ada, [second, first])
    assert [a["attachment_id"] for a in found] == [str(second), str(first)]
    assert found[0] == {"attachment_id": str(second), "content_type": "image/png",
                        "size": 10, "sha256": "a" * 64}


def test_someone_elses_or_unknown_attachments_are_not_found() -> None:
    batch = Batch(Application().repository)
    ada, bob = uuid.uuid4(), uuid.uuid4()
    adas = recorded(batch, ada)
    with pytest.raises(AttachmentNotFound):
        require_own_attachments(batch, bob, [adas])
    with pytest.raises(AttachmentNotFound):
        require_own_attachments(batch, ada, [adas, uuid.uuid4()])


def test_an_attachment_listed_twice_is_refused() -> None:
    batch = Batch(Application().repository)
    ada = uuid.uuid4()
    adas = recorded(batch, ada)
    with pytest.raises(InvalidCommand):
        require_own_attachments(batch, ada, [adas, adas])


def test_the_projector_keeps_what_a_download_needs() -> None:
    uploader = uuid.uuid4()
    attachment = an_attachment(uploader)
    [event] = attachment.collect_events()
    [change] = AttachmentsProjector().changes(event, 42)
    assert (change.collection, change.doc_id, change.version) == (
        ATTACHMENTS, str(attachment.id), 42)
    assert change.fields["uploader_id"] == str(uploader)
    assert change.fields["storage_key"] == attachment.storage_key
    assert change.fields["sha256"] == attachment.sha256


def an_upload(uploaded_at: datetime | None = None) -> tuple[Attachment, uuid.UUID]:
    ada = uuid.uuid4()
    attachment = Attachment.upload(uuid.uuid4(), ada, "image/png", 10, "a" * 64,
                                   uploaded_at or now(), a_cause(ada))
    return attachment, ada


def test_an_upload_never_sent_expires_after_its_time_to_live_only() -> None:
    day = timedelta(days=1)
    attachment, ada = an_upload(now() - timedelta(hours=2))
    assert not attachment.expire(now(), day, a_cause()), "not due yet"
    assert attachment.expire(now() + day, day, a_cause()), "due: its bytes are to go"
    assert attachment.expire(now() + day, day, a_cause()), "until purged, asked again"
    attachment.purge(now(), a_cause())
    assert not attachment.expire(now() + day, day, a_cause())
    assert not attachment.usable_by(ada)
    with pytest.raises(AttachmentNotFound):
        attachment.attach(uuid.uuid4(), uuid.uuid4(), a_cause(ada))


def test_an_upload_that_was_sent_never_expires_nor_is_purged() -> None:
    attachment, ada = an_upload(now() - timedelta(days=30))
    assert attachment.attach(uuid.uuid4(), uuid.uuid4(), a_cause(ada))
    assert not attachment.attach(uuid.uuid4(), uuid.uuid4(), a_cause(ada)), "recorded once"
    assert not attachment.expire(now(), timedelta(days=1), a_cause())
    with pytest.raises(InvalidCommand):
        attachment.purge(now(), a_cause())


def test_pending_uploads_hold_at_most_the_quota_and_release_what_is_sent() -> None:
    ada = uuid.uuid4()
    quota = UploadQuota(max_uploads=2, max_bytes=100)
    pending = PendingUploads.start(ada, a_cause(ada))
    first, second = uuid.uuid4(), uuid.uuid4()
    pending.hold(first, 60, quota, a_cause(ada))
    with pytest.raises(UploadQuotaExceeded):
        pending.hold(uuid.uuid4(), 41, quota, a_cause(ada))
    pending.hold(second, 40, quota, a_cause(ada))
    with pytest.raises(UploadQuotaExceeded):
        pending.room_for(quota)
    pending.release(first, a_cause(ada))
    assert pending.room_for(quota) == 60
