"""The production profile's dispatch queue: one Kafka topic per priority, shared by every
dispatcher process through one consumer group."""

from __future__ import annotations

import collections
import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final
from uuid import UUID

from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError
from kafka.structs import OffsetAndMetadata, TopicPartition

from adapters.event_log.kafka_clients import RECONNECT_BACKOFF_MAX_MS
from adapters.event_log.kafka_topics import subscribe_known
from commands.notifications.dispatcher import DispatchJob
from commands.processes.outages import Outage
from domain.notifications.channels import BULK, CRITICAL, HIGH, NORMAL, PRIORITIES

log = logging.getLogger(__name__)

# enough partitions for several dispatcher processes to share each priority's work
PARTITIONS: Final = {CRITICAL: 4, HIGH: 4, NORMAL: 8, BULK: 8}
SEND_TIMEOUT_SECONDS: Final = 10.0  # put() raises after this, so the feeder retries later
POLL_MS: Final = 200


def dispatch_topic(namespace: str, priority: str) -> str:
    return f"{namespace}.notifications.dispatch.{priority}"


def dispatch_group(namespace: str, priority: str) -> str:
    """One consumer group per priority: a member joining or leaving one priority's group
    (a process starting, a bulk lane's consumer restarting) rebalances only that priority, so
    critical jobs never stop for a bulk rebalance, and the lanes of a new process join their
    groups side by side, not one cascade of rebalances of one shared group."""
    return f"{namespace}-dispatchers-{priority}"


