"""Token turns shared by the dispatchers of a deployment (commands/notifications/
shared_turns.py), over a registry in this process: a batch waits for a more urgent one in
its own process or in another, within the one patience; entering and leaving cost a round
trip per change of the ranks held, not per batch; the registry away costs the order, never
a send. The same against the real Redis: tests/integration/notifications/
test_shared_token_turns.py."""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from commands.notifications.shared_turns import SharedTurns, poll_delays, renewal_due
from commands.notifications.throttles import TokenTurns, Turn
from domain.notifications.channels import BULK, CRITICAL, HIGH, NORMAL, rank
from parley.notification_engine import throttle_turns
from tests.builders import embedded_settings
from tests.e2e.notifications.waiting import eventually


class RegistryHere:
    """The registry's behaviour, in this process: what each dispatcher holds."""

    def __init__(self) -> None:
        self.others: frozenset[int] = frozenset()  # what other dispatchers hold
        self.holds: list[frozenset[int]] = []
        self.looks: list[int] = []
        self.away = False
        self.closed = False

    def hold(self, ranks: frozenset[int]) -> None:
        if self.away:
            raise ConnectionError("registry away")
        self.holds.append(ranks)

    def more_urgent_than(self, priority_rank: int) -> bool:
        self.looks.append(priority_rank)
        if self.away:
            raise ConnectionError("registry away")
        return any(r < priority_rank for r in self.others)

    def close(self) -> None:
        self.closed = True


def said(registry: RegistryHere) -> Callable[[], str]:
    return lambda: f"the registry was told {registry.holds}"


def waiting_for_its_turn(turn: Turn, went: threading.Event) -> threading.Thread:
    """A pump at a batch's wait for its tokens: `went` once it may take them."""
    def pump() -> None:
        turn.wait()
        went.set()

    thread = threading.Thread(target=pump)
    thread.start()
    return thread


@pytest.fixture
def registry() -> RegistryHere:
    return RegistryHere()


def shared(registry: RegistryHere, patience: float = 5.0, lease: float = 60.0) -> SharedTurns:
    return SharedTurns(registry, patience_seconds=patience, lease_seconds=lease)


def test_pauses_between_looks_double_up_to_the_longest() -> None:
    assert list(itertools.islice(poll_delays(0.01, 0.05), 6)) == [
        0.01, 0.02, 0.04, 0.05, 0.05, 0.05]


def test_the_ranks_are_sent_when_they_change_and_renewed_every_third_of_a_lease() -> None:
    assert renewal_due(frozenset({3}), frozenset(), 0.0, 3.0)
    assert renewal_due(frozenset(), frozenset({3}), 0.0, 3.0)  # released at once
    assert renewal_due(frozenset({3}), None, 0.0, 3.0)  # the last send failed
    assert not renewal_due(frozenset({3}), frozenset({3}), 0.9, 3.0)
    assert renewal_due(frozenset({3}), frozenset({3}), 1.0, 3.0)
    assert not renewal_due(frozenset(), frozenset(), 100.0, 3.0)  # nothing to keep alive


def test_a_batch_entering_is_published_and_released_when_it_leaves(
        registry: RegistryHere) -> None:
    turns = shared(registry)
    turn = turns.enter(rank(HIGH))
    eventually(lambda: registry.holds == [frozenset({rank(HIGH)})], said(registry), 5)
    turn.done()
    eventually(lambda: registry.holds[-1:] == [frozenset()], said(registry), 5)
    turns.close()


def test_batches_of_ranks_already_held_cost_no_round_trip(registry: RegistryHere) -> None:
    turns = shared(registry)
    first = turns.enter(rank(BULK))
    eventually(lambda: registry.holds == [frozenset({rank(BULK)})], said(registry), 5)
    for _ in range(200):  # a busy dispatcher: bulk batches come and go while one is in
        turns.enter(rank(BULK)).done()
    time.sleep(0.2)
    assert registry.holds == [frozenset({rank(BULK)})]
    first.done()
    turns.close()


def test_a_held_rank_is_renewed_before_its_lease_ends(registry: RegistryHere) -> None:
    turns = shared(registry, lease=0.3)
    turns.enter(rank(NORMAL))
    eventually(lambda: len(registry.holds) >= 3, said(registry), 5)
    assert set(registry.holds) == {frozenset({rank(NORMAL)})}
    turns.close()


