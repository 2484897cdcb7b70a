"""The event log snapshots the aggregates that declare `snapshot_every` (it names none itself),
every that many events, and never one that does not declare it."""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import event

from domain.identity.devices import Device
from domain.messaging.conversations import Conversation
from domain.messaging.upload_quota import PendingUploads
from event_log.aggregate import SNAPSHOT_EVERY, ParleyAggregate
from event_log.log import EventLog
from tests.builders import a_cause


class Tally(ParleyAggregate):
    snapshot_every = 3

    def __init__(self, actor_id: UUID, correlation_id: UUID,
                 causation_id: UUID | None) -> None:
        self.count = 0

    @event("Counted")
    def count_one(self, actor_id: UUID, correlation_id: UUID,
                  causation_id: UUID | None) -> None:
        self.count += 1


class Unsnapshotted(ParleyAggregate):
    def __init__(self, actor_id: UUID, correlation_id: UUID,
                 causation_id: UUID | None) -> None:
        self.count = 0

    @event("Counted")
    def count_one(self, actor_id: UUID, correlation_id: UUID,
                  causation_id: UUID | None) -> None:
        self.count += 1


def snapshot_versions(log: EventLog, aggregate_id: UUID) -> list[int]:
    assert log.snapshots is not None
    return [s.originator_version for s in log.snapshots.get(aggregate_id)]


def test_a_declaring_aggregate_is_snapshotted_every_so_many_events_and_others_never() -> None:
    log = EventLog(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    cause = a_cause().as_event_fields()
    tally, plain = Tally(**cause), Unsnapshotted(**cause)
    for _ in range(6):
        tally.count_one(**cause)
        plain.count_one(**cause)
        log.save(tally, plain)
    assert snapshot_versions(log, tally.id) == [3, 6]
    assert snapshot_versions(log, plain.id) == []
    assert log.repository.get(tally.id).count == 6


def test_conversations_devices_and_pending_uploads_declare_the_log_wide_interval() -> None:
    assert [Conversation.snapshot_every, Device.snapshot_every,
            PendingUploads.snapshot_every] == [SNAPSHOT_EVERY] * 3
    assert ParleyAggregate.snapshot_every is None
