"""Parked events and last errors of production projections, in PostgreSQL beside the log."""

from __future__ import annotations

from psycopg_pool import ConnectionPool

from projections.read_model.health import ParkedEvent, ProjectionError


class PostgresProjectionHealth:
    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool

    def park(self, projection: str, position: int, event_type: str, error: str) -> None:
        with self._pool.connection() as connection:
            connection.execute(
                "INSERT INTO parked_events (projection, position, event_type, error)"
                " VALUES (%s, %s, %s, %s) ON CONFLICT (projection, position) DO UPDATE"
                " SET error = excluded.error, attempts = parked_events.attempts + 1",
                (projection, position, event_type, error))

    def parked(self, projection: str | None = None, limit: int = 1000) -> list[ParkedEvent]:
        with self._pool.connection() as connection:
            rows = connection.execute(
                "SELECT projection, position, event_type, error, parked_at, attempts"
                " FROM parked_events WHERE %s::text IS NULL OR projection = %s"
                " ORDER BY position, projection LIMIT %s",
                (projection, projection, limit)).fetchall()
        return [ParkedEvent(*row) for row in rows]

    def unpark(self, projection: str, position: int) -> None:
        with self._pool.connection() as connection:
            connection.execute(
                "DELETE FROM parked_events WHERE projection = %s AND position = %s",
                (projection, position))

    def record_error(self, projection: str, error: str) -> None:
        with self._pool.connection() as connection:
            connection.execute(
                "INSERT INTO projection_errors (projection, error) VALUES (%s, %s)"
                " ON CONFLICT (projection) DO UPDATE SET error = excluded.error, at = now()",
                (projection, error))

    def clear_error(self, projection: str) -> None:
        with self._pool.connection() as connection:
            connection.execute("DELETE FROM projection_errors WHERE projection = %s",
                               (projection,))

    def last_errors(self) -> dict[str, ProjectionError]:
        with self._pool.connection() as connection:
            rows = connection.execute(
                "SELECT projection, error, at FROM projection_errors").fetchall()
        return {r[0]: ProjectionError(*r) for r in rows}

    def close(self) -> None:
        return None
