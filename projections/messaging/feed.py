"""Each member's ordered feed of changes, for multi-device sync and live delivery.

One `changes` document per relevant event, keyed by its log position. A member's feed is read
on demand (fan-out on read): the changes of every conversation they belong or belonged to,
inside their membership window, after a cursor that is a log position.

What people the reader blocked did (messages, edits, unsends, reactions, receipts) is left out
while the block lasts; the feed is a stream, so unblocking does not replay it (history and
search show those messages again).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from domain.messaging.conversations import Conversation
from domain.messaging.messages import Message
from domain.messaging.read_markers import ReadMarker
from projections.identity.contacts import ContactQueries
from projections.messaging.memberships import Memberships
from projections.read_model.documents import (
    AnyOf,
    DocumentChange,
    Eq,
    Page,
    PatchMatching,
    Query,
    Range,
    ReadStore,
    Upsert,
)

CHANGES = "changes"
FEED = "feed"
BASE_FIELDS = {"originator_id", "originator_version", "timestamp", "originator_topic",
               "actor_id", "correlation_id", "causation_id"}
FEED_KINDS: dict[type, str] = {
    Conversation.Opened: "conversation_opened",
    Conversation.GroupCreated: "group_created",
    Conversation.MessageSent: "message_sent",
    Conversation.Renamed: "group_renamed",
    Conversation.PhotoChanged: "group_photo_changed",
    Conversation.MembersAdded: "members_added",
    Conversation.MemberRemoved: "member_removed",
    Conversation.RoleChanged: "role_changed",
    Conversation.OwnershipTransferred: "ownership_transferred",
    Conversation.MemberSettingsChanged: "settings_changed",
    Message.Edited: "message_edited",
    Message.Unsent: "message_unsent",
    Message.ReactionAdded: "reaction_added",
    Message.ReactionRemoved: "reaction_removed",
    Message.HiddenForMember: "message_hidden",
    ReadMarker.ReadUpTo: "read",
    ReadMarker.DeliveredUpTo: "delivered",
}
PRIVATE_EVENTS = (Conversation.MemberSettingsChanged, Message.HiddenForMember)
MESSAGE_EVENTS = (Message.Edited, Message.Unsent, Message.ReactionAdded, Message.ReactionRemoved,
                  Message.HiddenForMember)
BY_THEIR_AUTHOR = {"message_sent", "message_edited", "message_unsent", "reaction_added",
                   "reaction_removed", "read", "delivered"}  # hidden from whoever blocked them
INTERNAL_FIELDS = ("private_to", "actor_id", "message_id")
CONTENT_KINDS = ("message_sent", "message_edited")  # the changes that carry a message's text
# what an unsend takes back from the feed: the change stays, as a tombstone
UNSENT_CONTENT: dict[str, Any] = {"text": None, "attachments": None, "mention_ids": None,
                                  "unsent": True}


def _plain(value: Any) -> Any:
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


class FeedProjector:
    name = FEED
    context = "messaging"
    collections = (CHANGES,)

    def changes(self, event: Any, position: int) -> list[DocumentChange]:
        change = self.change(event, position)
        if change is None:
            return []
        scrub = content_scrub(event, position)
        return [change] if scrub is None else [scrub, change]

    def change(self, event: Any, position: int) -> Upsert | None:
        """The feed change an event makes, keyed by its position."""
        kind = FEED_KINDS.get(type(event))
        if kind is None:
            return None
        conversation_id = getattr(event, "conversation_id", None) or event.originator_id
        data = {k: _plain(v) for k, v in vars(event).items() if k not in BASE_FIELDS}
        data.pop("conversation_id", None)
        if isinstance(event, MESSAGE_EVENTS):  # which message: the aggregate's own id
            data["message_id"] = str(event.originator_id)
        document = {
            "change_id": str(position), "conversation_id": str(conversation_id),
            "position": position, "kind": kind, "data": data,
            "at": event.timestamp.isoformat(), "actor_id": str(event.actor_id),
        }
        if "message_id" in data:  # top level, so a store can find a message's changes
            document["message_id"] = data["message_id"]
        if isinstance(event, PRIVATE_EVENTS):
            document["private_to"] = str(event.user_id)
        return Upsert(CHANGES, str(position), position, document)


def content_scrub(event: Any, position: int) -> PatchMatching | None:
    """What an edit or unsend takes back from the earlier changes about its message: their
    text becomes the current text, or, once unsent, goes (the feed is a read model, and a
    device that syncs later must not receive what was taken back)."""
    if isinstance(event, Message.Edited):
        content: dict[str, Any] = {"text": event.text}
    elif isinstance(event, Message.Unsent):
        content = UNSENT_CONTENT
    else:
        return None
    return PatchMatching(CHANGES, (Eq("message_id", str(event.originator_id)),
                                   AnyOf("kind", CONTENT_KINDS)), position, {"data": content})


class FeedQueries:
    def __init__(self, store: ReadStore, memberships: Memberships,
                 contacts: ContactQueries) -> None:
        self._store = store
        self._memberships = memberships
        self._contacts = contacts

    def since(self, reader_id: str, cursor: int, limit: int) -> dict[str, Any]:
        """The next changes after `cursor`, oldest first, and the cursor to ask with next."""
        # Read how far the feed is complete *before* reading it: every change at or below
        # this position is already visible, so a cursor moved up to it skips nothing.
        complete_up_to = self._store.position(FEED)
        mine, known_up_to = self._memberships.of(reader_id, complete_up_to)
        # Changes past `known_up_to` may be in conversations the reader has just joined:
        # they wait for the next read, so the cursor never passes one unseen.
        horizon = min(complete_up_to, known_up_to)
        windows = {c: (m.get("joined_position", 0), m.get("left_position"))
                   for c, m in mine.items()}
        current = sorted(c for c, m in mine.items() if m.get("active"))
        if not windows:
            return {"changes": [], "cursor": max(cursor, horizon), "conversation_ids": []}
        page: Page = self._store.query(Query(
            CHANGES, [AnyOf("conversation_id", list(windows)),
                      Range("position", gt=cursor, lte=known_up_to)],
            sort_field="position", descending=False, limit=limit,
        ))
        blocked = self._contacts.blocks_of(reader_id).blocked
        visible = [c for c in page.documents if _within(c, windows[c["conversation_id"]])
                   and shown_to(c, reader_id, blocked)]
        last_read = max((c["position"] for c in page.documents), default=cursor)
        if page.next_after is None:
            last_read = max(last_read, horizon)
        return {"changes": [public(c, reader_id) for c in visible],
                "cursor": max(cursor, last_read), "conversation_ids": current,
                "blocked": sorted(blocked)}


def shown_to(change: dict[str, Any], reader_id: str, blocked: frozenset[str] | set[str]) -> bool:
    """Whether a change in one of the reader's conversations is for their eyes: not someone
    else's private change, nor the doing of someone they block."""
    return (change.get("private_to") in (None, reader_id)
            and not (change["kind"] in BY_THEIR_AUTHOR and _author(change) in blocked))


def public(change: dict[str, Any], reader_id: str) -> dict[str, Any]:
    """A change as `reader_id` gets it, without the fields used to route and filter it, and
    without anyone else's device id (half of what a token names): another member's delivery
    says who and up to where, not on which device."""
    shown = {k: v for k, v in change.items() if k not in INTERNAL_FIELDS}
    data = shown.get("data") or {}
    if "device_id" in data and str(data.get("user_id")) != reader_id:
        shown["data"] = {k: v for k, v in data.items() if k != "device_id"}
    return shown


def _author(change: dict[str, Any]) -> str | None:
    data = change.get("data") or {}
    author = change.get("actor_id") or data.get("sender_id") or data.get("user_id")
    return None if author is None else str(author)


def _within(change: dict[str, Any], window: tuple[int, int | None]) -> bool:
    joined, left = window
    return change["position"] >= joined and (left is None or change["position"] <= left)
