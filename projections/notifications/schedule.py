"""The due-time index: one document per notification saying what it waits for and since when
(a timer's due time; queued or dispatching since). The scheduler releases the timers that
came due, flushes the digests whose windows ended (one document per digest) and queues
again what waited too long (commands/notifications/timers.py). It is also
the operators' view of dead letters (`parley notifications dead-letters`): whose, of which
category, why, after how many attempts, the last code a provider gave, and when."""

from __future__ import annotations

from datetime import datetime
from functools import singledispatchmethod
from typing import Any, Final
from uuid import UUID

from domain.notifications.channels import rank
from domain.notifications.digests import COLLECTING, FLUSHED, Digest
from domain.notifications.notifications import (
    ACCEPTED,
    CANCELLED,
    DEAD_LETTERED,
    DELIVERED,
    DIGESTED,
    DISPATCHING,
    FALLBACK,
    HELD,
    QUEUED,
    RETRY,
    SEND_AT,
    SUPPRESSED,
    WAITING,
    Notification,
)
from projections.read_model.documents import AnyOf, Eq, Query, Range, ReadStore, Upsert

SCHEDULE: Final = "notification_schedule"


def epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _timer(kind: str, due: datetime, timer_id: int) -> dict[str, Any]:
    return {"timer_kind": kind, "timer_id": timer_id, "due_at_ms": epoch_ms(due),
            "timer_pending": True}


NO_TIMER: Final = {"timer_pending": False}


class NotificationScheduleProjector:
    name = "notification_schedule"
    context = "notifications"
    collections = (SCHEDULE,)

    @singledispatchmethod
    def changes(self, event: Any, position: int) -> list[Upsert]:
        return []

    def _set(self, event: Any, position: int, fields: dict[str, Any]) -> list[Upsert]:
        return [Upsert(SCHEDULE, str(event.originator_id), position, fields)]

    @changes.register
    def _requested(self, event: Notification.Requested, position: int) -> list[Upsert]:
        return self._set(event, position, {
            "notification_id": str(event.originator_id), "priority": event.priority,
            "recipient_id": str(event.recipient_id), "category": event.category,
            "priority_rank": rank(event.priority), "state": "requested",
            "since_ms": epoch_ms(event.requested_at), "timer_pending": False,
            "position": position})

    @changes.register
    def _held(self, event: Notification.Held, position: int) -> list[Upsert]:
        return self._set(event, position, {"state": HELD,
                                           **_timer(SEND_AT, event.until, event.timer_id)})

    @changes.register
    def _queued(self, event: Notification.Queued, position: int) -> list[Upsert]:
        return self._set(event, position, {"state": QUEUED, "since_ms": epoch_ms(event.at),
                                           **NO_TIMER})

    @changes.register
    def _dispatched(self, event: Notification.Dispatched, position: int) -> list[Upsert]:
        return self._set(event, position, {"state": DISPATCHING,
                                           "since_ms": epoch_ms(event.at)})

    @changes.register
    def _failed(self, event: Notification.Failed, position: int) -> list[Upsert]:
        return self._set(event, position, {"last_code": event.code,
                                           "last_provider": event.provider})

    @changes.register
    def _retried(self, event: Notification.Retried, position: int) -> list[Upsert]:
        return self._set(event, position, {"state": WAITING,
                                           **_timer(RETRY, event.due_at, event.timer_id)})

    @changes.register
    def _accepted(self, event: Notification.ChannelAccepted, position: int) -> list[Upsert]:
        return self._set(event, position, {"state": ACCEPTED, "since_ms": epoch_ms(event.at)})

    @changes.register
    def _fallback(self, event: Notification.FallbackScheduled, position: int) -> list[Upsert]:
        return self._set(event, position, _timer(FALLBACK, event.due_at, event.timer_id))

    @changes.register
    def _released(self, event: Notification.Released, position: int) -> list[Upsert]:
        return self._set(event, position, dict(NO_TIMER))

    @changes.register
    def _read(self, event: Notification.Read, position: int) -> list[Upsert]:
        # a read notification needs no fallback: the aggregate dropped it; so does the index
        return [Upsert(SCHEDULE, str(event.originator_id), position, dict(NO_TIMER),
                       only_if=("timer_kind", FALLBACK))]

    @changes.register
    def _fallback_cancelled(self, event: Notification.FallbackCancelled,
                            position: int) -> list[Upsert]:
        # withdrawn by a read receipt or an unsend elsewhere: no fallback timer to release
        return [Upsert(SCHEDULE, str(event.originator_id), position, dict(NO_TIMER),
                       only_if=("timer_kind", FALLBACK))]

    @changes.register
    def _delivered(self, event: Notification.Delivered, position: int) -> list[Upsert]:
        return self._set(event, position, {"state": DELIVERED, **NO_TIMER})

    @changes.register
    def _suppressed(self, event: Notification.Suppressed, position: int) -> list[Upsert]:
        return self._set(event, position, {"state": SUPPRESSED, **NO_TIMER})

    @changes.register
    def _dead(self, event: Notification.DeadLettered, position: int) -> list[Upsert]:
        return self._set(event, position, {"state": DEAD_LETTERED, **NO_TIMER,
                                           "dead_lettered_at_ms": epoch_ms(event.at),
                                           "reason": event.reason,
                                           "attempts": event.attempts})

    @changes.register
    def _cancelled(self, event: Notification.Cancelled, position: int) -> list[Upsert]:
        return self._set(event, position, {"state": CANCELLED, **NO_TIMER})


    # digests: a document per digest, its flush timer pending until it is flushed
    @changes.register
    def _digested(self, event: Notification.Digested, position: int) -> list[Upsert]:
        return self._set(event, position, {"state": DIGESTED, "digest_id": str(event.into),
                                           **NO_TIMER})

    @changes.register
    def _digest_opened(self, event: Digest.Opened, position: int) -> list[Upsert]:
        return self._set(event, position, {
            "digest_id": str(event.originator_id), "recipient_id": str(event.recipient_id),
            "category": event.category, "state": COLLECTING, "flush_pending": True,
            "due_at_ms": epoch_ms(event.flush_at), "position": position})

    @changes.register
    def _digest_filled(self, event: Digest.Filled, position: int) -> list[Upsert]:
        """It reached its member limit: due at once."""
        return self._set(event, position, {"due_at_ms": epoch_ms(event.at)})

    @changes.register
    def _digest_flushed(self, event: Digest.Flushed, position: int) -> list[Upsert]:
        return self._set(event, position, {"state": FLUSHED, "flush_pending": False,
                                           "flushed_into": str(event.notification_id)})

    @changes.register
    def _digest_cancelled(self, event: Digest.Cancelled, position: int) -> list[Upsert]:
        """Every member was withdrawn (read): its flush timer is dropped."""
        return self._set(event, position, {"state": CANCELLED, "flush_pending": False})


