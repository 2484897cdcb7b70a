"""A dispatcher's batches take their throttle tokens in turns (commands/notifications/
throttles.py TokenTurns): batches taken from the queue together reach the buckets most urgent
first, whichever pump is quicker; a more urgent batch never waits for a less urgent one; a
stuck batch delays the others only for the patience."""

from __future__ import annotations

import threading
import time

from hypothesis import given, settings
from hypothesis import strategies as st

from commands.notifications.throttles import TokenTurns
from domain.notifications.channels import BULK, HIGH, NORMAL, PRIORITIES, rank


def test_a_less_urgent_batch_waits_for_a_more_urgent_one_to_have_its_tokens() -> None:
    turns = TokenTurns(patience_seconds=5)
    urgent, bulk = turns.enter(rank(HIGH)), turns.enter(rank(BULK))
    went = threading.Event()

    def bulk_batch() -> None:
        bulk.wait()
        went.set()
        bulk.done()

    thread = threading.Thread(target=bulk_batch)
    thread.start()
    assert not went.wait(0.2)  # the high batch has not had its tokens yet
    urgent.done()
    assert went.wait(2)
    thread.join(2)


def test_a_more_urgent_or_equally_urgent_batch_never_waits() -> None:
    turns = TokenTurns(patience_seconds=5)
    turns.enter(rank(BULK))
    turns.enter(rank(NORMAL))
    started = time.monotonic()
    assert turns.enter(rank(NORMAL)).wait() is True
    assert turns.enter(rank(HIGH)).wait() is True
    assert time.monotonic() - started < 0.5


def test_a_stuck_batch_delays_a_less_urgent_one_only_for_the_patience() -> None:
    turns = TokenTurns(patience_seconds=0.2)
    turns.enter(rank(HIGH))  # never done
    started = time.monotonic()
    assert turns.enter(rank(NORMAL)).wait() is False
    assert 0.15 <= time.monotonic() - started < 1.5


def test_a_batch_done_twice_leaves_its_turn_once() -> None:
    turns = TokenTurns(patience_seconds=0.2)
    first, second = turns.enter(rank(HIGH)), turns.enter(rank(HIGH))
    first.done()
    first.done()
    assert turns.enter(rank(BULK)).wait() is False  # the second high one still counts
    second.done()
    assert turns.enter(rank(BULK)).wait() is True


@settings(max_examples=25, deadline=None)
@given(st.lists(st.sampled_from(PRIORITIES), min_size=1, max_size=6),
       st.lists(st.floats(0, 0.01), min_size=6, max_size=6))
def test_batches_taken_together_reach_the_buckets_most_urgent_first(
        priorities: list[str], delays: list[float]) -> None:
    """However quick each pump is to get to the buckets, the ranks reaching them never go
    down."""
    turns = TokenTurns(patience_seconds=5)
    reached: list[int] = []
    lock = threading.Lock()
    taken = [turns.enter(rank(p)) for p in priorities]  # taken from the queue together

    def pump(index: int) -> None:
        time.sleep(delays[index])  # the batch's first write-side command
        turn = taken[index]
        turn.wait()
        with lock:
            reached.append(turn.rank)
        turn.done()

    threads = [threading.Thread(target=pump, args=(i,)) for i in range(len(priorities))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert reached == sorted(rank(p) for p in priorities)
