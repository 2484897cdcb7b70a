"""Process managers' positions in production: a PostgreSQL table beside the event log."""

from __future__ import annotations

from psycopg_pool import ConnectionPool


class PostgresProcessPositions:
    """Reads and writes `process_positions` (migration 0008) through the progress pool, whose
    connections are autocommit and search the namespace's schema."""

    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool

    def position(self, manager: str) -> int:
        with self._pool.connection() as connection:
            row = connection.execute(
                "SELECT position FROM process_positions WHERE manager = %s", (manager,)
            ).fetchone()
        return int(row[0]) if row else 0

    def record(self, manager: str, position: int) -> None:
        with self._pool.connection() as connection:
            connection.execute(
                "INSERT INTO process_positions (manager, position) VALUES (%s, %s)"
                " ON CONFLICT (manager) DO UPDATE SET position = GREATEST("
                "process_positions.position, EXCLUDED.position)", (manager, position))
