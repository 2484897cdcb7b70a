"""Reads the event log for auditors: by position, and one aggregate's events with positions.

The library reads an aggregate's events without their log positions, so that one query is ours,
written for the two recorders Parley uses (and their subclasses).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import Notification
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder
from psycopg.sql import SQL, Identifier

from commands.audit.entries import LoggedEvent
from event_log.log import EventLog


class AuditLogReader:
    def __init__(self, log: EventLog) -> None:
        self._log = log
        self._recorder = log.recorder

    def head(self) -> int:
        return self._recorder.max_notification_id() or 0

    def events(self, after: int, limit: int, upto: int | None = None,
               topics: Sequence[str] = ()) -> list[LoggedEvent]:
        """Events at positions after `after` (up to `upto`, inclusive), oldest first."""
        notifications = self._recorder.select_notifications(
            start=after, limit=limit, stop=upto, topics=list(topics), inclusive_of_start=False)
        return [self._decoded(n) for n in notifications]

    def aggregate_events(self, aggregate_id: UUID, after_version: int,
                         limit: int) -> list[LoggedEvent]:
        """One aggregate's events after a version, oldest first, each with its log position."""
        if isinstance(self._recorder, PostgresApplicationRecorder):
            rows = self._postgres_rows(aggregate_id, after_version, limit)
        elif isinstance(self._recorder, SQLiteApplicationRecorder):
            rows = self._sqlite_rows(aggregate_id, after_version, limit)
        else:
            raise TypeError(f"no audit reader for {type(self._recorder).__name__}")
        return [self._decoded(Notification(
            id=int(row["position"]), originator_id=aggregate_id,
            originator_version=int(row["originator_version"]), topic=str(row["topic"]),
            state=bytes(row["state"]))) for row in rows]

    def aggregate_at(self, aggregate_id: UUID, version: int | None) -> Any | None:
        """The aggregate at exactly `version` (None: now), or None if it never reached it."""
        try:
            aggregate: Any = self._log.repository.get(aggregate_id, version=version)
        except AggregateNotFoundError:
            return None
        return aggregate if version is None or aggregate.version == version else None

    def _decoded(self, notification: Notification) -> LoggedEvent:
        return LoggedEvent(notification.id, self._log.mapper.to_domain_event(notification))

    def _postgres_rows(self, aggregate_id: UUID, after_version: int,
                       limit: int) -> list[Any]:
        recorder = self._recorder
        assert isinstance(recorder, PostgresApplicationRecorder)
        statement = SQL(
            "SELECT notification_id AS position, originator_version, topic, state "
            "FROM {schema}.{table} WHERE originator_id = %s AND originator_version > %s "
            "ORDER BY originator_version LIMIT %s"
        ).format(schema=Identifier(recorder.datastore.schema),
                 table=Identifier(recorder.events_table_name))
        with recorder.datastore.get_connection() as connection, connection.cursor() as cursor:
            cursor.execute(statement, (aggregate_id, after_version, limit))
            return list(cursor.fetchall())

    def _sqlite_rows(self, aggregate_id: UUID, after_version: int, limit: int) -> list[Any]:
        recorder = self._recorder
        assert isinstance(recorder, SQLiteApplicationRecorder)
        statement = (
            "SELECT rowid AS position, originator_version, topic, state "
            f"FROM {recorder.events_table_name} WHERE originator_id = ? "
            "AND originator_version > ? ORDER BY originator_version LIMIT ?"
        )
        with recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute(statement, (aggregate_id.hex, after_version, limit))
            return list(cursor.fetchall())
