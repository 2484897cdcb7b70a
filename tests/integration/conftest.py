"""Fixtures shared by the integration tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from event_log.log import EventLog


@pytest.fixture
def event_log(tmp_path: Path) -> Iterator[EventLog]:
    """A fresh embedded (SQLite) event log; a module about PostgreSQL defines its own."""
    log = EventLog(env={"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                        "SQLITE_DBNAME": str(tmp_path / "events.sqlite3")})
    yield log
    log.close()
