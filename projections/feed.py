"""Each member's ordered feed of changes, for multi-device sync and live delivery.

One `changes` document per relevant event, keyed by its log position. A member's feed is read
on demand (fan-out on read): the changes of every conversation they belong or belonged to,
inside their membership window, after a cursor that is a log position.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from domain.conversations import Conversation
from domain.messages import Message
from domain.read_markers import ReadMarker
from projections.documents import AnyOf, Page, Query, Range, ReadStore, Upsert
from projections.messaging import MEMBERSHIPS

CHANGES = "changes"
FEED = "feed"
MAX_CONVERSATIONS = 1000
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
        document = {
            "change_id": str(position), "conversation_id": str(conversation_id),
            "position": position, "kind": kind, "data": data,
            "at": event.timestamp.isoformat(),
        }
        if isinstance(event, PRIVATE_EVENTS):
            document["private_to"] = str(event.user_id)
        return [Upsert(CHANGES, str(position), position, document)]


class FeedQueries:
    def __init__(self, store: ReadStore) -> None:
        self._store = store

    def since(self, reader_id: str, cursor: int, limit: int) -> dict[str, Any]:
        """The next changes after `cursor`, oldest first, and the cursor to ask with next."""
        # Read how far the feed is complete *before* reading it: every change at or below
        # this position is already visible, so a cursor moved up to it skips nothing.
        complete_up_to = self._store.position(FEED)
        windows = self._windows(reader_id)
        if not windows:
            return {"changes": [], "cursor": max(cursor, complete_up_to),
                    "conversation_ids": []}
        page: Page = self._store.query(Query(
            CHANGES, [AnyOf("conversation_id", list(windows)), Range("position", gt=cursor)],
            sort_field="position", descending=False, limit=limit,
        ))
        visible = [c for c in page.documents if _within(c, windows[c["conversation_id"]])
                   and c.get("private_to") in (None, reader_id)]
        last_read = max((c["position"] for c in page.documents), default=cursor)
        if page.next_after is None:
            last_read = max(last_read, complete_up_to)
        return {"changes": [{k: v for k, v in c.items() if k != "private_to"} for c in visible],
                "cursor": max(cursor, last_read), "conversation_ids": sorted(windows)}

    def _windows(self, reader_id: str) -> dict[str, tuple[int, int | None]]:
        memberships = self._store.query(Query(
            MEMBERSHIPS, [AnyOf("user_id", [reader_id])], sort_field="joined_seq",
            limit=MAX_CONVERSATIONS,
        )).documents
        return {m["conversation_id"]: (m.get("joined_position", 0), m.get("left_position"))
                for m in memberships}


def _within(change: dict[str, Any], window: tuple[int, int | None]) -> bool:
    joined, left = window
    return change["position"] >= joined and (left is None or change["position"] <= left)
