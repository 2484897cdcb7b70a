"""Circuit breakers per provider: when they open, how long they refuse, how half-open probes
decide, that only the provider's own failures count, and how their changes are recorded."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from eventsourcing.application import Application
from hypothesis import given, settings
from hypothesis import strategies as st

from commands.notifications import circuits
from commands.notifications.circuits import (
    CircuitBoard,
    RecordCircuitChange,
    RecordedCircuit,
    healthy,
    record_circuit_change,
    recorded_circuits,
)
from commands.notifications.providers import ProviderAnswer
from domain.notifications.circuits import (
    CLOSED,
    HALF_OPEN,
    OPEN,
    Breaker,
    BreakerPolicy,
    ProviderCircuit,
    Transition,
    UnknownCircuitState,
    circuit_id,
)
from event_log.batch import Batch
from tests.builders import a_cause

# examples are bounded in number; a loaded machine must not fail them on their pace
unhurried = settings(deadline=None)
POLICY = BreakerPolicy(window_seconds=30, min_calls=10, failure_rate=0.5, open_seconds=15,
                       half_open_probes=3)
T0 = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def an_open_breaker(policy: BreakerPolicy = POLICY) -> Breaker:
    breaker = Breaker("fcm-main", policy)
    for _ in range(policy.min_calls):
        breaker.record(False, T0)
    assert breaker.state == OPEN
    return breaker


def a_half_open_breaker(policy: BreakerPolicy = POLICY) -> Breaker:
    breaker = an_open_breaker(policy)
    assert breaker.allows(at(policy.open_seconds))
    assert breaker.state == HALF_OPEN
    return breaker


policies = st.builds(BreakerPolicy, window_seconds=st.integers(1, 120).map(float),
                     min_calls=st.integers(1, 30), failure_rate=st.sampled_from(
                         [0.1, 0.25, 0.5, 0.75, 1.0]),
                     open_seconds=st.integers(1, 120).map(float),
                     half_open_probes=st.integers(1, 10))


@given(policies, st.lists(st.booleans(), max_size=200))
@unhurried
def test_it_opens_at_the_first_answer_that_reaches_the_threshold_and_never_before(
        policy: BreakerPolicy, answers: list[bool]) -> None:
    breaker = Breaker("fcm-main", policy)
    failures = 0
    for calls, answer in enumerate(answers, start=1):
        failures += 0 if answer else 1
        transitions = breaker.record(answer, at(calls / 1000))
        due = calls >= policy.min_calls and failures / calls >= policy.failure_rate
        assert breaker.state == (OPEN if due else CLOSED), (calls, failures)
        if due:
            [opened] = transitions
            assert (opened.from_state, opened.to_state, opened.calls) == (CLOSED, OPEN, calls)
            assert opened.failure_rate == pytest.approx(failures / calls, abs=1e-4)
            assert opened.until == at(calls / 1000) + timedelta(seconds=policy.open_seconds)
            return
        assert transitions == []


@given(policies, st.data())
@unhurried
def test_it_never_opens_below_the_minimum_of_calls(policy: BreakerPolicy,
                                                   data: st.DataObject) -> None:
    answers = data.draw(st.lists(st.booleans(), max_size=policy.min_calls - 1))
    breaker = Breaker("fcm-main", policy)
    for answer in answers:
        assert breaker.record(answer, T0) == []
        assert breaker.allows(T0)
    assert breaker.state == CLOSED


@given(st.lists(st.sampled_from(["UNREGISTERED", "410", "21211", "550", "invalid"]),
                min_size=1, max_size=300))
@unhurried
def test_permanent_answers_about_one_address_never_open_it(codes: list[str]) -> None:
    breaker = Breaker("fcm-main", POLICY)
    for n, code in enumerate(codes):
        answer = ProviderAnswer.failed(code, retryable=False, address_gone=n % 2 == 0)
        breaker.record(healthy(answer), at(n / 100))
        assert breaker.allows(at(n / 100))
    assert breaker.state == CLOSED


def test_only_retryable_failures_say_the_provider_is_unwell() -> None:
    assert healthy(ProviderAnswer.accepted_as("m-1"))
    assert healthy(ProviderAnswer.failed("UNREGISTERED", retryable=False, address_gone=True))
    for code in ("timeout", "connection", "503", "429"):
        assert not healthy(ProviderAnswer.failed(code, retryable=True))


@given(policies, st.data())
@unhurried
def test_after_opening_it_refuses_until_the_open_period_ends_exactly(
        policy: BreakerPolicy, data: st.DataObject) -> None:
    breaker = an_open_breaker(policy)
    early = data.draw(st.integers(0, int(policy.open_seconds * 1_000_000) - 1))
    assert not breaker.allows(T0 + timedelta(microseconds=early))
    assert not breaker.allows(at(policy.open_seconds) - timedelta(microseconds=1))
    assert breaker.state == OPEN
    assert breaker.allows(at(policy.open_seconds))
    assert breaker.state == HALF_OPEN


def test_answers_arriving_while_open_are_not_counted() -> None:
    breaker = an_open_breaker()
    assert breaker.record(True, at(1)) == []
    assert breaker.state == OPEN


Step = tuple[str, bool, float]
steps = st.lists(st.tuples(st.sampled_from(["allow", "record"]), st.booleans(),
                           st.sampled_from([0.0, 0.001, 0.5, 1.0, 1.5])), max_size=120)


@given(policies, steps)
@settings(max_examples=300, deadline=None)
def test_half_open_never_lets_more_than_the_probes_through(policy: BreakerPolicy,
                                                           script: list[Step]) -> None:
    """Probes answered, and probes let through in the last open period and not answered yet,
    are never more than `half_open_probes`, whatever the order of calls and answers."""
    breaker = an_open_breaker(policy)
    now, answered, outstanding = 0.0, 0, list[float]()
    for action, answer, pause in script:
        now += pause * policy.open_seconds  # pauses in units of the open period
        before = breaker.state
        if action == "allow":
            allowed = breaker.allows(at(now))
            if before == OPEN and breaker.state == HALF_OPEN:
                answered, outstanding = 0, []  # a fresh half-open period
            # a probe unanswered for an open period was never sent: it no longer counts
            outstanding = [t for t in outstanding if now - t <= policy.open_seconds]
            if allowed and breaker.state == HALF_OPEN:
                outstanding.append(now)
            assert answered + len(outstanding) <= policy.half_open_probes
        else:
            breaker.record(answer, at(now))
            if breaker.state == HALF_OPEN and outstanding:
                outstanding.pop(0)
                answered += 1


def test_all_probes_healthy_close_it_with_an_empty_window() -> None:
    breaker = a_half_open_breaker()
    assert breaker.allows(at(15)) and breaker.allows(at(15))
    assert not breaker.allows(at(15)), "three probes only"
    assert breaker.record(True, at(15.1)) == [breaker_transition(OPEN, HALF_OPEN, 15)]
    assert breaker.record(True, at(15.2)) == []
    [closed] = breaker.record(True, at(15.3))
    assert (closed.from_state, closed.to_state, closed.calls) == (HALF_OPEN, CLOSED, 3)
    assert breaker.reading(at(15.3)) == (CLOSED, 0.0, 0)
    assert breaker.allows(at(15.4))


def breaker_transition(from_state: str, to_state: str, seconds: float) -> Transition:
    return Transition("fcm-main", from_state, to_state, at(seconds), 0.0, 0)


def test_a_failing_probe_opens_it_again_for_a_fresh_period() -> None:
    breaker = a_half_open_breaker()
    breaker.take_pending()
    assert breaker.allows(at(16))
    breaker.record(True, at(16))
    [reopened] = breaker.record(False, at(20))
    assert (reopened.from_state, reopened.to_state) == (HALF_OPEN, OPEN)
    assert reopened.until == at(35)
    assert not breaker.allows(at(34.9)) and breaker.allows(at(35))


def test_a_probe_never_answered_within_an_open_period_frees_its_slot() -> None:
    breaker = a_half_open_breaker()
    assert breaker.allows(at(15)) and breaker.allows(at(15))  # all three out, none answered
    assert not breaker.allows(at(30))
    assert [breaker.allows(at(30.1)) for _ in range(4)] == [True, True, True, False], (
        "the three were never sent: probing goes on")
    assert breaker.state == HALF_OPEN


def test_failures_older_than_the_window_no_longer_count() -> None:
    breaker = Breaker("fcm-main", POLICY)
    for _ in range(9):
        breaker.record(False, T0)
    breaker.record(True, at(31.5))  # the nine failures are out of the window by now
    assert breaker.state == CLOSED
    assert breaker.reading(at(31.5)) == (CLOSED, 0.0, 1)


@pytest.mark.parametrize("bad", [
    {"window_seconds": 0.5}, {"open_seconds": 0}, {"min_calls": 0}, {"half_open_probes": 0},
    {"failure_rate": 0}, {"failure_rate": 1.5}])
def test_thresholds_that_make_no_sense_are_refused(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="breaker"):
        BreakerPolicy(**bad)  # type: ignore[arg-type]


# The board a dispatcher process consults -------------------------------------------------

def test_the_board_keeps_a_breaker_per_provider_and_names_the_changes_to_record() -> None:
    board = CircuitBoard(POLICY, channels={"fcm-main": "push"})
    transitions = [t for _ in range(10) for t in board.record("fcm-main", False, 5.0, T0)]
    assert not board.allows("fcm-main", at(1)) and board.allows("apns-main", at(1))
    [change] = board.changes(transitions)
    assert change == RecordCircuitChange("fcm-main", OPEN, T0, 1.0, 10, at(15), "push")
    assert board.snapshot(at(1)) == {"fcm-main": (OPEN, 0.0, 0),
                                     "apns-main": (CLOSED, 0.0, 0)}


def test_a_restarted_board_remembers_an_open_breaker_until_its_recorded_end() -> None:
    board = CircuitBoard(POLICY)
    board.restore({"fcm-main": RecordedCircuit(OPEN, at(15)),
                   "apns-main": RecordedCircuit(HALF_OPEN)})
    assert not board.allows("fcm-main", at(14.9))
    assert board.allows("fcm-main", at(15))
    assert [board.allows("apns-main", T0) for _ in range(4)] == [True, True, True, False]
    [half_opened] = board.take_pending()
    assert (half_opened.provider, half_opened.to_state) == ("fcm-main", HALF_OPEN)


class SlowToClaim(Breaker):
    """A half-open breaker that takes its time between seeing a free probe slot and taking
    it (a breaker is not thread-safe: without the board's lock around each call, threads
    would all see the same slot free)."""

    def allows(self, now: datetime) -> bool:
        if self.state != HALF_OPEN:
            return super().allows(now)
        free = len(self._probes_admitted) < self.policy.half_open_probes
        time.sleep(0.01)
        if free:
            self._probes_admitted.append(now.timestamp())
        return free


def test_threads_sharing_a_board_take_no_more_probes_than_there_are(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(circuits, "Breaker", SlowToClaim)
    board = CircuitBoard(POLICY)
    board.restore({"fcm-main": RecordedCircuit(HALF_OPEN)})
    allowed: list[bool] = []
    start = threading.Barrier(8)

    def ask() -> None:
        start.wait(timeout=5)
        allowed.append(board.allows("fcm-main", T0))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=5)
    assert sum(allowed) == POLICY.half_open_probes


# The recorded circuit -----------------------------------------------------------------------

def a_circuit() -> ProviderCircuit:
    return ProviderCircuit.start("fcm-main", "push", a_cause())


def test_every_state_change_is_an_event_with_what_caused_it() -> None:
    circuit = a_circuit()
    assert circuit.change(OPEN, T0, 0.6, 20, at(15), a_cause())
    assert circuit.change(HALF_OPEN, at(15), 0.0, 0, None, a_cause())
    assert circuit.change(CLOSED, at(16), 0.0, 3, None, a_cause())
    kinds = [type(e).__name__ for e in circuit.pending_events]
    assert kinds == ["Started", "Opened", "HalfOpened", "Closed"]
    opened = circuit.pending_events[1]
    assert isinstance(opened, ProviderCircuit.Opened)
    assert (opened.failure_rate, opened.calls, opened.until) == (0.6, 20, at(15))
    assert (circuit.state, circuit.since, circuit.until) == (CLOSED, at(16), None)


def test_recording_the_state_it_is_in_or_an_older_change_records_nothing() -> None:
    circuit = a_circuit()
    assert not circuit.change(CLOSED, T0, 0.0, 0, None, a_cause())
    circuit.change(OPEN, at(10), 0.6, 20, at(25), a_cause())
    recorded = len(circuit.pending_events)
    assert not circuit.change(OPEN, at(11), 0.7, 30, at(26), a_cause())
    assert not circuit.change(CLOSED, at(5), 0.0, 3, None, a_cause())
    assert len(circuit.pending_events) == recorded and circuit.until == at(25)


def test_an_unknown_state_or_an_open_one_without_an_end_is_refused() -> None:
    with pytest.raises(UnknownCircuitState):
        a_circuit().change("ajar", T0, 0.0, 0, None, a_cause())
    with pytest.raises(UnknownCircuitState):
        a_circuit().change(OPEN, T0, 0.5, 10, None, a_cause())


def test_recorded_changes_are_read_back_from_the_log_for_a_restart() -> None:
    app = Application[uuid.UUID]()
    for command in (RecordCircuitChange("fcm-main", OPEN, T0, 0.5, 10, at(15), "push"),
                    RecordCircuitChange("fcm-main", OPEN, at(1), 0.5, 10, at(16), "push"),
                    RecordCircuitChange("apns-main", OPEN, T0, 1.0, 12, at(15), "push"),
                    RecordCircuitChange("apns-main", HALF_OPEN, at(15), 0.0, 0)):
        batch = Batch(app.repository)
        answer = record_circuit_change(batch, command, a_cause())
        assert answer.state == command.to_state
        app.save(*batch.touched())
    assert recorded_circuits(app.repository, ["fcm-main", "apns-main", "smtp-main"]) == {
        "fcm-main": RecordedCircuit(OPEN, at(15)), "apns-main": RecordedCircuit(HALF_OPEN)}
    circuit: object = app.repository.get(circuit_id("fcm-main"))
    assert isinstance(circuit, ProviderCircuit) and circuit.version == 2
