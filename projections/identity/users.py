"""The user directory read model: profiles, and search by handle prefix or name words."""

from __future__ import annotations

import re
from functools import singledispatchmethod
from typing import Any

from domain.identity.errors import UserNotFound
from domain.identity.users import EVERYONE, User
from projections.read_model.documents import AnyOf, Prefix, Query, ReadStore, Upsert

USERS = "users"
HANDLE_PREFIX = re.compile(r"^@?([a-z0-9_]{1,32})$")
PUBLIC_FIELDS = ("user_id", "handle", "name", "avatar")


def public_profile(document: dict[str, Any]) -> dict[str, Any]:
    return {"avatar": None} | {k: document[k] for k in PUBLIC_FIELDS if k in document}


class UserDirectoryProjector:
    """Maps user events to `users` documents; `text` holds the name for word search."""

    name = "users"
    context = "identity"
    collections = (USERS,)

    @singledispatchmethod
    def changes(self, event: Any, position: int) -> list[Upsert]:
        return []

    @changes.register
    def _registered(self, event: User.Registered, position: int) -> list[Upsert]:
        return [
            Upsert(
                USERS,
                str(event.originator_id),
                position,
                {
                    "user_id": str(event.originator_id),
                    "handle": event.handle,
                    "name": event.name,
                    "text": event.name,
                    "registered_at": event.timestamp.isoformat(),
                },
            )
        ]

    @changes.register
    def _profile_changed(self, event: User.ProfileChanged, position: int) -> list[Upsert]:
        # A None avatar removes the field (the merge is a JSON merge patch).
        return [Upsert(USERS, str(event.originator_id), position,
                       {"name": event.name, "text": event.name, "avatar": event.avatar})]

    @changes.register
    def _presence_visibility(self, event: User.PresenceVisibilityChanged,
                             position: int) -> list[Upsert]:
        # Private: `public_profile` never shows it.
        return [Upsert(USERS, str(event.originator_id), position,
                       {"presence_visible_to": event.visible_to})]


class UserDirectoryQueries:
    def __init__(self, store: ReadStore) -> None:
        self._store = store

    def user(self, user_id: str) -> dict[str, Any]:
        document = self._store.get(USERS, user_id)
        if document is None:
            raise UserNotFound("user_id", "no such user")
        return public_profile(document)

    def presence_visible_to(self, user_id: str) -> str:
        """Who the user lets see their presence (their own privacy setting)."""
        document = self._store.get(USERS, user_id)
        if document is None:
            raise UserNotFound("user_id", "no such user")
        return str(document.get("presence_visible_to", EVERYONE))

    def users(self, user_ids: list[str]) -> dict[str, dict[str, Any]]:
        """Profiles of several users at once, by id; unknown ids are left out."""
        if not user_ids:
            return {}
        page = self._store.query(Query(USERS, [AnyOf("user_id", user_ids)], sort_field="handle",
                                       descending=False, limit=len(user_ids)))
        return {d["user_id"]: public_profile(d) for d in page.documents}

    def search(self, words: str, limit: int) -> list[dict[str, Any]]:
        """Handles starting with `words` first (alphabetically), then names holding every word."""
        found: dict[str, dict[str, Any]] = {}
        handle = HANDLE_PREFIX.fullmatch(words.strip().lower())
        if handle:
            by_handle = self._store.query(Query(USERS, [Prefix("handle", handle.group(1))],
                                                sort_field="handle", descending=False,
                                                limit=limit))
            found |= {d["user_id"]: public_profile(d) for d in by_handle.documents}
        if words.strip() and len(found) < limit:
            by_name = self._store.query(Query(USERS, sort_field="handle", descending=False,
                                              limit=limit, text=words))
            for document in by_name.documents:
                found.setdefault(document["user_id"], public_profile(document))
        return list(found.values())[:limit]
