"""Circuit breakers on the write side: the command recording a breaker's change, and the
`CircuitBoard` each dispatcher process consults before it calls a provider.

The dispatcher asks `board.allows(provider, now)` before a call (if not, it fails over to the
channel's next provider), tells `board.record(provider, healthy(answer), latency_ms, now)`
after it, and submits `board.changes(transitions)` (one `RecordCircuitChange` each) to the
writer. At start it calls `board.restore(recorded_circuits(repository, names))`, so a
restarted dispatcher does not forget an open breaker.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from eventsourcing.application import AggregateNotFoundError, Repository

from commands.notifications.providers import ProviderAnswer
from domain.notifications.circuits import (
    CLOSED,
    Breaker,
    BreakerPolicy,
    ProviderCircuit,
    Reading,
    Transition,
    circuit_id,
)
from event_log.aggregate import Cause
from event_log.batch import Batch
from event_log.outcomes import Handler


@dataclass(frozen=True)
class RecordCircuitChange:
    """A dispatcher's breaker for `provider` moved to `to_state` at `at` (open: `until`)."""

    provider: str
    to_state: str
    at: datetime
    failure_rate: float
    calls: int
    until: datetime | None = None
    channel: str = ""

    @classmethod
    def of(cls, transition: Transition, channel: str = "") -> RecordCircuitChange:
        return cls(transition.provider, transition.to_state, transition.at,
                   transition.failure_rate, transition.calls, transition.until, channel)


@dataclass(frozen=True)
class CircuitChangeRecorded:
    """The breaker's recorded state; `changed`: this command made a difference."""

    provider: str
    state: str
    changed: bool


def record_circuit_change(batch: Batch, command: RecordCircuitChange,
                          cause: Cause) -> CircuitChangeRecorded:
    circuit = batch.find(ProviderCircuit, circuit_id(command.provider))
    if circuit is None:
        circuit = ProviderCircuit.start(command.provider, command.channel, cause)
        batch.add(circuit)
    changed = circuit.change(command.to_state, command.at, command.failure_rate,
                             command.calls, command.until, cause)
    return CircuitChangeRecorded(command.provider, circuit.state, changed)


CIRCUIT_HANDLERS: dict[type, Handler] = {RecordCircuitChange: record_circuit_change}


def healthy(answer: ProviderAnswer) -> bool:
    """Whether an answer speaks well of the provider: it took the delivery, or refused it for
    good (a gone token, an invalid number: about that address, not the provider). Only the
    retryable failures (timeouts, dropped connections, 5xx, 429) say it is unwell."""
    return answer.accepted or not answer.retryable


@dataclass(frozen=True)
class RecordedCircuit:
    """A breaker's state as its `ProviderCircuit` recorded it."""

    state: str
    until: datetime | None = None


def recorded_circuits(repository: Repository,  # type: ignore[type-arg]
                      providers: Iterable[str]) -> dict[str, RecordedCircuit]:
    """The recorded breaker of each provider that has one, read from the event log."""
    recorded: dict[str, RecordedCircuit] = {}
    for provider in providers:
        try:
            circuit: object = repository.get(circuit_id(provider))
        except AggregateNotFoundError:
            continue
        if isinstance(circuit, ProviderCircuit):
            recorded[provider] = RecordedCircuit(circuit.state, circuit.until)
    return recorded


class CircuitBoard:
    """Every provider's breaker in one dispatcher process (thread-safe). A provider never
    seen has a closed breaker."""

    def __init__(self, policy: BreakerPolicy,
                 channels: Mapping[str, str] | None = None) -> None:
        self._policy = policy
        self._channels = dict(channels or {})  # provider -> channel, for the recorded changes
        self._breakers: dict[str, Breaker] = {}
        self._lock = threading.Lock()

    def allows(self, provider: str, now: datetime) -> bool:
        """Closed, or half-open with a probe slot free (the call then takes it)."""
        with self._lock:
            return self._breaker(provider).allows(now)

    def record(self, provider: str, healthy: bool, latency_ms: float,
               now: datetime) -> list[Transition]:
        """A call's answer; the transitions to record (including any made by `allows`).
        `latency_ms` is no failure signal (a slow provider's adapter answers `timeout`); the
        health read model reports latency from the attempt events."""
        del latency_ms
        with self._lock:
            return self._breaker(provider).record(healthy, now)

    def take_pending(self) -> list[Transition]:
        """Transitions `allows` made that no `record` returned yet (e.g. at shutdown)."""
        with self._lock:
            return [t for breaker in self._breakers.values() for t in breaker.take_pending()]

    def restore(self, states: Mapping[str, RecordedCircuit]) -> None:
        """Starts each provider's breaker in its recorded state (an open one until its
        recorded end, a half-open one with fresh probes, a closed one with an empty window)."""
        with self._lock:
            for provider, recorded in states.items():
                self._breakers[provider] = Breaker(provider, self._policy, recorded.state,
                                                   recorded.until)

    def snapshot(self, now: datetime | None = None) -> dict[str, Reading]:
        """Each provider's (state, failure_rate, calls_in_window), for metrics."""
        moment = now or datetime.now(UTC)
        with self._lock:
            return {name: breaker.reading(moment) for name, breaker in self._breakers.items()}

    def changes(self, transitions: Sequence[Transition]) -> list[RecordCircuitChange]:
        """The command recording each transition."""
        return [RecordCircuitChange.of(t, self._channels.get(t.provider, ""))
                for t in transitions]

    def state_of(self, provider: str) -> str:
        with self._lock:
            breaker = self._breakers.get(provider)
            return breaker.state if breaker is not None else CLOSED

    def _breaker(self, provider: str) -> Breaker:
        breaker = self._breakers.get(provider)
        if breaker is None:
            breaker = self._breakers[provider] = Breaker(provider, self._policy)
        return breaker
