"""Per-projection locks between production processes: PostgreSQL transaction advisory locks.

Held in a transaction, so a process that dies while holding one releases it with its session.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from psycopg_pool import ConnectionPool


class PostgresLocks:
    def __init__(self, pool: ConnectionPool, namespace: str) -> None:
        self._pool = pool
        self._namespace = namespace

    @contextlib.contextmanager
    def hold(self, projection: str) -> Iterator[None]:
        with self._pool.connection() as connection, connection.transaction():
            connection.execute("SELECT pg_advisory_xact_lock(hashtext(%s))",
                               (f"parley-projection:{self._namespace}:{projection}",))
            yield
