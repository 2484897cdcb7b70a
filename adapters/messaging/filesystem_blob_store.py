"""Blobs as files under one directory: written to a temporary file, then renamed into place.

Both profiles use it today; several API processes need the directory shared between them.
A production deployment at scale would put an object store behind the same `BlobStore` port.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from commands.messaging.attachments import BlobNotFound, StoredBlob

READ_CHUNK_BYTES = 64 * 1024
KEY = re.compile(r"^[a-z0-9]+(/[a-z0-9_-]+)*$")
TEMPORARY_PREFIX = ".upload-"
PRIVATE_DIRECTORY = 0o700


class FilesystemBlobStore:
    """A `BlobStore` in a directory; a key is a relative path of safe segments."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.root.mkdir(mode=PRIVATE_DIRECTORY, parents=True, exist_ok=True)
        self.root.chmod(PRIVATE_DIRECTORY)  # attachment bytes are for Parley's eyes only

    def path_of(self, key: str) -> Path:
        # Keys are made by Parley, never taken from requests; refuse anything else anyway.
        if not KEY.fullmatch(key):
            raise ValueError(f"not a blob key: {key!r}")
        return self.root / key

    def put(self, key: str, chunks: Iterable[bytes]) -> StoredBlob:
        target = self.path_of(key)
        target.parent.mkdir(mode=PRIVATE_DIRECTORY, parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        # mkstemp creates the file 0600, and the rename keeps that mode
        descriptor, temporary = tempfile.mkstemp(prefix=TEMPORARY_PREFIX, dir=target.parent)
        try:
            with os.fdopen(descriptor, "wb") as file:
                for chunk in chunks:
                    file.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        self._sync_directory(target.parent)
        return StoredBlob(size, digest.hexdigest())

    @staticmethod
    def _sync_directory(directory: Path) -> None:
        """The rename survives a crash once the directory entry is on disk."""
        descriptor = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)

    def open(self, key: str) -> Iterator[bytes]:
        try:
            file = self.path_of(key).open("rb")
        except FileNotFoundError as error:
            raise BlobNotFound(key) from error
        return self._chunks_of(file)

    @staticmethod
    def _chunks_of(file: BinaryIO) -> Iterator[bytes]:
        try:
            while chunk := file.read(READ_CHUNK_BYTES):
                yield chunk
        finally:
            file.close()

    def delete(self, key: str) -> None:
        self.path_of(key).unlink(missing_ok=True)
