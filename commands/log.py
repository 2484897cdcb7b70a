"""The event log: an `eventsourcing` application whose recorder is the append-only store."""

from __future__ import annotations

from typing import Any, ClassVar

from eventsourcing.application import Application

from domain.conversations import Conversation

SNAPSHOT_EVERY = 500


class EventLog(Application):  # type: ignore[type-arg]
    """Parley's single event log; every aggregate of every context is stored here.

    Conversations grow with every message, so one is snapshotted every `SNAPSHOT_EVERY`
    events: loading it (after a restart, or in another process) reads a snapshot and at most
    that many events, however long the conversation.
    """

    name = "Parley"
    snapshotting_intervals: ClassVar[dict[type[Any], int]] = {Conversation: SNAPSHOT_EVERY}
