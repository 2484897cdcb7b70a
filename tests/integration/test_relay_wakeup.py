"""The relay wakes when PostgreSQL announces a commit; its slow poll is only the fallback."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from kafka import KafkaConsumer, TopicPartition

from adapters.event_log.kafka_relay import LogAppendedSignal, appended_channel, kafka_topic
from tests.builders import a_cause, a_registration
from tests.integration.conftest import Pipeline

pytestmark = pytest.mark.services
SLOW_FALLBACK_SECONDS = 5.0
PROMPTLY_SECONDS = 2.0  # well under the fallback poll, so only a notification explains it
ARRIVAL_TIMEOUT_SECONDS = 15.0


class RunningRelay:
    """A relay in its own thread, and a Kafka reader of the identity topic it publishes to."""

    def __init__(self, pipeline: Pipeline, appended: LogAppendedSignal,
                 fallback_poll_seconds: float) -> None:
        settings = pipeline.settings
        self.pipeline = pipeline
        self.relay = pipeline.relay(appended=appended, fallback_poll_seconds=fallback_poll_seconds)
        self.thread = threading.Thread(target=self.relay.run_forever, daemon=True)
        self.consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap,
                                      enable_auto_commit=False, fetch_max_wait_ms=50)
        partition = TopicPartition(kafka_topic(settings.namespace, "identity"), 0)
        self.consumer.assign([partition])
        self.consumer.seek_to_beginning(partition)

    def register(self) -> str:
        """Commit a registration; the id Kafka records of it carry."""
        outcome = self.pipeline.writer.execute(a_registration(), a_cause())
        return str(outcome.result.user_id)

    def seconds_until_relayed(self, aggregate_id: str) -> float:
        started = time.monotonic()
        while time.monotonic() - started < ARRIVAL_TIMEOUT_SECONDS:
            for records in self.consumer.poll(timeout_ms=50).values():
                if any(json.loads(r.value)["aggregate_id"] == aggregate_id for r in records):
                    return time.monotonic() - started
        raise AssertionError(f"{aggregate_id} never reached Kafka")

    def warmed_up(self) -> None:
        """The producer is connected and the relay has gone idle, waiting."""
        self.seconds_until_relayed(self.register())
        time.sleep(0.5)

    def stop(self) -> None:
        self.relay.stopping.set()
        self.thread.join(timeout=SLOW_FALLBACK_SECONDS + 5)
        self.consumer.close()


@pytest.fixture
def running(pipeline: Pipeline) -> Iterator[Callable[..., RunningRelay]]:
    started: list[RunningRelay] = []

    def start(appended: LogAppendedSignal, fallback_poll_seconds: float) -> RunningRelay:
        relay = RunningRelay(pipeline, appended, fallback_poll_seconds)
        relay.thread.start()
        started.append(relay)
        return relay

    yield start
    for relay in started:
        relay.stop()


def test_a_commit_reaches_kafka_well_before_the_fallback_poll(
    pipeline: Pipeline, running: Callable[..., RunningRelay],
) -> None:
    settings = pipeline.settings
    relay = running(LogAppendedSignal.for_database(settings.database_url or "",
                                                   settings.namespace), SLOW_FALLBACK_SECONDS)
    relay.warmed_up()
    delays = [relay.seconds_until_relayed(relay.register()) for _ in range(3)]
    assert max(delays) < PROMPTLY_SECONDS, delays


def test_without_notifications_the_fallback_poll_still_relays_everything(
    pipeline: Pipeline, running: Callable[..., RunningRelay],
) -> None:
    settings = pipeline.settings
    deaf = LogAppendedSignal.for_database(settings.database_url or "", "nobody_appends_here")
    relay = running(deaf, 1.0)
    relay.warmed_up()
    assert relay.seconds_until_relayed(relay.register()) < 1.0 + PROMPTLY_SECONDS


def test_a_broken_listening_connection_is_replaced(
    pipeline: Pipeline, running: Callable[..., RunningRelay],
) -> None:
    settings = pipeline.settings
    url = settings.database_url or ""
    listeners: list[psycopg.Connection[Any]] = []

    def connect() -> psycopg.Connection[Any]:
        listeners.append(psycopg.connect(url, autocommit=True))
        return listeners[-1]

    relay = running(LogAppendedSignal(connect, appended_channel(settings.namespace)),
                    SLOW_FALLBACK_SECONDS)
    relay.warmed_up()
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (listeners[-1].info.backend_pid,))

    # the relay notices at its next wait, relays by polling, then listens again
    assert relay.seconds_until_relayed(relay.register()) < SLOW_FALLBACK_SECONDS * 2 + 1
    relay.warmed_up()
    assert len(listeners) == 2
    assert relay.seconds_until_relayed(relay.register()) < PROMPTLY_SECONDS
