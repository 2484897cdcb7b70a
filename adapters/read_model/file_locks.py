"""Per-projection locks between processes of the embedded default: `flock` on small files."""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

_SAFE_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


class FileLocks:
    def __init__(self, directory: Path) -> None:
        self._directory = directory
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)

    @contextlib.contextmanager
    def hold_all(self, projections: Sequence[str]) -> Iterator[None]:
        with contextlib.ExitStack() as held:
            for projection in sorted(set(projections)):
                held.enter_context(self.hold(projection))
            yield

    @contextlib.contextmanager
    def hold(self, projection: str) -> Iterator[None]:
        if not _SAFE_NAME.match(projection):
            raise ValueError(f"not a projection name: {projection!r}")
        descriptor = os.open(self._directory / f"{projection}.lock", os.O_RDWR | os.O_CREAT,
                             0o600)
        with open(descriptor, "r+b") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
