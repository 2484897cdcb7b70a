"""What bounds one recipient's digests (ADR 0020): how many digests a caller may have open for
the recipient at once, and a digest's summary within what its channels can carry, however
many members it has. (The member limit itself is the digest's: `Digest.collect` fills it.)

`OpenDigests` (caller, recipient; uuid5) is a write-side index, log-only like the dedup keys:
the digests the caller has open for the recipient, each with its flush time. A digest counts
as open until its flush time, or until it is filled (`close`: the timer flushes it at once);
one whose every member was withdrawn by a read receipt (cancelled) counts until its flush
time, which errs on the side of digesting less. Time in the index never goes back: each
addition forgets the digests whose flush time its moment passed, and a trigger decided after
it (the writer deciding again one whose clock is behind) neither counts nor closes those, as
it is decided after that moment whatever its clock says. Opening a digest appends to the
index, so two triggers that would open digests for one recipient at once append the same
version: the log refuses the second and the writer decides it again on fresh state
(event_log/writer.py), and the limit holds under concurrency. Its state is at most the
limit's entries (each addition drops those whose flush time has passed); it is snapshotted,
since it gains an event per digest opened.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, Final
from uuid import UUID, uuid5

from domain.errors import Conflict
from domain.notifications.content import Content, content_problem
from domain.notifications.digests import ELLIPSIS, Digest
from domain.notifications.notifications import NOTIFICATION_NAMESPACE
from event_log.aggregate import SNAPSHOT_EVERY, Cause, ParleyAggregate

FILLED: Final = "filled"  # a Closed reason: the digest reached its member limit


class TooManyOpenDigests(Conflict):
    """A digest opened beyond the caller's open-digest limit for the recipient (the digest
    step sends such a notification on its own instead; reaching this is a defect)."""


@functools.lru_cache(maxsize=4096)
def open_digests_id(caller: str, recipient_id: UUID) -> UUID:
    """One index per caller and recipient: a caller's digests are its own (as its keys are),
    so one service's digests never crowd out another's, nor show in its traces."""
    return uuid5(NOTIFICATION_NAMESPACE, f"open-digests/{caller}/{recipient_id}")


class OpenDigests(ParleyAggregate):
    snapshot_every = SNAPSHOT_EVERY

    def __init__(self, caller: str, recipient_id: UUID) -> None:
        self.caller = caller
        self.recipient_id = recipient_id
        self.flush_times: dict[str, datetime] = {}  # digest id -> its flush time

    class Started(ParleyAggregate.Created):
        caller: str
        recipient_id: UUID

    class Added(ParleyAggregate.Event):
        """A digest opened, flushing at `flush_at` (those already due at `at` leave)."""

        digest_id: UUID
        flush_at: datetime
        at: datetime

        def apply(self, aggregate: Any) -> None:
            aggregate.flush_times = {d: t for d, t in aggregate.flush_times.items()
                                     if t > self.at}
            aggregate.flush_times[str(self.digest_id)] = self.flush_at

    class Closed(ParleyAggregate.Event):
        """A digest no longer open before its flush time (`reason` "filled": it reached its
        member limit and flushes at once)."""

        digest_id: UUID
        reason: str
        at: datetime

        def apply(self, aggregate: Any) -> None:
            aggregate.flush_times.pop(str(self.digest_id), None)

    @classmethod
    def start(cls, caller: str, recipient_id: UUID, cause: Cause) -> OpenDigests:
        return cls._create(cls.Started, id=open_digests_id(caller, recipient_id),
                           caller=caller, recipient_id=recipient_id, **cause.as_event_fields())

    def open_at(self, now: datetime) -> int:
        """How many of the caller's digests for the recipient are open at `now`."""
        return sum(1 for flush_at in self.flush_times.values() if flush_at > now)

    def add(self, digest_id: UUID, flush_at: datetime, at: datetime, max_open: int,
            cause: Cause) -> None:
        if str(digest_id) in self.flush_times:
            return
        if self.open_at(at) >= max_open:
            raise TooManyOpenDigests("digest", f"at most {max_open} open digests")
        self.trigger_event(self.Added, digest_id=digest_id, flush_at=flush_at, at=at,
                           **cause.as_event_fields())

    def close(self, digest_id: UUID, reason: str, at: datetime, cause: Cause) -> bool:
        """No longer open before its flush time; False if it was not open."""
        flush_at = self.flush_times.get(str(digest_id))
        if flush_at is None or flush_at <= at:
            return False
        self.trigger_event(self.Closed, digest_id=digest_id, reason=reason, at=at,
                           **cause.as_event_fields())
        return True


def summary_within(digest: Digest, channels: Sequence[str]) -> Content:
    """The digest's notification as every one of `channels` can carry it, whatever its
    members: as many of the first lines as fit; with none, the title shortened as little as
    needed; then without the deep link. The count and "and N more" always stay."""

    def fits(content: Content) -> bool:
        return all(content_problem(content, channel) is None for channel in channels)

    for shown in range(len(digest.lines), -1, -1):
        content = digest.content(shown)
        if fits(content):
            return content
    for bare in (content, replace(content, deep_link=None)):
        longest = _longest_title(bare, fits)
        if longest is not None:
            return longest
    return replace(content, title="", deep_link=None)  # "and N more" alone fits any channel


def _longest_title(content: Content, fits: Callable[[Content], bool]) -> Content | None:
    """`content` with its title cut to the longest prefix (and an ellipsis) that fits."""
    low, high, best = 0, len(content.title) - 1, None
    while low <= high:  # fitting only gets easier as the title gets shorter
        middle = (low + high) // 2
        title = content.title[:middle].rstrip()
        candidate = replace(content, title=title + ELLIPSIS if title else "")
        if fits(candidate):
            best, low = candidate, middle + 1
        else:
            high = middle - 1
    return best
