"""Process managers' positions in the embedded default: a small SQLite file of their own.

Not in the read models' file, which a replay swaps for a fresh one: a manager's position
says which commands it has issued, and must outlive any rebuild of the read models.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS process_positions (
    manager TEXT PRIMARY KEY,
    position INTEGER NOT NULL
);
"""


class SQLiteProcessPositions:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._local = threading.local()
        self._opened: list[sqlite3.Connection] = []
        self._guard = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._connection().executescript(SCHEMA)

    def _connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(self._path, timeout=30, isolation_level=None,
                                         check_same_thread=False)
            connection.execute("PRAGMA journal_mode=WAL")
            self._local.connection = connection
            with self._guard:
                self._opened.append(connection)
        return connection

    def position(self, manager: str) -> int:
        row = self._connection().execute(
            "SELECT position FROM process_positions WHERE manager = ?", (manager,)).fetchone()
        return int(row[0]) if row else 0

    def record(self, manager: str, position: int) -> None:
        self._connection().execute(
            "INSERT INTO process_positions (manager, position) VALUES (?, ?)"
            " ON CONFLICT (manager) DO UPDATE SET position = max(position, excluded.position)",
            (manager, position))

    def close(self) -> None:
        with self._guard:
            for connection in self._opened:
                connection.close()
            self._opened.clear()
