"""The embedded (SQLite) event log, extended to write each event's hash-chain link as it stores it.

SQLite lets one writer at a time hold the database, and the links are written in the
transaction that inserts the events, after that insert has taken the write lock: the head read
there cannot move before commit. The recorder also creates the chain's tables, links any events
stored before the chain existed (once, when its table is created), and makes the events, links
and checkpoints append-only with triggers, as migrations do in PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from eventsourcing.sqlite import SQLiteApplicationRecorder

from adapters.event_log.chain_tables import (
    CHECKPOINTS_TABLE,
    LINKS_TABLE,
    ChainTables,
    Row,
    link_from_row,
    logged_event,
)
from event_log.hash_chain import ChainLink, LoggedEvent, extend_chain

RECORDER_TOPIC = "adapters.event_log.chained_sqlite:ChainedSQLiteApplicationRecorder"
BACKFILL_BATCH = 5000
EVENTS_OF_CHUNK = 500  # aggregates per query (well under SQLite's bound on parameters)


class ChainedSQLiteApplicationRecorder(ChainTables, SQLiteApplicationRecorder):
    def construct_create_table_statements(self) -> list[str]:
        statements = [
            *super().construct_create_table_statements(),
            f"CREATE TABLE IF NOT EXISTS {LINKS_TABLE} (notification_id INTEGER PRIMARY KEY, "
            "previous_id INTEGER NOT NULL, event_digest BLOB NOT NULL, hash BLOB NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS {CHECKPOINTS_TABLE} (position INTEGER PRIMARY KEY, "
            "head_hash BLOB NOT NULL, signed_at TEXT NOT NULL, signature BLOB NOT NULL)",
        ]
        for table in (self.events_table_name, LINKS_TABLE, CHECKPOINTS_TABLE):
            for operation in ("UPDATE", "DELETE"):
                statements.append(
                    f"CREATE TRIGGER IF NOT EXISTS {table}_no_{operation.lower()} "
                    f"BEFORE {operation} ON {table} BEGIN SELECT RAISE(ABORT, "
                    f"'the event log is append-only: {operation} on {table} is not allowed'); "
                    "END"
                )
        return statements

    def _create_table(self, c: Any) -> None:
        c.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (LINKS_TABLE,))
        chain_is_new = c.fetchone() is None
        super()._create_table(c)
        if chain_is_new:
            self._link_stored_events(c)

    def _link_stored_events(self, c: Any) -> None:
        """Chains the events stored before the chain existed, in batches, in this transaction."""
        head: ChainLink | None = None
        while True:
            c.execute(f"SELECT rowid, * FROM {self.events_table_name} WHERE rowid > ? "
                      "ORDER BY rowid LIMIT ?", (head.position if head else 0, BACKFILL_BATCH))
            events = [logged_event(r["rowid"], self.convert_originator_id(r["originator_id"]),
                                   r["originator_version"], r["topic"], r["state"])
                      for r in c.fetchall()]
            if not events:
                return
            links = extend_chain(head, events)
            self._insert_links(c, links)
            head = links[-1]

    def _insert_events(self, c: Any, stored_events: Sequence[StoredEvent],
                       **kwargs: Any) -> Sequence[int] | None:
        positions = super()._insert_events(c, stored_events, **kwargs)
        assert positions is not None
        if not positions:
            return positions
        c.execute(f"SELECT * FROM {LINKS_TABLE} ORDER BY notification_id DESC LIMIT 1")
        row = c.fetchone()
        events = [logged_event(p, e.originator_id, e.originator_version, e.topic, e.state)
                  for p, e in zip(positions, stored_events, strict=True)]
        self._insert_links(c, extend_chain(link_from_row(row) if row else None, events))
        return positions

    @staticmethod
    def _insert_links(c: Any, links: list[ChainLink]) -> None:
        c.executemany(f"INSERT INTO {LINKS_TABLE} VALUES (?, ?, ?, ?)",
                      [(k.position, k.previous_position, k.event_digest, k.hash) for k in links])

    def last_position(self) -> int:
        head = self.chain_head()
        return max(self.max_notification_id() or 0, head.position if head else 0)

    def logged_events(self, after: int, until: int | None, limit: int) -> list[LoggedEvent]:
        return [logged_event(n.id, n.originator_id, n.originator_version, n.topic, n.state)
                for n in self.select_notifications(after, limit, until, inclusive_of_start=False)]

    def recorded(self, keys: Sequence[tuple[UUID, int]],
                 timeout: float) -> dict[tuple[UUID, int], tuple[int, StoredEvent]]:
        """Which of these aggregate versions are stored, and at which positions."""
        found: dict[tuple[UUID, int], tuple[int, StoredEvent]] = {}
        with self.datastore.transaction(commit=False) as c:
            for originator_id, version in keys:
                c.execute(f"SELECT rowid, * FROM {self.events_table_name} "
                          "WHERE originator_id = ? AND originator_version = ?",
                          (originator_id.hex, version))
                row = c.fetchone()
                if row is not None:
                    found[(originator_id, version)] = (row["rowid"], StoredEvent(
                        originator_id, version, row["topic"], bytes(row["state"])))
        return found

    def head_position(self) -> int:
        return int(self.max_notification_id() or 0)

    def originators_between(self, after: int, until: int,
                            limit: int) -> list[tuple[int, UUID]]:
        """The position and aggregate of at most `limit` events in (`after`, `until`]."""
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT rowid, originator_id FROM {self.events_table_name} "
                      "WHERE rowid > ? AND rowid <= ? ORDER BY rowid LIMIT ?",
                      (after, until, limit))
            return [(r["rowid"], UUID(str(r["originator_id"])))
                    for r in c.fetchall()]

    def events_of(self, originator_ids: Sequence[UUID]) -> dict[UUID, list[StoredEvent]]:
        """Every event of each of these aggregates, a query per 500 of them."""
        found: dict[UUID, list[StoredEvent]] = {}
        ids = list(originator_ids)
        with self.datastore.transaction(commit=False) as c:
            for start in range(0, len(ids), EVENTS_OF_CHUNK):
                chunk = ids[start:start + EVENTS_OF_CHUNK]
                c.execute(f"SELECT originator_id, originator_version, topic, state FROM "
                          f"{self.events_table_name} WHERE originator_id IN "
                          f"({', '.join('?' * len(chunk))}) "
                          "ORDER BY originator_id, originator_version",
                          [i.hex for i in chunk])
                for row in c.fetchall():
                    originator_id = UUID(str(row["originator_id"]))
                    found.setdefault(originator_id, []).append(StoredEvent(
                        originator_id, row["originator_version"], row["topic"],
                        bytes(row["state"])))
        return found

    def _rows(self, statement: str, params: Sequence[Any]) -> list[Row]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(statement, params)
            return list(c.fetchall())

    def _write(self, statement: str, params: Sequence[Any]) -> int:
        with self.datastore.transaction(commit=True) as c:
            c.execute(statement, params)
            return int(c.sqlite_cursor.rowcount)

    def _stored_moment(self, moment: datetime) -> Any:
        return moment.isoformat(timespec="microseconds")

    def _loaded_moment(self, value: Any) -> datetime:
        return datetime.fromisoformat(value)