def test_a_less_urgent_batch_waits_while_another_dispatcher_holds_a_more_urgent_rank(
        registry: RegistryHere) -> None:
    turns = shared(registry)
    registry.others = frozenset({rank(HIGH)})
    bulk = turns.enter(rank(BULK))
    went = threading.Event()
    thread = waiting_for_its_turn(bulk, went)
    assert not went.wait(0.3)
    registry.others = frozenset()  # its high batch had its tokens
    assert went.wait(2)
    thread.join(2)
    turns.close()


def test_a_more_urgent_rank_elsewhere_delays_a_batch_only_for_the_patience(
        registry: RegistryHere) -> None:
    turns = shared(registry, patience=0.3)
    registry.others = frozenset({rank(CRITICAL)})  # never released
    started = time.monotonic()
    assert turns.enter(rank(NORMAL)).wait() is False
    assert 0.25 <= time.monotonic() - started < 0.6
    assert 3 <= len(registry.looks) < 60  # growing pauses, not a busy loop
    turns.close()


def test_a_critical_batch_never_asks_the_registry(registry: RegistryHere) -> None:
    turns = shared(registry)
    registry.others = frozenset({rank(CRITICAL)})
    assert turns.enter(rank(CRITICAL)).wait() is True
    assert registry.looks == []
    turns.close()


def test_equally_urgent_ranks_elsewhere_do_not_hold_a_batch(registry: RegistryHere) -> None:
    turns = shared(registry)
    registry.others = frozenset({rank(HIGH), rank(NORMAL), rank(BULK)})
    started = time.monotonic()
    assert turns.enter(rank(HIGH)).wait() is True
    assert time.monotonic() - started < 0.5
    turns.close()


def test_a_more_urgent_batch_of_its_own_process_still_goes_first(
        registry: RegistryHere) -> None:
    turns = shared(registry, patience=5)
    high, bulk = turns.enter(rank(HIGH)), turns.enter(rank(BULK))
    went = threading.Event()
    thread = waiting_for_its_turn(bulk, went)
    assert not went.wait(0.3)
    high.done()
    assert went.wait(2)
    thread.join(2)
    turns.close()


def test_the_registry_away_costs_the_order_not_the_batch_and_is_logged_once(
        registry: RegistryHere, caplog: pytest.LogCaptureFixture) -> None:
    registry.away = True
    turns = shared(registry)
    registry.others = frozenset({rank(HIGH)})
    with caplog.at_level(logging.WARNING, logger="commands.notifications.shared_turns"):
        started = time.monotonic()
        for _ in range(5):
            turn = turns.enter(rank(BULK))
            assert turn.wait() is True
            turn.done()
        assert time.monotonic() - started < 0.5
        time.sleep(0.1)
    looking = [r for r in caplog.records if "reading the other dispatchers" in r.getMessage()]
    assert len(looking) == 1
    turns.close()


def test_publishing_comes_back_once_the_registry_does(registry: RegistryHere) -> None:
    registry.away = True
    turns = shared(registry)
    turns.enter(rank(NORMAL))
    time.sleep(0.1)
    registry.away = False
    eventually(lambda: registry.holds == [frozenset({rank(NORMAL)})], said(registry), 5)
    turns.close()


def test_closing_releases_its_ranks_and_the_registry(registry: RegistryHere) -> None:
    turns = shared(registry)
    turns.enter(rank(BULK))  # a batch still in its turn: the process is going
    turns.close()
    assert registry.holds[-1] == frozenset()
    assert registry.closed


def test_production_shares_the_turns_through_redis_and_the_embedded_default_keeps_its_own(
        tmp_path: Path) -> None:
    assert type(throttle_turns(embedded_settings(tmp_path))) is TokenTurns
    production = embedded_settings(tmp_path).model_copy(update={
        "database_url": "postgresql://parley@127.0.0.1:1/p",
        "redis_url": "redis://127.0.0.1:1/0", "namespace": "turns"})
    assert production.profile == "production"
    turns = throttle_turns(production)
    assert isinstance(turns, SharedTurns)
    turns.close()  # its Redis is nowhere: the release is logged, never raised