def ensure_dispatch_topics(bootstrap: str, namespace: str) -> None:
    """The four topics, with their partitions (idempotent; migrate_all calls it)."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
    try:
        existing = set(admin.list_topics())
        missing = [NewTopic(dispatch_topic(namespace, p), num_partitions=PARTITIONS[p],
                            replication_factor=1)
                   for p in PRIORITIES if dispatch_topic(namespace, p) not in existing]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):  # another process made them
                admin.create_topics(missing)
    finally:
        admin.close()


def encode(job: DispatchJob) -> bytes:
    return json.dumps({"notification_id": str(job.notification_id),
                       "priority": job.priority}).encode()


def decode(value: bytes) -> DispatchJob:
    record = json.loads(value)
    priority = record["priority"]
    if priority not in PRIORITIES:
        raise ValueError("unknown priority")
    return DispatchJob(UUID(record["notification_id"]), priority)


def new_dispatch_producer(bootstrap: str) -> KafkaProducer:
    return KafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True,
                         linger_ms=0, max_block_ms=5000, request_timeout_ms=5000, retries=5,
                         bootstrap_timeout_ms=5000,
                         reconnect_backoff_max_ms=RECONNECT_BACKOFF_MAX_MS)


def new_dispatch_consumer(bootstrap: str, group_id: str) -> KafkaConsumer:
    """Committed by hand (see KafkaDispatchQueue); a new group starts at the earliest job."""
    return KafkaConsumer(bootstrap_servers=bootstrap, group_id=group_id,
                         enable_auto_commit=False, auto_offset_reset="earliest",
                         session_timeout_ms=10000, heartbeat_interval_ms=2000,
                         request_timeout_ms=15000, bootstrap_timeout_ms=10000,
                         reconnect_backoff_max_ms=RECONNECT_BACKOFF_MAX_MS)


@dataclass(frozen=True)
class _Buffered:
    job: DispatchJob
    partition: TopicPartition
    offset: int


class _PriorityLane:
    """One priority's consumer, polled by a thread of its own into a bounded buffer."""

    def __init__(self, priority: str, topic: str, consumer_factory: Callable[[str], KafkaConsumer],
                 bound: int, ready: threading.Condition, stopping: threading.Event) -> None:
        self.priority = priority
        self._topic = topic
        self._consumer_factory = consumer_factory
        self._bound = bound
        self._ready = ready  # guards buffer and handed (shared with take)
        self._stopping = stopping
        self.buffer: collections.deque[_Buffered] = collections.deque()
        self._handed: dict[TopicPartition, int] = {}  # next offset to commit, per partition
        self._consumer: KafkaConsumer | None = None
        self._outage = Outage(log, f"consuming {priority} dispatch jobs")
        self._commit_outage = Outage(log, f"committing handed {priority} dispatch jobs")
        self.thread = threading.Thread(target=self._run, name=f"dispatch-queue-{priority}",
                                       daemon=True)

    def handed(self, items: Sequence[_Buffered]) -> None:
        """Called under `ready` by take(): these offsets may be committed."""
        for item in items:
            self._passed(item.partition, item.offset)

    def _passed(self, partition: TopicPartition, offset: int) -> None:
        self._handed[partition] = max(self._handed.get(partition, 0), offset + 1)

    def partitions(self) -> int:
        consumer = self._consumer
        return len(consumer.assignment()) if consumer is not None else 0

    def _forget_unassigned(self, consumer: KafkaConsumer) -> None:
        """After a rebalance, the jobs of partitions no longer ours: their next owner takes
        them from the committed offset (a job handed out just before may come twice).

        Done here, on the polling thread, not in a rebalance listener: kafka-python 3 calls
        those on its IO thread, which must not wait (for a lock or a commit)."""
        owned = set(consumer.assignment())
        with self._ready:
            if any(b.partition not in owned for b in self.buffer):
                kept = [b for b in self.buffer if b.partition in owned]
                self.buffer.clear()
                self.buffer.extend(kept)
            for partition in [tp for tp in self._handed if tp not in owned]:
                del self._handed[partition]

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                if self._consumer is None:
                    self._consumer = self._consumer_factory(self.priority)
                    subscribe_known(self._consumer, [self._topic])
                self._poll_once(self._consumer)
            except Exception as error:  # noqa: BLE001 - logged once per outage; retried
                self._outage.failed(error)
                self._close_consumer()
                self._stopping.wait(1.0)
                continue
            self._outage.recovered()
        self._close_consumer()

    def _poll_once(self, consumer: KafkaConsumer) -> None:
        self._forget_unassigned(consumer)
        self._commit_handed()
        with self._ready:
            room = self._bound - len(self.buffer)
        if room <= 0:  # full: leave the jobs in Kafka until the pumps take some
            consumer.pause(*consumer.assignment())
            consumer.poll(timeout_ms=0)  # keeps the membership alive; paused: no records
            with self._ready:
                self._ready.wait_for(lambda: self._stopping.is_set()
                                     or len(self.buffer) < self._bound, timeout=POLL_MS / 1000)
            return
        if consumer.paused():
            consumer.resume(*consumer.paused())
        batches: Mapping[TopicPartition, Any] = consumer.poll(timeout_ms=POLL_MS,
                                                              max_records=room)
        arrived: list[_Buffered] = []
        for partition, records in batches.items():
            for record in records:
                try:
                    arrived.append(_Buffered(decode(record.value), partition, record.offset))
                except (ValueError, KeyError, TypeError):
                    log.warning("skipping a malformed dispatch job at %s offset %d",
                                partition, record.offset)
                    with self._ready:
                        self._passed(partition, record.offset)
        if arrived:
            with self._ready:
                self.buffer.extend(arrived)
                self._ready.notify_all()

    def _commit_handed(self) -> None:
        with self._ready:
            handed, self._handed = self._handed, {}
        if handed and self._consumer is not None:
            try:
                self._consumer.commit({tp: OffsetAndMetadata(offset, "", -1)
                                       for tp, offset in handed.items()}, timeout_ms=5000)
            except Exception as error:  # noqa: BLE001 - logged once per outage; retried
                # tried again at the next round, so they are committed once Kafka is back
                # (a partition taken from us meanwhile is forgotten: its next owner may take
                # them again, as after a crash)
                with self._ready:
                    for partition, offset in handed.items():
                        self._passed(partition, offset - 1)
                self._commit_outage.failed(error)
                return
            self._commit_outage.recovered()

    def _close_consumer(self) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is None:
            return
        self._commit_handed()
        with self._ready:  # not handed out: their partitions' next owner takes them
            self.buffer.clear()
        try:
            consumer.close(autocommit=False, timeout_ms=5000)
        except Exception:  # closing a consumer whose broker is gone: logged, not raised
            log.debug("dispatch consumer close failed", exc_info=True)


