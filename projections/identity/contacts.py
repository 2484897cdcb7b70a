"""Read models of contacts (as each of the pair sees them) and of blocks."""

from __future__ import annotations

from dataclasses import dataclass
from functools import singledispatchmethod
from typing import TYPE_CHECKING, Any
from uuid import UUID

from domain.identity.contacts import Blocklist, Contact
from projections.read_model.documents import Eq, Query, ReadStore, Upsert
from projections.read_model.hot_paths import StampedCache, blocks_key

if TYPE_CHECKING:  # the runner imports this module's collections to invalidate the cache
    from projections.read_model.runner import Projector

CONTACTS = "contacts"
BLOCKS = "blocks"
MAX_LISTED = 1000
FRIEND, INCOMING, OUTGOING, NO_CONTACT = "friend", "incoming", "outgoing", "none"
BLOCKED, UNBLOCKED = "blocked", "unblocked"


def _view(owner: UUID, other: UUID, state: str, event: Any, position: int) -> Upsert:
    return Upsert(CONTACTS, f"{owner}:{other}", position, {
        "owner_id": str(owner), "user_id": str(other), "state": state,
        "since": event.at.isoformat(), "position": position,
    })


def _both(first: UUID, second: UUID, state: str, event: Any, position: int) -> list[Upsert]:
    return [_view(first, second, state, event, position),
            _view(second, first, state, event, position)]


def _block(event: Any, blocked: UUID, state: str, position: int) -> Upsert:
    return Upsert(BLOCKS, f"{event.blocker_id}:{blocked}", position, {
        "owner_id": str(event.blocker_id), "user_id": str(blocked), "state": state,
        "since": event.at.isoformat(), "position": position,
    })


class ContactsProjector:
    """Each contact event becomes one document per side (`owner:other`); each block, one."""

    name = "contacts"
    context = "identity"
    collections = (CONTACTS, BLOCKS)

    @singledispatchmethod
    def changes(self, event: Any, position: int) -> list[Upsert]:
        return []

    @changes.register
    def _requested(self, event: Contact.FriendRequested, position: int) -> list[Upsert]:
        return [_view(event.requester_id, event.addressee_id, OUTGOING, event, position),
                _view(event.addressee_id, event.requester_id, INCOMING, event, position)]

    @changes.register
    def _accepted(self, event: Contact.FriendRequestAccepted, position: int) -> list[Upsert]:
        return _both(event.accepted_by, event.requester_id, FRIEND, event, position)

    @changes.register
    def _declined(self, event: Contact.FriendRequestDeclined, position: int) -> list[Upsert]:
        return _both(event.declined_by, event.requester_id, NO_CONTACT, event, position)

    @changes.register
    def _cancelled(self, event: Contact.FriendRequestCancelled, position: int) -> list[Upsert]:
        return _both(event.cancelled_by, event.addressee_id, NO_CONTACT, event, position)

    @changes.register
    def _unfriended(self, event: Contact.Unfriended, position: int) -> list[Upsert]:
        return _both(event.unfriended_by, event.friend_id, NO_CONTACT, event, position)

    @changes.register
    def _blocked(self, event: Blocklist.UserBlocked, position: int) -> list[Upsert]:
        return [_block(event, event.blocked_id, BLOCKED, position)]

    @changes.register
    def _unblocked(self, event: Blocklist.UserUnblocked, position: int) -> list[Upsert]:
        return [_block(event, event.unblocked_id, UNBLOCKED, position)]


class ContactQueries:
    def __init__(self, store: ReadStore, stamped: StampedCache | None = None) -> None:
        self._store = store
        self._stamped = stamped

    def contacts(self, owner_id: str, state: str) -> list[dict[str, Any]]:
        """The owner's contacts in one state (friend, incoming, outgoing), newest first."""
        page = self._store.query(Query(CONTACTS, [Eq("owner_id", owner_id), Eq("state", state)],
                                       sort_field="position", limit=MAX_LISTED))
        return page.documents

    def blocked(self, owner_id: str) -> list[dict[str, Any]]:
        """Whom the owner has blocked, most recent first."""
        page = self._store.query(Query(BLOCKS, [Eq("owner_id", owner_id), Eq("state", BLOCKED)],
                                       sort_field="position", limit=MAX_LISTED))
        return page.documents

    def are_friends(self, first_id: str, second_id: str) -> bool:
        document = self._store.get(CONTACTS, f"{first_id}:{second_id}")
        return document is not None and document.get("state") == FRIEND

    def friends_of(self, owner_id: str) -> set[str]:
        return {d["user_id"] for d in self.contacts(owner_id, FRIEND)}

    def blocks_of(self, user_id: str, token: int | None = None) -> Blocks:
        """Whom the user blocked, and who blocked them (through the cache when it has one)."""
        if self._stamped is None:
            return self._blocks(user_id)
        value, _ = self._stamped.read(blocks_key(user_id), [ContactsProjector.name],
                                      lambda _: self._blocks(user_id).as_json(), token)
        return Blocks.from_json(value)

    def _blocks(self, user_id: str) -> Blocks:
        blocked_by = self._store.query(Query(BLOCKS, [Eq("user_id", user_id),
                                                      Eq("state", BLOCKED)],
                                             sort_field="position", limit=MAX_LISTED))
        return Blocks(frozenset(d["user_id"] for d in self.blocked(user_id)),
                      frozenset(d["owner_id"] for d in blocked_by.documents))


@dataclass(frozen=True)
class Blocks:
    """One person's blocks: whom they blocked, and who blocked them."""

    blocked: frozenset[str] = frozenset()
    blocked_by: frozenset[str] = frozenset()

    def either_way(self) -> frozenset[str]:
        return self.blocked | self.blocked_by

    def as_json(self) -> dict[str, list[str]]:
        return {"blocked": sorted(self.blocked), "blocked_by": sorted(self.blocked_by)}

    @classmethod
    def from_json(cls, value: dict[str, list[str]]) -> Blocks:
        return cls(frozenset(value["blocked"]), frozenset(value["blocked_by"]))


def projectors() -> list[Projector]:
    return [ContactsProjector()]
