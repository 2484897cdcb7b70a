"""Where process managers' positions are kept: one contract, SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from adapters.processes.postgres_positions import PostgresProcessPositions
from adapters.processes.sqlite_positions import SQLiteProcessPositions
from commands.processes.runner import ProcessPositions

Reopen = Callable[[], ProcessPositions]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)])
def reopen(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Reopen]:
    """Opens the positions afresh each time, as a restarted process does."""
    if request.param == "sqlite":
        opened: list[SQLiteProcessPositions] = []

        def sqlite() -> ProcessPositions:
            opened.append(SQLiteProcessPositions(tmp_path / "process_positions.sqlite3"))
            return opened[-1]

        yield sqlite
        for positions in opened:
            positions.close()
        return
    pool = request.getfixturevalue("namespace_pool")
    yield lambda: PostgresProcessPositions(pool)


def test_a_manager_starts_at_the_beginning_of_the_log(reopen: Reopen) -> None:
    assert reopen().position("attachment-purge") == 0


def test_a_recorded_position_survives_a_restart_and_is_kept_per_manager(reopen: Reopen) -> None:
    positions = reopen()
    positions.record("attachment-purge", 12)
    positions.record("seen-marker", 3)
    again = reopen()
    assert (again.position("attachment-purge"), again.position("seen-marker")) == (12, 3)


def test_a_position_never_moves_back(reopen: Reopen) -> None:
    positions = reopen()
    positions.record("attachment-purge", 12)
    positions.record("attachment-purge", 7)
    assert reopen().position("attachment-purge") == 12
