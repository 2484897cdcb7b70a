"""A notification's decision trace, read from the event log itself: every step of its life in
order, with its inputs and outcome (commands/notifications/trace_steps.py says what each event
says), for the one asking.

Who sees a trace: its recipient (title, never the body), an admin (any, no content), and the
API key that triggered it (no content, no recipient settings). Anyone else is told there is no
such notification, exactly as for an id that was never used. Nothing waits for a projection:
the log is the record, so a trace is current the moment its events are stored.

A dispatch shows each chosen provider's breaker as the log recorded it at that moment (the
last change a dispatcher recorded before it; none recorded: closed).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Protocol
from uuid import UUID

from commands.notifications.trace_steps import (
    ADMIN,
    RECIPIENT,
    SERVICE,
    Json,
    TraceStep,
    event_name,
    steps_of,
)
from domain.notifications.circuits import CLOSED, circuit_id
from domain.notifications.errors import NotificationNotFound

MAX_EVENTS: Final = 2_000  # of one notification (its attempts are bounded; redrives are few)
MAX_BREAKER_CHANGES: Final = 1_000  # read back per provider: a breaker's recent history
BREAKER_CHANGES: Final = {"Opened", "HalfOpened", "Closed"}
REQUESTED: Final = "Notification.Requested"


class EventHistory(Protocol):
    """One aggregate's events, oldest first (the library's event store is one)."""

    def get(self, originator_id: UUID, *, gt: int | None = None, lte: int | None = None,
            desc: bool = False, limit: int | None = None) -> Iterator[Any]: ...


@dataclass(frozen=True)
class Viewer:
    """Who asks: a user as recipient or admin, or a service by its caller name
    (`apikey:<key id>`, as the notification's `caller` records it)."""

    audience: str
    user_id: UUID | None = None
    caller: str | None = None

    @classmethod
    def user(cls, user_id: UUID, is_admin: bool) -> Viewer:
        return cls(ADMIN if is_admin else RECIPIENT, user_id=user_id)

    @classmethod
    def service(cls, caller: str) -> Viewer:
        return cls(SERVICE, caller=caller)

    def may_see(self, recipient_id: UUID, caller: str) -> bool:
        if self.audience == ADMIN:
            return True
        if self.audience == SERVICE:
            return self.caller is not None and self.caller == caller
        return self.user_id is not None and self.user_id == recipient_id


@dataclass(frozen=True)
class NotificationTrace:
    notification_id: UUID
    recipient_id: UUID
    category: str
    priority: str
    state: str
    audience: str
    steps: list[TraceStep] = field(default_factory=list)
    truncated: bool = False  # more than MAX_EVENTS events: the first ones are shown


class NotificationTraces:
    """Traces from `history`; `providers` are the configured providers' names (a dispatch's
    providers are shown whether configured still or not)."""

    def __init__(self, history: EventHistory, providers: Sequence[str] = ()) -> None:
        self._history = history
        self._providers = tuple(providers)

    def trace(self, notification_id: UUID, viewer: Viewer) -> NotificationTrace:
        """The trace, or NotificationNotFound (the same for an unknown id as for one the
        viewer may not see, and for an id of anything but a notification)."""
        events = list(self._history.get(notification_id, limit=MAX_EVENTS + 1))
        if not events or event_name(events[0]) != REQUESTED:
            raise NotificationNotFound("notification_id", "no such notification")
        first = events[0]
        if not viewer.may_see(first.recipient_id, first.caller):
            raise NotificationNotFound("notification_id", "no such notification")
        truncated = len(events) > MAX_EVENTS
        events = events[:MAX_EVENTS]
        notification: Any = None
        for event in events:
            notification = event.mutate(notification)
        breakers = BreakerHistories(self._history, self._providers)
        steps = [step for event in events
                 for step in steps_of(event, viewer.audience, breakers)]
        return NotificationTrace(notification_id, first.recipient_id, first.category,
                                 first.priority, str(notification.state), viewer.audience,
                                 steps, truncated)


class BreakerHistories:
    """Providers' recorded breaker changes, each read once per trace."""

    def __init__(self, history: EventHistory, providers: Sequence[str]) -> None:
        self._history = history
        self._providers = providers
        self._changes: dict[str, list[Any]] = {}
        self._channels: dict[str, str | None] = {}

    def of_channel(self, channel: str) -> list[str]:
        return [p for p in self._providers if self._channel_of(p) == channel]

    def _channel_of(self, provider: str) -> str | None:
        if provider not in self._channels:
            started = list(self._history.get(circuit_id(provider), lte=1))
            self._channels[provider] = str(started[0].channel) if started else None
        return self._channels[provider]

    def at(self, provider: str, moment: datetime) -> dict[str, Json]:
        """The breaker's state at `moment`: the last change recorded at or before it."""
        changes = self._changes.get(provider)
        if changes is None:
            newest_first = self._history.get(circuit_id(provider), desc=True,
                                             limit=MAX_BREAKER_CHANGES)
            changes = [e for e in newest_first
                       if event_name(e).rsplit(".", 1)[-1] in BREAKER_CHANGES]
            self._changes[provider] = changes
        for change in changes:
            if change.at <= moment:
                return _breaker(change)
        return {"state": CLOSED, "since": None, "until": None}


def _breaker(change: Any) -> dict[str, Json]:
    kind = event_name(change).rsplit(".", 1)[-1]
    state = {"Opened": "open", "HalfOpened": "half_open", "Closed": CLOSED}[kind]
    until = getattr(change, "until", None)
    shown: dict[str, Json] = {"state": state, "since": change.at.isoformat(),
                              "until": until.isoformat() if until else None}
    if kind == "Opened":
        shown |= {"failure_rate": change.failure_rate, "calls": change.calls}
    return shown
