"""Live updates: what sockets hear, and how one socket follows its member's feed.

Two notifications carry the feed to sockets:

- a *stream* notification, published by whoever reads the log in order (the relay, or the
  embedded projection runner) as soon as events are committed: every feed change and every
  block in the positions `(after, position]`. A socket whose cursor is at `after` or beyond
  follows it in memory (`LiveView`), with no read-model query, so delivery does not wait for
  Elasticsearch;
- a *changes* notification, published after the feed projection has written a batch: where
  something changed. A socket that missed part of the stream (a dropped Redis message, a
  full queue, a reconnect) re-reads its feed from its cursor when it hears one, then follows
  the stream again. Either way nothing is lost or doubled.

Typing indicators and presence ride the same channel but are never stored, and so do
*addressed* frames: frames another context made for particular people from its projections'
changes (an in-app notification, say), which each of those people's sockets sends as it is.
The messaging context knows nothing of what they say.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from domain.identity.contacts import Blocklist
from domain.identity.devices import Device
from projections.messaging.feed import CHANGES, FeedProjector, content_scrub, public, shown_to
from projections.read_model.documents import (
    AnyOf,
    DocumentChange,
    Eq,
    PatchMatching,
    Upsert,
    merge_patch,
)
from projections.read_model.events import PositionedEvent

STREAM = "stream"
MAX_STREAMED_CHANGES = 500  # beyond this, sockets re-read the feed instead
RECENT_STREAM_KEPT = 1024  # enough to bridge from the read models to the head of the stream
FEED = FeedProjector()
ADDRESSED = "addressed"
JOINING_KINDS = {"conversation_opened": "member_ids", "group_created": "member_ids",
                 "members_added": "user_ids"}


class LiveUpdates(Protocol):
    def publish(self, notification: dict[str, Any]) -> None: ...

    def recent_stream(self) -> list[dict[str, Any]]:
        """The stream notifications this process heard last, oldest first."""
        ...

    def subscribe(self) -> asyncio.Queue[dict[str, Any]]: ...

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any]]) -> None: ...


def feed_notification(changes: Sequence[DocumentChange], upto: int) -> dict[str, Any] | None:
    """What a batch of feed changes touched: conversations, and members added or removed."""
    conversations, users = set(), set()
    for change in changes:
        if change.collection != CHANGES or not isinstance(change, Upsert):
            continue
        conversations.add(change.fields["conversation_id"])
        data = change.fields.get("data", {})
        users.update(data.get("user_ids", []) + data.get("member_ids", []))
        if "user_id" in data:
            users.add(data["user_id"])
    if not conversations:
        return None
    return {"type": "changes", "conversation_ids": sorted(conversations),
            "user_ids": sorted(users), "position": upto}


# Of these people, those with a live socket open now, on any process (the presence leases).
# It may lag a moment: a socket opening while it is asked may not count yet.
OpenSockets = Callable[[Collection[str]], set[str]]


def addressed_notification(frames: Sequence[tuple[str, dict[str, Any]]]
                           ) -> dict[str, Any] | None:
    """Frames for particular people's sockets, `(user id, frame)` in order, as one
    notification (one publish per projection batch); None when there are none."""
    if not frames:
        return None
    return {"type": ADDRESSED, "frames": [[user_id, frame] for user_id, frame in frames]}


def frames_for(notification: dict[str, Any], user_id: str) -> list[dict[str, Any]]:
    """The frames of an addressed notification that are `user_id`'s, in order."""
    return [frame for addressee, frame in notification.get("frames", ()) if addressee == user_id]


def stream_notification(events: Sequence[PositionedEvent], after: int,
                        upto: int) -> dict[str, Any]:
    """Everything a socket needs of the log between `after` and `upto`: the feed changes and
    the blocks, in order. Published even when empty, so followers see the stream is whole."""
    changes: list[dict[str, Any]] = []
    scrubs: list[dict[str, Any]] = []
    for positioned in events:
        if positioned.position <= after:
            continue
        scrub = content_scrub(positioned.event, positioned.position)
        if scrub is not None:
            scrubs.append(_scrub_item(scrub))
            changes = scrubbed(changes, [scrubs[-1]])
        change = FEED.change(positioned.event, positioned.position)
        if change is not None:
            changes.append(change.fields)
    # devices signed out or revoked: their sockets close at once (any API process)
    revoked = [str(p.event.originator_id) for p in events
               if isinstance(p.event, Device.Revoked) and p.position > after]
    if len(changes) > MAX_STREAMED_CHANGES:
        return {"type": STREAM, "after": after, "position": upto, "truncated": True,
                "scrubs": scrubs, "revoked_devices": revoked}
    blocks = [_block(positioned) for positioned in events
              if isinstance(positioned.event, Blocklist.UserBlocked | Blocklist.UserUnblocked)
              and positioned.position > after]
    return {"type": STREAM, "after": after, "position": upto, "changes": changes,
            "blocks": blocks, "scrubs": scrubs, "revoked_devices": revoked}


