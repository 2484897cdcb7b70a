"""Wiring of the production profile: PostgreSQL, Kafka, Elasticsearch and Redis."""

from __future__ import annotations

import logging
import signal
import socket
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from psycopg_pool import ConnectionPool

from adapters.event_log.kafka_relay import (
    RELAY_NAME,
    KafkaRelay,
    LogAppendedSignal,
    kafka_topic,
    new_producer,
)
from adapters.event_log.kafka_topics import ensure_topics
from adapters.event_log.log_reader import LogReader
from adapters.http.redis_rate_limiter import RedisFailureBackoff, RedisTokenBuckets
from adapters.identity.redis_presence import RedisPresence
from adapters.messaging.redis_live_updates import RedisLiveUpdates
from adapters.processes.postgres_positions import PostgresProcessPositions
from adapters.read_model.elasticsearch_read_store import ElasticsearchReadStore
from adapters.read_model.kafka_projection import (
    KafkaProjectionRunner,
    new_consumer,
    projectors_by_topic,
)
from adapters.read_model.postgres_locks import PostgresLocks
from adapters.read_model.postgres_progress import RelayedProgress
from adapters.read_model.postgres_projection_health import PostgresProjectionHealth
from adapters.read_model.redis_cache import RedisCache
from commands.processes.runner import ProcessLocks, lock_name
from commands.processes.schedules import Schedule, ScheduledJob
from domain.notifications.channels import PRIORITIES
from event_log.log import EventLog
from migrations.runner import migrate
from parley import contexts
from parley.assembly import (
    HANDLERS,
    Parley,
    attach_attachments,
    attach_notification_engine,
    attach_process_managers,
    attach_queries,
    attach_schedules,
    attach_sign_in,
    attach_write_side,
    backoff_rules,
    event_log_env,
    live_notifier,
    projectors,
    schedule_jobs,
    schedule_parts,
    sign_in_attempts,
    stream_announcer,
    unsubscribe_key,
)
from parley.reachability import require_reachable
from parley.settings import Settings
from projections.messaging.cache_invalidation import hot_path_keys
from projections.read_model.consistency import ConsistencyGate
from projections.read_model.runner import ProjectionWriter

if TYPE_CHECKING:
    from parley.notification_engine import NotificationEngine

log = logging.getLogger(__name__)


def check_services(settings: Settings) -> None:
    settings.require_production()
    require_reachable("PARLEY_DATABASE_URL", settings.database_url or "", 5432)
    require_reachable("PARLEY_KAFKA_BOOTSTRAP", settings.kafka_bootstrap or "", 9092)
    require_reachable("PARLEY_ELASTICSEARCH_URL", settings.elasticsearch_url or "", 9200)
    require_reachable("PARLEY_REDIS_URL", settings.redis_url or "", 6379)


def collections() -> list[str]:
    return [c for p in projectors() for c in getattr(p, "collections", ())]


def read_store(settings: Settings) -> ElasticsearchReadStore:
    return ElasticsearchReadStore(settings.elasticsearch_url or "", settings.namespace,
                                  collections())


def migrate_all(settings: Settings) -> list[str]:
    """PostgreSQL schema, Elasticsearch indices and Kafka topics, all idempotent."""
    check_services(settings)
    applied = migrate(settings.database_url or "", settings.namespace)
    read_store(settings).ensure_indices()
    ensure_topics(settings.kafka_bootstrap or "",
                  sorted(set(topic_of_projection(settings).values())))
    from adapters.notifications.kafka_queue import ensure_dispatch_topics

    ensure_dispatch_topics(settings.kafka_bootstrap or "", settings.namespace)
    return applied


def progress_pool(settings: Settings) -> ConnectionPool:
    return ConnectionPool(
        settings.database_url or "", min_size=1, max_size=4, open=True,
        kwargs={"options": f"-c search_path={settings.namespace}", "autocommit": True},
    )


