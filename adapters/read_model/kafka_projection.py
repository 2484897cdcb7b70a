"""Projectors fed from Kafka: a consumer group whose offsets are committed after the writes."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Mapper, StoredEvent
from kafka import KafkaConsumer
from kafka.errors import FencedInstanceIdError

from adapters.event_log.kafka_clients import RECONNECT_BACKOFF_MAX_MS
from adapters.event_log.kafka_topics import subscribe_known
from commands.processes.outages import Outage
from projections.read_model.events import PositionedEvent
from projections.read_model.retries import RetryWithBackoff
from projections.read_model.runner import ProjectionWriter, Projector

log = logging.getLogger(__name__)


def new_consumer(bootstrap: str, group_id: str, topics: list[str],
                 instance_id: str | None = None) -> KafkaConsumer:
    """A consumer of `topics` in `group_id`; with `instance_id`, a static member of the group.

    A static member that restarts (after a crash too) takes its partitions back at once under
    the same id: a dynamic one waits for the dead member's session to time out (10 s) first.
    Only one live consumer of a group may use an id: a second one fences the first.
    """
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=group_id,
        group_instance_id=instance_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=1000,
        session_timeout_ms=10000,
        heartbeat_interval_ms=2000,
        reconnect_backoff_max_ms=RECONNECT_BACKOFF_MAX_MS,
    )
    subscribe_known(consumer, topics)
    return consumer


class KafkaUnreachable(Exception):
    """The consumer has lost its group's coordinator: Kafka is away (kafka-python retries)."""


def coordinator_known(consumer: KafkaConsumer) -> bool:
    """Whether the consumer knows its group's coordinator (False while Kafka is away).

    kafka-python hides a broker outage from `poll` (it answers nothing and reconnects); this
    reads its coordinator's state, a private attribute: a version without it answers True.
    """
    coordinator = getattr(consumer, "_coordinator", None)
    unknown = getattr(coordinator, "coordinator_unknown", None)
    return unknown is None or not unknown()


def decode(record_value: dict[str, Any], mapper: Mapper) -> PositionedEvent:  # type: ignore[type-arg]
    stored = StoredEvent(
        originator_id=UUID(record_value["aggregate_id"]),
        originator_version=int(record_value["aggregate_version"]),
        topic=record_value["type"],
        state=record_value["state"].encode("utf-8"),
    )
    return PositionedEvent(int(record_value["position"]), mapper.to_domain_event(stored))


def projectors_by_topic(topic_of: Mapping[str, str],
                        projectors: Iterable[Projector]) -> dict[str, list[Projector]]:
    """Several projectors may read one context's topic (e.g. users, devices and contacts)."""
    by_topic: dict[str, list[Projector]] = {}
    for projector in projectors:
        by_topic.setdefault(topic_of[projector.name], []).append(projector)
    return by_topic


class KafkaProjectionRunner:
    def __init__(
        self, consumer_factory: Any, writer: ProjectionWriter,
        projectors_of_topic: Mapping[str, Sequence[Projector]],
        mapper: Mapper,  # type: ignore[type-arg]
    ) -> None:
        self._consumer_factory = consumer_factory
        self._writer = writer
        self._projectors_of_topic = projectors_of_topic
        self._mapper = mapper
        self.stopping = threading.Event()

    def run_forever(self) -> None:
        """Projects until stopped; while a service is away, retries with backoff, never skips."""
        consumer: KafkaConsumer | None = None
        outage = Outage(log, "projecting from Kafka")
        joined = False  # the consumer has found its coordinator once (not lost it yet)

        def project() -> bool:
            nonlocal consumer, joined
            if consumer is None:
                consumer, joined = self._consumer_factory(), False
            self.project_once(consumer)
            if coordinator_known(consumer):
                joined = True
                outage.recovered()
            elif joined:  # polls answer nothing while Kafka is away: say so, once
                outage.failed(KafkaUnreachable("the group coordinator is unknown"))
            return True  # the poll waited for records already

        def failed(error: Exception) -> None:
            nonlocal consumer
            if isinstance(error, FencedInstanceIdError):
                log.error("another projector joined with this PARLEY_PROJECTOR_INSTANCE_ID; "
                          "give each projector process of a namespace its own")
            outage.failed(error)
            if consumer is not None:
                self._close_quietly(consumer)
                consumer = None

        RetryWithBackoff(self.stopping, failed).run(project)
        if consumer is not None:
            self._close_quietly(consumer)

    @staticmethod
    def _close_quietly(consumer: KafkaConsumer) -> None:
        try:
            consumer.close(autocommit=False)
        except Exception:  # closing a consumer whose broker is gone
            log.debug("consumer close failed", exc_info=True)

    def project_once(self, consumer: KafkaConsumer) -> int:
        batches = consumer.poll(timeout_ms=500, max_records=1000)
        count = 0
        names = [p.name for t in batches for p in self._projectors_of_topic[t.topic]]
        with self._writer.batch(names):  # every projection of the poll written together
            for partition, records in batches.items():
                events = [decode(json.loads(r.value), self._mapper) for r in records]
                for projector in self._projectors_of_topic[partition.topic]:
                    self._writer.project(projector, events, max(e.position for e in events))
                count += len(events)
        if count:
            consumer.commit()
        return count
