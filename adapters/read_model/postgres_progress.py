"""How far production projections have got, read from relay progress and the read store.

A projection has reached position P when the relay has published everything up to P and the
projection has processed, from its topic, everything the relay published there up to P.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from psycopg_pool import ConnectionPool

from projections.read_model.documents import ReadStore


class RelayedProgress:
    def __init__(
        self, pool: ConnectionPool, store: ReadStore, topic_of_projection: Mapping[str, str],
        relay_name: str,
    ) -> None:
        self._pool = pool
        self._store = store
        self._topic_of = topic_of_projection
        self._relay_name = relay_name

    def _relayed(self) -> tuple[int, dict[str, int]]:
        with self._pool.connection() as connection:
            relay = connection.execute(
                "SELECT position FROM relay_progress WHERE relay = %s", (self._relay_name,)
            ).fetchone()
            topics = connection.execute("SELECT topic, position FROM relay_topic_progress")
            return (int(relay[0]) if relay else 0), {t: int(p) for t, p in topics}

    def reached(self, position: int, projections: Sequence[str]) -> bool:
        relayed, per_topic = self._relayed()
        if relayed < position:
            return False
        return all(
            self._store.position(name) >= min(position, per_topic.get(self._topic_of[name], 0))
            for name in projections
        )

    def lag(self, head: int) -> dict[str, int]:
        """Positions behind, per projection: not yet relayed plus relayed but not projected."""
        relayed, per_topic = self._relayed()
        return {
            name: max(0, head - relayed)
            + max(0, per_topic.get(topic, 0) - self._store.position(name))
            for name, topic in self._topic_of.items()
        }
