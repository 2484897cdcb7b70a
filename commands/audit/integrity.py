"""Verifies the event log against its hash chain and signed checkpoints, streaming in batches."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from domain.audit.chain_verification import ChainBreak, ChainVerifier
from event_log.hash_chain import ChainLink, Checkpoint, LoggedEvent

BATCH_SIZE = 5000


class ChainRecords(Protocol):
    """The event log's records, its chain links and its checkpoints, read by position."""

    def logged_events(self, after: int, until: int | None, limit: int) -> Sequence[LoggedEvent]:
        """Events with `after` < position <= `until` (no bound if None), in log order."""
        ...

    def chain_links(self, after: int, until: int | None, limit: int) -> Sequence[ChainLink]:
        """Links with `after` < position <= `until`, in log order."""
        ...

    def link_before(self, position: int) -> ChainLink | None:
        """The last link before `position`: what a range starting there chains to."""
        ...

    def position_of_digest(self, digest: bytes, other_than: int) -> int | None:
        """A position, other than `other_than`, whose link holds `digest`."""
        ...

    def chain_head(self) -> ChainLink | None: ...

    def last_position(self) -> int:
        """The highest position holding an event or a link (0 for an empty log)."""
        ...

    def checkpoints(self, after: int, until: int | None, limit: int) -> Sequence[Checkpoint]:
        """Checkpoints with `after` < position <= `until`, by position."""
        ...

    def latest_checkpoint(self) -> Checkpoint | None: ...

    def insert_checkpoint(self, checkpoint: Checkpoint) -> bool:
        """Stores `checkpoint`; False if one was already signed at its position."""
        ...


@dataclass(frozen=True)
class VerificationReport:
    start: int
    until: int
    events_checked: int
    last_position: int
    checkpoints_checked: int
    signatures_checked: bool
    first_break: ChainBreak | None

    @property
    def intact(self) -> bool:
        return self.first_break is None

    def as_json(self) -> dict[str, object]:
        """The report as `parley audit verify --json` prints it and the HTTP route answers it."""
        first_break = self.first_break
        return {
            "intact": self.intact, "from": self.start, "until": self.until,
            "events_checked": self.events_checked,
            "last_verified_position": self.last_position,
            "checkpoints_checked": self.checkpoints_checked,
            "signatures_checked": self.signatures_checked,
            "break": None if first_break is None else {
                "kind": str(first_break.kind), "position": first_break.position,
                "detail": first_break.detail},
        }


Progress = Callable[[int, int], None]
"""Told (last position checked, events checked so far) after each batch."""


def verify_log(records: ChainRecords, *, key: bytes | None, start: int = 1,
               until: int | None = None, batch_size: int = BATCH_SIZE,
               on_progress: Progress | None = None) -> VerificationReport:
    """Recompute the chain over positions `start`..`until` and report its first break.

    Without `until`, the range ends at the log's last position when verification starts, so
    events written meanwhile are left for the next run rather than read half-committed.
    A range that reaches the log's end (no `until`, or one at or beyond the last position)
    also checks every checkpoint signed beyond it: a log that lost its tail is `truncated`.
    Without a `key`, checkpoints are still compared with the chain but their signatures are
    not checked (an attacker who rewrote the log could have rewritten them too).
    """
    # Read before the log's end: every checkpoint signed by then lies within an intact log.
    latest = records.latest_checkpoint()
    head = records.last_position()
    until = head if until is None else until
    signed_until = max(until, latest.position) if latest and until >= head else until
    verifier = ChainVerifier(records.link_before(start),
                             _all_checkpoints(records, start - 1, signed_until, batch_size),
                             key=key, find_digest=records.position_of_digest)
    first_break = None
    for position, event, link in _positions(records, start - 1, until, batch_size,
                                            lambda: _report_progress(verifier, on_progress)):
        first_break = verifier.check(position, event, link)
        if first_break is not None:
            break
    else:
        first_break = verifier.finish()
    return VerificationReport(start, until, verifier.events_checked, verifier.last_position,
                              verifier.checkpoints_checked, key is not None, first_break)


def _report_progress(verifier: ChainVerifier, on_progress: Progress | None) -> None:
    if on_progress is not None:
        on_progress(verifier.last_position, verifier.events_checked)


def _positions(
    records: ChainRecords, after: int, until: int | None, batch_size: int,
    between_batches: Callable[[], None],
) -> Iterator[tuple[int, LoggedEvent | None, ChainLink | None]]:
    """Every position holding an event or a link, in order, with whichever of them it holds."""
    while True:
        events = records.logged_events(after, until, batch_size)
        links = records.chain_links(after, until, batch_size)
        if not events and not links:
            return
        # A full batch may stop short of the other: merge only as far as both are complete.
        bound = min(events[-1].position if len(events) == batch_size else math.inf,
                    links[-1].position if len(links) == batch_size else math.inf)
        by_position_events = {e.position: e for e in events if e.position <= bound}
        by_position_links = {k.position: k for k in links if k.position <= bound}
        for position in sorted(by_position_events.keys() | by_position_links.keys()):
            yield position, by_position_events.get(position), by_position_links.get(position)
        after = int(bound) if bound != math.inf else max(
            [e.position for e in events[-1:]] + [k.position for k in links[-1:]])
        between_batches()


def _all_checkpoints(records: ChainRecords, after: int, until: int | None,
                     batch_size: int) -> Iterator[Checkpoint]:
    while True:
        batch = records.checkpoints(after, until, batch_size)
        yield from batch
        if len(batch) < batch_size:
            return
        after = batch[-1].position
