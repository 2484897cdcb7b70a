"""Parked events and last errors of the embedded default's projections, beside its read models."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path

from projections.read_model.health import ParkedEvent, ProjectionError

SCHEMA = """
CREATE TABLE IF NOT EXISTS parked_events (
    projection TEXT NOT NULL,
    position INTEGER NOT NULL,
    event_type TEXT NOT NULL,
    error TEXT NOT NULL,
    parked_at TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (projection, position)
);
CREATE TABLE IF NOT EXISTS projection_errors (
    projection TEXT PRIMARY KEY,
    error TEXT NOT NULL,
    at TEXT NOT NULL
);
"""


def _now() -> str:
    return datetime.now(UTC).isoformat()


class SQLiteProjectionHealth:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._local = threading.local()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._connection().executescript(SCHEMA)

    def _connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(self._path, timeout=30, isolation_level=None)
            connection.execute("PRAGMA journal_mode=WAL")
            self._local.connection = connection
        return connection

    def park(self, projection: str, position: int, event_type: str, error: str) -> None:
        self._connection().execute(
            "INSERT INTO parked_events (projection, position, event_type, error, parked_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (projection, position) DO UPDATE"
            " SET error = excluded.error, attempts = attempts + 1",
            (projection, position, event_type, error, _now()))

    def parked(self, projection: str | None = None, limit: int = 1000) -> list[ParkedEvent]:
        rows = self._connection().execute(
            "SELECT projection, position, event_type, error, parked_at, attempts"
            " FROM parked_events WHERE ? IS NULL OR projection = ?"
            " ORDER BY position, projection LIMIT ?", (projection, projection, limit))
        return [ParkedEvent(r[0], r[1], r[2], r[3], datetime.fromisoformat(r[4]), r[5])
                for r in rows]

    def unpark(self, projection: str, position: int) -> None:
        self._connection().execute(
            "DELETE FROM parked_events WHERE projection = ? AND position = ?",
            (projection, position))

    def record_error(self, projection: str, error: str) -> None:
        self._connection().execute(
            "INSERT INTO projection_errors (projection, error, at) VALUES (?, ?, ?)"
            " ON CONFLICT (projection) DO UPDATE SET error = excluded.error, at = excluded.at",
            (projection, error, _now()))

    def clear_error(self, projection: str) -> None:
        self._connection().execute("DELETE FROM projection_errors WHERE projection = ?",
                                   (projection,))

    def last_errors(self) -> dict[str, ProjectionError]:
        rows = self._connection().execute("SELECT projection, error, at FROM projection_errors")
        return {r[0]: ProjectionError(r[0], r[1], datetime.fromisoformat(r[2])) for r in rows}

    def close(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None
