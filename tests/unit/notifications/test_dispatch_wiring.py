"""The production wiring's small parts: the timers' rounds take turns between processes (each
under its lock), API processes dispatch unless told not to, and `parley dispatch` exists and
refuses the embedded default."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator

from commands.processes.runner import lock_name
from commands.processes.schedules import Schedule
from parley.production import under_lock
from parley.settings import Settings


class RecordingLocks:
    def __init__(self) -> None:
        self.held: list[str] = []
        self.events: list[str] = []

    @contextlib.contextmanager
    def hold(self, name: str) -> Iterator[None]:
        self.events.append(f"take {name}")
        self.held.append(name)
        try:
            yield
        finally:
            self.held.remove(name)
            self.events.append(f"free {name}")


def test_a_schedule_under_lock_does_each_round_while_holding_its_own_lock() -> None:
    locks = RecordingLocks()
    rounds: list[tuple[int, list[str]]] = []

    def work(bound: int) -> int:
        rounds.append((bound, list(locks.held)))
        return 3

    schedule = Schedule("notification-sweep", 5.0, work, bound=1000, doing="sweeping")
    locked = under_lock(schedule, locks)

    assert locked.work(1000) == 3
    assert rounds == [(1000, [lock_name("notification-sweep")])]
    assert locks.events == [f"take {lock_name('notification-sweep')}",
                            f"free {lock_name('notification-sweep')}"]
    assert (locked.name, locked.every_seconds, locked.bound, locked.doing) == (
        "notification-sweep", 5.0, 1000, "sweeping")


def test_api_processes_dispatch_unless_told_not_to(monkeypatch) -> None:
    assert Settings().notification_dispatch_in_api is True
    monkeypatch.setenv("PARLEY_NOTIFICATION_DISPATCH_IN_API", "false")
    assert Settings().notification_dispatch_in_api is False


def test_parley_dispatch_refuses_the_embedded_default(tmp_path) -> None:
    env = {"PATH": "/usr/bin:/bin", "PARLEY_DATA_DIR": str(tmp_path), "PARLEY_DATABASE_URL": ""}
    ran = subprocess.run([sys.executable, "-m", "parley", "dispatch"], env=env, timeout=60,
                         capture_output=True, text=True, check=False)
    assert ran.returncode != 0
    assert "PARLEY_DATABASE_URL is not set" in ran.stderr
