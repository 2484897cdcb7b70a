"""Per-projection locks between production processes: PostgreSQL transaction advisory locks.

Held in a transaction, so a process that dies while holding one releases it with its session.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

from psycopg_pool import ConnectionPool


class PostgresLocks:
    def __init__(self, pool: ConnectionPool, namespace: str) -> None:
        self._pool = pool
        self._namespace = namespace

    def _key(self, projection: str) -> str:
        return f"parley-projection:{self._namespace}:{projection}"

    @contextlib.contextmanager
    def hold(self, projection: str) -> Iterator[None]:
        with self._pool.connection() as connection, connection.transaction():
            connection.execute("SELECT pg_advisory_xact_lock(hashtext(%s))",
                               (self._key(projection),))
            yield

    @contextlib.contextmanager
    def hold_all(self, projections: Sequence[str]) -> Iterator[None]:
        """One transaction, one round trip, every lock taken in name order."""
        keys = [self._key(p) for p in sorted(set(projections))]
        if not keys:
            yield
            return
        with self._pool.connection() as connection, connection.transaction():
            connection.execute("SELECT count(pg_advisory_xact_lock(hashtext(k))) FROM "
                               "(SELECT unnest(%s::text[]) AS k ORDER BY 1) AS keys", (keys,))
            yield
