"""Read models of contacts (as each of the pair sees them) and of blocks."""

from __future__ import annotations

from functools import singledispatchmethod
from typing import Any
from uuid import UUID

from domain.contacts import Blocklist, Contact
from projections.documents import Eq, Query, ReadStore, Upsert
from projections.runner import Projector

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
    def __init__(self, store: ReadStore) -> None:
        self._store = store

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


def projectors() -> list[Projector]:
    return [ContactsProjector()]
