"""One person's conversation list and unread counts: a hot path, served from the cache.

The whole list (at most `MAX_CONVERSATIONS`) is one cache entry per person, derived from their
memberships, the summaries of their conversations and their blocks; the projectors delete it
when any of these changes (see `hot_paths`). Messages from people the reader blocked do not
count as unread, and do not show as the preview, while the block lasts.
"""

from __future__ import annotations

from typing import Any

from projections.identity.contacts import ContactQueries, ContactsProjector
from projections.messaging.conversations import CONVERSATIONS, MESSAGES
from projections.messaging.memberships import MAX_CONVERSATIONS, MESSAGING, Memberships
from projections.read_model.documents import AnyOf, Eq, Page, Query, Range, ReadStore
from projections.read_model.hot_paths import StampedCache, inbox_key

CONTACTS = ContactsProjector.name


def unread_count(summary: dict[str, Any], membership: dict[str, Any]) -> int:
    """Messages after the member's read marker; sending a message counts as reading up to it."""
    return max(0, int(summary.get("last_seq", 0)) - _seen(membership))


def _seen(membership: dict[str, Any]) -> int:
    return int(max(membership.get("read_seq", 0), membership.get("last_sent_seq", 0),
                   membership.get("joined_seq", 0)))


def my_settings(membership: dict[str, Any]) -> dict[str, Any]:
    return {"role": membership.get("role"), "muted_until": membership.get("muted_until"),
            "archived": bool(membership.get("archived")), "pinned": bool(membership.get("pinned"))}


def summary_view(summary: dict[str, Any], membership: dict[str, Any],
                 blocked: frozenset[str]) -> dict[str, Any]:
    """A conversation as one member sees it: their settings, no preview of a blocked sender."""
    view = summary | {"my_settings": my_settings(membership)}
    if summary.get("last_sender_id") in blocked:
        view.pop("last_message_preview", None)
    return view


class Inbox:
    def __init__(self, store: ReadStore, memberships: Memberships, contacts: ContactQueries,
                 stamped: StampedCache) -> None:
        self._store = store
        self._memberships = memberships
        self._contacts = contacts
        self._stamped = stamped

    def conversations(self, reader_id: str, limit: int, after: list[Any] | None,
                      token: int | None = None) -> Page:
        """The reader's conversations, most recently active first, with their own settings."""
        listed = self._listed(reader_id, token)
        if after is not None:
            listed = [c for c in listed if (c["position"], c["conversation_id"]) < tuple(after)]
        page = listed[:limit]
        more = len(listed) > limit
        next_after = [page[-1]["position"], page[-1]["conversation_id"]] if more else None
        return Page([dict(c) for c in page], next_after)

    def unread(self, reader_id: str, token: int | None = None) -> dict[str, Any]:
        """Unread messages per conversation, and in all."""
        counts = {c["conversation_id"]: c["unread_count"] for c in self._listed(reader_id, token)
                  if c["unread_count"]}
        return {"total": sum(counts.values()), "conversations": counts}

    def _listed(self, reader_id: str, token: int | None) -> list[dict[str, Any]]:
        listed, _ = self._stamped.read(inbox_key(reader_id), [MESSAGING, CONTACTS],
                                       lambda stamps: self._compute(reader_id, stamps), token)
        return list(listed)

    def _compute(self, reader_id: str, stamps: dict[str, int]) -> list[dict[str, Any]]:
        # Read from the store: messaging moves with every message, so a cached copy would
        # rarely be as new as `stamps` when a message made this entry stale.
        mine = {c: m for c, m in self._memberships.query(reader_id).items() if m.get("active")}
        if not mine:
            return []
        blocked = self._contacts.blocks_of(reader_id, stamps[CONTACTS]).blocked
        summaries = self._store.query(Query(CONVERSATIONS, [AnyOf("conversation_id", list(mine))],
                                            sort_field="position",
                                            limit=MAX_CONVERSATIONS)).documents
        listed = []
        for summary in summaries:
            membership = mine[summary["conversation_id"]]
            unread = unread_count(summary, membership)
            if unread and blocked:
                unread -= self._sent_by(summary, _seen(membership), blocked, unread)
            listed.append(summary_view(summary, membership, blocked) | {"unread_count": unread})
        # The order the read stores page in: newest activity first, ties by id.
        listed.sort(key=lambda c: (c["position"], c["conversation_id"]), reverse=True)
        return listed

    def _sent_by(self, summary: dict[str, Any], seen: int, senders: frozenset[str],
                 at_most: int) -> int:
        """How many of the messages after `seen` these senders sent."""
        page = self._store.query(Query(MESSAGES, [
            Eq("conversation_id", summary["conversation_id"]),
            Range("seq", gt=seen, lte=summary.get("last_seq", 0)),
            AnyOf("sender_id", sorted(senders))], sort_field="seq", limit=at_most))
        return len(page.documents)
