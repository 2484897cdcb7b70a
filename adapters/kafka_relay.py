"""Store once, then relay: publishes the log to Kafka in order, resuming from PostgreSQL.

At-least-once: the position is recorded only after Kafka acknowledged the batch (acks=all,
idempotent producer), so a crash between the two republishes, and projectors, which are
idempotent, make the duplicate a no-op.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterable
from typing import Any

from eventsourcing.persistence import Notification
from kafka import KafkaProducer
from psycopg_pool import ConnectionPool

from commands.log import EventLog

log = logging.getLogger(__name__)

# A module not listed is never relayed: domain.accounts (password hashes, refresh-token digests)
# and domain.receipts stay in the event log only.
CONTEXT_OF_MODULE = {
    "domain.users": "identity",
    "domain.devices": "identity",
    "domain.contacts": "identity",
    "domain.conversations": "messaging",
    "domain.messages": "messaging",
    "domain.read_markers": "messaging",
    "domain.attachments": "messaging",
}
RELAY_NAME = "kafka"
PUBLISH_TIMEOUT_SECONDS = 20.0


def context_of(event_topic: str) -> str | None:
    """The bounded context an event belongs to, from its class's module; None: not relayed."""
    return CONTEXT_OF_MODULE.get(event_topic.split(":", 1)[0])


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
    return KafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=2,
        max_block_ms=5000,
        request_timeout_ms=5000,
        retries=5,
    )


class KafkaRelay:
    def __init__(
        self, event_log: EventLog, producer_factory: Any, pool: ConnectionPool,
        namespace: str, batch_size: int = 1000,
    ) -> None:
        self._log = event_log
        self._producer_factory = producer_factory
        self._producer: KafkaProducer | None = None
        self._pool = pool
        self._namespace = namespace
        self._batch_size = batch_size
        self.stopping = threading.Event()

    def position(self) -> int:
        with self._pool.connection() as connection:
            row = connection.execute(
                "SELECT position FROM relay_progress WHERE relay = %s", (RELAY_NAME,)
            ).fetchone()
        return int(row[0]) if row else 0

    def relay_once(self) -> int:
        """Publish the next batch and record it; returns how many events it held."""
        notifications = self._log.recorder.select_notifications(
            start=self.position() + 1, limit=self._batch_size
        )
        if not notifications:
            return 0
        published = self._publish(notifications)
        self._record(notifications[-1].id, published.items())
        return len(notifications)

    def _publish(self, notifications: list[Notification]) -> dict[str, int]:
        if self._producer is None:
            self._producer = self._producer_factory()
        producer = self._producer
        futures = []
        published: dict[str, int] = {}
        for notification in notifications:
            context = context_of(notification.topic)
            if context is None:
                continue
            topic = kafka_topic(self._namespace, context)
            event = self._log.mapper.to_domain_event(notification)
            futures.append(producer.send(
                topic, key=str(notification.originator_id).encode(),
                value=json.dumps(envelope(notification, event)).encode(),
            ))
            published[topic] = notification.id
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

    def run_forever(self, idle_seconds: float = 0.05) -> None:
        backoff = 0.5
        while not self.stopping.is_set():
            try:
                processed = self.relay_once()
                backoff = 0.5
            except Exception as error:  # noqa: BLE001 - Kafka or PostgreSQL away: retry
                log.warning("relay batch failed (%s); retrying in %.1fs",
                            type(error).__name__, backoff)
                self._reset_producer()
                self.stopping.wait(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            if not processed:
                self.stopping.wait(idle_seconds)
        self._reset_producer()

    def _reset_producer(self) -> None:
        if self._producer is not None:
            try:
                self._producer.close(timeout=2)
            except Exception:  # noqa: BLE001 - closing a broken producer
                log.debug("producer close failed", exc_info=True)
            self._producer = None
