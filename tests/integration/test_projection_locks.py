"""Projection locks (a replay's switch against the live projector): files and PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.read_model.file_locks import FileLocks
from projections.read_model.health import ProjectionLocks


@pytest.fixture(params=["files", pytest.param("postgresql", marks=pytest.mark.services)])
def locks(request: pytest.FixtureRequest, tmp_path: Path,
          namespace: str) -> Iterator[ProjectionLocks]:
    if request.param == "files":
        yield FileLocks(tmp_path / "locks")
        return
    from psycopg_pool import ConnectionPool

    from adapters.read_model.postgres_locks import PostgresLocks

    url = request.getfixturevalue("database_url")
    with ConnectionPool(url, min_size=2, max_size=4, open=True,
                        kwargs={"autocommit": True}) as pool:
        yield PostgresLocks(pool, namespace)


def waited_for(locks: ProjectionLocks, held: str, wanted: list[str]) -> float:
    """Seconds `hold_all(wanted)` waited while another thread held `held` for 0.3 s."""
    holding, released = threading.Event(), threading.Event()

    def hold() -> None:
        with locks.hold(held):
            holding.set()
            time.sleep(0.3)
            released.set()  # about to let go: whoever gets the lock next sees this set

    thread = threading.Thread(target=hold)
    thread.start()
    holding.wait(5)
    started = time.monotonic()
    with locks.hold_all(wanted):
        waited = time.monotonic() - started
        assert released.is_set() or held not in wanted
    thread.join(5)
    return waited


def test_a_batch_waits_for_a_switch_holding_one_of_its_projections(
        locks: ProjectionLocks) -> None:
    assert waited_for(locks, "messaging", ["feed", "messaging", "attachments"]) >= 0.2


def test_a_batch_of_other_projections_does_not_wait(locks: ProjectionLocks) -> None:
    assert waited_for(locks, "users", ["feed", "messaging"]) < 0.2
