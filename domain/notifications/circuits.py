"""Circuit breakers per provider: the pure breaker a dispatcher consults, and `ProviderCircuit`,
the aggregate that records every state change it makes.

Why not `pybreaker` or `purgatory`: both open after N *consecutive* failures rather than at a
failure rate over a rolling window with a minimum of calls, both wrap the call and classify
raised exceptions (a provider here never raises: it answers), both read the clock themselves
and keep their state in their own store (memory, Redis) with transitions as callbacks, not as
values. An event-sourced breaker needs the opposite on every count, so it is this small pure
object: no I/O, the clock passed in, each transition returned for the caller to record.

closed -> open when, over the last `window_seconds`, at least `min_calls` answers came and at
least `failure_rate` of them said the provider is unwell; open -> half_open once `open_seconds`
have passed (on the first call it admits); half_open admits `half_open_probes` calls: all
healthy -> closed, any unhealthy -> open again for a fresh period. An answer about one address
(an unregistered token, an invalid number) is no fault of the provider's: it is healthy.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, NamedTuple
from uuid import UUID, uuid5

from domain.errors import InvalidCommand
from event_log.aggregate import SNAPSHOT_EVERY, Cause, ParleyAggregate, copied, values

CLOSED: Final = "closed"
OPEN: Final = "open"
HALF_OPEN: Final = "half_open"
CIRCUIT_STATES: Final = (CLOSED, OPEN, HALF_OPEN)
PROVIDER_CIRCUIT_NAMESPACE = UUID("0c5e7a29-4b1d-4f83-a6e2-93d1b8f04c57")


class UnknownCircuitState(InvalidCommand):
    """A breaker is closed, open or half_open; an open one says until when."""


def circuit_id(provider: str) -> UUID:
    return uuid5(PROVIDER_CIRCUIT_NAMESPACE, provider)


@dataclass(frozen=True)
class BreakerPolicy:
    """The thresholds (PARLEY_BREAKER_* settings)."""

    window_seconds: float = 30.0
    min_calls: int = 10
    failure_rate: float = 0.5
    open_seconds: float = 15.0
    half_open_probes: int = 3

    def __post_init__(self) -> None:
        if self.window_seconds < 1 or self.open_seconds <= 0:
            raise ValueError("a breaker's window is at least 1 s and its open period positive")
        if self.min_calls < 1 or self.half_open_probes < 1:
            raise ValueError("a breaker needs at least one call and one probe")
        if not 0 < self.failure_rate <= 1:
            raise ValueError("a breaker's failure rate is in (0, 1]")


@dataclass(frozen=True)
class Transition:
    """One state change of one provider's breaker, for the caller to record."""

    provider: str
    from_state: str
    to_state: str
    at: datetime
    failure_rate: float
    calls: int
    until: datetime | None = None  # open: when it admits probes


class Reading(NamedTuple):
    """What a breaker shows now (for metrics): its state and its window's failure rate."""

    state: str
    failure_rate: float
    calls: int


class _Window:
    """Answers of the last `seconds`, counted in one-second buckets: every answer of the last
    `seconds` counts, and those of the second before that at most (so memory stays bounded at
    any rate)."""

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds
        self._buckets: deque[list[int]] = deque()  # [second, calls, failures], oldest first
        self.calls = self.failures = 0

    def add(self, healthy: bool, moment: float) -> None:
        self.prune(moment)
        second = math.floor(moment)
        if not self._buckets or self._buckets[-1][0] < second:
            self._buckets.append([second, 0, 0])
        bucket = self._buckets[-1]  # an answer stamped earlier than the newest joins it
        bucket[1] += 1
        bucket[2] += 0 if healthy else 1
        self.calls += 1
        self.failures += 0 if healthy else 1

    def prune(self, moment: float) -> None:
        while self._buckets and self._buckets[0][0] + 1 <= moment - self._seconds:
            _, calls, failures = self._buckets.popleft()
            self.calls -= calls
            self.failures -= failures

    @property
    def failure_rate(self) -> float:
        return self.failures / self.calls if self.calls else 0.0


