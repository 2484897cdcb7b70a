"""Recomputes the event log's hash chain and names the first break: what happened, and where.

Positions may have gaps (a PostgreSQL transaction that rolled back still used its sequence
numbers); a gap alone is not tampering, because each link records the position it follows.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum

from event_log.hash_chain import (
    GENESIS_HASH,
    NO_POSITION,
    ChainLink,
    Checkpoint,
    LoggedEvent,
    checkpoint_is_authentic,
    event_digest,
    link_hash,
)

RECENT_POSITIONS = 1024
"""How many accepted positions are remembered to point at the first of several inserted events."""


class BreakKind(StrEnum):
    CHANGED = "changed"
    DELETED = "deleted"
    INSERTED = "inserted"
    REORDERED = "reordered"
    REWRITTEN = "rewritten"
    FORGED_CHECKPOINT = "forged-checkpoint"
    TRUNCATED = "truncated"


@dataclass(frozen=True)
class ChainBreak:
    """The first place where the stored log disagrees with its chain or its checkpoints."""

    kind: BreakKind
    position: int
    detail: str


FindDigest = Callable[[bytes, int], int | None]
"""Where else (other than the given position) a link holds this event digest, if anywhere."""


class ChainVerifier:
    """Fed every position of a range in log order; answers the first break it finds."""

    def __init__(self, anchor: ChainLink | None, checkpoints: Iterator[Checkpoint], *,
                 key: bytes | None, find_digest: FindDigest) -> None:
        self._previous_hash = anchor.hash if anchor else GENESIS_HASH
        self._previous_position = anchor.position if anchor else NO_POSITION
        self._recent: deque[int] = deque(maxlen=RECENT_POSITIONS)
        self._checkpoints = checkpoints
        self._pending: Checkpoint | None = next(checkpoints, None)
        self._key = key
        self._find_digest = find_digest
        self.events_checked = 0
        self.checkpoints_checked = 0

    @property
    def last_position(self) -> int:
        return self._previous_position

    def check(self, position: int, event: LoggedEvent | None,
              link: ChainLink | None) -> ChainBreak | None:
        """The break at `position`, or None after accepting it as the chain's new head."""
        if link is None:
            return ChainBreak(BreakKind.INSERTED, position,
                              "an event is stored here that the chain never linked")
        if event is None:
            return ChainBreak(BreakKind.DELETED, position,
                              "the chain links an event here that is no longer stored")
        digest = event_digest(event)
        expected = link_hash(self._previous_hash, self._previous_position, position, digest)
        if expected != link.hash:
            return self._classify(position, digest, link)
        self._accept(position, link.hash)
        return self._check_checkpoints(position)

    def finish(self) -> ChainBreak | None:
        """After the last position: a signed checkpoint beyond it means the log lost its tail."""
        while self._pending is not None:
            checkpoint = self._take_checkpoint()
            if not self._authentic(checkpoint):
                return self._forged(checkpoint)
            if checkpoint.position > self._previous_position:
                return ChainBreak(BreakKind.TRUNCATED, checkpoint.position,
                                  f"a checkpoint was signed at {checkpoint.position} but the "
                                  f"log ends at {self._previous_position}")
        return None

    def _accept(self, position: int, hash_: bytes) -> None:
        self._previous_hash, self._previous_position = hash_, position
        self._recent.append(position)
        self.events_checked += 1

    def _classify(self, position: int, digest: bytes, link: ChainLink) -> ChainBreak:
        if digest != link.event_digest:
            chained_at = self._find_digest(digest, position)
            if chained_at is not None:
                return ChainBreak(BreakKind.REORDERED, position,
                                  f"the event stored here was chained at position {chained_at}")
            return ChainBreak(BreakKind.CHANGED, position,
                              "the stored event differs from the one chained here")
        if link.previous_position > self._previous_position:
            return ChainBreak(BreakKind.DELETED, link.previous_position,
                              f"the event at {position} was chained after "
                              f"{link.previous_position}, which is no longer stored")
        if link.previous_position < self._previous_position:
            first_inserted = next((p for p in self._recent if p > link.previous_position),
                                  self._previous_position)
            return ChainBreak(BreakKind.INSERTED, first_inserted,
                              f"the event at {position} was chained right after "
                              f"{link.previous_position}; events since were inserted")
        return ChainBreak(BreakKind.CHANGED, self._previous_position,
                          f"the event at {self._previous_position} is not the one the next "
                          f"event ({position}) was chained to: it was rewritten and relinked")

    def _check_checkpoints(self, position: int) -> ChainBreak | None:
        while self._pending is not None and self._pending.position <= position:
            checkpoint = self._take_checkpoint()
            if not self._authentic(checkpoint):
                return self._forged(checkpoint)
            if checkpoint.position < position:
                return ChainBreak(BreakKind.REWRITTEN, checkpoint.position,
                                  "a signed checkpoint names this position, no longer in the log")
            if checkpoint.head_hash != self._previous_hash:
                return ChainBreak(BreakKind.REWRITTEN, position,
                                  "the chain here differs from the signed checkpoint: the log "
                                  "up to here was rewritten and its links recomputed")
        return None

    def _take_checkpoint(self) -> Checkpoint:
        assert self._pending is not None
        checkpoint, self._pending = self._pending, next(self._checkpoints, None)
        self.checkpoints_checked += 1
        return checkpoint

    def _authentic(self, checkpoint: Checkpoint) -> bool:
        return self._key is None or checkpoint_is_authentic(self._key, checkpoint)

    @staticmethod
    def _forged(checkpoint: Checkpoint) -> ChainBreak:
        return ChainBreak(BreakKind.FORGED_CHECKPOINT, checkpoint.position,
                          "the checkpoint's signature does not match its contents")
