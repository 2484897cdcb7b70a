"""Store once, then relay: publishes the log to Kafka in order, resuming from PostgreSQL.

At-least-once: the position is recorded only after Kafka acknowledged the batch (acks=all,
idempotent producer), so a crash between the two republishes, and projectors, which are
idempotent, make the duplicate a no-op.

The relay wakes as soon as a transaction appending events commits (PostgreSQL LISTEN/NOTIFY,
migration 0006), and also reads every `fallback_poll_seconds`, so a lost notification or a
lost listening connection delays events, never strands them.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import psycopg
from eventsourcing.persistence import Notification
from kafka import KafkaProducer
from psycopg import sql
from psycopg_pool import ConnectionPool

from adapters.event_log.kafka_clients import RECONNECT_BACKOFF_MAX_MS
from commands.processes.outages import Outage
from event_log.log import EventLog
from projections.read_model.events import PositionedEvent
from projections.read_model.retries import RetryWithBackoff

log = logging.getLogger(__name__)

RELAY_NAME = "kafka"
PUBLISH_TIMEOUT_SECONDS = 20.0
FALLBACK_POLL_SECONDS = 1.0


# A stored event's topic (`domain.identity.users:User.Registered`, or the topic it was stored
# under before its module moved) -> the context topic it is published on; None: it stays in
# the event log only. Built by the composition root from the contexts' manifests.
ContextOf = Callable[[str], str | None]


def kafka_topic(namespace: str, context: str) -> str:
    return f"{namespace}.{context}"


def envelope(notification: Notification, event: Any) -> dict[str, Any]:
    """What a Kafka record carries: the event's metadata, and its stored state to decode."""
    return {
        "position": notification.id,
        "event_id": str(event.event_id),
        "aggregate_id": str(notification.originator_id),
        "aggregate_version": notification.originator_version,
        "type": notification.topic,
        "schema_version": getattr(type(event), "class_version", 1),
        "timestamp": event.timestamp.isoformat(),
        "actor_id": str(event.actor_id),
        "correlation_id": str(event.correlation_id),
        "causation_id": str(event.causation_id) if event.causation_id else None,
        "state": notification.state.decode("utf-8"),
    }


def new_producer(bootstrap: str) -> KafkaProducer:
    # The relay flushes each batch it read and waits for the acks, so lingering would only add
    # latency; a batch of up to 1000 events goes out in a few large requests per partition.
    return KafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=0,
        batch_size=512 * 1024,
        max_block_ms=5000,
        request_timeout_ms=5000,
        retries=5,
        reconnect_backoff_max_ms=RECONNECT_BACKOFF_MAX_MS,
    )


def appended_channel(schema: str) -> str:
    """Where a schema's event log announces commits (the trigger of migration 0006)."""
    return f"{schema}.events_appended"


class LogAppendedSignal:
    """Commits that appended events, heard on a dedicated LISTEN connection.

    PostgreSQL sends a notification only when the appending transaction commits, so whatever
    is announced is already readable.
    """

    def __init__(self, connect: Callable[[], psycopg.Connection[Any]], channel: str) -> None:
        self._connect = connect
        self._channel = channel
        self._connection: psycopg.Connection[Any] | None = None

    @classmethod
    def for_database(cls, database_url: str, schema: str) -> LogAppendedSignal:
        return cls(lambda: psycopg.connect(database_url, autocommit=True, connect_timeout=5),
                   appended_channel(schema))

    def listen(self) -> None:
        """Listen from now on; commits announced before the next `wait` are not missed."""
        if self._connection is None:
            connection = self._connect()
            try:
                connection.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self._channel)))
            except BaseException:
                connection.close()
                raise
            self._connection = connection

    def wait(self, timeout: float) -> bool:
        """Block until a commit is announced (True) or `timeout` seconds pass (False)."""
        self.listen()
        assert self._connection is not None
        announced = False
        for _ in self._connection.notifies(timeout=timeout, stop_after=1):
            announced = True
        # Commits announced meanwhile are all covered by the one read that follows.
        for _ in self._connection.notifies(timeout=0):
            pass
        return announced

    def close(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):
                self._connection.close()
            self._connection = None


