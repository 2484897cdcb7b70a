"""What verifying the hash chain over HTTP needs (built by the composition root)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from commands.audit.integrity import ChainRecords


@dataclass(frozen=True)
class ChainCheck:
    """The event log's hash chain and the key its checkpoints are signed with, read on each
    verification, as `parley audit verify` does."""

    records: Callable[[], ChainRecords]
    key: Callable[[], bytes | None]
