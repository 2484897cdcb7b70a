"""The dispatcher: takes queued notifications, most urgent first, sends their deliveries
through the providers, and records what the providers answered.

Jobs come from a `DispatchQueue` (in process in the embedded default; Kafka topics, one per
priority, in production), fed by the `DispatchFeeder` from the log's `Notification.Queued`
events. Pumps (threads) take jobs in batches; each pump serves a *lane*, the priorities it
may take, most urgent first: the urgent lane takes only critical and high, so however much
bulk is waiting, a critical notification finds a pump that is not busy with bulk. Provider
calls of all pumps run concurrently on one asyncio loop.

A batch: `StartDispatches` (the write side decides and records the deliveries), the sends,
each provider's breaker told how it went (a change of state is recorded as an event), then
`RecordAnswers`. A batch that fails part-way (the log away, a crash) leaves its notifications
queued or dispatching; the schedule's sweep (commands/notifications/timers.py) queues them
again, and `StartDispatches` sends what was never answered once more, under the same attempt
ids: at least once to the provider, and never a second visible notification.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Protocol
from uuid import UUID

from commands.notifications.circuits import healthy
from commands.notifications.dispatch import (
    DispatchesStarted,
    ProviderAnswered,
    RecordAnswers,
    StartDispatches,
    ToSend,
    started,
)
from commands.notifications.providers import Provider, ProviderAnswer
from commands.notifications.throttles import DispatchThrottle, Turn
from commands.processes.outages import Outage
from domain.notifications.category_policy import CategoryPolicy
from domain.notifications.channels import CRITICAL, HIGH, PRIORITIES, WEBHOOK, rank
from domain.notifications.notifications import Answer
from domain.notifications.retries import RetryPolicy
from event_log.aggregate import Cause

log = logging.getLogger(__name__)

DISPATCHER_ACTOR: Final = UUID("0f5d7c1e-6b0a-5d3e-9c41-2a7b8e9d1f60")
URGENT: Final = (CRITICAL, HIGH)
MAX_PROBES_PER_BATCH: Final = 100


@dataclass(frozen=True)
class DispatchJob:
    notification_id: UUID
    priority: str


class DispatchQueue(Protocol):
    def put(self, jobs: Sequence[DispatchJob]) -> None:
        """Durable enough for its profile before it returns (Kafka: acknowledged)."""

    def take(self, priorities: Sequence[str], max_jobs: int,
             timeout: float) -> list[DispatchJob]:
        """Up to `max_jobs` jobs of the most urgent of `priorities` that has any, waiting at
        most `timeout` seconds for one; [] if none came."""

    def close(self) -> None: ...


class Breakers(Protocol):
    """commands.notifications.circuits.CircuitBoard."""

    def allows(self, provider: str, now: datetime) -> bool: ...

    def state_of(self, provider: str) -> str: ...

    def record(self, provider: str, healthy: bool, latency_ms: float,
               now: datetime) -> Sequence[Any]: ...

    def changes(self, transitions: Sequence[Any]) -> Sequence[Any]: ...


Execute = Callable[[Any, Cause], Any]  # submit a command and wait for its outcome


@dataclass(frozen=True)
class Lane:
    priorities: tuple[str, ...]
    pumps: int


DEFAULT_LANES: Final = (Lane(URGENT, 2), Lane(PRIORITIES, 2))


def lanes_for(priorities: Sequence[str], urgent_pumps: int, pumps: int) -> tuple[Lane, ...]:
    """The urgent lane and the lane of every priority, each narrowed to `priorities` (what
    this process dispatches), most urgent first; a lane left with none is dropped, and two
    left with the same priorities are one with the pumps of both. So a process told critical
    and high never asks the queue for normal or bulk (in production it never even consumes
    their topics), and one told normal and bulk has no urgent lane."""
    lanes: list[Lane] = []
    for lane in (Lane(URGENT, urgent_pumps), Lane(PRIORITIES, pumps)):
        narrowed = tuple(p for p in lane.priorities if p in priorities)
        if lanes and lanes[-1].priorities == narrowed:
            lanes[-1] = Lane(narrowed, lanes[-1].pumps + lane.pumps)
        elif narrowed:
            lanes.append(Lane(narrowed, lane.pumps))
    return tuple(lanes)


# Normal and bulk sends one provider may have in flight at once. An HTTP/2 client multiplexes
# at most 100 streams on its connection to a service (httpcore's limit; the 101st request waits
# for a free stream) and an HTTP/1.1 one has 100 connections (httpx's default): a bulk backlog
# filling them all made critical sends wait behind bulk ones (docs/benchmarks.md). Critical
# and high sends are never held by this, so they always find a stream free.
NON_URGENT_IN_FLIGHT: Final = 80


@dataclass(frozen=True)
class DispatchSettings:
    batch_size: int = 100
    poll_seconds: float = 0.5
    send_timeout_seconds: float = 30.0  # a provider call's last bound (theirs are shorter)
    stale_after_seconds: float = 60.0
    public_url: str = "http://127.0.0.1:8000"
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    lanes: tuple[Lane, ...] = DEFAULT_LANES
    non_urgent_in_flight: int = NON_URGENT_IN_FLIGHT  # per provider (see above)
    # what the dispatch-time re-check needs (critical, transactional categories...)
    category_policy: CategoryPolicy = field(default_factory=CategoryPolicy)


class Dispatcher:
    def __init__(self, queue: DispatchQueue, providers: Sequence[Provider], execute: Execute,
                 breakers: Breakers, settings: DispatchSettings = DispatchSettings(),
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC), *,
                 throttle: DispatchThrottle | None = None) -> None:
        self._queue = queue
        self._providers = {p.name: p for p in providers}
        self._by_kind: dict[str, list[str]] = {}
        for provider in providers:
            for kind in sorted(provider.kinds):
                self._by_kind.setdefault(kind, []).append(provider.name)
        self._execute = execute
        self._breakers = breakers
        self._settings = settings
        self._clock = clock
        self._stopping = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._loop_thread = threading.Thread(target=self._loop.run_forever,
                                             name="dispatcher-io", daemon=True)
        self._pumps = [threading.Thread(target=self._pump, args=(lane,),
                                        name=f"dispatcher-{'-'.join(lane.priorities)}-{n}",
                                        daemon=True)
                       for lane in settings.lanes for n in range(lane.pumps)]
        self._outage = Outage(log, "dispatching notifications")
        self._throttle = throttle if throttle is not None and throttle.policy.enabled else None
        self._throttle_outage = Outage(log, "taking notification throttle tokens")
        # made on the loop's thread when first needed (a semaphore belongs to its loop)
        self._non_urgent_slots: dict[str, asyncio.Semaphore] = {}
        # a batch's sends may wait for slots held by every pump's batches: rounds of sends
        rounds = -(-settings.batch_size * max(1, len(self._pumps))
                   // max(1, settings.non_urgent_in_flight))
        self._batch_bound = settings.send_timeout_seconds * max(1, rounds) + 5

    @property
    def provider_names(self) -> list[str]:
        return list(self._providers)

    def start(self) -> None:
        self._loop_thread.start()
        for pump in self._pumps:
            pump.start()

    def stop(self) -> None:
        self._stopping.set()
        for pump in self._pumps:
            if pump.is_alive():
                pump.join(timeout=10)
        if self._loop_thread.is_alive():
            closing = asyncio.run_coroutine_threadsafe(self._close_providers(), self._loop)
            try:
                closing.result(timeout=5)
            except Exception:  # noqa: BLE001 - closing anyway
                log.warning("a provider did not close cleanly")
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._loop_thread.join(timeout=5)

    def _pump(self, lane: Lane) -> None:
        while not self._stopping.is_set():
            try:
                jobs = self._queue.take(lane.priorities, self._settings.batch_size,
                                        self._settings.poll_seconds)
                if jobs:
                    self.dispatch(jobs)
            except Exception as error:  # noqa: BLE001 - logged once per outage; the sweep retries
                self._outage.failed(error)
                self._stopping.wait(0.5)
                continue
            self._outage.recovered()

    def usable_providers(self, now: datetime) -> tuple[dict[str, tuple[str, ...]],
                                                      dict[str, int]]:
        """Per address kind, the providers to use now, in configured order, up to the first
        whose breaker is closed; and for each half-open one the probes it may take in this
        batch (the slots its breaker let through). So traffic comes back to a recovered
        primary, but never more of it than its probes, and the rest goes on to the next."""
        usable: dict[str, tuple[str, ...]] = {}
        probes: dict[str, int] = {}
        for kind, names in self._by_kind.items():
            chosen: list[str] = []
            for name in names:
                if self._breakers.state_of(name) == "closed":
                    chosen.append(name)
                    break
                if name not in probes:
                    slots = 0
                    while slots < MAX_PROBES_PER_BATCH and self._breakers.allows(name, now):
                        slots += 1
                    probes[name] = slots
                if probes[name]:
                    chosen.append(name)
            if chosen:
                usable[kind] = tuple(chosen)
        return usable, probes

    def dispatch(self, jobs: Sequence[DispatchJob]) -> int:
        """One batch, start to end, on the calling thread; returns the deliveries sent. With
        throttles, it takes its tokens in its turn (more urgent batches taken with it
        first: commands/notifications/throttles.py)."""
        turn = (None if self._throttle is None or not jobs
                else self._throttle.turns.enter(min(rank(j.priority) for j in jobs)))
        try:
            return self._dispatch(jobs, turn)
        finally:
            if turn is not None:
                turn.done()

    def _dispatch(self, jobs: Sequence[DispatchJob], turn: Turn | None) -> int:
        settings = self._settings
        cause = Cause(DISPATCHER_ACTOR, uuid.uuid4())
        now = self._clock()
        usable, probes = self.usable_providers(now)
        throttling = None if self._throttle is None else self._throttle.asking()
        outcome = self._execute(StartDispatches(
            tuple(j.notification_id for j in jobs), now, usable, settings.policy,
            settings.stale_after_seconds, settings.public_url, probes, throttling,
            settings.category_policy), cause)
        # what needs no token (a critical one, say) is on its way while the rest's tokens
        # are taken: throttles never delay it
        first = list(started(outcome.result))
        sending = [(first, self._sending(first))]
        second = list(self._throttled_batch(outcome.result, usable, cause, turn))
        if turn is not None:
            turn.done()  # its tokens are decided (or it needed none): less urgent ones go on
        sending.append((second, self._sending(second)))
        to_send = [*first, *second]
        if not to_send:
            return 0
        deadline = time.monotonic() + self._batch_bound
        answers = [answer for part, future in sending if part
                   for answer in future.result(timeout=max(0.0, deadline - time.monotonic()))]
        answered_at = self._clock()
        changes: list[Any] = []
        for item, (answer, _latency) in zip(to_send, answers, strict=True):
            if item.delivery.channel == WEBHOOK:
                # a webhook endpoint is one business's own: its failures are retried and
                # dead-lettered on their own, never held against every other business's
                continue
            transitions = self._breakers.record(item.provider, healthy(answer),
                                                _latency, answered_at)
            changes.extend(self._breakers.changes(transitions))
        for change in changes:
            self._execute(change, cause)
        self._execute(RecordAnswers(tuple(
            ProviderAnswered(item.delivery.notification_id, _answer_of(item, answer, latency))
            for item, (answer, latency) in zip(to_send, answers, strict=True)),
            answered_at, settings.policy), cause)
        return len(to_send)

    def _sending(self, to_send: Sequence[ToSend]) -> Any:
        """The sends on the loop (a concurrent future), or None for none."""
        if not to_send:
            return None
        return asyncio.run_coroutine_threadsafe(self._send_all(to_send), self._loop)

    def _throttled_batch(self, result: object, usable: Mapping[str, tuple[str, ...]],
                         cause: Cause, turn: Turn | None = None) -> Sequence[ToSend]:
        """The second half of a throttled batch (commands/notifications/throttles.py): the
        tokens of what asked for them taken, those granted dispatched, the rest throttled.
        Without the buckets (Redis away) they stay queued, for the sweep to queue again,
        and what needed no tokens is sent all the same. The providers are the first
        command's, and a half-open one's probes what that command left of them (asking its
        breaker again would spend probes no delivery uses)."""
        if self._throttle is None or not isinstance(result, DispatchesStarted) \
                or not result.asking:
            return ()
        asking = result.asking
        settings = self._settings
        if turn is not None:
            turn.wait()
        now = self._clock()
        try:
            throttling = self._throttle.decide(asking, now)
            if turn is not None:
                turn.done()
            outcome = self._execute(StartDispatches(
                tuple(a.notification_id for a in asking), now, usable, settings.policy,
                settings.stale_after_seconds, settings.public_url, result.probes_left,
                throttling, settings.category_policy), cause)
        except Exception as error:  # noqa: BLE001 - logged once per outage; the sweep retries
            # the first half's answers are recorded all the same
            self._throttle_outage.failed(error)
            return ()
        self._throttle_outage.recovered()
        return started(outcome.result)

    async def _send_all(self, to_send: Sequence[ToSend]) -> list[tuple[ProviderAnswer, int]]:
        return list(await asyncio.gather(*(self._send_one(item) for item in to_send)))

    async def _send_one(self, item: ToSend) -> tuple[ProviderAnswer, int]:
        if item.delivery.priority in URGENT:
            return await self._sent(item)
        slots = self._non_urgent_slots.get(item.provider)
        if slots is None:
            slots = self._non_urgent_slots[item.provider] = asyncio.Semaphore(
                max(1, self._settings.non_urgent_in_flight))
        async with slots:  # the wait for a slot is not the provider's latency
            return await self._sent(item)

    async def _sent(self, item: ToSend) -> tuple[ProviderAnswer, int]:
        started_at = time.perf_counter()
        provider = self._providers.get(item.provider)
        if provider is None:  # configured away since the delivery was planned
            answer = ProviderAnswer.failed("no_provider", retryable=True)
        else:
            try:
                answer = await asyncio.wait_for(provider.send(item.delivery),
                                                self._settings.send_timeout_seconds)
            except TimeoutError:
                answer = ProviderAnswer.failed("timeout", retryable=True)
            except Exception as error:  # noqa: BLE001 - an adapter's bug must not stop the batch
                log.error("provider %s failed on a delivery: %s", item.provider,
                          type(error).__name__)
                answer = ProviderAnswer.failed("adapter_error", retryable=True)
        return answer, int((time.perf_counter() - started_at) * 1000)

    async def _close_providers(self) -> None:
        for provider in self._providers.values():
            try:
                await provider.aclose()
            except Exception:  # noqa: BLE001 - closing the rest anyway
                log.warning("provider %s did not close cleanly", provider.name)


def _answer_of(item: ToSend, answer: ProviderAnswer, latency_ms: int) -> Answer:
    return Answer(item.delivery.attempt_id, item.provider, answer.accepted, latency_ms,
                  provider_message_id=answer.provider_message_id, delivered=answer.delivered,
                  code=answer.code, retryable=answer.retryable,
                  retry_after_seconds=answer.retry_after_seconds,
                  address_gone=answer.address_gone, cost_micros=answer.cost_micros)


def providers_by_kind(providers: Sequence[Provider]) -> Mapping[str, list[str]]:
    kinds: dict[str, list[str]] = {}
    for provider in providers:
        for kind in provider.kinds:
            kinds.setdefault(kind, []).append(provider.name)
    return kinds
