"""Operators' tools over a profile: replay, projection status and parked-event retry.

Built for the command line (`parley replay`, `parley projections ...`) and for the admin HTTP
routes of a serving process, from the same settings, so both act on the same stores.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from adapters.event_log.log_reader import LogReader
from event_log.log import EventLog
from parley.settings import Settings
from projections.messaging.cache_invalidation import hot_path_keys
from projections.read_model.documents import ReadStore
from projections.read_model.events import PositionedEvent
from projections.read_model.health import ProjectionHealth, ProjectionLocks
from projections.read_model.maintenance import (
    ProjectionStatus,
    RetryOutcome,
    projection_status,
    retry_parked,
)
from projections.read_model.replay import Generations, Replayer
from projections.read_model.runner import Cache, Projector


class UnknownProjection(ValueError):
    """A name that is not one of Parley's projections."""


@dataclass
class Operations:
    projectors: list[Projector]
    event_log: EventLog
    store: ReadStore
    cache: Cache
    generations: Generations
    health: ProjectionHealth
    locks: ProjectionLocks
    lag: Callable[[int], dict[str, int]]
    _closers: list[Callable[[], None]] = field(default_factory=list)

    @property
    def read_log(self) -> LogReader:
        return LogReader(self.event_log)

    def head(self) -> int:
        return self.read_log.head()

    def select(self, names: Sequence[str], everything: bool = False) -> list[Projector]:
        if everything or not names:
            return list(self.projectors)
        by_name = {p.name: p for p in self.projectors}
        unknown = [n for n in names if n not in by_name]
        if unknown:
            raise UnknownProjection(f"unknown projection(s): {', '.join(unknown)}; known: "
                                    f"{', '.join(sorted(by_name))}")
        return [by_name[n] for n in dict.fromkeys(names)]

    def replayer(self) -> Replayer:
        return Replayer(self.read_log, self.head, self.generations, self.health)

    def status(self) -> list[ProjectionStatus]:
        head = self.head()
        return projection_status(self.projectors, self.store, head, self.lag(head),
                                 self.health, self.generations.locations, self._event_at)

    def retry(self, projection: str | None = None) -> list[RetryOutcome]:
        if projection is not None:
            self.select([projection])
        return retry_parked(self.projectors, self.read_log, self.store, self.cache,
                            self.health, self.locks, projection, hot_paths=hot_path_keys)

    def _event_at(self, position: int) -> PositionedEvent | None:
        found = self.read_log(position, 1)
        return found[0] if found else None

    def close(self) -> None:
        for close in reversed(self._closers):
            close()


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
    from parley.bootstrap import event_log_env, projectors, read_models_path

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
    from parley.bootstrap import event_log_env, projectors
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
