"""The PostgreSQL event log, extended to write each event's hash-chain link as it stores it.

Transactions that insert events are serialised, so they commit in position order: the
library's recorder takes an EXCLUSIVE lock on the events table for this; this one takes an
advisory lock of the table's own instead (see __init__: autovacuum). The links are
written inside that same transaction and lock: the chain head read there is the head every
other writer left, so two processes can never fork the chain. It costs one query (the head,
pipelined with the insert) and one multi-row insert per transaction, not per event.

A save is tried once, bounded by the caller's `timeout_seconds` (the statement timeout of its
transaction, and the pool's wait for a connection): the library's own retries (ten, each up to
the pool's timeout) held a send for the whole of an outage and could store it twice after a
commit lost with its connection. The group-commit writer decides what to do instead.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast
from uuid import UUID

import psycopg
from eventsourcing.persistence import OperationalError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from psycopg import Cursor
from psycopg.errors import LockNotAvailable, QueryCanceled
from psycopg.rows import DictRow
from psycopg.sql import SQL, Identifier, Literal
from psycopg_pool import PoolTimeout

from adapters.event_log.chain_tables import (
    LINKS_TABLE,
    ChainTables,
    Row,
    link_from_row,
    logged_event,
)
from event_log.faults import CommandNotStored
from event_log.hash_chain import LoggedEvent, extend_chain
from event_log.log import EventKey

RECORDER_TOPIC = "adapters.event_log.chained_postgres:ChainedPostgresApplicationRecorder"
# The library's insert and read of an aggregate's events, without the retry decorator around
# them: only the group-commit writer uses these, and it bounds and answers failures itself.
_insert_once = PostgresApplicationRecorder.insert_events.__wrapped__
_select_once = PostgresApplicationRecorder.select_events.__wrapped__
# Raised before the transaction could commit: no connection in time, or a statement cancelled.
_NOT_COMMITTED = (PoolTimeout, QueryCanceled, LockNotAvailable)


@dataclass
class _PendingHead:
    """Carries the head query from where the table is locked to where positions are known."""

    cursor: Cursor[DictRow] | None = None


class ChainedPostgresApplicationRecorder(ChainTables, PostgresApplicationRecorder):
    placeholder = "%s"

    def __init__(self, datastore: PostgresDatastore, *,
                 events_table_name: str = "stored_events") -> None:
        # Before the pool opens (the library's constructor opens it): libpq's own bound on
        # opening a connection, which the pool's wait does not stop, and the server's on any
        # statement (a save sets its own, from what is left of its bound).
        bound = max(1, math.ceil(datastore.pool.timeout))
        assert isinstance(datastore.pool.kwargs, dict)
        datastore.pool.kwargs.setdefault("connect_timeout", bound)
        datastore.pool.kwargs.setdefault("options", f"-c statement_timeout={bound * 1000}")
        super().__init__(datastore, events_table_name=events_table_name)
        if datastore.enable_db_functions:
            raise ValueError("the hash chain is written by this recorder, so "
                             "POSTGRES_ENABLE_DB_FUNCTIONS must stay off")
        schema = Identifier(datastore.schema)
        # Writers serialise on an advisory lock of the events table's own, not on the
        # library's `LOCK TABLE ... IN EXCLUSIVE MODE`: the same order (each transaction takes
        # its positions and commits before the next one takes any), but autovacuum's SHARE
        # UPDATE EXCLUSIVE lock on the table no longer stands in the way. With the table lock,
        # every autovacuum of the log held all writers until PostgreSQL cancelled it, after
        # `deadlock_timeout` (1 s by default): a second-long stall of every save, measured as
        # the production critical notifications' p99 (docs/benchmarks.md).
        self._writers_lock = SQL("SELECT pg_advisory_xact_lock(hashtextextended({}, 0))").format(
            Literal(f"parley-event-writers:{datastore.schema}.{self.events_table_name}"))
        self.lock_table_statements = [
            SQL("SET LOCAL lock_timeout = '{0}s'").format(datastore.lock_timeout),
            self._writers_lock,
        ]
        self._select_head = SQL(
            "SELECT * FROM {}.{} ORDER BY notification_id DESC LIMIT 1"
        ).format(schema, Identifier(LINKS_TABLE))
        self._insert_links = SQL(
            "INSERT INTO {}.{} (notification_id, previous_id, event_digest, hash) "
            "SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::bytea[], %s::bytea[])"
        ).format(schema, Identifier(LINKS_TABLE))
        self._select_recorded = SQL(
            "SELECT * FROM {}.{} WHERE originator_id = %s AND originator_version = %s"
        ).format(schema, Identifier(self.events_table_name))
        self._lock_for_check = SQL("LOCK TABLE {}.{} IN SHARE MODE").format(
            schema, Identifier(self.events_table_name))
        self._select_events_of = SQL(
            "SELECT originator_id, originator_version, topic, state FROM {}.{} "
            "WHERE originator_id = ANY(%s) ORDER BY originator_id, originator_version"
        ).format(schema, Identifier(self.events_table_name))
        self._select_head_position = SQL(
            "SELECT max(notification_id) AS head FROM {}.{}"
        ).format(schema, Identifier(self.events_table_name))
        self._select_originators = SQL(
            "SELECT notification_id, originator_id FROM {}.{} WHERE notification_id > %s "
            "AND notification_id <= %s ORDER BY notification_id LIMIT %s"
        ).format(schema, Identifier(self.events_table_name))

    def insert_events(self, stored_events: Sequence[StoredEvent],
                      **kwargs: Any) -> Sequence[int] | None:
        try:
            positions: Sequence[int] | None = _insert_once(
                self, stored_events, chain_head=_PendingHead(), **kwargs)
        except OperationalError as error:
            if isinstance(error.__cause__, _NOT_COMMITTED):
                raise CommandNotStored(f"the database did not take the events in time "
                                       f"({type(error.__cause__).__name__}); nothing was "
                                       "stored, retry") from error
            raise
        return positions

    def select_events(self, originator_id: UUID | str, *, gt: int | None = None,
                      lte: int | None = None, desc: bool = False,
                      limit: int | None = None) -> Sequence[StoredEvent]:
        events: Sequence[StoredEvent] = _select_once(self, originator_id, gt=gt, lte=lte,
                                                     desc=desc, limit=limit)
        return events

    def _insert_events(self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent],
                       **kwargs: Any) -> None:
        timeout = kwargs.get("timeout_seconds")
        if timeout is not None:  # waits for the table's lock too, so an outage cannot hold it
            milliseconds = max(1, int(timeout * 1000))
            curs.execute(SQL("SET LOCAL statement_timeout = {}").format(Literal(milliseconds)))

    def recorded(self, keys: Sequence[EventKey],
                 timeout: float) -> dict[EventKey, tuple[int, StoredEvent]]:
        """Which of these aggregate versions are stored, asked on a new connection of its own.

        The writers' advisory lock, then the table's SHARE lock, wait for any transaction still
        inserting (a writer holds the advisory lock from before it takes a position until it
        ends): a commit whose connection was lost may still be going on server-side, and must
        not be found absent just before it commits. Waiting past `timeout` raises: unknown.
        """
        seconds = max(1, math.ceil(timeout))
        found: dict[EventKey, tuple[int, StoredEvent]] = {}
        pool_kwargs = cast(dict[str, Any], self.datastore.pool.kwargs)  # a dict in this pool
        with psycopg.connect(**{**pool_kwargs, "connect_timeout": seconds},
                             autocommit=True) as connection, connection.transaction():
            connection.execute(SQL("SET LOCAL statement_timeout = {}").format(
                Literal(seconds * 1000)))
            connection.execute(self._writers_lock)  # no writer between its lock and commit
            connection.execute(self._lock_for_check)
            for originator_id, version in keys:
                row: Any = connection.execute(self._select_recorded,
                                              (originator_id, version)).fetchone()
                if row is not None:
                    found[(originator_id, version)] = (row["notification_id"], StoredEvent(
                        UUID(str(row["originator_id"])), row["originator_version"],
                        row["topic"], bytes(row["state"])))
        return found

    def head_position(self) -> int:
        """The newest event's position, in one try (the library's read retries for seconds)."""
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(self._select_head_position, prepare=True)
            row = curs.fetchone()
        return int(row["head"] or 0) if row else 0

    def originators_between(self, after: int, until: int,
                            limit: int) -> list[tuple[int, UUID]]:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(self._select_originators, (after, until, limit), prepare=True)
            return [(r["notification_id"], UUID(str(r["originator_id"])))
                    for r in curs.fetchall()]

    def events_of(self, originator_ids: Sequence[UUID]) -> dict[UUID, list[StoredEvent]]:
        """Every event of each of these aggregates, in one query (and one try)."""
        found: dict[UUID, list[StoredEvent]] = {}
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(self._select_events_of, (list(originator_ids),), prepare=True)
            for row in curs.fetchall():
                originator_id = UUID(str(row["originator_id"]))
                found.setdefault(originator_id, []).append(StoredEvent(
                    originator_id, row["originator_version"], row["topic"], bytes(row["state"])))
        return found

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

