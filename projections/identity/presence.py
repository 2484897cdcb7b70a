"""Presence: online while a live socket is open, and when each person was last seen.

Ephemeral like typing: kept in memory or Redis, never in the event log. Each socket renews
its lease while it lives, so a crashed process's sockets stop counting on their own. Who may
see it follows each person's privacy setting and blocks (`PresenceAudience`).
"""

from __future__ import annotations

import threading
from collections.abc import Collection
from datetime import datetime
from typing import Any, Protocol

from domain.identity.errors import UserNotFound
from domain.identity.users import CONTACTS, EVERYONE, NOBODY
from projections.identity.contacts import ContactQueries
from projections.identity.users import UserDirectoryQueries

SOCKET_LEASE_SECONDS = 60


class PresenceStore(Protocol):
    def record(self, user_id: str, socket_id: str, online: bool, at: datetime) -> None: ...

    def seen(self, user_id: str, now: datetime) -> dict[str, Any] | None: ...

    def online_among(self, user_ids: Collection[str], now: datetime) -> set[str]:
        """Those of these people who hold a live socket's lease now (one read for them all)."""
        ...

    def admit(self, user_id: str, socket_id: str, at: datetime, limit: int) -> bool:
        """Takes a lease for a new socket unless `limit` sockets of the user hold one (one
        step, so sockets opening at once on several processes cannot all squeeze in)."""
        ...


class MemoryPresence:
    def __init__(self) -> None:
        self._leases: dict[str, dict[str, float]] = {}
        self._last_seen: dict[str, str] = {}
        self._lock = threading.Lock()

    def record(self, user_id: str, socket_id: str, online: bool, at: datetime) -> None:
        with self._lock:
            leases = self._leases.setdefault(user_id, {})
            if online:
                leases[socket_id] = at.timestamp() + SOCKET_LEASE_SECONDS
            else:
                leases.pop(socket_id, None)
            self._last_seen[user_id] = at.isoformat()

    def admit(self, user_id: str, socket_id: str, at: datetime, limit: int) -> bool:
        with self._lock:
            leases = self._leases.setdefault(user_id, {})
            for socket, expiry in list(leases.items()):
                if expiry <= at.timestamp():
                    del leases[socket]
            if len(leases) >= limit:
                return False
            leases[socket_id] = at.timestamp() + SOCKET_LEASE_SECONDS
            return True

    def online_among(self, user_ids: Collection[str], now: datetime) -> set[str]:
        moment = now.timestamp()
        with self._lock:
            return {user_id for user_id in user_ids
                    if any(expiry > moment for expiry in self._leases.get(user_id, {}).values())}

    def seen(self, user_id: str, now: datetime) -> dict[str, Any] | None:
        with self._lock:
            if user_id not in self._last_seen:
                return None
            live = any(expiry > now.timestamp() for expiry in self._leases[user_id].values())
            return {"online": live, "last_seen": self._last_seen[user_id]}


class SharedConversations(Protocol):
    """The query port presence needs from messaging (identity does not import messaging):
    messaging's `Memberships` implements it, and the composition root passes it in."""

    def people_sharing_with(self, user_id: str) -> set[str]:
        """Everyone who belongs now to any conversation the person belongs to now (them too)."""
        ...


class PresenceAudience:
    """Who may see a person's presence, and who gets their typing indicators.

    Presence goes to the people who share a conversation with the person, as their privacy
    setting allows (everyone, contacts, nobody); never to anyone blocked either way. Typing
    goes to the conversation's members except those blocked either way.
    """

    def __init__(self, users: UserDirectoryQueries, conversations: SharedConversations,
                 contacts: ContactQueries) -> None:
        self._users = users
        self._conversations = conversations
        self._contacts = contacts

    def may_see(self, viewer_id: str, subject_id: str) -> bool:
        """Whether the viewer (who shares a conversation with the subject) sees their presence."""
        if viewer_id == subject_id:
            return True
        if viewer_id in self._contacts.blocks_of(subject_id).either_way():
            return False
        visible_to = self._visible_to(subject_id)
        if visible_to == CONTACTS:
            return self._contacts.are_friends(subject_id, viewer_id)
        return visible_to == EVERYONE

    def audience(self, subject_id: str) -> list[str]:
        """Everyone who may see the subject come online or go offline now."""
        visible_to = self._visible_to(subject_id)
        if visible_to == NOBODY:
            return []
        people = self._conversations.people_sharing_with(subject_id)
        people -= {subject_id} | self._contacts.blocks_of(subject_id).either_way()
        if visible_to == CONTACTS:
            people &= self._contacts.friends_of(subject_id)
        return sorted(people)

    def _visible_to(self, subject_id: str) -> str:
        try:
            return self._users.presence_visible_to(subject_id)
        except UserNotFound:  # not projected yet: nobody can have seen them anywhere
            return NOBODY

    def typing_hidden_from(self, typer_id: str) -> list[str]:
        return sorted(self._contacts.blocks_of(typer_id).either_way())
