"""What members may read about conversations and messages; non-members learn nothing.

A member sees the messages sent while they belonged: after the sequence number at which they
joined and, once they left or were removed, up to the one at which they left. Nobody sees the
messages (nor the reactions and receipts) of people they blocked, while the block lasts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from domain.messaging.errors import MessageNotFound, NotAMember
from projections.identity.contacts import ContactQueries
from projections.messaging.conversations import CONVERSATIONS, MEMBERSHIPS, MESSAGES, membership_id
from projections.messaging.inbox import Inbox, summary_view
from projections.messaging.memberships import MAX_CONVERSATIONS, MESSAGING, Memberships
from projections.read_model.documents import (
    AnyOf,
    Contains,
    Eq,
    Filter,
    Page,
    Query,
    Range,
    ReadStore,
)
from projections.read_model.hot_paths import StampedCache, latest_key

LATEST_MESSAGES = 100  # cached per conversation: the latest page of any size below this


def _visible(message: dict[str, Any], membership: dict[str, Any], reader_id: str,
             blocked: frozenset[str] = frozenset()) -> bool:
    left = membership.get("left_seq")
    return (message["seq"] > membership.get("joined_seq", 0)
            and (left is None or message["seq"] <= left)
            and reader_id not in (message.get("hidden_for") or {})
            and message.get("sender_id") not in blocked)


def _reacting(history: Any, until: int | None) -> bool:
    """Whether a person's reaction stood at log position `until` (None: now). History is
    `{position: on}`; a bare `True` is a reaction recorded before reactions kept one."""
    if not isinstance(history, dict):
        return bool(history)
    changes = [(int(p), on) for p, on in history.items() if until is None or int(p) <= until]
    return bool(changes) and bool(max(changes)[1])


def as_of(message: dict[str, Any], until: int) -> dict[str, Any]:
    """A message's content as it stood at log position `until`: a former member sees the
    text, edit history and reactions of when they left, nothing changed after. (An unsend
    is the exception: it takes the content away from everyone.) A revision projected before
    revisions recorded their position counts as seen."""
    revisions = {n: r for n, r in (message.get("revisions") or {}).items()
                 if int(r.get("position", 0)) <= until}
    view = dict(message, revisions=revisions, reactions_until=until)
    if revisions:
        number = max(revisions, key=int)
        view |= {"text": revisions[number]["text"], "revision": int(number),
                 "edited_at": revisions[number]["at"] if int(number) > 1 else None}
    return view


def edited_after(message: dict[str, Any], until: int) -> bool:
    """Whether the message's current text is an edit made after log position `until`."""
    current = (message.get("revisions") or {}).get(str(message.get("revision", 1))) or {}
    return int(current.get("position", 0)) > until


def _left_at(membership: dict[str, Any]) -> int | None:
    """The log position at which a former member left; None for a current member."""
    if membership.get("active", True):
        return None
    left = membership.get("left_position")
    return int(left) if left is not None else None


