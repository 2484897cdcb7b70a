"""The event log: an `eventsourcing` application whose recorder is the append-only store."""

from __future__ import annotations

from eventsourcing.application import Application


class EventLog(Application):  # type: ignore[type-arg]
    """Parley's single event log; every aggregate of every context is stored here."""

    name = "Parley"
