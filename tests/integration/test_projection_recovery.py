"""A projection's last error is cleared once it writes again: status shows no outage long over.

On the embedded stores, with a read store that fails its first writes as an unreachable
Elasticsearch would.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from adapters.read_model.memory_cache import MemoryCache
from adapters.read_model.sqlite_projection_health import SQLiteProjectionHealth
from adapters.read_model.sqlite_read_store import SQLiteReadStore
from projections.read_model.documents import DocumentChange, Upsert
from projections.read_model.events import PositionedEvent
from projections.read_model.runner import ProjectionWriter


class Notes:
    name, context = "notes", "notes"

    def changes(self, event: Any, position: int) -> Sequence[DocumentChange]:
        if event == "unprojectable":
            raise KeyError(event)
        return [Upsert("notes", str(position), position, {"text": event})]


class FailingFirst(SQLiteReadStore):
    """Refuses its first `failures` writes, as a store that is away."""

    failures = 0

    def apply(self, changes: Sequence[DocumentChange], projection: str, position: int) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("connection refused")
        super().apply(changes, projection, position)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[FailingFirst]:
    read_store = FailingFirst(tmp_path / "read.sqlite3")
    yield read_store
    read_store.close()


@pytest.fixture
def health(tmp_path: Path) -> Iterator[SQLiteProjectionHealth]:
    projection_health = SQLiteProjectionHealth(tmp_path / "read.sqlite3")
    yield projection_health
    projection_health.close()


def a_writer(store: FailingFirst, health: SQLiteProjectionHealth) -> ProjectionWriter:
    return ProjectionWriter(store, MemoryCache(30), health=health)


def project(writer: ProjectionWriter, position: int, text: str = "hello") -> None:
    writer.project(Notes(), [PositionedEvent(position, text)], position)


def test_an_outage_error_is_cleared_when_the_projection_writes_again(
    store: FailingFirst, health: SQLiteProjectionHealth
) -> None:
    writer = a_writer(store, health)
    project(writer, 1)
    store.failures = 2
    for _ in range(2):
        with pytest.raises(ConnectionError):
            project(writer, 2)
    assert "ConnectionError" in health.last_errors()["notes"].error
    project(writer, 2)
    assert health.last_errors() == {}


def test_a_batch_that_writes_again_clears_the_error_of_each_projection_in_it(
    store: FailingFirst, health: SQLiteProjectionHealth
) -> None:
    writer = a_writer(store, health)
    store.failures = 1
    with pytest.raises(ConnectionError), writer.batch(["notes"]):
        project(writer, 1)
    assert set(health.last_errors()) == {"notes"}
    with writer.batch(["notes"]):
        project(writer, 1)
    assert health.last_errors() == {}


def test_an_error_left_by_a_process_stopped_during_an_outage_is_cleared_at_the_first_write(
    store: FailingFirst, health: SQLiteProjectionHealth
) -> None:
    health.record_error("notes", "ConnectionError: connection refused")
    project(a_writer(store, health), 1)
    assert health.last_errors() == {}


def test_the_error_of_a_parked_event_stays_while_the_projection_goes_on(
    store: FailingFirst, health: SQLiteProjectionHealth
) -> None:
    writer = a_writer(store, health)
    project(writer, 1, "unprojectable")
    project(writer, 2)
    assert [p.position for p in health.parked("notes")] == [1]
    assert "KeyError" in health.last_errors()["notes"].error
