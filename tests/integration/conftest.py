"""Fixtures shared by the integration tests: event logs, the writers on them, the database."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from psycopg_pool import ConnectionPool

from event_log.log import EventLog
from event_log.outcomes import Handler
from event_log.writer import GroupCommitWriter
from migrations.runner import migrate
from parley.bootstrap import HANDLERS, event_log_env
from parley.settings import Settings
from tests.builders import embedded_log_env

BATCHING_LINGER_SECONDS = 0.005  # long enough for concurrent commands to share a commit

StartWriter = Callable[..., GroupCommitWriter]


@pytest.fixture
def event_log(tmp_path: Path) -> Iterator[EventLog]:
    """A fresh embedded (SQLite) event log; a module about PostgreSQL overrides it."""
    log = EventLog(env=embedded_log_env(tmp_path))
    yield log
    log.close()


@pytest.fixture
def start_writer(event_log: EventLog) -> Iterator[StartWriter]:
    """Starts a group-commit writer on the test's `event_log` (with every handler unless told
    otherwise, and the writer's own options); each is stopped before the log is closed."""
    started: list[GroupCommitWriter] = []

    def start(handlers: Mapping[type, Handler] = HANDLERS, **options: Any) -> GroupCommitWriter:
        writer = GroupCommitWriter(event_log, handlers, **options)
        writer.start()
        started.append(writer)
        return writer

    yield start
    for writer in reversed(started):
        writer.stop()


@pytest.fixture
def writer(start_writer: StartWriter) -> GroupCommitWriter:
    """The writer with every handler, lingering so that concurrent commands are batched."""
    return start_writer(linger_seconds=BATCHING_LINGER_SECONDS)


@pytest.fixture
def database_url(services: dict[str, str]) -> str:
    return services["PARLEY_DATABASE_URL"]


@pytest.fixture
def open_postgres_log(database_url: str, namespace: str) -> Iterator[Callable[..., EventLog]]:
    """Opens the test namespace's PostgreSQL event log, migrated first, with these settings;
    each is closed after the test."""
    opened: list[EventLog] = []

    def open_log(**settings: Any) -> EventLog:
        migrate(database_url, namespace)
        opened.append(EventLog(env=event_log_env(Settings(
            database_url=database_url, namespace=namespace, **settings))))
        return opened[-1]

    yield open_log
    for log in reversed(opened):
        log.close()


@pytest.fixture
def namespace_pool(database_url: str, namespace: str) -> Iterator[ConnectionPool]:
    """Connections to the test namespace's migrated schema (its search path); the schema is
    dropped afterwards."""
    migrate(database_url, namespace)
    pool = ConnectionPool(database_url, min_size=1, max_size=4, open=True, kwargs={
        "options": f"-c search_path={namespace}", "autocommit": True})
    yield pool
    with pool.connection() as connection:
        connection.execute(f"DROP SCHEMA {namespace} CASCADE")
    pool.close()