def process_managers_pool(settings: Settings) -> ConnectionPool:
    """Two connections per process manager, which holds its lock's while it reads and records
    its position through another: sharing a smaller pool, the managers' rounds would wait for
    each other's connections until the pool timed out (and the consistency gate with them)."""
    return ConnectionPool(
        settings.database_url or "", min_size=1,
        max_size=2 * len(contexts.process_managers()) + 1, open=True,
        kwargs={"options": f"-c search_path={settings.namespace}", "autocommit": True},
    )


def topic_of_projection(settings: Settings) -> dict[str, str]:
    return {name: kafka_topic(settings.namespace, topic)
            for name, topic in contexts.topic_of_projectors().items()}


def build_production(settings: Settings, *, with_writer: bool = True) -> Parley:
    migrate_all(settings)
    event_log = EventLog(env=event_log_env(settings))
    store = read_store(settings)
    cache = RedisCache(settings.redis_url or "", settings.namespace, settings.cache_ttl_seconds)
    pool = progress_pool(settings)
    progress = RelayedProgress(pool, store, topic_of_projection(settings), RELAY_NAME)
    gate = ConsistencyGate(progress, settings.consistency_wait_seconds)
    if settings.secret_key is None:
        raise_missing_secret()
    assert settings.secret_key is not None
    live = RedisLiveUpdates(settings.redis_url or "", settings.namespace)
    presence = RedisPresence(settings.redis_url or "", settings.namespace)
    limiter = RedisTokenBuckets(settings.redis_url or "", settings.namespace,
                                settings.send_rate_per_second, settings.send_burst)
    typing = RedisTokenBuckets(settings.redis_url or "", settings.namespace,
                               settings.typing_rate_per_second, settings.typing_burst)
    parley = Parley(settings, event_log, store, cache, gate,
                    settings.secret_key.get_secret_value(), live=live, presence=presence,
                    send_limiter=limiter, typing_limiter=typing)
    parley._closers.extend([live.close, presence.close, limiter.close, typing.close])
    redis_url, namespace = settings.redis_url or "", settings.namespace
    attempts = RedisTokenBuckets(redis_url, namespace, *sign_in_attempts(settings))
    account_rule, source_rule = backoff_rules(settings)
    accounts = RedisFailureBackoff(redis_url, namespace, account_rule)
    sources = RedisFailureBackoff(redis_url, namespace, source_rule)
    attach_sign_in(parley, attempts, accounts, sources)
    parley._closers.extend([attempts.close, accounts.close, sources.close])
    parley._closers.extend([event_log.close, store.close, cache.close, pool.close])
    feeder_wake: list[Callable[[int], None]] = []

    def committed(position: int) -> None:  # a trigger of this process reaches Kafka at once
        for wake in feeder_wake:
            wake(position)

    if with_writer:
        attach_write_side(parley, on_commit=committed)
    attach_queries(parley)
    attach_attachments(parley)
    managing = process_managers_pool(settings)
    parley._closers.append(managing.close)  # closers run in reverse: after the managers stop
    attach_process_managers(parley, PostgresProcessPositions(managing),
                            PostgresLocks(managing, settings.namespace))
    attach_schedules(parley, signs_chain=False)  # the relay signs the chain
    engine = attach_production_notification_engine(
        parley, dispatch=settings.notification_dispatch_in_api,
        dispatch_priorities=settings.notification_dispatch_priorities)
    if engine.feeder is not None:
        feeder_wake.append(engine.feeder.wake)
    reader = LogReader(event_log)
    parley.readiness = {
        "postgresql": reader.head,
        "elasticsearch": store.ping,
        "redis": cache.ping,
        "kafka": lambda: require_reachable("PARLEY_KAFKA_BOOTSTRAP",
                                           settings.kafka_bootstrap or "", 9092, timeout=1.0),
    }
    parley.lag = lambda: progress.lag(reader.head())
    return parley