class KafkaDispatchQueue:
    """A `DispatchQueue` on Kafka: `<namespace>.notifications.dispatch.<priority>`, keyed by
    notification id; each priority's consumers of every dispatcher process in one group,
    `<namespace>-dispatchers-<priority>`, so they share that topic's partitions (and a dead
    one's are taken over once its session times out).

    `put` returns only once Kafka has acknowledged every job (the feeder records its position
    after that). `take` starts, on first being asked for a priority, that priority's consumer on
    a thread of its own, which polls into a buffer of at most `buffer_size` jobs and stops
    polling while it is full: a backlog of bulk jobs stays in Kafka, not in memory. `take`
    serves the most urgent asked priority with buffered jobs.

    Offsets are committed once jobs are handed to a pump (at the polling thread's next round),
    not after their batch is done: at most once at this layer. A job handed out and lost with
    its process (kill -9 mid-batch) is not taken again from Kafka; its notification stays
    queued or dispatching, and the sweep (commands/notifications/timers.py) finds it in the
    due-time index and queues it again. Committing after the batch instead would need the pump
    to report back across threads and would redeliver the whole buffer on every rebalance; the
    sweep is needed anyway (the log and Kafka are not one transaction). Jobs buffered but not
    handed out are never committed: after a crash or a rebalance another consumer takes them
    (and a job handed out in the 200 ms before a rebalance may be taken twice: harmless).
    """

    def __init__(self, bootstrap: str, namespace: str, *, buffer_size: int = 200,
                 producer_factory: Callable[[], KafkaProducer] | None = None,
                 consumer_factory: Callable[[str], KafkaConsumer] | None = None) -> None:
        self._namespace = namespace
        self._producer_factory = producer_factory or (lambda: new_dispatch_producer(bootstrap))
        self._consumer_factory = consumer_factory or (
            lambda priority: new_dispatch_consumer(bootstrap, dispatch_group(namespace, priority)))
        self._buffer_size = buffer_size
        self._producer: KafkaProducer | None = None
        self._producing = threading.Lock()
        self._ready = threading.Condition()
        self._stopping = threading.Event()
        self._lanes: dict[str, _PriorityLane] = {}

    def put(self, jobs: Sequence[DispatchJob]) -> None:
        if not jobs:
            return
        with self._producing:
            if self._producer is None:
                self._producer = self._producer_factory()
            producer = self._producer
            try:
                sent = [producer.send(dispatch_topic(self._namespace, self._priority(job)),
                                      key=str(job.notification_id).encode(), value=encode(job))
                        for job in jobs]
                producer.flush(timeout=SEND_TIMEOUT_SECONDS)
                for future in sent:
                    future.get(timeout=SEND_TIMEOUT_SECONDS)
            except Exception:
                # the producer reconnects by itself; jobs of a failed put it still delivers
                # later are put again by the feeder too: harmless, a job may come twice
                raise

    @staticmethod
    def _priority(job: DispatchJob) -> str:
        return job.priority if job.priority in PRIORITIES else BULK

    def take(self, priorities: Sequence[str], max_jobs: int,
             timeout: float) -> list[DispatchJob]:
        lanes = [lane for lane in (self._lane(p) for p in PRIORITIES if p in priorities)
                 if lane is not None]
        deadline = time.monotonic() + timeout
        with self._ready:
            while not self._stopping.is_set():
                for lane in lanes:
                    if lane.buffer:
                        taken = [lane.buffer.popleft()
                                 for _ in range(min(max_jobs, len(lane.buffer)))]
                        lane.handed(taken)
                        self._ready.notify_all()  # room again: a full lane polls on
                        return [item.job for item in taken]
                left = deadline - time.monotonic()
                if left <= 0:
                    return []
                self._ready.wait(timeout=left)
        return []

    def _lane(self, priority: str) -> _PriorityLane | None:
        """The priority's lane, started when first asked for (None once closed)."""
        with self._ready:
            lane = self._lanes.get(priority)
            if lane is None and not self._stopping.is_set():
                lane = _PriorityLane(priority, dispatch_topic(self._namespace, priority),
                                     self._consumer_factory, self._buffer_size, self._ready,
                                     self._stopping)
                self._lanes[priority] = lane
                lane.thread.start()
            return lane

    def assigned(self) -> dict[str, int]:
        """Partitions this process's consumers hold now, per started priority."""
        with self._ready:
            lanes = dict(self._lanes)
        return {p: lane.partitions() for p, lane in lanes.items()}

    def buffered(self) -> dict[str, int]:
        """Jobs held in memory per priority (the rest wait in Kafka)."""
        with self._ready:
            return {p: len(lane.buffer) for p, lane in self._lanes.items()}

    def close(self) -> None:
        with self._ready:
            self._stopping.set()
            self._ready.notify_all()
            lanes = list(self._lanes.values())
        for lane in lanes:
            lane.thread.join(timeout=10)
        with self._producing:
            if self._producer is not None:
                with contextlib.suppress(Exception):
                    self._producer.close(timeout=5)
                self._producer = None

