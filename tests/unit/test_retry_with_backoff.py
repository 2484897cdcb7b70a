"""The one retry loop of the log followers: the delay doubles up to its cap while a step
fails, a step that works resets it, and a step with nothing to do is followed by the idle wait."""

from __future__ import annotations

import threading

from projections.read_model.retries import RetryWithBackoff


class RecordingStop(threading.Event):
    """Records each wait instead of sleeping, and stops the loop after `rounds` of them."""

    def __init__(self, rounds: int) -> None:
        super().__init__()
        self.waits: list[float] = []
        self._rounds = rounds

    def wait(self, timeout: float | None = None) -> bool:
        self.waits.append(timeout or 0.0)
        if len(self.waits) >= self._rounds:
            self.set()
        return self.is_set()


def test_the_delay_doubles_up_to_its_cap_and_a_step_that_works_resets_it() -> None:
    stopping = RecordingStop(rounds=6)
    outcomes = iter([False, False, False, False, True, False, False])
    failures: list[str] = []

    def step() -> bool:
        if not next(outcomes):
            raise ConnectionError("away")
        return True

    RetryWithBackoff(stopping, lambda e: failures.append(type(e).__name__),
                     first_delay=0.5, longest_delay=3.0).run(step)
    assert stopping.waits == [0.5, 1.0, 2.0, 3.0, 0.5, 1.0]
    assert failures == ["ConnectionError"] * 6


def test_a_step_with_nothing_to_do_is_followed_by_the_idle_wait_and_one_with_work_is_not(
) -> None:
    stopping = threading.Event()
    worked = iter([True, True, False, True, False])
    idles: list[int] = []

    def step() -> bool:
        return next(worked)

    def idle() -> None:
        idles.append(1)
        if len(idles) == 2:
            stopping.set()

    RetryWithBackoff(stopping, lambda e: None).run(step, idle)
    assert idles == [1, 1]


def test_a_stopped_loop_runs_no_step() -> None:
    stopping = threading.Event()
    stopping.set()
    RetryWithBackoff(stopping, lambda e: None).run(lambda: 1 / 0 > 0)
