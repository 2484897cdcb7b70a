"""Builds the operators' tools (`parley.operations.Operations`) for a profile, and, for a
serving process, on first use over the stores it serves from."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from event_log.log import EventLog
from parley.assembly import Parley, event_log_env, projectors, read_models_path
from parley.operations import Operations
from parley.settings import Settings
from projections.read_model.documents import ReadStore
from projections.read_model.runner import Cache, Projector


def build_operations(settings: Settings, *, event_log: EventLog | None = None,
                     store: ReadStore | None = None, cache: Cache | None = None) -> Operations:
    """Operations for the profile; a serving process passes the parts it already has."""
    if settings.profile == "production":
        return _production(settings, event_log, store, cache)
    return _embedded(settings, event_log, store, cache)


def _embedded(settings: Settings, event_log: EventLog | None, store: Any,
              cache: Cache | None) -> Operations:
    from adapters.read_model.file_locks import FileLocks
    from adapters.read_model.memory_cache import MemoryCache
    from adapters.read_model.sqlite_generations import SQLiteGenerations
    from adapters.read_model.sqlite_projection_health import SQLiteProjectionHealth
    from adapters.read_model.sqlite_read_store import SQLiteReadStore

    closers: list[Callable[[], None]] = []
    if event_log is None:
        event_log = EventLog(env=event_log_env(settings))
        closers.append(event_log.close)
    if store is None:
        store = SQLiteReadStore(read_models_path(settings))
        closers.append(store.close)
    live_cache: Cache = cache or MemoryCache(settings.cache_ttl_seconds)
    locks = FileLocks(settings.data_dir / "locks")
    health = SQLiteProjectionHealth(read_models_path(settings))
    closers.append(health.close)
    generations = SQLiteGenerations(read_models_path(settings), locks,
                                    on_switched=_forget_cached(live_cache))
    running = store

    def lag(head: int) -> dict[str, int]:
        return {p.name: max(0, head - running.position(p.name)) for p in projectors()}

    return Operations(projectors(), event_log, store, live_cache, generations, health, locks,
                      lag, closers)


def _production(settings: Settings, event_log: EventLog | None, store: Any,
                cache: Cache | None) -> Operations:
    from adapters.event_log.kafka_relay import RELAY_NAME
    from adapters.read_model.elasticsearch_generations import ElasticsearchGenerations
    from adapters.read_model.postgres_locks import PostgresLocks
    from adapters.read_model.postgres_progress import RelayedProgress
    from adapters.read_model.postgres_projection_health import PostgresProjectionHealth
    from adapters.read_model.redis_cache import RedisCache
    from parley.production import check_services, progress_pool, read_store, topic_of_projection

    closers: list[Callable[[], None]] = []
    if event_log is None:
        check_services(settings)
        event_log = EventLog(env=event_log_env(settings))
        closers.append(event_log.close)
    if store is None:
        store = read_store(settings)
        closers.append(store.close)
    if cache is None:
        cache = RedisCache(settings.redis_url or "", settings.namespace,
                           settings.cache_ttl_seconds)
        closers.append(cache.close)
    pool = progress_pool(settings)
    closers.append(pool.close)
    locks = PostgresLocks(pool, settings.namespace)
    health = PostgresProjectionHealth(pool)
    progress = RelayedProgress(pool, store, topic_of_projection(settings), RELAY_NAME)
    generations = ElasticsearchGenerations(settings.elasticsearch_url or "", settings.namespace,
                                           store, locks, on_switched=_forget_cached(cache))
    return Operations(projectors(), event_log, store, cache, generations, health, locks,
                      progress.lag, closers)


def _forget_cached(cache: Cache) -> Callable[[Projector], None]:
    """After a switch, cached documents may be from the old generation: drop them."""
    def forget(projector: Projector) -> None:
        clear = getattr(cache, "clear", None)
        if clear is not None:
            clear()

    return forget


def operations_on_demand(parley: Parley) -> Callable[[], Operations]:
    """A serving process's operations over the stores it serves from, built on first use (the
    admin routes), closed with the process."""
    built: list[Operations] = []
    lock = threading.Lock()

    def operations() -> Operations:
        with lock:
            if not built:
                built.append(build_operations(parley.settings, event_log=parley.event_log,
                                              store=parley.store, cache=parley.cache))
                parley._closers.append(built[0].close)
            return built[0]

    return operations
