"""The user directory read model."""

from __future__ import annotations

from functools import singledispatchmethod
from typing import Any

from domain.errors import UserNotFound
from domain.users import User
from projections.documents import ReadStore, Upsert

USERS = "users"


class UserDirectoryProjector:
    """Maps user events to `users` documents."""

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
                    "registered_at": event.timestamp.isoformat(),
                },
            )
        ]


class UserDirectoryQueries:
    def __init__(self, store: ReadStore) -> None:
        self._store = store

    def user(self, user_id: str) -> dict[str, Any]:
        document = self._store.get(USERS, user_id)
        if document is None:
            raise UserNotFound("user_id", "no such user")
        return document