class Breaker:
    """One provider's breaker. Not thread-safe: the dispatcher's CircuitBoard locks around it.

    A transition made while admitting a call (open -> half_open) waits in `pending` and comes
    back with the next `record` (or `take_pending`), so every one is recorded. Each call let
    through must be recorded; in half-open, answers beyond the probes let through (calls
    admitted before it opened) do not count.
    """

    def __init__(self, provider: str, policy: BreakerPolicy, state: str = CLOSED,
                 until: datetime | None = None) -> None:
        if state not in CIRCUIT_STATES or (state == OPEN and until is None):
            raise UnknownCircuitState("to_state", f"unknown breaker state {state!r}")
        self.provider, self.policy, self.state = provider, policy, state
        self.until = until if state == OPEN else None
        self.pending: list[Transition] = []
        self._window = _Window(policy.window_seconds)
        self._probes_admitted: list[float] = []  # when each unanswered probe was let through
        self._probes_answered = 0

    def allows(self, now: datetime) -> bool:
        """Whether a call may go to the provider now; a call let through must be recorded."""
        if self.state == OPEN:
            assert self.until is not None
            if now < self.until:
                return False
            self._move(HALF_OPEN, now, 0.0, 0)
        if self.state == HALF_OPEN:
            moment = now.timestamp()
            # a probe let through but never answered within an open period was never sent (a
            # provider's own timeouts are far shorter): its slot is free again
            self._probes_admitted = [t for t in self._probes_admitted
                                     if moment - t <= self.policy.open_seconds]
            if self._probes_answered + len(self._probes_admitted) >= self.policy.half_open_probes:
                return False
            self._probes_admitted.append(moment)
        return True

    def record(self, healthy: bool, now: datetime) -> list[Transition]:
        """An answer of the provider; returns every transition not returned yet."""
        if self.state == CLOSED:
            self._window.add(healthy, now.timestamp())
            window, policy = self._window, self.policy
            if window.calls >= policy.min_calls and window.failure_rate >= policy.failure_rate:
                self._open(now, window.failure_rate, window.calls)
        elif self.state == HALF_OPEN and self._probes_admitted:
            self._probes_admitted.pop(0)  # with no probe out: a call from before it opened
            self._probes_answered += 1
            calls = self._probes_answered
            if not healthy:
                self._open(now, 1 / calls, calls)
            elif calls >= self.policy.half_open_probes:
                self._move(CLOSED, now, 0.0, calls)
        return self.take_pending()

    def take_pending(self) -> list[Transition]:
        taken, self.pending = self.pending, []
        return taken

    def reading(self, now: datetime) -> Reading:
        if self.state == CLOSED:
            self._window.prune(now.timestamp())
            return Reading(CLOSED, self._window.failure_rate, self._window.calls)
        return Reading(self.state, 0.0, self._probes_answered)

    def _open(self, now: datetime, failure_rate: float, calls: int) -> None:
        self._move(OPEN, now, failure_rate, calls,
                   until=now + timedelta(seconds=self.policy.open_seconds))

    def _move(self, to_state: str, now: datetime, failure_rate: float, calls: int,
              until: datetime | None = None) -> None:
        self.pending.append(Transition(self.provider, self.state, to_state, now,
                                       round(failure_rate, 4), calls, until))
        self.state, self.until = to_state, until
        self._window = _Window(self.policy.window_seconds)
        self._probes_admitted, self._probes_answered = [], 0


class ProviderCircuit(ParleyAggregate):
    """The recorded state of one provider's breaker: every change it made is an event, so a
    restarted dispatcher starts from it and operators see when and why it opened."""

    snapshot_every = SNAPSHOT_EVERY  # a flapping provider changes state often

    def __init__(self, provider: str, channel: str) -> None:
        self.provider, self.channel = provider, channel
        self.state: str = CLOSED
        self.since: datetime | None = None
        self.until: datetime | None = None
        self.failure_rate, self.calls = 0.0, 0

    class Started(ParleyAggregate.Created):
        provider: str
        channel: str

    class Opened(ParleyAggregate.Event):
        """Too many of its answers said it was unwell: calls go to another provider."""

        at: datetime
        failure_rate: float
        calls: int
        until: datetime
        copies = copied("failure_rate", "calls", "until", since="at")
        sets = values(state=OPEN)

    class HalfOpened(ParleyAggregate.Event):
        """Its open period ended: a few probe calls find out whether it recovered."""

        at: datetime
        copies = copied(since="at")
        sets = values(state=HALF_OPEN, until=None)

    class Closed(ParleyAggregate.Event):
        """Every probe was answered healthily: it takes all its traffic again."""

        at: datetime
        calls: int
        copies = copied("calls", since="at")
        sets = values(state=CLOSED, until=None, failure_rate=0.0)

    @classmethod
    def start(cls, provider: str, channel: str, cause: Cause) -> ProviderCircuit:
        return cls._create(cls.Started, id=circuit_id(provider), provider=provider,
                           channel=channel, **cause.as_event_fields())

    def change(self, to_state: str, at: datetime, failure_rate: float, calls: int,
               until: datetime | None, cause: Cause) -> bool:
        """Records a breaker's change; False (nothing recorded) if it is in that state already
        or the change is older than the one recorded (several dispatchers record theirs)."""
        if to_state not in CIRCUIT_STATES:
            raise UnknownCircuitState("to_state", f"a breaker is one of: "
                                                  f"{', '.join(CIRCUIT_STATES)}")
        if to_state == OPEN and until is None:
            raise UnknownCircuitState("until", "an open breaker says until when")
        if to_state == self.state or (self.since is not None and at < self.since):
            return False
        fields = cause.as_event_fields()
        if to_state == OPEN:
            self.trigger_event(self.Opened, at=at, failure_rate=failure_rate, calls=calls,
                               until=until, **fields)
        elif to_state == HALF_OPEN:
            self.trigger_event(self.HalfOpened, at=at, **fields)
        else:
            self.trigger_event(self.Closed, at=at, calls=calls, **fields)
        return True