def notification_pool(settings: Settings) -> ConnectionPool:
    """The engine's own connections: its locks hold one each while they work (the feeder's
    while Kafka acknowledges), so they never wait behind the projections' progress."""
    return ConnectionPool(
        settings.database_url or "", min_size=1, max_size=4, open=True,
        kwargs={"options": f"-c search_path={settings.namespace}", "autocommit": True},
    )


def attach_production_notification_engine(
        parley: Parley, *, dispatch: bool,
        dispatch_priorities: Sequence[str] = PRIORITIES) -> NotificationEngine:
    """Every API process (with the writer) runs the feeder and the timers, each under its
    PostgreSQL lock so the processes take turns, the feeder's position in the process positions
    table; with `dispatch` (PARLEY_NOTIFICATION_DISPATCH_IN_API) dispatchers too, taking
    `dispatch_priorities` (PARLEY_NOTIFICATION_DISPATCH_PRIORITIES). Jobs go through Kafka, a
    topic per priority (adapters/notifications/kafka_queue.py)."""
    from adapters.notifications.kafka_queue import KafkaDispatchQueue

    settings = parley.settings
    pool = notification_pool(settings)
    locks = PostgresLocks(pool, settings.namespace)
    queue = KafkaDispatchQueue(settings.kafka_bootstrap or "", settings.namespace,
                               buffer_size=2 * settings.notification_dispatch_batch)
    parley._closers.append(pool.close)  # closers run in reverse: the pool after the engine
    parts = attach_notification_engine(parley, queue, PostgresProcessPositions(pool), locks,
                                       dispatch=dispatch,
                                       dispatch_priorities=dispatch_priorities)
    parts.jobs = [ScheduledJob(under_lock(job.schedule, locks)) for job in parts.jobs]
    return parts


def under_lock(schedule: Schedule, locks: ProcessLocks) -> Schedule:
    """The schedule's rounds one process at a time (two ReleaseDue of the same timers would
    conflict; two sweeps would queue the same lost jobs twice)."""
    work, name = schedule.work, lock_name(schedule.name)

    def locked(bound: int) -> int:
        with locks.hold(name):
            return work(bound)

    return replace(schedule, work=locked)


def run_dispatchers(settings: Settings, on_started: Callable[[], None] = lambda: None,
                    priorities: Sequence[str] | None = None) -> None:
    """Dispatchers only (`parley dispatch`): jobs from Kafka, commands through a writer of its
    own, no HTTP, no feeder, no timers; stops on SIGTERM. They take `priorities` (by default
    PARLEY_NOTIFICATION_DISPATCH_PRIORITIES)."""
    from event_log.writer import GroupCommitWriter

    settings.require_production()
    if settings.secret_key is None:  # before anything starts: see dispatching_engine
        raise_missing_secret()
    migrate_all(settings)
    event_log = EventLog(env=event_log_env(settings))
    writer = GroupCommitWriter(event_log, HANDLERS,
                               max_batch=settings.group_commit_max_batch,
                               linger_seconds=settings.group_commit_linger_ms / 1000,
                               command_timeout=settings.command_timeout_seconds)
    taking = settings.notification_dispatch_priorities if priorities is None else priorities
    parts = dispatching_engine(settings, event_log, writer.execute, taking)
    stopping = threading.Event()
    _stop_on_signals(stopping)
    writer.start()
    parts.start()
    log.info("dispatcher started", extra={"priorities": list(taking)})
    on_started()
    try:
        while not stopping.wait(1.0):
            pass
    finally:
        parts.stop()
        writer.stop()
        event_log.close()


