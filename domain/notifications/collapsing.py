"""What the dedup and digest decision steps look at (domain/notifications/dedup.py and
digests.py): facts the trigger loads from the write-side index aggregates. Apart from those
modules so that `RecipientFacts` (decisions.py) can name them without a cycle."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from uuid import UUID

DEFAULT_DIGEST_TITLE: Final = "{count} new notifications"


@dataclass(frozen=True)
class DedupFact:
    """What the dedup step looks at: the request's key and window, and the notification
    holding the key now (None: the key is free, this one claims it)."""

    key: str
    window_seconds: int
    held_by: UUID | None = None
    held_since: datetime | None = None
    held_until: datetime | None = None

    def inputs(self) -> dict[str, Any]:
        return {"dedup_key": self.key, "window_seconds": self.window_seconds,
                "first_notification_id": None if self.held_by is None else str(self.held_by),
                "first_at": None if self.held_since is None else self.held_since.isoformat(),
                "window_until": (None if self.held_until is None
                                 else self.held_until.isoformat())}


@dataclass(frozen=True)
class DigestTarget:
    """What the digest step looks at: the digest a member would join (or open)."""

    digest_id: UUID
    key: str
    window_seconds: int
    opens: bool
    flush_at: datetime
    title: str = DEFAULT_DIGEST_TITLE
    position: int | None = None  # the member's position under the key (a message's seq)

    def inputs(self) -> dict[str, Any]:
        return {"digest_id": str(self.digest_id), "digest_key": self.key,
                "window_seconds": self.window_seconds, "opens": self.opens,
                "flush_at": self.flush_at.isoformat()}
