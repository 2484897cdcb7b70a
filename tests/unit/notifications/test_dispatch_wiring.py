"""The production wiring's small parts: the timers' rounds take turns between processes (each
under its lock), API processes dispatch unless told not to, dispatchers take only the
priorities they are told, and `parley dispatch` exists and refuses the embedded default."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator

import pytest
from pydantic import ValidationError

from commands.notifications.dispatcher import URGENT, Lane, lanes_for
from commands.processes.runner import lock_name
from commands.processes.schedules import Schedule
from parley.production import under_lock
from parley.settings import Settings, dispatch_priorities


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


def test_parley_dispatch_refuses_to_start_without_the_secret_key(tmp_path) -> None:
    """It signs the emails' one-click unsubscribe links with it, as serve does."""
    env = {"PATH": "/usr/bin:/bin", "PARLEY_DATA_DIR": str(tmp_path),
           "PARLEY_DATABASE_URL": "postgresql://parley@127.0.0.1:1/parley",
           "PARLEY_KAFKA_BOOTSTRAP": "127.0.0.1:1", "PARLEY_ELASTICSEARCH_URL": "http://127.0.0.1:1",
           "PARLEY_REDIS_URL": "redis://127.0.0.1:1/0"}
    ran = subprocess.run([sys.executable, "-m", "parley", "dispatch"], env=env, timeout=60,
                         capture_output=True, text=True, check=False)
    assert ran.returncode != 0
    assert "PARLEY_SECRET_KEY is not set" in ran.stderr


def test_lanes_narrowed_to_critical_and_high_never_ask_for_normal_or_bulk() -> None:
    assert lanes_for(("critical", "high"), 2, 3) == (Lane(URGENT, 5),)
    assert lanes_for(("critical",), 2, 3) == (Lane(("critical",), 5),)
    assert lanes_for(("normal", "bulk"), 2, 3) == (Lane(("normal", "bulk"), 3),)
    assert lanes_for(("critical", "high", "normal", "bulk"), 2, 3) == (
        Lane(URGENT, 2), Lane(("critical", "high", "normal", "bulk"), 3))


def test_dispatch_priorities_are_named_in_any_order_and_kept_most_urgent_first() -> None:
    assert dispatch_priorities(" Bulk,critical,,bulk ", "--priorities") == ["critical", "bulk"]
    with pytest.raises(ValueError, match="--priorities: unknown priority 'urgent'"):
        dispatch_priorities("critical,urgent", "--priorities")
    with pytest.raises(ValueError, match="no priority"):
        dispatch_priorities(" , ", "--priorities")


def test_api_processes_dispatch_every_priority_unless_told_which(monkeypatch) -> None:
    assert Settings().notification_dispatch_priorities == ["critical", "high", "normal", "bulk"]
    monkeypatch.setenv("PARLEY_NOTIFICATION_DISPATCH_PRIORITIES", "bulk,normal")
    assert Settings().notification_dispatch_priorities == ["normal", "bulk"]
    monkeypatch.setenv("PARLEY_NOTIFICATION_DISPATCH_PRIORITIES", "critical,soon")
    with pytest.raises(ValidationError, match="unknown priority 'soon'"):
        Settings()


def test_parley_dispatch_refuses_an_unknown_priority_with_exit_2(monkeypatch) -> None:
    from typer.testing import CliRunner

    from parley import cli

    started: list[object] = []
    monkeypatch.setattr(cli, "command_settings", Settings)  # no logging set up in the test
    monkeypatch.setattr("parley.production.run_dispatchers", lambda *a: started.append(a))

    ran = CliRunner().invoke(cli.app, ["dispatch", "--priorities", "critical,urgent"])
    assert (ran.exit_code, started) == (2, [])
    assert "--priorities: unknown priority 'urgent'" in ran.output

    ran = CliRunner().invoke(cli.app, ["dispatch", "--priorities", "high,critical"])
    assert ran.exit_code == 0
    assert [a[2] for a in started] == [["critical", "high"]]
