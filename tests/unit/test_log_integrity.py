"""Verifying a log against its chain: each kind of tampering is named at its position."""

from __future__ import annotations

import dataclasses
import time
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from commands.audit.checkpoints import CheckpointSchedule, write_checkpoint
from commands.audit.integrity import verify_log
from domain.audit.chain_verification import BreakKind
from event_log.hash_chain import ChainLink, Checkpoint, LoggedEvent, extend_chain, sign_checkpoint

KEY = b"auditor-key"
AT = datetime(2025, 3, 1, tzinfo=UTC)


class MemoryChain:
    """An in-memory `ChainRecords`: events, links and checkpoints by position."""

    def __init__(self) -> None:
        self.events: dict[int, LoggedEvent] = {}
        self.links: dict[int, ChainLink] = {}
        self.signed: dict[int, Checkpoint] = {}

    def append(self, *positions: int) -> None:
        events = [an_event(p) for p in positions]
        for event, link in zip(events, extend_chain(self.chain_head(), events), strict=True):
            self.events[event.position], self.links[link.position] = event, link

    def logged_events(self, after: int, until: int | None, limit: int) -> list[LoggedEvent]:
        return [self.events[p] for p in _window(self.events, after, until)][:limit]

    def chain_links(self, after: int, until: int | None, limit: int) -> list[ChainLink]:
        return [self.links[p] for p in _window(self.links, after, until)][:limit]

    def link_before(self, position: int) -> ChainLink | None:
        earlier = [p for p in self.links if p < position]
        return self.links[max(earlier)] if earlier else None

    def position_of_digest(self, digest: bytes, other_than: int) -> int | None:
        return next((p for p, k in self.links.items()
                     if k.event_digest == digest and p != other_than), None)

    def chain_head(self) -> ChainLink | None:
        return self.links[max(self.links)] if self.links else None

    def last_position(self) -> int:
        return max([*self.events, *self.links], default=0)

    def checkpoints(self, after: int, until: int | None, limit: int) -> list[Checkpoint]:
        return [self.signed[p] for p in _window(self.signed, after, until)][:limit]

    def latest_checkpoint(self) -> Checkpoint | None:
        return self.signed[max(self.signed)] if self.signed else None

    def insert_checkpoint(self, checkpoint: Checkpoint) -> bool:
        return self.signed.setdefault(checkpoint.position, checkpoint) is checkpoint

    def relink_from(self, position: int) -> None:
        """What an attacker who knows the algorithm (but not the key) can do."""
        for p in [p for p in self.links if p >= position]:
            del self.links[p]
        later = [self.events[p] for p in sorted(self.events) if p >= position]
        for link in extend_chain(self.link_before(position), later):
            self.links[link.position] = link


def _window(rows: dict[int, object], after: int, until: int | None) -> list[int]:
    return sorted(p for p in rows if p > after and (until is None or p <= until))


def an_event(position: int, text: str | None = None) -> LoggedEvent:
    state = (text or f"message {position}").encode()
    return LoggedEvent(position, f"00000000-0000-0000-0000-{position % 7:012d}", position,
                       "domain.conversations:Conversation.MessageSent", state)


@pytest.fixture
def log() -> MemoryChain:
    chain = MemoryChain()
    chain.append(*range(1, 11))
    return chain


def verify(log: MemoryChain, **options: int) -> tuple[BreakKind | None, int | None]:
    report = verify_log(log, key=KEY, batch_size=3, **options)
    if report.first_break is None:
        return None, None
    return report.first_break.kind, report.first_break.position


def test_an_untouched_log_is_intact(log: MemoryChain) -> None:
    report = verify_log(log, key=KEY, batch_size=3)
    assert report.intact and report.events_checked == 10 and report.last_position == 10


def test_gaps_left_by_rolled_back_transactions_are_not_tampering() -> None:
    log = MemoryChain()
    log.append(1, 2, 5, 9)
    log.append(12)
    assert verify(log) == (None, None)


def test_a_changed_payload_is_found_at_its_position(log: MemoryChain) -> None:
    log.events[4] = an_event(4, "forged")
    assert verify(log) == (BreakKind.CHANGED, 4)


def test_a_deleted_event_is_found_where_its_link_was_left(log: MemoryChain) -> None:
    del log.events[6]
    assert verify(log) == (BreakKind.DELETED, 6)


def test_an_event_deleted_with_its_link_is_found_by_the_next_link(log: MemoryChain) -> None:
    del log.events[6], log.links[6]
    assert verify(log) == (BreakKind.DELETED, 6)


def test_an_inserted_event_without_a_link_is_found(log: MemoryChain) -> None:
    log.events[11] = an_event(11)
    assert verify(log) == (BreakKind.INSERTED, 11)


def test_an_event_inserted_with_a_forged_link_is_found(log: MemoryChain) -> None:
    log.events = {(p + 1 if p > 5 else p): dataclasses.replace(e, position=p + 1 if p > 5 else p)
                  for p, e in log.events.items()}
    log.links = {(p + 1 if p > 5 else p): dataclasses.replace(k, position=p + 1 if p > 5 else p)
                 for p, k in log.links.items()}
    log.events[6] = an_event(6, "smuggled")
    log.links[6] = extend_chain(log.links[5], [log.events[6]])[0]
    assert verify(log) == (BreakKind.INSERTED, 6)


def test_swapped_events_are_reported_as_reordered(log: MemoryChain) -> None:
    log.events[3], log.events[8] = (dataclasses.replace(log.events[8], position=3),
                                    dataclasses.replace(log.events[3], position=8))
    assert verify(log) == (BreakKind.REORDERED, 3)


