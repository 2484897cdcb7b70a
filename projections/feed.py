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

from domain.conversations import Conversation
from domain.messages import Message
from domain.read_markers import ReadMarker
from projections.contacts import ContactQueries
from projections.documents import AnyOf, Page, Query, Range, ReadStore, Upsert
from projections.memberships import Memberships

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
INTERNAL_FIELDS = ("private_to", "actor_id")


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

    def changes(self, event: Any, position: int) -> list[Upsert]:
        kind = FEED_KINDS.get(type(event))
        if kind is None:
            return []
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
        if isinstance(event, PRIVATE_EVENTS):
            document["private_to"] = str(event.user_id)
        return [Upsert(CHANGES, str(position), position, document)]


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
        return {"changes": [public(c) for c in visible],
                "cursor": max(cursor, last_read), "conversation_ids": current,
                "blocked": sorted(blocked)}


def shown_to(change: dict[str, Any], reader_id: str, blocked: frozenset[str] | set[str]) -> bool:
    """Whether a change in one of the reader's conversations is for their eyes: not someone
    else's private change, nor the doing of someone they block."""
    return (change.get("private_to") in (None, reader_id)
            and not (change["kind"] in BY_THEIR_AUTHOR and _author(change) in blocked))


def public(change: dict[str, Any]) -> dict[str, Any]:
    """A change as readers get it, without the fields used to route and filter it."""
    return {k: v for k, v in change.items() if k not in INTERNAL_FIELDS}


def _author(change: dict[str, Any]) -> str | None:
    data = change.get("data") or {}
    author = change.get("actor_id") or data.get("sender_id") or data.get("user_id")
    return None if author is None else str(author)


def _within(change: dict[str, Any], window: tuple[int, int | None]) -> bool:
    joined, left = window
    return change["position"] >= joined and (left is None or change["position"] <= left)