def reader_view(message: dict[str, Any], membership: dict[str, Any],
                blocked: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The message as this reader may see it: as of their leaving, for a former member."""
    left = _left_at(membership)
    return message_view(message if left is None else as_of(message, left), blocked)


def _findable(message: dict[str, Any], membership: dict[str, Any], reader_id: str,
              blocked: frozenset[str]) -> bool:
    """Search matched the current text: a former member gets no hit on a text edited after
    they left (the words matched may be ones they never saw)."""
    left = _left_at(membership)
    return (_visible(message, membership, reader_id, blocked)
            and (left is None or not edited_after(message, left)))


def message_view(message: dict[str, Any], blocked: frozenset[str] = frozenset()
                 ) -> dict[str, Any]:
    """A message as readers see it: reactions as counts and reactor lists, no internals."""
    until = message.get("reactions_until")
    reactions = {emoji: sorted(u for u, history in users.items()
                               if u not in blocked and _reacting(history, until))
                 for emoji, users in (message.get("reactions") or {}).items()}
    hidden = ("hidden_for", "revisions", "reactions", "attachment_ids", "sent_at_ms",
              "reactions_until")
    view = {k: v for k, v in message.items() if k not in hidden}
    view["reactions"] = [{"emoji": e, "count": len(u), "user_ids": u}
                         for e, u in sorted(reactions.items()) if u]
    view.setdefault("unsent", False)
    return view


class MessagingQueries:
    def __init__(self, store: ReadStore, memberships: Memberships, contacts: ContactQueries,
                 stamped: StampedCache) -> None:
        self._store = store
        self._memberships = memberships
        self._contacts = contacts
        self._stamped = stamped
        self._inbox = Inbox(store, memberships, contacts, stamped)

    def membership(self, conversation_id: str, reader_id: str, *, current: bool = True,
                   token: int | None = None) -> dict[str, Any]:
        """The reader's membership; former members too unless `current`."""
        mine, _ = self._memberships.of(reader_id, token)
        membership = mine.get(conversation_id)
        if membership is None and len(mine) >= MAX_CONVERSATIONS:
            membership = self._store.get(MEMBERSHIPS, membership_id(conversation_id, reader_id))
        if membership is None or (current and not membership.get("active")):
            raise NotAMember("conversation_id", "no such conversation")
        return membership

    def _blocked_by(self, reader_id: str, token: int | None = None) -> frozenset[str]:
        return self._contacts.blocks_of(reader_id, token).blocked

    def conversation(self, conversation_id: str, reader_id: str) -> dict[str, Any]:
        membership = self.membership(conversation_id, reader_id)
        summary = self._store.get(CONVERSATIONS, conversation_id)
        if summary is None:
            raise NotAMember("conversation_id", "no such conversation")
        return summary_view(summary, membership, self._blocked_by(reader_id))

    def members(self, conversation_id: str, reader_id: str) -> list[dict[str, Any]]:
        self.membership(conversation_id, reader_id)
        page = self._store.query(Query(
            MEMBERSHIPS, [Eq("conversation_id", conversation_id), Eq("active", True)],
            sort_field="joined_seq", descending=False, limit=MAX_CONVERSATIONS,
        ))
        return [{"user_id": m["user_id"], "role": m["role"]} for m in page.documents]

    def share_a_conversation(self, reader_id: str, other_id: str) -> bool:
        """Whether two people are both current members of some conversation."""
        return reader_id == other_id or bool(
            self._memberships.current(reader_id).keys()
            & self._memberships.current(other_id).keys())

    def conversation_ids_of(self, reader_id: str) -> list[str]:
        return sorted(self._memberships.current(reader_id))

    def conversations(self, reader_id: str, limit: int, after: list[Any] | None,
                      token: int | None = None) -> Page:
        """The reader's conversations, most recently active first, with their own settings."""
        return self._inbox.conversations(reader_id, limit, after, token)

    def unread(self, reader_id: str, token: int | None = None) -> dict[str, Any]:
        """Unread messages per conversation, and in all."""
        return self._inbox.unread(reader_id, token)

    def receipts(self, message_id: str, reader_id: str) -> dict[str, Any]:
        """Who has read a message, and how many of each member's devices it has reached;
        which devices only for the reader's own (device ids are half of what a token
        names, so nobody learns anyone else's)."""
        message = self.message(message_id, reader_id)
        page = self._store.query(Query(
            MEMBERSHIPS, [Eq("conversation_id", message["conversation_id"]),
                          Range("joined_seq", lte=message["seq"] - 1)],
            sort_field="joined_seq", descending=False, limit=MAX_CONVERSATIONS))
        seq, blocked = message["seq"], self._blocked_by(reader_id)
        read_by, delivered_to = [], []
        for member in page.documents:
            if member["user_id"] == message["sender_id"] or member["user_id"] in blocked:
                continue
            if max(member.get("read_seq", 0), member.get("last_sent_seq", 0)) >= seq:
                read_by.append(member["user_id"])
            devices = [d for d, s in (member.get("delivered") or {}).items() if s >= seq]
            if devices:
                own = member["user_id"] == reader_id
                delivered_to.append({"user_id": member["user_id"], "device_count": len(devices),
                                     "device_ids": sorted(devices) if own else []})
        return {"message_id": message_id, "read_by": sorted(read_by),
                "delivered_to": delivered_to}

    def messages(self, conversation_id: str, reader_id: str, limit: int,
                 after: list[Any] | None, *, newer: bool = False,
                 from_seq: int | None = None, token: int | None = None) -> Page:
        """A page of history within the reader's membership period.

        Older (default): newest first, before `from_seq` if given. Newer: oldest first, after
        `from_seq`. `after` is the cursor of the previous page in the same direction. The
        latest page comes from the cache.
        """
        membership = self.membership(conversation_id, reader_id, current=False, token=token)
        low, high = membership.get("joined_seq", 0), membership.get("left_seq")
        page = None
        if after is None and not newer and from_seq is None:
            page = self._latest_page(conversation_id, low, high, limit, token)
        if page is None:
            if from_seq is not None and newer:
                low = max(low, from_seq)
            elif from_seq is not None:
                high = from_seq - 1 if high is None else min(high, from_seq - 1)
            page = self._store.query(Query(
                MESSAGES, [Eq("conversation_id", conversation_id),
                           Range("seq", gt=low, lte=high)],
                sort_field="seq", descending=not newer, after=after, limit=limit))
        blocked = self._blocked_by(reader_id, token)
        return Page([reader_view(m, membership, blocked) for m in page.documents
                     if _visible(m, membership, reader_id, blocked)], page.next_after)

    def _latest_page(self, conversation_id: str, low: int, high: int | None,
                     limit: int, token: int | None) -> Page | None:
        """The newest `limit` messages with low < seq <= high, from the cache, if it holds them.

        Sequence numbers have no gaps, so the cached newest messages hold every message of the
        range when they reach back to its start (or to the conversation's first message).
        """
        latest, _ = self._stamped.read(latest_key(conversation_id), [MESSAGING],
                                       lambda _: self._newest(conversation_id), token)
        cached: list[dict[str, Any]] = latest["messages"]
        in_range = [m for m in cached if m["seq"] > low and (high is None or m["seq"] <= high)]
        if len(in_range) > limit:
            last = in_range[limit - 1]
            return Page(in_range[:limit], [last["seq"], last["message_id"]])
        if latest["complete"] or (cached and cached[-1]["seq"] <= low + 1):
            return Page(in_range)
        return None

    def _newest(self, conversation_id: str) -> dict[str, Any]:
        page = self._store.query(Query(MESSAGES, [Eq("conversation_id", conversation_id)],
                                       sort_field="seq", limit=LATEST_MESSAGES))
        return {"messages": page.documents, "complete": page.next_after is None}

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
            blocked = self._blocked_by(reader_id)
            if membership is not None and _visible(message, membership, reader_id, blocked):
                left = _left_at(membership)
                shown = message if left is None else as_of(message, left)
                history = sorted((int(n), r) for n, r in (shown.get("revisions") or {}).items())
                return message_view(shown, blocked) | {"revisions": [
                    {"revision": n, "text": r["text"], "at": r["at"]} for n, r in history]}
        raise MessageNotFound("message_id", "no such message")

    def may_read_attachment(self, attachment_id: str, reader_id: str) -> bool:
        """Whether the reader can see some message that carries the attachment."""
        carriers = self._store.query(Query(MESSAGES, [Contains("attachment_ids", attachment_id)],
                                           limit=MAX_CONVERSATIONS)).documents
        blocked = self._blocked_by(reader_id) if carriers else frozenset()
        for message in carriers:
            try:
                membership = self.membership(message["conversation_id"], reader_id,
                                             current=False)
            except NotAMember:
                continue
            if _visible(message, membership, reader_id, blocked) and not message.get("unsent"):
                return True
        return False

    def search(self, reader_id: str, text: str, limit: int, after: list[Any] | None,
               filters: SearchFilters | None = None, token: int | None = None) -> Page:
        """Full-text search over what the reader can see, newest first."""
        mine, _ = self._memberships.of(reader_id, token)
        wanted = filters or SearchFilters()
        if wanted.conversation_id is not None:
            mine = {c: m for c, m in mine.items() if c == wanted.conversation_id}
        if not mine:
            return Page([])
        page = self._store.query(Query(MESSAGES, [AnyOf("conversation_id", list(mine)),
                                                  *wanted.as_filters()],
                                       sort_field="position", after=after, limit=limit,
                                       text=text))
        blocked = self._blocked_by(reader_id, token)
        return Page([reader_view(m, mine[m["conversation_id"]], blocked)
                     for m in page.documents if _findable(m, mine[m["conversation_id"]],
                                                          reader_id, blocked)],
                    page.next_after)


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


class AttachmentReaders:
    """Who may download an attachment: its uploader, or anyone who can see a message that
    carries it (and it has not been unsent)."""

    def __init__(self, uploader: Any, messaging: MessagingQueries) -> None:
        self._uploader = uploader
        self._messaging = messaging

    def may_read(self, attachment_id: str, user_id: str) -> bool:
        return (self._uploader.may_read(attachment_id, user_id)
                or self._messaging.may_read_attachment(attachment_id, user_id))
