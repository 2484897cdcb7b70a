"""The production dispatch queue on the real Kafka: jobs come back most urgent first, a backlog
stays in Kafka (each priority's buffer is bounded), dispatchers in one group share the jobs, a
job handed out is not handed out again while one only buffered is, and closing is prompt."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kafka.errors import KafkaError

from adapters.notifications.kafka_queue import (
    PARTITIONS,
    KafkaDispatchQueue,
    dispatch_topic,
    ensure_dispatch_topics,
)
from commands.notifications.dispatcher import DispatchJob
from domain.notifications.channels import PRIORITIES
from parley.launcher import free_port

pytestmark = pytest.mark.services

WAIT_SECONDS = 20.0


def eventually(check: Callable[[], Any], timeout: float = WAIT_SECONDS) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        answer = check()
        if answer:
            return answer
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s")
        time.sleep(0.05)


def jobs(priority: str, count: int) -> list[DispatchJob]:
    return [DispatchJob(uuid.uuid4(), priority) for _ in range(count)]


class Queues:
    """Dispatch queues of one namespace (one consumer group), each closed at the end."""

    def __init__(self, bootstrap: str, namespace: str) -> None:
        self.bootstrap = bootstrap
        self.namespace = namespace
        self.opened: list[KafkaDispatchQueue] = []

    def new(self, **options: Any) -> KafkaDispatchQueue:
        queue = KafkaDispatchQueue(self.bootstrap, self.namespace, **options)
        self.opened.append(queue)
        return queue


@pytest.fixture
def queues(services: dict[str, str], namespace: str) -> Iterator[Queues]:
    bootstrap = services["PARLEY_KAFKA_BOOTSTRAP"]
    ensure_dispatch_topics(bootstrap, namespace)
    made = Queues(bootstrap, namespace)
    yield made
    for queue in made.opened:
        queue.close()


def take_all(queue: KafkaDispatchQueue, priorities: tuple[str, ...], count: int,
             max_jobs: int = 100) -> list[DispatchJob]:
    taken: list[DispatchJob] = []
    deadline = time.monotonic() + WAIT_SECONDS
    while len(taken) < count and time.monotonic() < deadline:
        taken += queue.take(priorities, max_jobs, 0.5)
    return taken


def joined(queue: KafkaDispatchQueue, *priorities: str) -> bool:
    assigned = queue.assigned()
    return all(assigned.get(p, 0) > 0 for p in priorities)


def test_the_topics_have_partitions_for_several_dispatchers(queues: Queues) -> None:
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(bootstrap_servers=queues.bootstrap)
    try:
        for priority in PRIORITIES:
            found = consumer.partitions_for_topic(dispatch_topic(queues.namespace, priority))
            assert found is not None and len(found) == PARTITIONS[priority] >= 4
    finally:
        consumer.close()
    ensure_dispatch_topics(queues.bootstrap, queues.namespace)  # again: nothing to do


def test_take_serves_the_most_urgent_asked_priority_first(queues: Queues) -> None:
    queue = queues.new()
    bulk, normal, critical = jobs("bulk", 5), jobs("normal", 5), jobs("critical", 3)
    queue.put(bulk)
    queue.put(normal)
    queue.put(critical)
    queue.take(PRIORITIES, 0, 0)  # starts the consumers
    eventually(lambda: queue.buffered() == {"critical": 3, "high": 0, "normal": 5, "bulk": 5})

    assert set(queue.take(PRIORITIES, 100, 1)) == set(critical)
    some_normal = queue.take(("normal", "bulk"), 2, 1)
    assert len(some_normal) == 2 and set(some_normal) <= set(normal)
    assert set(queue.take(("bulk",), 100, 1)) == set(bulk)  # bulk only, though normal waits
    assert set(queue.take(PRIORITIES, 100, 1)) == set(normal) - set(some_normal)


def test_take_waits_at_most_its_timeout_and_answers_a_job_as_it_arrives(queues: Queues) -> None:
    queue = queues.new()
    queue.take(("high",), 1, 0)
    eventually(lambda: joined(queue, "high"))
    started = time.monotonic()
    assert queue.take(("high",), 10, 0.5) == []
    assert 0.4 < time.monotonic() - started < 2.0

    [job] = jobs("high", 1)
    threading.Timer(0.3, queue.put, ([job],)).start()
    started = time.monotonic()
    assert queue.take(("high",), 10, 10) == [job]
    assert time.monotonic() - started < 5.0


def test_a_backlog_stays_in_kafka_each_buffer_holding_at_most_its_bound(queues: Queues) -> None:
    backlog = jobs("bulk", 2000)
    queues.new().put(backlog)
    queue = queues.new(buffer_size=20)
    queue.take(("bulk",), 0, 0)
    eventually(lambda: queue.buffered().get("bulk") == 20)
    for _ in range(10):  # polling went on: it would have buffered thousands by now
        time.sleep(0.1)
        assert queue.buffered()["bulk"] <= 20

    taken = take_all(queue, ("bulk",), len(backlog), max_jobs=10)
    assert sorted(j.notification_id for j in taken) == sorted(j.notification_id for j in backlog)


def test_two_dispatchers_in_one_group_split_the_jobs(queues: Queues) -> None:
    first, second = queues.new(), queues.new()
    first.take(("normal",), 0, 0)
    second.take(("normal",), 0, 0)
    eventually(lambda: joined(first, "normal") and joined(second, "normal")
               and first.assigned()["normal"] + second.assigned()["normal"]
               == PARTITIONS["normal"])

    expected = jobs("normal", 400)
    first.put(expected)
    taken: dict[str, list[DispatchJob]] = {"first": [], "second": []}

    def drain(name: str, queue: KafkaDispatchQueue) -> None:
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline and sum(map(len, taken.values())) < len(expected):
            taken[name] += queue.take(("normal",), 25, 0.3)

    pumps = [threading.Thread(target=drain, args=("first", first)),
             threading.Thread(target=drain, args=("second", second))]
    for pump in pumps:
        pump.start()
    for pump in pumps:
        pump.join(timeout=WAIT_SECONDS + 5)

    assert taken["first"] and taken["second"]
    everything = taken["first"] + taken["second"]
    assert sorted(j.notification_id for j in everything) == sorted(
        j.notification_id for j in expected)  # each once: no job in both


def test_a_job_handed_out_is_not_taken_again_but_one_only_buffered_is(queues: Queues) -> None:
    put = jobs("high", 10)
    queues.new().put(put)
    first = queues.new()
    first.take(("high",), 0, 0)
    eventually(lambda: first.buffered().get("high") == 10)
    handed = first.take(("high",), 4, 1)
    assert len(handed) == 4
    time.sleep(0.5)  # the polling thread commits what was handed at its next round
    first.close()

    after = queues.new()
    rest = take_all(after, ("high",), 6)
    time.sleep(0.5)
    rest += after.take(("high",), 100, 0.5)  # and nothing more comes
    assert sorted(j.notification_id for j in rest) == sorted(
        j.notification_id for j in put if j not in handed)


def test_closing_stops_the_consumers_promptly(queues: Queues) -> None:
    queue = queues.new()
    queue.take(PRIORITIES, 0, 0)
    eventually(lambda: joined(queue, *PRIORITIES))
    started = time.monotonic()
    queue.close()
    assert time.monotonic() - started < 10
    assert not [t for t in threading.enumerate() if t.name.startswith("dispatch-queue-")]
    assert queue.take(PRIORITIES, 10, 5) == []


def test_put_fails_within_its_bound_when_kafka_is_away(queues: Queues) -> None:
    """The feeder then records no position and feeds the same jobs again later."""
    queue = KafkaDispatchQueue(f"127.0.0.1:{free_port()}", queues.namespace)
    started = time.monotonic()
    with pytest.raises(KafkaError):
        queue.put(jobs("critical", 1))
    assert time.monotonic() - started < 10
    queue.close()