class ScheduleQueries:
    """The scheduler's view of the index."""

    def __init__(self, store: ReadStore) -> None:
        self._store = store

    def due_timers(self, now: datetime, limit: int) -> list[tuple[UUID, int]]:
        page = self._store.query(Query(
            SCHEDULE, filters=(Eq("timer_pending", True), Range("due_at_ms", lte=epoch_ms(now))),
            sort_field="due_at_ms", descending=False, limit=limit))
        return [(UUID(d["notification_id"]), int(d["timer_id"])) for d in page.documents]

    def due_digests(self, now: datetime, limit: int) -> list[UUID]:
        """Digests whose flush time has come and that are not flushed yet (as far as the
        index knows: a repeat flushes nothing)."""
        page = self._store.query(Query(
            SCHEDULE, filters=(Eq("flush_pending", True), Range("due_at_ms", lte=epoch_ms(now))),
            sort_field="due_at_ms", descending=False, limit=limit))
        return [UUID(d["digest_id"]) for d in page.documents]

    def waiting_too_long(self, states: tuple[str, ...], since_before: datetime,
                         limit: int) -> list[tuple[UUID, str]]:
        """Notifications in `states` since before `since_before`: what a lost job left."""
        page = self._store.query(Query(
            SCHEDULE, filters=(AnyOf("state", states),
                               Range("since_ms", lte=epoch_ms(since_before))),
            sort_field="since_ms", descending=False, limit=limit))
        return [(UUID(d["notification_id"]), str(d["priority"])) for d in page.documents]

    def dead_letters(self, limit: int) -> list[dict[str, Any]]:
        return self.dead_letter_page(limit)[0]

    def dead_letter_page(self, limit: int, after: list[Any] | None = None
                         ) -> tuple[list[dict[str, Any]], list[Any] | None]:
        """Dead letters, newest first (by when they were requested), and where the next page
        starts (None after the last)."""
        page = self._store.query(Query(SCHEDULE, filters=(Eq("state", DEAD_LETTERED),),
                                       sort_field="position", descending=True, after=after,
                                       limit=limit))
        return page.documents, page.next_after
