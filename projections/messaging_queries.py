"""What members may read about conversations and messages; non-members learn nothing.

A member sees the messages sent while they belonged: after the sequence number at which they
joined and, once they left or were removed, up to the one at which they left.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from domain.errors import MessageNotFound, NotAMember
from projections.documents import AnyOf, Contains, Eq, Filter, Page, Query, Range, ReadStore
from projections.messaging import CONVERSATIONS, MEMBERSHIPS, MESSAGES, membership_id
from projections.runner import Cache, cache_key

MAX_CONVERSATIONS = 1000


def _visible(message: dict[str, Any], membership: dict[str, Any], reader_id: str) -> bool:
    left = membership.get("left_seq")
    return (message["seq"] > membership.get("joined_seq", 0)
            and (left is None or message["seq"] <= left)
            and reader_id not in (message.get("hidden_for") or {}))


def message_view(message: dict[str, Any]) -> dict[str, Any]:
    """A message as readers see it: reactions as counts and reactor lists, no internals."""
    reactions = {emoji: sorted(users) for emoji, users in (message.get("reactions") or {}).items()
                 if users}
    hidden = ("hidden_for", "revisions", "reactions", "attachment_ids", "sent_at_ms")
    view = {k: v for k, v in message.items() if k not in hidden}
    view["reactions"] = [{"emoji": e, "count": len(u), "user_ids": u}
                         for e, u in sorted(reactions.items())]
    view.setdefault("unsent", False)
    return view


class MessagingQueries:
    def __init__(self, store: ReadStore, cache: Cache) -> None:
        self._store = store
        self._cache = cache

    def _cached(self, collection: str, doc_id: str) -> dict[str, Any] | None:
        key = cache_key(collection, doc_id)
        document = self._cache.get(key)
        if document is None:
            document = self._store.get(collection, doc_id)
            if document is not None:
                self._cache.set(key, document)
        return document

    def membership(self, conversation_id: str, reader_id: str, *, current: bool = True
                   ) -> dict[str, Any]:
        """The reader's membership; former members too unless `current`."""
        membership = self._cached(MEMBERSHIPS, membership_id(conversation_id, reader_id))
        if membership is None or (current and not membership.get("active")):
            raise NotAMember("conversation_id", "no such conversation")
        return membership

    def conversation(self, conversation_id: str, reader_id: str) -> dict[str, Any]:
        membership = self.membership(conversation_id, reader_id)
        summary = self._store.get(CONVERSATIONS, conversation_id)
        if summary is None:
            raise NotAMember("conversation_id", "no such conversation")
        return summary | {"my_settings": _settings(membership)}

    def members(self, conversation_id: str, reader_id: str) -> list[dict[str, Any]]:
        self.membership(conversation_id, reader_id)
        page = self._store.query(Query(
            MEMBERSHIPS, [Eq("conversation_id", conversation_id), Eq("active", True)],
            sort_field="joined_seq", descending=False, limit=MAX_CONVERSATIONS,
        ))
        return [{"user_id": m["user_id"], "role": m["role"]} for m in page.documents]

    def _memberships_of(self, reader_id: str, *, current: bool) -> dict[str, dict[str, Any]]:
        filters: list[Any] = [Eq("user_id", reader_id)]
        if current:
            filters.append(Eq("active", True))
        page = self._store.query(Query(MEMBERSHIPS, filters, sort_field="joined_seq",
                                       limit=MAX_CONVERSATIONS))
        return {m["conversation_id"]: m for m in page.documents}

    def share_a_conversation(self, reader_id: str, other_id: str) -> bool:
        """Whether two people are both current members of some conversation."""
        mine = self._memberships_of(reader_id, current=True)
        return reader_id == other_id or bool(
            mine.keys() & self._memberships_of(other_id, current=True).keys())

    def conversation_ids_of(self, reader_id: str) -> list[str]:
        return sorted(self._memberships_of(reader_id, current=True))

    def conversations(self, reader_id: str, limit: int, after: list[Any] | None) -> Page:
        """The reader's conversations, most recently active first, with their own settings."""
        mine = self._memberships_of(reader_id, current=True)
        if not mine:
            return Page([])
        page = self._store.query(Query(CONVERSATIONS, [AnyOf("conversation_id", list(mine))],
                                       sort_field="position", after=after, limit=limit))
        for summary in page.documents:
            membership = mine[summary["conversation_id"]]
            summary["my_settings"] = _settings(membership)
            summary["unread_count"] = unread_count(summary, membership)
        return page

    def unread(self, reader_id: str) -> dict[str, Any]:
        """Unread messages per conversation, and in all."""
        mine = self._memberships_of(reader_id, current=True)
        if not mine:
            return {"total": 0, "conversations": {}}
        summaries = self._store.query(Query(CONVERSATIONS, [AnyOf("conversation_id", list(mine))],
                                            limit=MAX_CONVERSATIONS)).documents
        counts = {s["conversation_id"]: unread_count(s, mine[s["conversation_id"]])
                  for s in summaries}
        counts = {c: n for c, n in counts.items() if n}
        return {"total": sum(counts.values()), "conversations": counts}

    def receipts(self, message_id: str, reader_id: str) -> dict[str, Any]:
        """Who has read a message, and which of their devices it has reached."""
        message = self.message(message_id, reader_id)
        page = self._store.query(Query(
            MEMBERSHIPS, [Eq("conversation_id", message["conversation_id"]),
                          Range("joined_seq", lte=message["seq"] - 1)],
            sort_field="joined_seq", descending=False, limit=MAX_CONVERSATIONS))
        seq = message["seq"]
        read_by, delivered_to = [], []
        for member in page.documents:
            if member["user_id"] == message["sender_id"]:
                continue
            if max(member.get("read_seq", 0), member.get("last_sent_seq", 0)) >= seq:
                read_by.append(member["user_id"])
            devices = [d for d, s in (member.get("delivered") or {}).items() if s >= seq]
            if devices:
                delivered_to.append({"user_id": member["user_id"], "device_ids": sorted(devices)})
        return {"message_id": message_id, "read_by": sorted(read_by),
                "delivered_to": delivered_to}

    def messages(self, conversation_id: str, reader_id: str, limit: int,
                 after: list[Any] | None, *, newer: bool = False,
                 from_seq: int | None = None) -> Page:
        """A page of history within the reader's membership period.

        Older (default): newest first, before `from_seq` if given. Newer: oldest first, after
        `from_seq`. `after` is the cursor of the previous page in the same direction.
        """
        membership = self.membership(conversation_id, reader_id, current=False)
        low, high = membership.get("joined_seq", 0), membership.get("left_seq")
        if from_seq is not None and newer:
            low = max(low, from_seq)
        elif from_seq is not None:
            high = from_seq - 1 if high is None else min(high, from_seq - 1)
        page = self._store.query(Query(
            MESSAGES, [Eq("conversation_id", conversation_id), Range("seq", gt=low, lte=high)],
            sort_field="seq", descending=not newer, after=after, limit=limit))
        page.documents = [message_view(m) for m in page.documents
                          if _visible(m, membership, reader_id)]
        return page

    def around(self, message_id: str, reader_id: str, limit: int) -> Page:
        """Jump to a message: it and its neighbours, oldest first."""
        target = self.message(message_id, reader_id)
        conversation, seq = target["conversation_id"], target["seq"]
        older = self.messages(conversation, reader_id, limit // 2, None, from_seq=seq + 1)
        newer = self.messages(conversation, reader_id, limit - len(older.documents), None,
                              newer=True, from_seq=seq)
        return Page(list(reversed(older.documents)) + newer.documents)

    def message(self, message_id: str, reader_id: str) -> dict[str, Any]:
        """One message with its reactions and edit history."""
        message = self._store.get(MESSAGES, message_id)
        if message is not None:
            try:
                membership = self.membership(message["conversation_id"], reader_id,
                                             current=False)
            except NotAMember:
                membership = None
            if membership is not None and _visible(message, membership, reader_id):
                history = sorted((int(n), r) for n, r in (message.get("revisions") or {}).items())
                return message_view(message) | {
                    "revisions": [{"revision": n, **r} for n, r in history]}
        raise MessageNotFound("message_id", "no such message")

    def may_read_attachment(self, attachment_id: str, reader_id: str) -> bool:
        """Whether the reader can see some message that carries the attachment."""
        carriers = self._store.query(Query(MESSAGES, [Contains("attachment_ids", attachment_id)],
                                           limit=MAX_CONVERSATIONS)).documents
        for message in carriers:
            try:
                membership = self.membership(message["conversation_id"], reader_id,
                                             current=False)
            except NotAMember:
                continue
            if _visible(message, membership, reader_id) and not message.get("unsent"):
                return True
        return False

    def search(self, reader_id: str, text: str, limit: int, after: list[Any] | None,
               filters: SearchFilters | None = None) -> Page:
        """Full-text search over what the reader can see, newest first."""
        mine = self._memberships_of(reader_id, current=False)
        wanted = filters or SearchFilters()
        if wanted.conversation_id is not None:
            mine = {c: m for c, m in mine.items() if c == wanted.conversation_id}
        if not mine:
            return Page([])
        page = self._store.query(Query(MESSAGES, [AnyOf("conversation_id", list(mine)),
                                                  *wanted.as_filters()],
                                       sort_field="position", after=after, limit=limit,
                                       text=text))
        page.documents = [message_view(m) for m in page.documents
                          if _visible(m, mine[m["conversation_id"]], reader_id)]
        return page


@dataclass(frozen=True)
class SearchFilters:
    conversation_id: str | None = None
    sender_id: str | None = None
    sent_from_ms: int | None = None
    sent_until_ms: int | None = None
    has_attachments: bool | None = None

    def as_filters(self) -> list[Filter]:
        found: list[Filter] = []
        if self.sender_id is not None:
            found.append(Eq("sender_id", self.sender_id))
        if self.sent_from_ms is not None or self.sent_until_ms is not None:
            low = None if self.sent_from_ms is None else self.sent_from_ms - 1
            found.append(Range("sent_at_ms", gt=low, lte=self.sent_until_ms))
        if self.has_attachments is not None:
            found.append(Eq("has_attachments", self.has_attachments))
        return found


def unread_count(summary: dict[str, Any], membership: dict[str, Any]) -> int:
    """Messages after the member's read marker; sending a message counts as reading up to it."""
    seen = max(membership.get("read_seq", 0), membership.get("last_sent_seq", 0),
               membership.get("joined_seq", 0))
    return max(0, summary.get("last_seq", 0) - seen)


def _settings(membership: dict[str, Any]) -> dict[str, Any]:
    return {"role": membership.get("role"), "muted_until": membership.get("muted_until"),
            "archived": bool(membership.get("archived")), "pinned": bool(membership.get("pinned"))}


class AttachmentReaders:
    """Who may download an attachment: its uploader, or anyone who can see a message that
    carries it (and it has not been unsent)."""

    def __init__(self, uploader: Any, messaging: MessagingQueries) -> None:
        self._uploader = uploader
        self._messaging = messaging

    def may_read(self, attachment_id: str, user_id: str) -> bool:
        return (self._uploader.may_read(attachment_id, user_id)
                or self._messaging.may_read_attachment(attachment_id, user_id))