def test_a_relinked_rewrite_is_caught_only_by_a_signed_checkpoint(log: MemoryChain) -> None:
    assert write_checkpoint(log, KEY, AT).written
    log.events[4] = an_event(4, "forged")
    log.relink_from(4)
    assert verify_log(log, key=KEY, batch_size=3, start=1, until=3).intact
    assert verify(log) == (BreakKind.REWRITTEN, 10)


def test_a_checkpoint_altered_without_the_key_is_forged(log: MemoryChain) -> None:
    write_checkpoint(log, KEY, AT)
    log.events[4] = an_event(4, "forged")
    log.relink_from(4)
    log.signed[10] = dataclasses.replace(log.signed[10], head_hash=log.links[10].hash)
    assert verify(log) == (BreakKind.FORGED_CHECKPOINT, 10)


def test_losing_the_tail_after_a_checkpoint_is_truncation(log: MemoryChain) -> None:
    write_checkpoint(log, KEY, AT)
    for p in (9, 10):
        del log.events[p], log.links[p]
    assert verify(log) == (BreakKind.TRUNCATED, 10)


def test_a_range_ending_at_the_shortened_head_still_finds_the_lost_tail(
    log: MemoryChain,
) -> None:
    write_checkpoint(log, KEY, AT)
    for p in (9, 10):
        del log.events[p], log.links[p]
    assert verify(log, until=8) == (BreakKind.TRUNCATED, 10)
    assert verify(log, until=7) == (None, None)


def test_events_and_checkpoints_written_while_verifying_are_not_tampering() -> None:
    class BusyLog(MemoryChain):
        def logged_events(self, after: int, until: int | None,
                          limit: int) -> list[LoggedEvent]:
            found = super().logged_events(after, until, limit)
            self.append(max(self.events) + 1)  # another process commits between our reads
            write_checkpoint(self, KEY, AT)
            return found

    log = BusyLog()
    log.append(*range(1, 11))
    report = verify_log(log, key=KEY, batch_size=3)
    assert report.intact and report.until == 10 and report.events_checked == 10


def test_a_range_is_verified_from_the_link_before_it(log: MemoryChain) -> None:
    log.events[2] = an_event(2, "forged")
    assert verify(log, start=3) == (None, None)
    assert verify(log, start=1, until=1) == (None, None)
    assert verify(log, start=2) == (BreakKind.CHANGED, 2)


def test_a_checkpoint_is_written_only_when_the_head_moved(log: MemoryChain) -> None:
    first = write_checkpoint(log, KEY, AT)
    again = write_checkpoint(log, KEY, AT)
    log.append(11)
    moved = write_checkpoint(log, KEY, AT)
    assert (first.written, again.written, moved.written) == (True, False, True)
    assert again.checkpoint == first.checkpoint
    assert moved.checkpoint == sign_checkpoint(KEY, log.links[11], AT)


def test_the_schedule_signs_the_head_only_when_it_has_moved(log: MemoryChain) -> None:
    schedule = CheckpointSchedule(log, KEY, every_seconds=3600, clock=lambda: AT)
    outcomes = [schedule.tick(), schedule.tick()]
    log.append(11)
    outcomes.append(schedule.tick())
    assert [o.written for o in outcomes if o] == [True, False, True]
    assert sorted(log.signed) == [10, 11] and schedule.written == 2


def test_the_schedule_signs_periodically_until_stopped(log: MemoryChain) -> None:
    schedule = CheckpointSchedule(log, KEY, every_seconds=0.01, clock=lambda: AT)
    schedule.start()
    try:
        deadline = time.monotonic() + 5
        while not log.signed and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        schedule.stop()
    assert list(log.signed) == [10]


def test_a_schedule_that_cannot_write_warns_once_per_outage_and_says_when_it_works_again(
    log: MemoryChain, caplog: pytest.LogCaptureFixture
) -> None:
    def unavailable() -> None:
        raise OSError("database is locked")

    working = log.chain_head
    log.chain_head = unavailable  # type: ignore[method-assign, assignment]
    schedule = CheckpointSchedule(log, KEY, every_seconds=3600, clock=lambda: AT)
    caplog.set_level("INFO", logger="commands.audit.checkpoints")
    assert [schedule.tick() for _ in range(3)] == [None, None, None]
    log.chain_head = working  # type: ignore[method-assign]
    assert schedule.tick() is not None and schedule.written == 1
    records = [(r.levelname, r.getMessage()) for r in caplog.records
               if r.name == "commands.audit.checkpoints"]
    assert [level for level, _ in records] == ["WARNING", "INFO", "INFO"]
    assert "OSError" in records[0][1]
    assert "works again" in records[1][1]  # then the checkpoint signed


@settings(max_examples=60)
@given(size=st.integers(2, 40), victim=st.data(), kind=st.sampled_from(["change", "delete"]),
       batch_size=st.integers(1, 7))
def test_any_single_change_or_deletion_is_reported_at_its_position(
    size: int, victim: st.DataObject, kind: str, batch_size: int
) -> None:
    log = MemoryChain()
    log.append(*range(1, size + 1))
    position = victim.draw(st.integers(1, size))
    if kind == "change":
        log.events[position] = an_event(position, "forged")
    else:
        del log.events[position]
    report = verify_log(log, key=KEY, batch_size=batch_size)
    assert report.first_break is not None and report.first_break.position == position
