"""The one composition root: builds Parley's object graph for a profile and a role.

The embedded profile is built here; the production one in parley/production.py, which
this module imports only to build it. The parts both share are in parley/assembly.py.
"""

from __future__ import annotations

from collections.abc import Callable

from api.http.rate_limits import MemoryFailureBackoff, MemoryTokenBuckets
from event_log.log import EventLog
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
    audit_key,
    audit_log,
    backoff_rules,
    chain_records,
    embedded_secret,
    event_log_env,
    live_notifier,
    projectors,
    read_models_path,
    sign_in_attempts,
    stream_announcer,
)
from parley.notification_engine import NotificationEngine
from parley.operations_wiring import operations_on_demand
from parley.settings import Settings
from projections.messaging.cache_invalidation import hot_path_keys
from projections.read_model.consistency import ConsistencyGate
from projections.read_model.runner import LogTailingRunner, ProjectionWriter

# what callers have always imported from the composition root
__all__ = ["HANDLERS", "Parley", "audit_key", "audit_log", "build", "build_embedded",
           "chain_records", "event_log_env", "projectors", "read_models_path"]


def build(settings: Settings, *, with_writer: bool = True) -> Parley:
    if settings.profile == "production":
        from parley.production import build_production

        parley = build_production(settings, with_writer=with_writer)
    else:
        parley = build_embedded(settings)
    parley.operations = operations_on_demand(parley)
    return parley


def build_embedded(settings: Settings) -> Parley:
    from adapters.event_log.log_reader import LogReader
    from adapters.read_model.embedded_progress import EmbeddedProgress
    from adapters.read_model.file_locks import FileLocks
    from adapters.read_model.memory_cache import MemoryCache
    from adapters.read_model.sqlite_generations import SQLiteServingGenerations
    from adapters.read_model.sqlite_projection_health import SQLiteProjectionHealth
    from adapters.read_model.sqlite_read_store import SQLiteReadStore

    event_log = EventLog(env=event_log_env(settings))
    store = SQLiteReadStore(read_models_path(settings))
    cache = MemoryCache(settings.cache_ttl_seconds)
    gate = ConsistencyGate(EmbeddedProgress(store), settings.consistency_wait_seconds)
    secret = (
        settings.secret_key.get_secret_value() if settings.secret_key
        else embedded_secret(settings.data_dir)
    )
    parley = Parley(settings, event_log, store, cache, gate, secret,
                    send_limiter=MemoryTokenBuckets(settings.send_rate_per_second,
                                                    settings.send_burst),
                    typing_limiter=MemoryTokenBuckets(settings.typing_rate_per_second,
                                                      settings.typing_burst))
    account_rule, source_rule = backoff_rules(settings)
    attach_sign_in(parley, MemoryTokenBuckets(*sign_in_attempts(settings)),
                   MemoryFailureBackoff(account_rule), MemoryFailureBackoff(source_rule))
    parley._closers.extend([event_log.close, store.close])
    # `parley replay` switches generations from its own process: each lookup checks them
    parley.serving_generations = SQLiteServingGenerations(read_models_path(settings))
    reader = LogReader(event_log)
    health = SQLiteProjectionHealth(read_models_path(settings))
    parley._closers.append(health.close)
    notify_live = live_notifier(parley.live, store, parley.presence)  # memory: one process
    writer = ProjectionWriter(store, cache, on_applied=notify_live,
                              locks=FileLocks(settings.data_dir / "locks"), health=health,
                              policy=settings.projection_failure_policy,
                              hot_paths=hot_path_keys)
    runner = LogTailingRunner(reader, writer, store, projectors(),
                              on_read=stream_announcer(parley.live))
    feeder_wake: list[Callable[[int], None]] = []

    def committed(position: int) -> None:
        runner.wake(position)
        for wake in feeder_wake:
            wake(position)

    attach_write_side(parley, on_commit=committed)
    attach_queries(parley)
    attach_attachments(parley)
    attach_embedded_process_managers(parley)
    engine = attach_embedded_notification_engine(parley)
    if engine.feeder is not None:
        feeder_wake.append(engine.feeder.wake)
    parley._starters.append(runner.start)
    parley._closers.append(runner.stop)
    attach_schedules(parley, signs_chain=True)  # the one process: it signs the chain too
    parley.readiness = {"event_log": reader.head, "read_store": lambda: store.position("users")}
    parley.lag = lambda: {p.name: max(0, reader.head() - store.position(p.name))
                          for p in projectors()}
    return parley


def attach_embedded_notification_engine(parley: Parley) -> NotificationEngine:
    """The whole engine in this process: the queue in memory, the feeder's position too
    (from the log's head; what was queued before is found by the sweep)."""
    from adapters.notifications.memory_queue import PriorityQueues
    from adapters.read_model.file_locks import FileLocks
    from commands.notifications.feeder import PositionsFrom

    head = parley.event_log.recorder.max_notification_id() or 0
    return attach_notification_engine(parley, PriorityQueues(), PositionsFrom(head),
                                      FileLocks(parley.settings.data_dir / "locks"),
                                      dispatch=True)


def attach_embedded_process_managers(parley: Parley) -> None:
    """Process managers' positions in a file of their own, their locks beside projections'."""
    from adapters.processes.sqlite_positions import SQLiteProcessPositions
    from adapters.read_model.file_locks import FileLocks

    data_dir = parley.settings.data_dir
    positions = SQLiteProcessPositions(data_dir / "process_positions.sqlite3")
    parley._closers.append(positions.close)
    attach_process_managers(parley, positions, FileLocks(data_dir / "locks"))