class KafkaRelay:
    def __init__(
        self, event_log: EventLog, producer_factory: Any, pool: ConnectionPool,
        namespace: str, *, context_of: ContextOf, batch_size: int = 1000,
        appended: LogAppendedSignal | None = None,
        fallback_poll_seconds: float = FALLBACK_POLL_SECONDS,
        on_read: Callable[[Sequence[PositionedEvent], int, int], None] | None = None,
    ) -> None:
        self._log = event_log
        self._producer_factory = producer_factory
        self._producer: KafkaProducer | None = None
        self._pool = pool
        self._namespace = namespace
        self._context_of = context_of
        self._batch_size = batch_size
        self._appended = appended
        self._fallback_poll_seconds = fallback_poll_seconds
        self._on_read = on_read
        self.stopping = threading.Event()

    def position(self) -> int:
        with self._pool.connection() as connection:
            row = connection.execute(
                "SELECT position FROM relay_progress WHERE relay = %s", (RELAY_NAME,)
            ).fetchone()
        return int(row[0]) if row else 0

    def relay_once(self) -> int:
        """Publish the next batch and record it; returns how many events it held."""
        after = self.position()
        notifications = self._log.recorder.select_notifications(
            start=after + 1, limit=self._batch_size
        )
        if not notifications:
            return 0
        published = self._publish(notifications, after)
        self._record(notifications[-1].id, published.items())
        return len(notifications)

    def _publish(self, notifications: Sequence[Notification], after: int) -> dict[str, int]:
        """Sends the batch to Kafka and waits for the acks. Meanwhile `on_read` hears of the
        events: they are committed, so live sockets may have them before the projections."""
        if self._producer is None:
            self._producer = self._producer_factory()
        producer = self._producer
        futures = []
        published: dict[str, int] = {}
        events: list[PositionedEvent] = []
        for notification in notifications:
            context = self._context_of(notification.topic)
            if context is None:
                continue
            topic = kafka_topic(self._namespace, context)
            event = self._log.mapper.to_domain_event(notification)
            futures.append(producer.send(
                topic, key=str(notification.originator_id).encode(),
                value=json.dumps(envelope(notification, event)).encode(),
            ))
            published[topic] = notification.id
            events.append(PositionedEvent(notification.id, event))
        if self._on_read is not None:
            self._on_read(events, after, notifications[-1].id)
        deadline = time.monotonic() + PUBLISH_TIMEOUT_SECONDS
        producer.flush(timeout=PUBLISH_TIMEOUT_SECONDS)
        for future in futures:  # raises if Kafka did not acknowledge in time
            future.get(timeout=max(0.1, deadline - time.monotonic()))
        return published

    def _record(self, position: int, topics: Iterable[tuple[str, int]]) -> None:
        with self._pool.connection() as connection, connection.transaction():
            connection.execute(
                "INSERT INTO relay_progress (relay, position) VALUES (%s, %s) "
                "ON CONFLICT (relay) DO UPDATE SET position = GREATEST("
                "relay_progress.position, EXCLUDED.position)",
                (RELAY_NAME, position),
            )
            for topic, topic_position in topics:
                connection.execute(
                    "INSERT INTO relay_topic_progress (topic, position) VALUES (%s, %s) "
                    "ON CONFLICT (topic) DO UPDATE SET position = GREATEST("
                    "relay_topic_progress.position, EXCLUDED.position)",
                    (topic, topic_position),
                )

    def run_forever(self) -> None:
        """Relays until stopped; while Kafka or PostgreSQL is away, retries with backoff."""
        outage = Outage(log, "relaying the log to Kafka")

        def relay() -> bool:
            self._start_listening()
            processed = self.relay_once()
            outage.recovered()
            return processed > 0

        def failed(error: Exception) -> None:
            outage.failed(error)
            self._reset_producer()

        try:
            RetryWithBackoff(self.stopping, failed).run(relay, self._wait_for_appends)
        finally:
            self._reset_producer()
            if self._appended is not None:
                self._appended.close()

    def _start_listening(self) -> None:
        """Before reading, so that a commit after the read wakes the wait that follows it."""
        if self._appended is None:
            return
        try:
            self._appended.listen()
        except Exception as error:  # noqa: BLE001 - polling still relays everything
            log.debug("cannot listen for appended events yet (%s)", type(error).__name__)
            self._appended.close()

    def _wait_for_appends(self) -> None:
        """Until a commit is announced, or at most the fallback poll interval."""
        if self._appended is None:
            self.stopping.wait(self._fallback_poll_seconds)
            return
        try:
            self._appended.wait(self._fallback_poll_seconds)
        except Exception as error:  # noqa: BLE001 - the listening connection broke
            log.warning("lost the appended-events listener (%s); polling until it is back",
                        type(error).__name__)
            self._appended.close()
            self.stopping.wait(self._fallback_poll_seconds)

    def _reset_producer(self) -> None:
        if self._producer is not None:
            try:
                self._producer.close(timeout=2)
            except Exception:  # closing a broken producer: whatever it raises, it is gone
                log.debug("producer close failed", exc_info=True)
            self._producer = None
