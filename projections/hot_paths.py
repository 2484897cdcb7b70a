"""Hot read paths served from the cache, invalidated exactly by the projectors.

Each entry is derived from read-model documents, so the projection writer deletes it whenever
a document it was derived from changes (`projections.cache_invalidation`, after each batch):

- `hot:memberships:<user>`: every membership of a user, current and former
  <- any membership document of that user;
- `hot:inbox:<user>`: the user's conversation list with unread counts
  <- their memberships, any conversation they belong to, the blocks they made;
- `hot:latest:<conversation>`: the newest messages of a conversation
  <- any message document of it;
- `hot:blocks:<user>`: whom a user blocked and who blocked them <- any block either way.

An entry carries the positions its projections had reached when it was computed (its stamps).
A read with a consistency token P uses it only if it already reflects P (stamp >= P) or nothing
was projected since (stamp = position now); otherwise it recomputes. An entry whose projections
moved while it was computed is not kept, so a racing invalidation cannot leave it behind.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from projections.documents import ReadStore

if TYPE_CHECKING:
    from projections.runner import Cache


def memberships_key(user_id: str) -> str:
    return f"hot:memberships:{user_id}"


def inbox_key(user_id: str) -> str:
    return f"hot:inbox:{user_id}"


def latest_key(conversation_id: str) -> str:
    return f"hot:latest:{conversation_id}"


def blocks_key(user_id: str) -> str:
    return f"hot:blocks:{user_id}"


class StampedCache:
    """Entries computed from the read store, stamped with the positions they reflect."""

    def __init__(self, cache: Cache, store: ReadStore) -> None:
        self._cache = cache
        self._store = store

    def read(self, key: str, projections: Iterable[str],
             compute: Callable[[dict[str, int]], Any],
             token: int | None = None) -> tuple[Any, dict[str, int]]:
        """The entry's value and stamps; computed (and cached) unless a fresh one is cached.

        `compute` gets the stamps: what it reads through other entries must be as fresh.
        """
        names = sorted(projections)
        entry = self._cache.get(key)
        if entry is not None and self._fresh(entry["stamps"], token):
            return entry["value"], entry["stamps"]
        stamps = self._positions(names)
        value = compute(stamps)
        self._cache.set(key, {"stamps": stamps, "value": value})
        if self._positions(names) != stamps:
            # Projected meanwhile: the entry may predate a change whose invalidation came
            # before our set. Answer with it (it reflects the stamps), but do not keep it.
            self._cache.delete([key])
        return value, stamps

    def _positions(self, projections: Sequence[str]) -> dict[str, int]:
        return {name: self._store.position(name) for name in projections}

    def _fresh(self, stamps: dict[str, int], token: int | None) -> bool:
        if token is None:
            return True
        return all(stamp >= token or self._store.position(name) == stamp
                   for name, stamp in stamps.items())
