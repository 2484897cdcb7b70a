"""Hot read paths served from the cache, invalidated exactly by the projectors.

Each entry is derived from read-model documents, so the projection writer deletes it whenever
a document it was derived from changes (`projections.messaging.cache_invalidation`, after each
batch):

- `hot:memberships:<user>`: every membership of a user, current and former
  <- any membership document of that user;
- `hot:inbox:<user>`: the user's conversation list with unread counts
  <- their memberships, any conversation they belong to, the blocks they made;
- `hot:latest:<conversation>`: the newest messages of a conversation
  <- any message document of it;
- `hot:blocks:<user>`: whom a user blocked and who blocked them <- any block either way.

An entry carries the positions its projections had reached when it was computed (its stamps),
and the generations of those projections that were serving then. A replay switches generations
from another process (`parley replay`) without touching this process's cache, so a lookup
reads the serving generations (cheaply: one small table, or nothing where the cache is shared
and cleared by the switch) and never uses an entry of another generation.
A read with a consistency token P uses it only if it already reflects P (stamp >= P) or nothing
was projected since (stamp = position now); otherwise it recomputes. An entry whose projections
moved while it was computed is not kept, so a racing invalidation cannot leave it behind.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from projections.read_model.documents import ReadStore

if TYPE_CHECKING:
    from projections.read_model.runner import Cache


def memberships_key(user_id: str) -> str:
    return f"hot:memberships:{user_id}"


def inbox_key(user_id: str) -> str:
    return f"hot:inbox:{user_id}"


def latest_key(conversation_id: str) -> str:
    return f"hot:latest:{conversation_id}"


def blocks_key(user_id: str) -> str:
    return f"hot:blocks:{user_id}"


ServingGenerations = Callable[[], Mapping[str, int]]
"""The generation each projection serves now, as every process sees it (absent: the first)."""


def first_generations() -> Mapping[str, int]:
    """For read stores whose cache every process shares and a switch clears (production)."""
    return {}


class StampedCache:
    """Entries computed from the read store, stamped with the positions they reflect."""

    def __init__(self, cache: Cache, store: ReadStore,
                 generations: ServingGenerations = first_generations) -> None:
        self._cache = cache
        self._store = store
        self._generations = generations

    def read(self, key: str, projections: Iterable[str],
             compute: Callable[[dict[str, int]], Any],
             token: int | None = None) -> tuple[Any, dict[str, int]]:
        """The entry's value and stamps; computed (and cached) unless a fresh one is cached.

        `compute` gets the stamps: what it reads through other entries must be as fresh.
        """
        names = sorted(projections)
        serving = self._serving(names)
        entry = self._cache.get(key)
        if (entry is not None and entry.get("generations", {}) == serving
                and self._fresh(entry["stamps"], token)):
            return entry["value"], entry["stamps"]
        stamps = self._positions(names)
        value = compute(stamps)
        self._cache.set(key, {"stamps": stamps, "generations": serving, "value": value})
        if self._positions(names) != stamps or self._serving(names) != serving:
            # Projected or switched meanwhile: the entry may predate a change whose
            # invalidation came before our set. Answer with it, but do not keep it.
            self._cache.delete([key])
        return value, stamps

    def _serving(self, projections: Sequence[str]) -> dict[str, int]:
        generations = self._generations()
        return {name: generations[name] for name in projections if name in generations}

    def _positions(self, projections: Sequence[str]) -> dict[str, int]:
        return {name: self._store.position(name) for name in projections}

    def _fresh(self, stamps: dict[str, int], token: int | None) -> bool:
        if token is None:
            return True
        return all(stamp >= token or self._store.position(name) == stamp
                   for name, stamp in stamps.items())
