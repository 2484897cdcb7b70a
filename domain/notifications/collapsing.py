"""What the dedup and digest decision steps look at (domain/notifications/dedup.py and
digests.py): facts the trigger loads from the write-side index aggregates. Apart from those
modules so that `RecipientFacts` (decisions.py) can name them without a cycle."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from uuid import UUID

DEFAULT_DIGEST_TITLE: Final = "{count} new notifications"
# the limits a digest step records when one of them decided (DigestTarget.limit)
MEMBERS_LIMIT: Final = "members"  # the digest is full: it flushes at once, the next opens anew
OPEN_DIGESTS_LIMIT: Final = "open_digests"  # the caller has this many open: sent undigested


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
class DigestLimits:
    """The operator's bounds on what one recipient accumulates in digests: members per digest
    (the member that fills one flushes it at once) and digests one caller may have open for
    the recipient at a time (beyond: sent without digesting)."""

    max_members: int = 100
    max_open: int = 50


DEFAULT_DIGEST_LIMITS: Final = DigestLimits()


@dataclass(frozen=True)
class DigestTarget:
    """What the digest step looks at: the digest a member would join (or open), how full it
    is, how many digests the caller has open for the recipient (read when this one would open
    another), and the limit that decided, if one did (`MEMBERS_LIMIT`, `OPEN_DIGESTS_LIMIT`)."""

    digest_id: UUID
    key: str
    window_seconds: int
    opens: bool
    flush_at: datetime
    title: str = DEFAULT_DIGEST_TITLE
    position: int | None = None  # the member's position under the key (a message's seq)
    limits: DigestLimits = DEFAULT_DIGEST_LIMITS
    members: int = 0  # the digest's members before this one
    open_digests: int | None = None  # the caller's open digests for the recipient, if read
    limit: str | None = None

    @property
    def fills(self) -> bool:
        """This member takes the digest to its member limit (it is then flushed at once)."""
        return self.limit != OPEN_DIGESTS_LIMIT and self.members + 1 >= self.limits.max_members

    def inputs(self) -> dict[str, Any]:
        joined = self.limit != OPEN_DIGESTS_LIMIT
        return {"digest_id": str(self.digest_id) if joined else None, "digest_key": self.key,
                "window_seconds": self.window_seconds, "opens": self.opens and joined,
                "flush_at": self.flush_at.isoformat() if joined else None,
                "members": self.members + 1 if joined else None, "fills": self.fills,
                "open_digests": self.open_digests, "limit": self.limit,
                "max_members": self.limits.max_members,
                "max_open_digests": self.limits.max_open}
