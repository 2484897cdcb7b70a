"""The filesystem blob store, on a real directory: streaming, atomic, exact and tidy."""

from __future__ import annotations

import hashlib
import os
import tracemalloc
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.messaging.filesystem_blob_store import FilesystemBlobStore
from commands.messaging.attachments import BlobNotFound, BlobStore, store_upload
from domain.messaging.attachments import UploadPolicy, storage_key_for
from domain.messaging.errors import AttachmentContentMismatch, AttachmentTooLarge
from tests.builders import a_file, in_chunks

MIB = 1024 * 1024


class Interrupted(Exception):
    pass


@pytest.fixture
def blobs(tmp_path: Path) -> FilesystemBlobStore:
    return FilesystemBlobStore(tmp_path / "blobs")


def a_key() -> str:
    return storage_key_for(uuid.uuid4())


def files_under(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def test_bytes_come_back_exactly_with_their_size_and_sha256(blobs: BlobStore) -> None:
    data = os.urandom(3 * MIB + 17)
    key = a_key()
    stored = blobs.put(key, in_chunks(data, 10_000))
    assert (stored.size, stored.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    assert b"".join(blobs.open(key)) == data


def test_a_large_upload_is_streamed_not_held_in_memory(blobs: BlobStore) -> None:
    def forty_mib() -> Iterator[bytes]:
        chunk = b"\x00" * (64 * 1024)
        for _ in range(640):
            yield chunk

    tracemalloc.start()
    try:
        stored = blobs.put(a_key(), forty_mib())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert stored.size == 40 * MIB
    assert peak < 2 * MIB


def test_a_blob_is_invisible_until_its_last_byte_is_stored(blobs: BlobStore) -> None:
    key = a_key()
    seen_while_writing: list[bool] = []

    def chunks() -> Iterator[bytes]:
        yield b"first half "
        try:
            blobs.open(key)
            seen_while_writing.append(True)
        except BlobNotFound:
            seen_while_writing.append(False)
        yield b"second half"

    blobs.put(key, chunks())
    assert seen_while_writing == [False]
    assert b"".join(blobs.open(key)) == b"first half second half"


def test_an_interrupted_upload_leaves_nothing_behind(blobs: FilesystemBlobStore) -> None:
    def broken() -> Iterator[bytes]:
        yield b"x" * 100_000
        raise Interrupted

    key = a_key()
    with pytest.raises(Interrupted):
        blobs.put(key, broken())
    with pytest.raises(BlobNotFound):
        blobs.open(key)
    assert files_under(blobs.root) == []


def test_refused_uploads_are_deleted_part_way(blobs: FilesystemBlobStore) -> None:
    policy = UploadPolicy(max_bytes=100_000)
    with pytest.raises(AttachmentTooLarge):
        store_upload(blobs, policy, uuid.uuid4(), "image/png",
                     in_chunks(a_file("image/png", 300_000), 8192))
    with pytest.raises(AttachmentContentMismatch):
        store_upload(blobs, policy, uuid.uuid4(), "image/png",
                     in_chunks(a_file("application/pdf", 50_000), 8192))
    assert files_under(blobs.root) == []


def test_an_accepted_upload_is_stored_under_its_attachment_key(
        blobs: FilesystemBlobStore) -> None:
    attachment_id = uuid.uuid4()
    data = a_file("image/png", 70_000)
    stored = store_upload(blobs, UploadPolicy(), attachment_id, "image/png", in_chunks(data))
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert files_under(blobs.root) == [blobs.root / storage_key_for(attachment_id)]


def test_deleting_removes_the_blob_and_is_idempotent(blobs: BlobStore) -> None:
    key = a_key()
    blobs.put(key, [b"bytes"])
    blobs.delete(key)
    blobs.delete(key)
    with pytest.raises(BlobNotFound):
        blobs.open(key)


@pytest.mark.parametrize("key", ["../escape", "/etc/passwd", "attachments/../../x", "A/B",
                                 "attachments//x", "attachments/x/", ""])
def test_keys_that_are_not_plain_relative_paths_are_refused(
        blobs: FilesystemBlobStore, key: str) -> None:
    with pytest.raises(ValueError):
        blobs.put(key, [b"x"])
    with pytest.raises(ValueError):
        blobs.open(key)
