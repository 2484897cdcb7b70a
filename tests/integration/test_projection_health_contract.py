"""One contract for where parked events and last errors are kept: SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.read_model.sqlite_projection_health import SQLiteProjectionHealth
from projections.read_model.health import ProjectionHealth


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)])
def health(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ProjectionHealth]:
    if request.param == "sqlite":
        sqlite = SQLiteProjectionHealth(tmp_path / "read.sqlite3")
        yield sqlite
        sqlite.close()
        return
    from adapters.read_model.postgres_projection_health import PostgresProjectionHealth

    yield PostgresProjectionHealth(request.getfixturevalue("namespace_pool"))


def test_parked_events_are_listed_in_log_order_per_projection(health: ProjectionHealth) -> None:
    health.park("feed", 9, "Message.Edited", "KeyError: 'x'")
    health.park("messaging", 4, "Message.Edited", "KeyError: 'y'")
    health.park("messaging", 2, "Conversation.Renamed", "ValueError: z")

    assert [(p.projection, p.position) for p in health.parked()] == [
        ("messaging", 2), ("messaging", 4), ("feed", 9)]
    assert [p.position for p in health.parked("messaging")] == [2, 4]
    assert health.parked("messaging", limit=1)[0].event_type == "Conversation.Renamed"


def test_parking_again_counts_attempts_and_keeps_the_latest_error(
        health: ProjectionHealth) -> None:
    health.park("feed", 9, "Message.Edited", "first")
    health.park("feed", 9, "Message.Edited", "second")
    [parked] = health.parked("feed")
    assert (parked.attempts, parked.error) == (2, "second")


def test_an_unparked_event_is_gone(health: ProjectionHealth) -> None:
    health.park("feed", 9, "Message.Edited", "boom")
    health.unpark("feed", 9)
    health.unpark("feed", 10)  # nothing there: harmless
    assert health.parked() == []


def test_the_last_error_of_each_projection_is_kept(health: ProjectionHealth) -> None:
    health.record_error("feed", "ConnectionError: down")
    health.record_error("feed", "BulkFailed: refused")
    health.record_error("users", "KeyError: 'x'")
    errors = health.last_errors()
    assert {name: e.error for name, e in errors.items()} == {
        "feed": "BulkFailed: refused", "users": "KeyError: 'x'"}
    assert errors["feed"].at.tzinfo is not None


def test_a_cleared_error_is_gone_and_clearing_none_is_harmless(health: ProjectionHealth) -> None:
    health.record_error("feed", "ConnectionError: down")
    health.record_error("users", "KeyError: 'x'")
    health.clear_error("feed")
    health.clear_error("messaging")
    assert set(health.last_errors()) == {"users"}
