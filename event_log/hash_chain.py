"""The hash chain that makes the event log tamper-evident, and signed checkpoints of its head.

Each stored event gets a link: the digest of its record and a hash that covers the previous
link's hash, the previous and its own log position, and that digest. Changing, removing,
inserting or moving any event therefore breaks every link after it, unless the attacker also
recomputes those links; a checkpoint signed with a key the attacker lacks catches that too.

Every variable-length field is length-prefixed and every integer has a fixed width, so two
different records can never encode to the same bytes. The encoding is also computed in SQL by
`migrations/postgres/0005_event_hashes.sql` (for events stored before the chain existed).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

GENESIS_HASH = hashlib.sha256(b"parley-genesis-v1").digest()
"""What the first event of the log chains to."""

NO_POSITION = 0
"""The previous position of the first event (log positions start at 1)."""

_EVENT_LABEL = b"parley-event-v1"
_LINK_LABEL = b"parley-link-v1"
_CHECKPOINT_LABEL = b"parley-checkpoint-v1"


@dataclass(frozen=True)
class LoggedEvent:
    """An event record as stored in the log, at its position."""

    position: int
    originator_id: str
    originator_version: int
    topic: str
    state: bytes


@dataclass(frozen=True)
class ChainLink:
    """The chain's record of one event: stored beside the event, in the same transaction."""

    position: int
    previous_position: int
    event_digest: bytes
    hash: bytes


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement that the chain's head at `position` was `head_hash` at `signed_at`."""

    position: int
    head_hash: bytes
    signed_at: datetime
    signature: bytes


def _integer(value: int) -> bytes:
    return value.to_bytes(8, "big", signed=True)


def _field(value: bytes) -> bytes:
    return _integer(len(value)) + value


def event_digest(event: LoggedEvent) -> bytes:
    """SHA-256 of the event's record, independent of where it sits in the log."""
    return hashlib.sha256(
        _EVENT_LABEL
        + _field(event.originator_id.encode())
        + _integer(event.originator_version)
        + _field(event.topic.encode())
        + _field(event.state)
    ).digest()


def link_hash(previous_hash: bytes, previous_position: int, position: int,
              digest: bytes) -> bytes:
    """SHA-256 binding an event's digest to its position and to the link before it."""
    return hashlib.sha256(
        _LINK_LABEL + previous_hash + _integer(previous_position) + _integer(position) + digest
    ).digest()


def next_link(previous: ChainLink | None, event: LoggedEvent) -> ChainLink:
    """The link of `event`, chained to `previous` (None: the event starts the log)."""
    previous_hash = previous.hash if previous else GENESIS_HASH
    previous_position = previous.position if previous else NO_POSITION
    digest = event_digest(event)
    return ChainLink(event.position, previous_position, digest,
                     link_hash(previous_hash, previous_position, event.position, digest))


def extend_chain(head: ChainLink | None, events: Iterable[LoggedEvent]) -> list[ChainLink]:
    """Links of `events` (in log order) continuing the chain from its current `head`."""
    links: list[ChainLink] = []
    for event in sorted(events, key=lambda e: e.position):
        head = next_link(head, event)
        links.append(head)
    return links


def _signed_bytes(position: int, head_hash: bytes, signed_at: datetime) -> bytes:
    moment = signed_at.astimezone(UTC).isoformat(timespec="microseconds")
    return _CHECKPOINT_LABEL + _integer(position) + _field(head_hash) + _field(moment.encode())


def sign_checkpoint(key: bytes, head: ChainLink, signed_at: datetime) -> Checkpoint:
    """An HMAC-SHA256 checkpoint of the chain's `head`; `signed_at` must be timezone-aware."""
    signature = hmac.new(key, _signed_bytes(head.position, head.hash, signed_at),
                         hashlib.sha256).digest()
    return Checkpoint(head.position, head.hash, signed_at, signature)


def checkpoint_is_authentic(key: bytes, checkpoint: Checkpoint) -> bool:
    """Whether `checkpoint` was signed with `key` and has not been altered since."""
    expected = hmac.new(
        key, _signed_bytes(checkpoint.position, checkpoint.head_hash, checkpoint.signed_at),
        hashlib.sha256,
    ).digest()
    return hmac.compare_digest(expected, checkpoint.signature)
