"""Audit queries over the event log itself: histories, searches, states as of a moment, diffs.

Everything streams: the log is read in batches from a cursor (a log position, or a version
within one aggregate), and one page never scans more than `SCAN_BUDGET` events, so a filter
that matches rarely answers a page with a `next` cursor instead of reading the whole log.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from uuid import UUID

from commands.audit.entries import (
    AuditEntry,
    FieldChange,
    Json,
    LoggedEvent,
    diff_states,
    entry_of,
    event_topics,
    event_type,
    state_of,
)
from domain.errors import InvalidCommand, NotFound
from domain.identity.users import user_id_for_handle
from event_log.moved_topics import former_topics

READ_BATCH = 500
MAX_POSITION = 2**62
SCAN_BUDGET = 20_000
# Events are stamped when decided and numbered when committed, so timestamps are ordered by
# position only roughly; a time range is narrowed to positions with this much slack, then
# every event in it is checked exactly.
CLOCK_SLACK = timedelta(minutes=5)


class AggregateNotFound(NotFound):
    """No aggregate with this id, or not at this version or time."""


class UnknownEventType(InvalidCommand):
    """An event type filter names no Parley event."""


def log_bound(text: str, field: str) -> int | datetime:
    """A range bound: a log position (digits) or an ISO-8601 time (UTC if no offset given)."""
    text = text.strip()
    if text.isascii() and text.isdigit():
        if int(text) > MAX_POSITION:
            raise InvalidCommand(field, f"a log position is at most {MAX_POSITION}")
        return int(text)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as error:
        raise InvalidCommand(field, f"'{field}' is a log position or an ISO-8601 time") from error
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def actor_id_of(actor: str) -> UUID:
    """An actor named by user id or by handle."""
    try:
        return UUID(actor)
    except ValueError:
        return user_id_for_handle(actor)


def audit_criteria(actor: str | None = None, correlation_id: UUID | None = None,
                   types: Sequence[str] = (), start: str | None = None,
                   end: str | None = None) -> AuditCriteria:
    """Criteria from what a person types: actor id or handle, comma-separated types, bounds."""
    low = log_bound(start, "from") if start else None
    high = log_bound(end, "until") if end else None
    return AuditCriteria(
        actor_id=actor_id_of(actor) if actor else None,
        correlation_id=correlation_id,
        types=tuple(t.strip() for group in types for t in group.split(",") if t.strip()),
        since=low if isinstance(low, datetime) else None,
        until=high if isinstance(high, datetime) else None,
        from_position=low if isinstance(low, int) else None,
        until_position=high if isinstance(high, int) else None,
    )


class AuditLogSource(Protocol):
    def head(self) -> int: ...

    def events(self, after: int, limit: int, upto: int | None = None,
               topics: Sequence[str] = ()) -> list[LoggedEvent]: ...

    def aggregate_events(self, aggregate_id: UUID, after_version: int,
                         limit: int) -> list[LoggedEvent]: ...

    def aggregate_at(self, aggregate_id: UUID, version: int | None) -> Any | None: ...


@dataclass(frozen=True)
class AuditCriteria:
    """Which events to find; every criterion given must hold. Ranges are inclusive."""

    actor_id: UUID | None = None
    correlation_id: UUID | None = None
    types: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    from_position: int | None = None
    until_position: int | None = None

    def matches(self, event: Any) -> bool:
        return ((self.actor_id is None or getattr(event, "actor_id", None) == self.actor_id)
                and (self.correlation_id is None
                     or getattr(event, "correlation_id", None) == self.correlation_id)
                and (not self.types or event_type(event) in self.types)
                and (self.since is None or event.timestamp >= self.since)
                and (self.until is None or event.timestamp <= self.until))


@dataclass(frozen=True)
class AuditPage:
    """Entries, and the cursor to pass as `after` for the next page (None: nothing further)."""

    entries: list[AuditEntry]
    next: int | None


@dataclass(frozen=True)
class AggregateState:
    aggregate_id: UUID
    aggregate_type: str
    version: int
    time: datetime
    state: dict[str, Json]


@dataclass(frozen=True)
class AggregateDiff:
    aggregate_id: UUID
    aggregate_type: str
    from_version: int
    to_version: int
    changes: list[FieldChange] = field(default_factory=list)


class AuditLog:
    """The audit queries; `source` reads the log (adapters/audit/log_reader.py)."""

    def __init__(self, source: AuditLogSource) -> None:
        self._source = source
        self._topics = event_topics()

    def event_types(self) -> list[str]:
        return sorted(self._topics)

    def history(self, aggregate_id: UUID, after_version: int = 0,
                limit: int = 100) -> AuditPage:
        """One aggregate's events after a version, each with the state right after it."""
        aggregate = None
        if after_version > 0:
            aggregate = self._source.aggregate_at(aggregate_id, after_version)
            if aggregate is None:
                raise AggregateNotFound("aggregate_id", "no such aggregate at that version")
        found = self._source.aggregate_events(aggregate_id, after_version, limit + 1)
        if not found and after_version == 0:
            raise AggregateNotFound("aggregate_id", "no such aggregate")
        entries = []
        for logged in found[:limit]:
            aggregate = logged.event.mutate(aggregate)
            entries.append(entry_of(logged, state_of(aggregate)))
        more = len(found) > limit
        return AuditPage(entries, entries[-1].version if more else None)

    def search(self, criteria: AuditCriteria, after: int = 0, limit: int = 100) -> AuditPage:
        """Events matching `criteria` at positions after `after`, oldest first."""
        topics = self._topics_of(criteria.types)
        lower, upper = self._positions_of(criteria)
        if lower is None:
            return AuditPage([], None)
        return self._scan(criteria, topics, max(after, lower - 1), upper, limit)

    def stream(self, criteria: AuditCriteria, after: int = 0) -> Iterator[AuditEntry]:
        """Every match, page after page: memory stays flat however long the range.

        The criteria are checked now, not when the first entry is asked for, so a bad filter
        is an error before any output.
        """
        topics = self._topics_of(criteria.types)
        lower, upper = self._positions_of(criteria)

        def pages() -> Iterator[AuditEntry]:
            cursor = None if lower is None else max(after, lower - 1)
            while cursor is not None:
                page = self._scan(criteria, topics, cursor, upper, READ_BATCH)
                yield from page.entries
                cursor = page.next

        return pages()

    def _scan(self, criteria: AuditCriteria, topics: list[str], after: int, upper: int | None,
              limit: int) -> AuditPage:
        cursor, scanned = after, 0
        entries: list[AuditEntry] = []
        while scanned < SCAN_BUDGET:
            batch = self._source.events(cursor, min(READ_BATCH, SCAN_BUDGET - scanned),
                                        upper, topics)
            if not batch:
                return AuditPage(entries, None)
            scanned += len(batch)
            for logged in batch:
                cursor = logged.position
                if criteria.matches(logged.event):
                    entries.append(entry_of(logged))
                    if len(entries) == limit:
                        return AuditPage(entries, cursor)
        return AuditPage(entries, cursor)

    def stream_history(self, aggregate_id: UUID, after_version: int = 0) -> Iterator[AuditEntry]:
        """The whole history, page after page; an unknown aggregate is an error right away."""
        first = self.history(aggregate_id, after_version, READ_BATCH)

        def pages() -> Iterator[AuditEntry]:
            page = first
            while True:
                yield from page.entries
                if page.next is None:
                    return
                page = self.history(aggregate_id, page.next, READ_BATCH)

        return pages()

    def state(self, aggregate_id: UUID, version: int | None = None,
              at: datetime | None = None) -> AggregateState:
        """The aggregate now, as of a version, or as of a moment (its last event until then)."""
        if at is not None and version is None:
            version = self._version_at(aggregate_id, at)
            if version == 0:
                raise AggregateNotFound("at", "the aggregate did not exist at that time")
        aggregate = self._source.aggregate_at(aggregate_id, version)
        if aggregate is None:
            raise AggregateNotFound("version", "no such aggregate at that version")
        return AggregateState(aggregate_id, type(aggregate).__qualname__, aggregate.version,
                              aggregate.modified_on, state_of(aggregate))

    def diff(self, aggregate_id: UUID, from_version: int, to_version: int) -> AggregateDiff:
        """Field-level changes between two versions; version 0 is 'before it existed'."""
        if not 0 <= from_version <= to_version:
            raise InvalidCommand("from", "'from' must be a version no later than 'to'")
        after = self._source.aggregate_at(aggregate_id, to_version)
        if after is None:
            raise AggregateNotFound("to", "no such aggregate at that version")
        before: dict[str, Json] = {}
        if from_version > 0:
            older = self._source.aggregate_at(aggregate_id, from_version)
            if older is None:
                raise AggregateNotFound("from", "no such aggregate at that version")
            before = state_of(older)
        return AggregateDiff(aggregate_id, type(after).__qualname__, from_version, to_version,
                             diff_states(before, state_of(after)))

    def _version_at(self, aggregate_id: UUID, at: datetime) -> int:
        """The version of the aggregate's last event stamped at or before `at`."""
        version = 0
        while True:
            batch = self._source.aggregate_events(aggregate_id, version, READ_BATCH)
            for logged in batch:
                if logged.event.timestamp > at:
                    return version
                version = logged.event.originator_version
            if len(batch) < READ_BATCH:
                return version

    def _topics_of(self, types: tuple[str, ...]) -> list[str]:
        unknown = [t for t in types if t not in self._topics]
        if unknown:
            raise UnknownEventType("types", f"unknown event type(s): {', '.join(unknown)}; "
                                            "see the list of event types")
        return [topic for t in types
                for topic in (self._topics[t], *former_topics(self._topics[t]))]

    def _positions_of(self, criteria: AuditCriteria) -> tuple[int | None, int | None]:
        """The position range to scan: (first, last) inclusive; first None means empty."""
        lower, upper = criteria.from_position or 1, criteria.until_position
        if criteria.since is not None:
            first = self._first_position_from(criteria.since - CLOCK_SLACK)
            if first is None:
                return None, None
            lower = max(lower, first)
        if criteria.until is not None:
            beyond = self._first_position_from(criteria.until + CLOCK_SLACK)
            if beyond is not None:
                upper = beyond - 1 if upper is None else min(upper, beyond - 1)
        if upper is not None and upper < lower:
            return None, None
        return lower, upper

    def _first_position_from(self, moment: datetime) -> int | None:
        """The first position whose event is stamped at or after `moment` (binary search)."""
        low, high, found = 1, self._source.head(), None
        while low <= high:
            middle = (low + high) // 2
            probe = self._source.events(middle - 1, 1)
            if not probe:
                high = middle - 1
            elif probe[0].event.timestamp >= moment:
                found, high = probe[0].position, middle - 1
            else:
                low = probe[0].position + 1
        return found
