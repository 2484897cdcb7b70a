"""Generations of the embedded default's read models: fresh SQLite files, swapped in.

A replay builds `replays/{projection}-g{N}.sqlite3` beside the live read-model file. The switch
happens under the projection's lock in one transaction of the live file: the projection's
current documents move to `replays/{projection}-g{N-1}.retired.sqlite3` (kept until pruned),
the rebuilt ones take their place, and readers see either the old or the new generation,
never a mixture. Inspection targets are `replays/{name}.sqlite3`.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

from adapters.read_model.sqlite_read_store import SQLiteReadStore
from projections.read_model.health import ProjectionLocks
from projections.read_model.replay import ReplayTarget
from projections.read_model.runner import Projector

NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,60}$")
GENERATIONS_SCHEMA = """
CREATE TABLE IF NOT EXISTS read_model_generations (
    projection TEXT PRIMARY KEY,
    generation INTEGER NOT NULL
)
"""


class SQLiteServingGenerations:
    """What every process reads before trusting its cache: the generation each projection
    serves, from the live file, on a connection kept per thread (a lookup is one tiny read)."""

    def __init__(self, live_path: Path) -> None:
        self._live_path = live_path
        self._local = threading.local()
        SQLiteReadStore(live_path).close()
        with contextlib.closing(sqlite3.connect(live_path, timeout=30)) as connection:
            connection.execute(GENERATIONS_SCHEMA)

    def __call__(self) -> dict[str, int]:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(self._live_path, timeout=30, isolation_level=None)
            self._local.connection = connection
        rows = connection.execute("SELECT projection, generation FROM read_model_generations")
        return {projection: int(generation) for projection, generation in rows}


def collections_of(projector: Projector) -> tuple[str, ...]:
    return tuple(getattr(projector, "collections", ()))


class SQLiteGenerations:
    def __init__(self, live_path: Path, locks: ProjectionLocks,
                 on_switched: Callable[[Projector], None] | None = None) -> None:
        self._live_path = live_path
        self._directory = live_path.parent / "replays"
        self._locks = locks
        self._on_switched = on_switched
        SQLiteReadStore(live_path).close()  # the live schema exists before generations do
        with contextlib.closing(self._connect()) as connection:
            connection.execute(GENERATIONS_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self._live_path, timeout=30, isolation_level=None)

    def _file(self, projector: Projector, generation: int, suffix: str = "") -> Path:
        return self._directory / f"{projector.name}-g{generation}{suffix}.sqlite3"

    def serving(self, projector: Projector) -> int:
        with contextlib.closing(self._connect()) as connection:
            connection.execute(GENERATIONS_SCHEMA)
            row = connection.execute(
                "SELECT generation FROM read_model_generations WHERE projection = ?",
                (projector.name,)).fetchone()
        return int(row[0]) if row else 1

    def unfinished(self, projector: Projector) -> int | None:
        serving = self.serving(projector)
        pattern = re.compile(rf"^{re.escape(projector.name)}-g(\d+)\.sqlite3$")
        found = [int(m.group(1)) for p in self._directory.glob(f"{projector.name}-g*.sqlite3")
                 if (m := pattern.match(p.name))]
        return max((n for n in found if n > serving), default=None)

    def target(self, projector: Projector, generation: int) -> ReplayTarget:
        path = self._file(projector, generation)
        return ReplayTarget(projector, SQLiteReadStore(path), projector.name, generation,
                            {c: str(path) for c in collections_of(projector)})

    def named_target(self, projector: Projector, name: str) -> ReplayTarget:
        if not NAME.match(name):
            raise ValueError("a target name is lowercase letters, digits, '-' and '_'")
        path = self._directory / f"{name}.sqlite3"
        return ReplayTarget(projector, SQLiteReadStore(path), projector.name, None,
                            {c: str(path) for c in collections_of(projector)})

    def finish(self, target: ReplayTarget) -> None:
        target.store.close()

    def switch(self, target: ReplayTarget, catch_up: Callable[[], int]) -> None:
        projector = target.projector
        assert target.generation is not None
        fresh = self._file(projector, target.generation)
        retired = self._file(projector, target.generation - 1, ".retired")
        SQLiteReadStore(retired).close()
        collections = collections_of(projector)
        marks = ", ".join("?" for _ in collections)
        with self._locks.hold(projector.name):
            catch_up()
            position = target.store.position(target.checkpoint_key)
            target.store.close()
            connection = self._connect()
            try:
                connection.execute("ATTACH DATABASE ? AS fresh", (str(fresh),))
                connection.execute("ATTACH DATABASE ? AS retired", (str(retired),))
                connection.execute("BEGIN IMMEDIATE")
                try:
                    self._swap(connection, projector.name, collections, marks, position,
                               target.generation)
                except BaseException:
                    connection.execute("ROLLBACK")
                    raise
                connection.execute("COMMIT")
                connection.execute("DETACH DATABASE fresh")
                connection.execute("DETACH DATABASE retired")
            finally:
                connection.close()
        for leftover in (fresh, fresh.with_name(fresh.name + "-wal"),
                         fresh.with_name(fresh.name + "-shm")):
            leftover.unlink(missing_ok=True)
        if self._on_switched is not None:
            self._on_switched(projector)

    @staticmethod
    def _swap(connection: sqlite3.Connection, projection: str, collections: tuple[str, ...],
              marks: str, position: int, generation: int) -> None:
        columns = "collection, doc_id, version, body"
        connection.execute(f"INSERT OR REPLACE INTO retired.documents ({columns}) "
                           f"SELECT {columns} FROM main.documents "
                           f"WHERE collection IN ({marks})", collections)
        connection.execute(
            "DELETE FROM main.documents_text WHERE rowid IN (SELECT rowid FROM main.documents"
            f" WHERE collection IN ({marks}))", collections)
        connection.execute(f"DELETE FROM main.documents WHERE collection IN ({marks})",
                           collections)
        connection.execute(f"INSERT INTO main.documents ({columns}) SELECT {columns} "
                           f"FROM fresh.documents WHERE collection IN ({marks})", collections)
        connection.execute(
            "INSERT INTO main.projection_positions (projection, position) VALUES (?, ?) "
            "ON CONFLICT (projection) DO UPDATE SET position = max(position, excluded.position)",
            (projection, position))
        connection.execute(
            "INSERT INTO main.read_model_generations (projection, generation) VALUES (?, ?) "
            "ON CONFLICT (projection) DO UPDATE SET generation = excluded.generation",
            (projection, generation))

    def prune(self, projector: Projector) -> list[str]:
        doomed = sorted(self._directory.glob(f"{projector.name}-g*.retired.sqlite3*"))
        for path in doomed:
            path.unlink(missing_ok=True)
        return [str(p) for p in doomed if p.name.endswith(".sqlite3")]

    def locations(self, projector: Projector) -> dict[str, str]:
        where = f"{self._live_path.name} g{self.serving(projector)}"
        return {c: where for c in collections_of(projector)}
