"""The API keys listing read model: each key's id, name, scopes, when issued and revoked.

Never the secret (the log does not hold it) nor its digest: nothing here could help anyone
present a key. Requests do not read it: a presented key is checked against its aggregate in
the log (commands/identity/api_keys.py), so it works or stops the moment it is issued or
revoked; this listing is for people (an admin view), and may lag the log a little.
"""

from __future__ import annotations

from functools import singledispatchmethod
from typing import Any

from domain.identity.api_keys import ApiKey
from projections.read_model.documents import Eq, Query, ReadStore, Upsert
from projections.read_model.runner import Projector

API_KEYS = "api_keys"
LIVE, REVOKED = "live", "revoked"
MAX_LISTED_KEYS = 1000


class ApiKeyListingProjector:
    """Maps API key events to `api_keys` documents, one per key (by its aggregate id)."""

    name = "api_keys"
    context = "identity"
    collections = (API_KEYS,)

    @singledispatchmethod
    def changes(self, event: Any, position: int) -> list[Upsert]:
        return []

    @changes.register
    def _issued(self, event: ApiKey.Issued, position: int) -> list[Upsert]:
        return [Upsert(API_KEYS, str(event.originator_id), position, {
            "key_id": event.key_id,
            "name": event.name,
            "scopes": list(event.scopes),
            "issued_at": event.issued_at.isoformat(),
            "issued_by": event.issued_by,
            "state": LIVE,
            "position": position,
        })]

    @changes.register
    def _revoked(self, event: ApiKey.Revoked, position: int) -> list[Upsert]:
        return [Upsert(API_KEYS, str(event.originator_id), position, {
            "state": REVOKED, "revoked_at": event.revoked_at.isoformat()})]


class ApiKeyQueries:
    """The keys as the listing knows them, oldest first."""

    projection = API_KEYS

    def __init__(self, store: ReadStore) -> None:
        self._store = store

    def listing(self, state: str | None = None) -> list[dict[str, Any]]:
        filters = [Eq("state", state)] if state else []
        page = self._store.query(Query(API_KEYS, filters, sort_field="position",
                                       descending=False, limit=MAX_LISTED_KEYS))
        return page.documents


def projectors() -> list[Projector]:
    return [ApiKeyListingProjector()]