def dispatching_engine(settings: Settings, event_log: EventLog,
                       execute: Callable[[Any, Any], Any],
                       priorities: Sequence[str]) -> NotificationEngine:
    """`parley dispatch`'s engine: dispatchers alone, taking `priorities` from Kafka. The
    queue consumes only those priorities' topics (a topic's consumer starts when first asked
    for), so a process for critical and high has a writer and an event loop that no bulk batch
    ever holds, and leaves normal and bulk to the processes that take them."""
    from adapters.notifications.kafka_queue import KafkaDispatchQueue
    from parley.notification_engine import engine

    queue = KafkaDispatchQueue(settings.kafka_bootstrap or "", settings.namespace,
                               buffer_size=2 * settings.notification_dispatch_batch)
    if settings.secret_key is None:  # it signs the emails' unsubscribe links, as serve does
        raise_missing_secret()
    assert settings.secret_key is not None
    return engine(settings, event_log, queue, execute, store=None, positions=None,
                  locks=None, dispatch=True, dispatch_priorities=priorities,
                  unsubscribe_key=unsubscribe_key(settings.secret_key.get_secret_value()))


def raise_missing_secret() -> None:
    from parley.settings import MissingSetting

    raise MissingSetting("PARLEY_SECRET_KEY is not set (production signs tokens with it)")


def _stop_on_signals(stopping: threading.Event) -> None:
    def handler(*_: Any) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def run_relay(settings: Settings, on_started: Callable[[], None] = lambda: None) -> None:
    migrate_all(settings)
    event_log = EventLog(env=event_log_env(settings))
    pool = progress_pool(settings)
    live = RedisLiveUpdates(settings.redis_url or "", settings.namespace)
    relay = KafkaRelay(event_log, lambda: new_producer(settings.kafka_bootstrap or ""), pool,
                       settings.namespace, context_of=contexts.relay_map(),
                       appended=LogAppendedSignal.for_database(settings.database_url or "",
                                                               settings.namespace),
                       on_read=stream_announcer(live))
    _stop_on_signals(relay.stopping)
    # the one process per log: it signs the chain's checkpoints (the audit context's schedule)
    schedules = schedule_jobs(schedule_parts(settings, event_log, signs_chain=True))
    for job in schedules:
        job.start()
    log.info("relay started")
    on_started()
    try:
        relay.run_forever()
    finally:
        for job in schedules:
            job.stop()
        pool.close()
        live.close()
        event_log.close()


def projector_instance_id(settings: Settings) -> str | None:
    """Static group membership, so a restarted projector consumes again at once (not after the
    dead member's session timeout): the same id across restarts, so by default the host's name.
    """
    if settings.projector_instance_id is None:
        return f"{socket.gethostname()}-projectors"
    return settings.projector_instance_id or None


def run_projectors(settings: Settings,
                   on_started: Callable[[], None] = lambda: None) -> None:
    migrate_all(settings)
    store = read_store(settings)
    cache = RedisCache(settings.redis_url or "", settings.namespace, settings.cache_ttl_seconds)
    by_topic = projectors_by_topic(topic_of_projection(settings), projectors())
    live = RedisLiveUpdates(settings.redis_url or "", settings.namespace)
    # the API processes' sockets hold their leases here: frames only for whom is listening
    presence = RedisPresence(settings.redis_url or "", settings.namespace)
    mapper = EventLog(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}).mapper
    pool = progress_pool(settings)
    writer = ProjectionWriter(store, cache, on_applied=live_notifier(live, store, presence),
                              locks=PostgresLocks(pool, settings.namespace),
                              health=PostgresProjectionHealth(pool),
                              policy=settings.projection_failure_policy,
                              hot_paths=hot_path_keys)
    runner = KafkaProjectionRunner(
        lambda: new_consumer(settings.kafka_bootstrap or "", f"{settings.namespace}-projectors",
                             list(by_topic), projector_instance_id(settings)),
        writer, by_topic, mapper,
    )
    _stop_on_signals(runner.stopping)
    log.info("projectors started")
    on_started()
    try:
        runner.run_forever()
    finally:
        store.close()
        cache.close()
        live.close()
        presence.close()
        pool.close()