def _scrub_item(scrub: PatchMatching) -> dict[str, Any]:
    """A scrub as plain JSON, to travel with the stream (e.g. through Redis)."""
    [message] = [f.value for f in scrub.filters if isinstance(f, Eq)]
    [kinds] = [list(f.values) for f in scrub.filters if isinstance(f, AnyOf)]
    return {"message_id": message, "kinds": kinds, "position": scrub.version,
            "fields": scrub.fields}


def scrubbed(changes: list[dict[str, Any]],
             scrubs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Stream changes with what later edits and unsends took back applied, as the feed's read
    model applies them (`content_scrub`), so nothing replays a text that was taken back."""
    result = []
    for change in changes:
        for scrub in scrubs:
            if (change.get("message_id") == scrub["message_id"]
                    and change["position"] < scrub["position"]
                    and change.get("kind") in scrub["kinds"]):
                change = merge_patch(change, scrub["fields"])
        result.append(change)
    return result


def _block(positioned: PositionedEvent) -> dict[str, Any]:
    event = positioned.event
    blocked = isinstance(event, Blocklist.UserBlocked)
    return {"position": positioned.position, "blocker_id": str(event.blocker_id),
            "user_id": str(event.blocked_id if blocked else event.unblocked_id),
            "blocked": blocked}


@dataclass
class LiveView:
    """What one socket knows of its member's feed: how far it has got, the conversations the
    member is in now, and whom they block. It follows the stream from there, applying joins,
    removals and blocks in log order, exactly as the feed's membership windows do."""

    reader_id: str
    cursor: int
    conversations: set[str] = field(default_factory=set)
    blocked: set[str] = field(default_factory=set)

    def follow(self, notification: dict[str, Any]) -> list[dict[str, Any]] | None:
        """The changes of a stream notification the member should get, oldest first; None if
        the notification does not continue from the cursor (something was missed)."""
        if notification.get("truncated") or notification["after"] > self.cursor:
            return None
        items = sorted([*notification["changes"], *notification["blocks"]],
                       key=lambda item: item["position"])
        shown = [public(c, self.reader_id) for c in items
                 if c["position"] > self.cursor and self._shown(c)]
        self.cursor = max(self.cursor, notification["position"])
        return shown

    def reapply_blocks(self, notifications: Sequence[dict[str, Any]]) -> None:
        """After reading blocks from the read models, which may lag the stream: the latest
        block or unblock the stream announced for each person wins (they come in order)."""
        for notification in notifications:
            for item in notification.get("blocks", ()):
                self._block(item)

    def _block(self, item: dict[str, Any]) -> None:
        if item["blocker_id"] == self.reader_id:
            (self.blocked.add if item["blocked"] else self.blocked.discard)(item["user_id"])

    def _shown(self, item: dict[str, Any]) -> bool:
        if "blocker_id" in item:
            self._block(item)
            return False
        conversation, data = item["conversation_id"], item["data"]
        if self.reader_id in data.get(JOINING_KINDS.get(item["kind"], ""), ()):
            self.conversations.add(conversation)
        shown = conversation in self.conversations and shown_to(item, self.reader_id,
                                                                self.blocked)
        if item["kind"] == "member_removed" and data["user_id"] == self.reader_id:
            self.conversations.discard(conversation)  # the removal itself is still theirs
        return shown


class LocalFanOut:
    """Delivers notifications to the subscribed queues of this process, from any thread."""

    def __init__(self) -> None:
        self._subscribers: dict[asyncio.Queue[dict[str, Any]], asyncio.AbstractEventLoop] = {}
        self._recent: deque[dict[str, Any]] = deque(maxlen=RECENT_STREAM_KEPT)
        self._lock = threading.Lock()

    def publish(self, notification: dict[str, Any]) -> None:
        with self._lock:
            if notification.get("type") == STREAM:
                if notification.get("scrubs"):
                    self._scrub_recent(notification["scrubs"])
                self._recent.append(notification)
            subscribers = list(self._subscribers.items())
        for queue, loop in subscribers:
            loop.call_soon_threadsafe(_offer, queue, notification)

    def _scrub_recent(self, scrubs: Sequence[dict[str, Any]]) -> None:
        """Replaces (never mutates: sockets may be reading them) the recent notifications that
        hold a text an edit or unsend took back."""
        for index, kept in enumerate(self._recent):
            changes = kept.get("changes")
            if changes:
                cleaned = scrubbed(changes, scrubs)
                if cleaned != changes:
                    self._recent[index] = kept | {"changes": cleaned}

    def subscribe(self) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=1000)
        with self._lock:
            self._subscribers[queue] = asyncio.get_running_loop()
        return queue

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        with self._lock:
            self._subscribers.pop(queue, None)

    def recent_stream(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._recent)


def _offer(queue: asyncio.Queue[dict[str, Any]], notification: dict[str, Any]) -> None:
    if queue.full():
        # a slow socket loses wake-ups, not data: it re-reads its feed from its cursor
        queue.get_nowait()
    queue.put_nowait(notification)
