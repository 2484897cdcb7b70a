"""Who belongs to which conversation: the membership queries every read path shares."""

from __future__ import annotations

from typing import Any

from projections.messaging.conversations import MEMBERSHIPS, MessagingProjector
from projections.read_model.documents import AnyOf, Eq, Query, ReadStore
from projections.read_model.hot_paths import StampedCache, memberships_key

MAX_CONVERSATIONS = 1000
MEMBER_PAGE = 1000
MESSAGING = MessagingProjector.name


def current_members(store: ReadStore, conversation_ids: list[str]) -> set[str]:
    """Everyone who belongs to any of these conversations now."""
    members: set[str] = set()
    after: list[Any] | None = None
    while conversation_ids:
        page = store.query(Query(MEMBERSHIPS, [AnyOf("conversation_id", conversation_ids),
                                               Eq("active", True)],
                                 sort_field="joined_seq", after=after, limit=MEMBER_PAGE))
        members.update(m["user_id"] for m in page.documents)
        if page.next_after is None:
            break
        after = page.next_after
    return members


class Memberships:
    """Each person's memberships, current and former, keyed by conversation; cached."""

    def __init__(self, store: ReadStore, stamped: StampedCache) -> None:
        self._store = store
        self._stamped = stamped

    def of(self, user_id: str, token: int | None = None
           ) -> tuple[dict[str, dict[str, Any]], int]:
        """The user's memberships, and the messaging position they reflect at least."""
        value, stamps = self._stamped.read(memberships_key(user_id), [MESSAGING],
                                           lambda _: self.query(user_id), token)
        return value, stamps[MESSAGING]

    def current(self, user_id: str, token: int | None = None) -> dict[str, dict[str, Any]]:
        mine, _ = self.of(user_id, token)
        return {c: m for c, m in mine.items() if m.get("active")}

    def people_sharing_with(self, user_id: str) -> set[str]:
        """Everyone in the user's current conversations, the user too (for presence)."""
        return current_members(self._store, sorted(self.current(user_id)))

    def query(self, user_id: str) -> dict[str, dict[str, Any]]:
        """Straight from the read store, not through the cache."""
        page = self._store.query(Query(MEMBERSHIPS, [Eq("user_id", user_id)],
                                       sort_field="joined_seq", limit=MAX_CONVERSATIONS))
        return {m["conversation_id"]: m for m in page.documents}
