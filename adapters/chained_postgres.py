"""The PostgreSQL event log, extended to write each event's hash-chain link as it stores it.

The library's recorder inserts events under an EXCLUSIVE lock on the events table, so
transactions that insert events are serialised and commit in position order. The links are
written inside that same transaction and lock: the chain head read there is the head every
other writer left, so two processes can never fork the chain. It costs one query (the head,
pipelined with the insert) and one multi-row insert per transaction, not per event.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Identifier

from adapters.chain_tables import LINKS_TABLE, ChainTables, Row, link_from_row, logged_event
from domain.hash_chain import LoggedEvent, extend_chain

RECORDER_TOPIC = "adapters.chained_postgres:ChainedPostgresApplicationRecorder"


@dataclass
class _PendingHead:
    """Carries the head query from where the table is locked to where positions are known."""

    cursor: Cursor[DictRow] | None = None


class ChainedPostgresApplicationRecorder(ChainTables, PostgresApplicationRecorder):
    placeholder = "%s"

    def __init__(self, datastore: PostgresDatastore, *,
                 events_table_name: str = "stored_events") -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        if datastore.enable_db_functions:
            raise ValueError("the hash chain is written by this recorder, so "
                             "POSTGRES_ENABLE_DB_FUNCTIONS must stay off")
        schema = Identifier(datastore.schema)
        self._select_head = SQL(
            "SELECT * FROM {}.{} ORDER BY notification_id DESC LIMIT 1"
        ).format(schema, Identifier(LINKS_TABLE))
        self._insert_links = SQL(
            "INSERT INTO {}.{} (notification_id, previous_id, event_digest, hash) "
            "SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::bytea[], %s::bytea[])"
        ).format(schema, Identifier(LINKS_TABLE))

    def insert_events(self, stored_events: Sequence[StoredEvent],
                      **kwargs: Any) -> Sequence[int] | None:
        positions: Sequence[int] | None = super().insert_events(
            stored_events, chain_head=_PendingHead(), **kwargs)
        return positions

    def _insert_stored_events(self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent],
                              **kwargs: Any) -> None:
        super()._insert_stored_events(curs, stored_events, **kwargs)  # locks, then inserts
        pending: _PendingHead = kwargs["chain_head"]
        pending.cursor = curs.connection.cursor()
        pending.cursor.execute(self._select_head, prepare=True)

    def _fetch_ids_after_insert_events(self, curs: Cursor[DictRow],
                                       stored_events: Sequence[StoredEvent],
                                       **kwargs: Any) -> Sequence[int] | None:
        positions = super()._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
        assert positions is not None and len(positions) == len(stored_events)
        pending: _PendingHead = kwargs["chain_head"]
        assert pending.cursor is not None
        row = pending.cursor.fetchone()
        pending.cursor.close()
        events = [logged_event(p, e.originator_id, e.originator_version, e.topic, e.state)
                  for p, e in zip(positions, stored_events, strict=True)]
        links = extend_chain(link_from_row(row) if row else None, events)
        curs.execute(self._insert_links, ([k.position for k in links],
                                          [k.previous_position for k in links],
                                          [k.event_digest for k in links],
                                          [k.hash for k in links]), prepare=True)
        return positions

    def last_position(self) -> int:
        head = self.chain_head()
        return max(self.max_notification_id() or 0, head.position if head else 0)

    def logged_events(self, after: int, until: int | None, limit: int) -> list[LoggedEvent]:
        return [logged_event(n.id, n.originator_id, n.originator_version, n.topic, n.state)
                for n in self.select_notifications(after, limit, until, inclusive_of_start=False)]

    def _table(self, name: str) -> str:
        quoted_schema = '"' + self.datastore.schema.replace('"', '""') + '"'
        return f"{quoted_schema}.{name}"

    def _rows(self, statement: str, params: Sequence[Any]) -> list[Row]:
        with self.datastore.get_connection() as connection, connection.cursor() as cursor:
            cursor.execute(statement.encode(), params)
            return list(cursor.fetchall())

    def _write(self, statement: str, params: Sequence[Any]) -> int:
        with self.datastore.get_connection() as connection, connection.cursor() as cursor:
            cursor.execute(statement.encode(), params)
            return cursor.rowcount

