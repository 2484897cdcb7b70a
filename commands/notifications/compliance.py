"""Compliance evidence as of a moment: what one user's email unsubscribes, SMS consents and
notification preferences (time zone, quiet hours) were at `at`, rebuilt from the log by
replaying each aggregate's events up to that instant, with the events that set them.

An event's moment is the time its command was decided (its `at` field), or the time it was
stored for one without; a history is replayed in version order up to its first event after
`at`. Of the preferences' events, those a later one overrode (quiet hours set at 22:00 then
at 23:00) are `superseded`: history, not what was in force. Read by auditors and admins
only (api/notifications/compliance.py, parley compliance).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final
from uuid import UUID

from eventsourcing.domain import Aggregate

from commands.audit.entries import Json, event_type, payload_of, state_of
from domain.notifications.channels import PHONE_NUMBER
from domain.notifications.contact_points import ContactPoints, contact_points_id
from domain.notifications.sms_consent import NONE, SmsConsent, sms_consent_id

MAX_EVENTS_PER_AGGREGATE: Final = 10_000  # a history longer than this is cut, and says so

# aggregate ids -> each one's events (domain events, oldest first); none for one not stored
EventHistories = Callable[[Sequence[UUID]], Mapping[UUID, Sequence[Any]]]


@dataclass(frozen=True)
class EventReference:
    """Which event set a value: findable in the audit log by aggregate and version."""

    event_id: UUID
    aggregate_id: UUID
    version: int
    type: str
    at: datetime  # when it was decided
    recorded_at: datetime  # when it was stored
    actor_id: UUID | None
    source: str

    def as_json(self) -> dict[str, Json]:
        return {"event_id": str(self.event_id), "aggregate_id": str(self.aggregate_id),
                "version": self.version, "type": self.type, "at": self.at.isoformat(),
                "recorded_at": self.recorded_at.isoformat(),
                "actor_id": None if self.actor_id is None else str(self.actor_id),
                "source": self.source}


@dataclass(frozen=True)
class EmailUnsubscribe:
    category: str
    event: EventReference


@dataclass(frozen=True)
class NumberConsent:
    number: str
    contact_point_id: UUID
    status: str  # granted, revoked, none
    wording: str
    event: EventReference | None  # None: never asked


@dataclass(frozen=True)
class PreferencesAt:
    """The user's NotificationPreferences as of the moment (their state, as the audit log
    shows aggregates), and every one of its events up to then with its payload."""

    state: dict[str, Json]
    events: list[tuple[EventReference, dict[str, Json]]]
    superseded: frozenset[UUID] = frozenset()  # ids of events a later one overrode


@dataclass(frozen=True)
class ComplianceRecord:
    user_id: UUID
    at: datetime
    email_unsubscribes: list[EmailUnsubscribe] = field(default_factory=list)
    sms_consents: list[NumberConsent] = field(default_factory=list)
    preferences: PreferencesAt | None = None
    truncated: bool = False

    @property
    def known(self) -> bool:
        return bool(self.email_unsubscribes or self.sms_consents or self.preferences)


def moment_of(event: Any) -> datetime | None:
    """When the event took effect: its `at`; None for the aggregate's start, which sets
    nothing in force and comes before whatever does; else when it was stored."""
    at = getattr(event, "at", None)
    if isinstance(at, datetime):
        return at
    if isinstance(event, Aggregate.Created):
        return None
    moment: datetime = event.timestamp
    return moment


def source_of(event: Any) -> str:
    """How the event came about, in the words of its own fields or else of its type."""
    source = getattr(event, "source", None)
    if isinstance(source, str) and source:
        return source
    if isinstance(event, ContactPoints.EmailCategoryUnsubscribed):
        return "email_unsubscribe_link"
    return event_type(event)


def reference(event: Any) -> EventReference:
    return EventReference(event.event_id, event.originator_id, event.originator_version,
                          event_type(event), moment_of(event) or event.timestamp,
                          event.timestamp,
                          getattr(event, "actor_id", None), source_of(event))


def setting_of(event: Any) -> tuple[str, ...]:
    """The value a preferences event sets: its kind (`QuietHoursSet` and `QuietHoursCleared`
    set the quiet hours) with the category and channel it names; any other event a value of
    its own, which nothing overrides."""
    name = type(event).__name__
    for suffix in ("Set", "Cleared"):
        if name.endswith(suffix):
            return (name.removesuffix(suffix), str(getattr(event, "category", "")),
                    str(getattr(event, "channel", "")))
    return (str(event.event_id),)


def superseded(events: Sequence[Any]) -> frozenset[UUID]:
    """The events whose value a later event set again."""
    last = {setting_of(event): event.event_id for event in events}
    return frozenset(e.event_id for e in events if last[setting_of(e)] != e.event_id)


def replayed(events: Iterable[Any], at: datetime) -> tuple[Any | None, list[Any]]:
    """The aggregate after its events up to `at`, and those events (None: nothing set by
    then; its start alone sets nothing)."""
    aggregate, taken, set_any = None, [], False
    for event in events:
        moment = moment_of(event)
        if moment is not None and moment > at:
            break
        aggregate = event.mutate(aggregate)
        if moment is not None:  # the events that set something
            taken.append(event)
            set_any = True
    return (aggregate, taken) if set_any else (None, [])


class ComplianceRecords:
    """`preferences_id` names the user's preferences aggregate (None: none kept yet)."""

    def __init__(self, histories: EventHistories,
                 preferences_id: Callable[[UUID], UUID] | None = None) -> None:
        self._histories = histories
        self._preferences_id = preferences_id

    def record(self, user_id: UUID, at: datetime) -> ComplianceRecord:
        ids = [contact_points_id(user_id)]
        if self._preferences_id is not None:
            ids.append(self._preferences_id(user_id))
        found = self._histories(ids)
        truncated = any(len(events) > MAX_EVENTS_PER_AGGREGATE for events in found.values())
        book, book_events = replayed(self._cut(found.get(ids[0], ())), at)
        unsubscribes = [EmailUnsubscribe(e.category, reference(e)) for e in book_events
                        if isinstance(e, ContactPoints.EmailCategoryUnsubscribed)]
        consents = self._consents(book, at) if isinstance(book, ContactPoints) else []
        preferences = None
        if self._preferences_id is not None:
            held, events = replayed(self._cut(found.get(ids[1], ())), at)
            if held is not None:
                preferences = PreferencesAt(state_of(held), [
                    (reference(e), payload_of(e)) for e in events], superseded(events))
        return ComplianceRecord(user_id, at, unsubscribes, consents, preferences, truncated)

    def _consents(self, book: ContactPoints, at: datetime) -> list[NumberConsent]:
        phones = [p for p in book.points.values() if p.kind == PHONE_NUMBER]
        found = self._histories([sms_consent_id(p.value) for p in phones])
        answer = []
        for point in phones:
            consent, events = replayed(self._cut(found.get(sms_consent_id(point.value), ())),
                                       at)
            evidence = consent.evidence if isinstance(consent, SmsConsent) else None
            setting = next((e for e in reversed(events)
                            if isinstance(e, SmsConsent.OptedIn | SmsConsent.OptedOut)), None)
            answer.append(NumberConsent(
                point.value, point.contact_point_id,
                NONE if evidence is None else evidence.status,
                "" if evidence is None else evidence.wording,
                None if setting is None else reference(setting)))
        return answer

    @staticmethod
    def _cut(events: Sequence[Any]) -> Sequence[Any]:
        return events[:MAX_EVENTS_PER_AGGREGATE]

