"""Composition of the notification delivery engine, for both profiles: the providers from
PARLEY_NOTIFICATION_PROVIDERS, their breakers, the dispatch queue, the feeder, the timers and
the dispatchers (commands/notifications/).

The embedded default runs all of it in its one process, with the queue in memory. In
production every API process runs the feeder and the timers (each under its lock, so one at
a time) and, unless told otherwise, dispatchers too; `parley dispatch` runs dispatchers alone.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from commands.notifications.circuits import CircuitBoard, recorded_circuits
from commands.notifications.digest_flush import FlushDigests
from commands.notifications.dispatcher import (
    Dispatcher,
    DispatchQueue,
    DispatchSettings,
    lanes_for,
)
from commands.notifications.feeder import DispatchFeeder
from commands.notifications.preferences import category_policy
from commands.notifications.providers import Provider
from commands.notifications.throttles import (
    BatchTurns,
    DispatchThrottle,
    ThrottleBuckets,
    TokenTurns,
)
from commands.notifications.timers import NotificationTimers
from commands.processes.runner import ProcessLocks, ProcessPositions
from commands.processes.schedules import ScheduledJob
from domain.notifications.channels import INBOX, PRIORITIES
from domain.notifications.circuits import BreakerPolicy
from domain.notifications.notifications import Notification
from domain.notifications.retries import RetryPolicy
from domain.notifications.throttles import BucketRule, ThrottlePolicy
from domain.notifications.tracked_links import TrackedLinks
from domain.notifications.unsubscribe import UnsubscribeLinks
from event_log.log import EventLog
from event_log.outcomes import Outcome
from parley.settings import Settings
from projections.notifications.schedule import ScheduleQueries
from projections.read_model.documents import ReadStore

log = logging.getLogger(__name__)


def provider_entries(settings: Settings) -> list[dict[str, Any]]:
    """PARLEY_NOTIFICATION_PROVIDERS, parsed; a malformed value names itself, never its
    content (it holds credentials)."""
    if settings.notification_providers is None:
        return []
    raw = settings.notification_providers.get_secret_value().strip()
    if not raw:
        return []
    try:
        entries = json.loads(raw)
    except json.JSONDecodeError as error:
        raise ValueError(f"PARLEY_NOTIFICATION_PROVIDERS is not JSON (line {error.lineno}, "
                         f"column {error.colno})") from None
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ValueError("PARLEY_NOTIFICATION_PROVIDERS must be a JSON list of objects")
    return entries


def build_providers(settings: Settings, unsubscribe_key: bytes | None = None
                    ) -> list[Provider]:
    """With `unsubscribe_key`, email providers put one-click unsubscribe links in the mail
    of non-transactional categories and, with PARLEY_NOTIFICATION_LINK_TRACKING, send its
    links as tracked links (signed with the same key, for a purpose of their own)."""
    from adapters.notifications.registry import ProviderEnvironment, build_providers

    public_url = str(getattr(settings, "public_url", "http://127.0.0.1:8000")).rstrip("/")
    tracking = unsubscribe_key is not None and settings.notification_link_tracking
    environment = ProviderEnvironment(
        public_url=public_url,
        allow_loopback_http=settings.notification_allow_loopback_http,
        unsubscribe_links=None if unsubscribe_key is None
        else UnsubscribeLinks(unsubscribe_key, public_url, category_policy(settings).critical),
        tracked_links=TrackedLinks(unsubscribe_key, public_url)
        if tracking and unsubscribe_key is not None else None)
    return build_providers([{k: v for k, v in entry.items() if k not in QUOTA_KEYS}
                            for entry in provider_entries(settings)], environment)


# a provider entry's own quota (every dispatcher together): the throttles take these keys,
# the provider's adapter never sees them
QUOTA_KEYS = frozenset({"rate_per_second", "burst"})


def provider_quotas(entries: Sequence[dict[str, Any]]) -> dict[str, BucketRule]:
    """Each provider entry's `rate_per_second` (sends per second) and `burst` (at once; by
    default the rate, at least 1); a bad one names the provider and the key."""
    quotas: dict[str, BucketRule] = {}
    for entry in entries:
        rate, burst = entry.get("rate_per_second"), entry.get("burst")
        if rate is None and burst is None:
            continue
        name = entry.get("name")
        for key, value in (("rate_per_second", rate), ("burst", burst)):
            if value is not None and (isinstance(value, bool) or not isinstance(
                    value, int | float) or not 0 < value < float("inf")):
                raise ValueError(f"notification provider {name!r}: {key} must be a positive "
                                 "number")
        if rate is None:
            raise ValueError(f"notification provider {name!r}: burst needs rate_per_second")
        if burst is not None and burst < 1:
            raise ValueError(f"notification provider {name!r}: burst must be at least 1")
        quotas[str(name)] = BucketRule.per_second(float(rate), burst)
    return quotas


def throttle_policy(settings: Settings) -> ThrottlePolicy:
    """The throttles (README, configuration): per recipient, per channel, per provider."""
    limit = settings.notification_recipient_limit
    bulk = settings.notification_recipient_bulk_per_day
    return ThrottlePolicy(
        recipient=BucketRule.per_period(limit, settings.notification_recipient_period_seconds)
        if limit else None,
        recipient_bulk=BucketRule.per_period(bulk, 86400) if bulk else None,
        channels={channel: BucketRule.per_second(rate)
                  for channel, rate in settings.notification_channel_rates.items()},
        providers=provider_quotas(provider_entries(settings)),
        critical_categories=frozenset(settings.notification_critical_categories))


def throttle_buckets(settings: Settings) -> ThrottleBuckets:
    """Shared by every dispatcher of the deployment: Redis in production, this process's
    memory in the embedded default (its one process dispatches)."""
    if settings.profile == "production":
        from adapters.notifications.redis_buckets import RedisThrottleBuckets

        return RedisThrottleBuckets(settings.redis_url or "", settings.namespace)
    from adapters.notifications.memory_buckets import MemoryThrottleBuckets

    return MemoryThrottleBuckets()


def throttle_turns(settings: Settings) -> BatchTurns:
    """The turns in which batches take tokens from those buckets: across every dispatcher of
    the deployment through the same Redis in production, this process's in the embedded
    default."""
    if settings.profile == "production":
        from adapters.notifications.redis_turns import RedisTurnRegistry
        from commands.notifications.shared_turns import SharedTurns

        return SharedTurns(RedisTurnRegistry(settings.redis_url or "", settings.namespace,
                                             uuid.uuid4().hex))
    return TokenTurns()


def retry_policy(settings: Settings) -> RetryPolicy:
    return RetryPolicy(settings.notification_max_attempts,
                       settings.notification_retry_base_seconds,
                       max(settings.notification_retry_cap_seconds,
                           settings.notification_retry_base_seconds))


def breaker_policy(settings: Settings) -> BreakerPolicy:
    defaults = BreakerPolicy()
    return BreakerPolicy(
        window_seconds=getattr(settings, "breaker_window_seconds", defaults.window_seconds),
        min_calls=getattr(settings, "breaker_min_calls", defaults.min_calls),
        failure_rate=getattr(settings, "breaker_failure_rate", defaults.failure_rate),
        open_seconds=getattr(settings, "breaker_open_seconds", defaults.open_seconds),
        half_open_probes=getattr(settings, "breaker_half_open_probes",
                                 defaults.half_open_probes))


def dispatch_settings(settings: Settings,
                      priorities: Sequence[str] = PRIORITIES) -> DispatchSettings:
    """The dispatchers' settings; their lanes take only `priorities` (all four but where a
    production process is told otherwise)."""
    return DispatchSettings(
        batch_size=settings.notification_dispatch_batch,
        stale_after_seconds=settings.notification_stale_after_seconds,
        public_url=str(getattr(settings, "public_url", "http://127.0.0.1:8000")).rstrip("/"),
        policy=retry_policy(settings),
        lanes=lanes_for(priorities, settings.notification_urgent_pumps,
                        settings.notification_pumps),
        category_policy=category_policy(settings))


@dataclass
class NotificationEngine:
    """What a process runs of the engine, and what its routes need to know of it."""

    queue: DispatchQueue
    providers: list[Provider]
    board: CircuitBoard
    # the address kinds some configured provider reaches (the inbox always)
    provided_kinds: frozenset[str] = frozenset({INBOX})
    dispatcher: Dispatcher | None = None
    feeder: DispatchFeeder | None = None
    timers: NotificationTimers | None = None
    jobs: list[ScheduledJob] = field(default_factory=list)
    closers: list[Callable[[], None]] = field(default_factory=list)  # after the dispatcher

    def start(self) -> None:
        if self.dispatcher is not None:
            self.dispatcher.start()
        if self.feeder is not None:
            self.feeder.start()
        for job in self.jobs:
            job.start()

    def stop(self) -> None:
        for job in self.jobs:
            job.stop()
        if self.feeder is not None:
            self.feeder.stop()
        if self.dispatcher is not None:
            self.dispatcher.stop()
        for close in self.closers:
            close()
        self.queue.close()


def engine(settings: Settings, event_log: EventLog, queue: DispatchQueue,
           execute: Callable[[Any, Any], Outcome[Any]] | None, *,
           store: ReadStore | None, positions: ProcessPositions | None,
           locks: ProcessLocks | None, dispatch: bool,
           dispatch_priorities: Sequence[str] = PRIORITIES,
           clock: Callable[[], datetime] = lambda: datetime.now(UTC),
           unsubscribe_key: bytes | None = None) -> NotificationEngine:
    """The engine's parts this process runs: with `execute` (it holds the writer) and a store,
    the feeder and timers; with `dispatch` too, dispatchers, taking `dispatch_priorities`;
    with `unsubscribe_key`, emails carry one-click unsubscribe links."""
    from adapters.processes.log_reactions import ReactionsReader

    providers = build_providers(settings, unsubscribe_key)
    names = [p.name for p in providers]
    board = CircuitBoard(breaker_policy(settings), {p.name: p.channel for p in providers})
    board.restore(recorded_circuits(event_log.repository, names))
    kinds = frozenset({INBOX} | {kind for p in providers for kind in p.kinds})
    parts = NotificationEngine(queue, providers, board, kinds)
    if execute is None:
        return parts
    if dispatch:
        policy, throttle = throttle_policy(settings), None
        if policy.enabled:
            buckets, turns = throttle_buckets(settings), throttle_turns(settings)
            throttle = DispatchThrottle(policy, buckets, turns)
            for closable in (turns, buckets):
                close = getattr(closable, "close", None)
                if close is not None:
                    parts.closers.append(close)
        parts.dispatcher = Dispatcher(queue, providers, execute, board,
                                      dispatch_settings(settings, dispatch_priorities),
                                      clock, throttle=throttle)
    if store is not None and positions is not None and locks is not None:
        parts.feeder = DispatchFeeder(ReactionsReader(event_log, (Notification.Queued,)),
                                      positions, locks, queue)
        parts.timers = NotificationTimers(
            ScheduleQueries(store), execute, queue, clock,
            requeue_after_seconds=settings.notification_requeue_after_seconds,
            stale_after_seconds=settings.notification_stale_after_seconds,
            flush=lambda digests, at: FlushDigests(digests, at, kinds,
                                                   category_policy(settings)))
        parts.jobs = [ScheduledJob(s) for s in parts.timers.schedules(
            settings.notification_timer_every_seconds,
            settings.notification_sweep_every_seconds)]
    return parts

