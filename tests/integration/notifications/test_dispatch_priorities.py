"""Dispatchers by priority class on the real Kafka (`parley dispatch --priorities`): a process
told critical and high dispatches those and never even consumes the normal and bulk topics,
which a process told normal and bulk dispatches; so urgent work has a writer and an event
loop of its own."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import SecretStr

from adapters.notifications.kafka_queue import KafkaDispatchQueue, ensure_dispatch_topics
from commands.notifications.dispatch import StartDispatches
from commands.notifications.dispatcher import DispatchJob
from event_log.log import EventLog
from parley.notification_engine import NotificationEngine
from parley.production import dispatching_engine
from parley.settings import Settings
from parley.signing_keys import generate_key

pytestmark = pytest.mark.services

WAIT_SECONDS = 30.0


class StartedDispatches:
    """The write side as a dispatcher sees it: records which notifications each
    `StartDispatches` was for, and starts no delivery (so nothing is sent)."""

    def __init__(self) -> None:
        self.notification_ids: set[uuid.UUID] = set()
        self._lock = threading.Lock()

    def execute(self, command: Any, _cause: Any) -> Any:
        if isinstance(command, StartDispatches):
            with self._lock:
                self.notification_ids.update(command.notification_ids)
        return SimpleNamespace(result=None)

    def seen(self) -> set[uuid.UUID]:
        with self._lock:
            return set(self.notification_ids)


def eventually(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {WAIT_SECONDS} s: {what}")
        time.sleep(0.05)


def jobs(priority: str, count: int) -> list[DispatchJob]:
    return [DispatchJob(uuid.uuid4(), priority) for _ in range(count)]


def ids(*groups: list[DispatchJob]) -> set[uuid.UUID]:
    return {job.notification_id for group in groups for job in group}


@pytest.fixture
def settings(services: dict[str, str], namespace: str) -> Settings:
    ensure_dispatch_topics(services["PARLEY_KAFKA_BOOTSTRAP"], namespace)
    return Settings(kafka_bootstrap=services["PARLEY_KAFKA_BOOTSTRAP"], namespace=namespace,
                    notification_providers=None, notification_dispatch_batch=10,
                    secret_key=SecretStr(generate_key()))  # signs unsubscribe links


@pytest.fixture
def dispatchers(settings: Settings) -> Iterator[Callable[..., tuple[NotificationEngine,
                                                                      StartedDispatches]]]:
    """Starts `parley dispatch`'s engine for some priorities, as a process of its own would."""
    running: list[NotificationEngine] = []
    event_log = EventLog(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})

    def start(*priorities: str) -> tuple[NotificationEngine, StartedDispatches]:
        write_side = StartedDispatches()
        parts = dispatching_engine(settings, event_log, write_side.execute, priorities)
        parts.start()
        running.append(parts)
        return parts, write_side

    yield start
    for parts in running:
        parts.stop()
    event_log.close()


def test_urgent_dispatchers_take_critical_and_high_and_leave_normal_and_bulk_to_others(
        settings: Settings, dispatchers: Callable[..., Any]) -> None:
    feeder = KafkaDispatchQueue(settings.kafka_bootstrap or "", settings.namespace)
    critical, high, normal, bulk = (jobs("critical", 5), jobs("high", 5), jobs("normal", 5),
                                    jobs("bulk", 25))
    try:
        feeder.put(bulk + normal + critical + high)
    finally:
        feeder.close()

    urgent, urgent_writes = dispatchers("critical", "high")
    eventually(lambda: urgent_writes.seen() >= ids(critical, high),
               "the urgent dispatchers started every critical and high notification")
    time.sleep(1.0)  # time enough to have taken some bulk, were it asking for any
    assert urgent_writes.seen() == ids(critical, high)
    assert set(urgent.queue.assigned()) == {"critical", "high"}  # type: ignore[attr-defined]

    others, other_writes = dispatchers("normal", "bulk")
    eventually(lambda: other_writes.seen() >= ids(normal, bulk),
               "the other process started every normal and bulk notification")
    assert other_writes.seen() == ids(normal, bulk)
    assert urgent_writes.seen() == ids(critical, high)
    assert set(others.queue.assigned()) == {"normal", "bulk"}  # type: ignore[attr-defined]
