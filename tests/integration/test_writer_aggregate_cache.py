"""The writer's aggregate cache (event_log/aggregate_cache.py), on both profiles' event logs,
with a second writer on the same log standing in for another process."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest

from domain.errors import InvalidCommand
from event_log.aggregate import Cause, ParleyAggregate
from event_log.aggregate_cache import AggregateCache
from event_log.batch import Batch
from event_log.log import EventLog
from event_log.writer import GroupCommitWriter
from parley.assembly import event_log_env
from tests.builders import a_cause, embedded_settings


class Tally(ParleyAggregate):
    def __init__(self) -> None:
        self.total = 0

    class Opened(ParleyAggregate.Created):
        pass

    class Counted(ParleyAggregate.Event):
        by: int

        def apply(self, aggregate: Any) -> None:
            aggregate.total += self.by

    @classmethod
    def open(cls, tally_id: UUID, cause: Cause) -> Tally:
        return cls._create(cls.Opened, id=tally_id, **cause.as_event_fields())

    def count(self, by: int, cause: Cause) -> None:
        self.trigger_event(self.Counted, by=by, **cause.as_event_fields())


@dataclass(frozen=True)
class OpenTally:
    tally_id: UUID


@dataclass(frozen=True)
class Count:
    tally_id: UUID
    by: int = 1


@dataclass(frozen=True)
class ReadTally:
    tally_id: UUID


@dataclass(frozen=True)
class CountAndFail:
    """Changes the tally without an event, then fails: a handler written wrongly."""

    tally_id: UUID


@dataclass(frozen=True)
class CountEach:
    tally_ids: tuple[UUID, ...]


@dataclass(frozen=True)
class Total:
    total: int


@dataclass(frozen=True)
class Totals:
    totals: tuple[int | None, ...]


def open_tally(batch: Batch, command: OpenTally, cause: Cause) -> Total:
    batch.add(Tally.open(command.tally_id, cause))
    return Total(0)


def count(batch: Batch, command: Count, cause: Cause) -> Total:
    tally = batch.find(Tally, command.tally_id)
    assert tally is not None
    tally.count(command.by, cause)
    return Total(tally.total)


def read_tally(batch: Batch, command: ReadTally, cause: Cause) -> Total:
    tally = batch.find(Tally, command.tally_id)
    assert tally is not None
    return Total(tally.total)


def count_and_fail(batch: Batch, command: CountAndFail, cause: Cause) -> Total:
    tally = batch.find(Tally, command.tally_id)
    assert tally is not None
    tally.total += 1000
    raise InvalidCommand("tally", "this handler changes state without an event")


def count_each(batch: Batch, command: CountEach, cause: Cause) -> Totals:
    tallies = batch.find_all(Tally, command.tally_ids)
    for tally in tallies.values():
        tally.count(1, cause)
    return Totals(tuple(t.total if (t := tallies.get(i)) else None for i in command.tally_ids))


HANDLERS = {OpenTally: open_tally, Count: count, ReadTally: read_tally,
            CountAndFail: count_and_fail, CountEach: count_each}


class EventReads:
    """Counts the reads of each aggregate's events from a log's recorder."""

    def __init__(self, log: EventLog, monkeypatch: pytest.MonkeyPatch) -> None:
        self.of: dict[UUID, int] = {}
        select = log.recorder.select_events

        def counted(originator_id: Any, **options: Any) -> Any:
            key = UUID(str(originator_id))
            self.of[key] = self.of.get(key, 0) + 1
            return select(originator_id, **options)

        monkeypatch.setattr(log.recorder, "select_events", counted)
        self.many: list[int] = []  # aggregates asked for, per query for many
        events_of = log.recorder.events_of

        def counted_many(originator_ids: Any) -> Any:
            self.many.append(len(originator_ids))
            return events_of(originator_ids)

        monkeypatch.setattr(log.recorder, "events_of", counted_many)


OpenLog = Callable[[], EventLog]


@pytest.fixture(params=["embedded", pytest.param("production", marks=pytest.mark.services)])
def open_log(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OpenLog]:
    """Opens one event log of the profile (each call another process's view of it)."""
    if request.param == "production":
        request.getfixturevalue("namespace_pool")  # migrated, and dropped afterwards
        yield request.getfixturevalue("open_postgres_log")
        return
    opened: list[EventLog] = []

    def open_embedded() -> EventLog:
        opened.append(EventLog(env=event_log_env(embedded_settings(tmp_path))))
        return opened[-1]

    yield open_embedded
    for log in reversed(opened):
        log.close()


@dataclass
class Writers:
    ours: GroupCommitWriter
    cache: AggregateCache
    reads: EventReads
    other: GroupCommitWriter  # another process's writer on the same log


@pytest.fixture
def writers(open_log: OpenLog, monkeypatch: pytest.MonkeyPatch) -> Iterator[Writers]:
    log = open_log()
    reads = EventReads(log, monkeypatch)
    cache = AggregateCache(log)
    ours = GroupCommitWriter(log, HANDLERS, cache=cache, command_timeout=10)
    other = GroupCommitWriter(open_log(), HANDLERS, command_timeout=10)
    ours.start()
    other.start()
    yield Writers(ours, cache, reads, other)
    ours.stop()
    other.stop()


def total(writer: GroupCommitWriter, command: Any) -> int:
    result = writer.execute(command, a_cause(), timeout=10).result
    assert isinstance(result, Total)
    return result.total


def test_a_command_on_what_the_writer_just_saved_reads_none_of_its_events(
        writers: Writers) -> None:
    tally = uuid4()
    total(writers.ours, OpenTally(tally))
    assert total(writers.ours, Count(tally)) == 1
    assert total(writers.ours, Count(tally, 2)) == 3
    assert writers.reads.of.get(tally, 0) == 0
    assert writers.cache.rebuilt == 0


def test_another_writers_event_is_seen_by_the_next_command(writers: Writers) -> None:
    tally = uuid4()
    total(writers.ours, OpenTally(tally))
    assert total(writers.ours, Count(tally)) == 1
    assert total(writers.other, Count(tally, 10)) == 11
    assert total(writers.ours, ReadTally(tally)) == 11
    assert total(writers.ours, Count(tally)) == 12, "a stale tally would conflict or lose 10"


def test_what_another_writer_did_not_touch_stays_cached(writers: Writers) -> None:
    untouched, touched = uuid4(), uuid4()
    total(writers.ours, OpenTally(untouched))
    total(writers.ours, OpenTally(touched))
    total(writers.other, Count(touched, 10))
    assert total(writers.ours, Count(untouched)) == 1
    assert total(writers.ours, Count(touched)) == 11
    assert writers.reads.of.get(untouched, 0) == 0
    assert writers.reads.of.get(touched, 0) >= 1


def test_a_save_that_conflicts_with_another_writer_is_decided_again_on_the_log(
        writers: Writers) -> None:
    tally = uuid4()
    total(writers.ours, OpenTally(tally))
    other_went_first = []

    def count_after_the_other(batch: Batch, command: Count, cause: Cause) -> Total:
        # Our writer has taken its cached tally; the other process counts it meanwhile.
        found = batch.find(Tally, command.tally_id)
        if not other_went_first:
            other_went_first.append(total(writers.other, Count(tally, 10)))
        assert found is not None
        found.count(command.by, cause)
        return Total(found.total)

    writers.ours._handlers = {**HANDLERS, Count: count_after_the_other}  # type: ignore[misc]
    assert total(writers.ours, Count(tally)) == 11
    assert other_went_first == [10]
    assert total(writers.other, ReadTally(tally)) == 11


def test_what_a_failed_command_changed_is_not_kept(writers: Writers) -> None:
    tally = uuid4()
    total(writers.ours, OpenTally(tally))
    with pytest.raises(InvalidCommand):
        total(writers.ours, CountAndFail(tally))
    assert total(writers.ours, ReadTally(tally)) == 0


def test_when_others_wrote_more_than_it_reads_at_once_it_forgets_everything(
        open_log: OpenLog, monkeypatch: pytest.MonkeyPatch) -> None:
    log = open_log()
    reads = EventReads(log, monkeypatch)
    ours = GroupCommitWriter(log, HANDLERS, cache=AggregateCache(log, scan_limit=2))
    other = GroupCommitWriter(open_log(), HANDLERS)
    ours.start()
    other.start()
    try:
        untouched, touched = uuid4(), uuid4()
        total(ours, OpenTally(untouched))
        total(other, OpenTally(touched))
        for _ in range(3):
            total(other, Count(touched))
        assert total(ours, Count(untouched)) == 1
        assert total(ours, Count(touched)) == 4
        assert reads.of.get(untouched, 0) == 1
    finally:
        ours.stop()
        other.stop()


def test_aggregates_the_writer_lacks_are_read_in_one_query_and_decided_on_alike(
        writers: Writers) -> None:
    cached, others, absent = uuid4(), [uuid4() for _ in range(5)], uuid4()
    total(writers.ours, OpenTally(cached))
    for tally in others:
        total(writers.other, OpenTally(tally))
        total(writers.other, Count(tally, 10))
    ids = (absent, cached, *others, cached)
    result = writers.ours.execute(CountEach(ids), a_cause(), timeout=10).result
    assert result == Totals((None, 1, *[11] * 5, 1))
    assert writers.reads.many == [6], "the five others and the absent one, in one query"
    assert sum(writers.reads.of.get(t, 0) for t in (cached, *others)) == 0
    assert total(writers.other, ReadTally(others[0])) == 11
    assert total(writers.ours, Count(others[0])) == 12
    assert writers.reads.of.get(others[0], 0) == 0, "kept after the save, as saved"
