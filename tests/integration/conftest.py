"""Fixtures shared by the integration tests: event logs, the writers on them, the database,
and the production pipeline (PostgreSQL, Kafka, Elasticsearch, Redis)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from psycopg_pool import ConnectionPool

from adapters.event_log.kafka_relay import KafkaRelay, new_producer
from adapters.read_model.elasticsearch_read_store import ElasticsearchReadStore
from adapters.read_model.kafka_projection import (
    KafkaProjectionRunner,
    new_consumer,
    projectors_by_topic,
)
from adapters.read_model.redis_cache import RedisCache
from event_log.log import EventLog
from event_log.outcomes import Handler
from event_log.writer import GroupCommitWriter
from migrations.runner import migrate
from parley.bootstrap import HANDLERS, event_log_env, projectors
from parley.contexts import relay_map
from parley.production import migrate_all, progress_pool, read_store, topic_of_projection
from parley.settings import Settings
from projections.read_model.runner import ProjectionWriter
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


@dataclass
class Pipeline:
    """The production profile on the test's namespace: a writer on the PostgreSQL log, and
    relays to Kafka and projection runners into Elasticsearch made on demand."""

    settings: Settings
    log: EventLog
    writer: GroupCommitWriter
    store: ElasticsearchReadStore

    def relay(self, **options: Any) -> KafkaRelay:
        return KafkaRelay(self.log, lambda: new_producer(self.settings.kafka_bootstrap or ""),
                          progress_pool(self.settings), self.settings.namespace,
                          context_of=relay_map(), **options)

    def projection_runner(self) -> KafkaProjectionRunner:
        by_topic = projectors_by_topic(topic_of_projection(self.settings), projectors())
        cache = RedisCache(self.settings.redis_url or "", self.settings.namespace, 30)
        return KafkaProjectionRunner(
            lambda: new_consumer(self.settings.kafka_bootstrap or "",
                                 f"{self.settings.namespace}-projectors", list(by_topic)),
            ProjectionWriter(self.store, cache), by_topic, self.log.mapper,
        )


@pytest.fixture
def pipeline(services: dict[str, str], namespace: str) -> Iterator[Pipeline]:
    settings = Settings(database_url=services["PARLEY_DATABASE_URL"],
                        kafka_bootstrap=services["PARLEY_KAFKA_BOOTSTRAP"],
                        elasticsearch_url=services["PARLEY_ELASTICSEARCH_URL"],
                        redis_url=services["PARLEY_REDIS_URL"], namespace=namespace)
    migrate_all(settings)
    store = read_store(settings)
    log = EventLog(env=event_log_env(settings))
    writer = GroupCommitWriter(log, HANDLERS)
    writer.start()
    yield Pipeline(settings, log, writer, store)
    writer.stop()
    log.close()
    store._client.indices.delete(index=f"{namespace}-*")
    store.close()


def project_until_quiet(runner: KafkaProjectionRunner, quiet_seconds: float = 3.0) -> int:
    """Projects until nothing has arrived for `quiet_seconds`; returns the events consumed."""
    consumer = runner._consumer_factory()
    consumed, last_seen = 0, time.monotonic()
    try:
        while time.monotonic() - last_seen < quiet_seconds:
            got = runner.project_once(consumer)
            if got:
                consumed, last_seen = consumed + got, time.monotonic()
    finally:
        consumer.close()
    return consumed
