"""Notifications taken through their lives by the aggregate's own commands (no log, no
provider), for the read models that project their events (analytics)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from domain.notifications.content import Content
from domain.notifications.decisions import Routing
from domain.notifications.notifications import Answer, Notification, PlannedDelivery
from domain.notifications.retries import RetryPolicy
from tests.builders import a_cause

T0 = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
POLICY = RetryPolicy(max_attempts=2, base_seconds=1.0, cap_seconds=5.0)
KINDS = {"push": "fcm", "email": "email", "sms": "phone", "webhook": "webhook"}


class Life:
    """One notification; each step returns self, so a life reads as a sentence."""

    def __init__(self, channels: Sequence[str] = ("push",), *, category: str = "message",
                 priority: str = "normal", at: datetime = T0, body: str = "Body",
                 skipped: Sequence[tuple[str, str]] = (), suppressed: str | None = None,
                 hold_until: datetime | None = None,
                 digest_into: uuid.UUID | None = None) -> None:
        self.cause = a_cause()
        self.now = at
        self.notification = Notification.request(
            uuid.uuid4(), uuid.uuid4(), category=category, priority=priority,
            channels=list(channels), fallback_after_seconds=None,
            content=Content("Title", body), send_at=None, cancellation_key=None,
            caller="apikey:test", at=at, cause=self.cause)
        kept = tuple(c for c in channels if c not in dict(skipped))
        self.notification.route(Routing(kept, tuple(skipped), hold_until=hold_until,
                                        suppressed=suppressed, digest_into=digest_into),
                                at, self.cause)

    def later(self, ms: int) -> Life:
        self.now += timedelta(milliseconds=ms)
        return self

    def dispatch(self, provider: str = "fcm-main", addresses: int = 1) -> Life:
        channel = str(self.notification.channel)
        self.notification.dispatch([PlannedDelivery(f"cp-{n}", KINDS.get(channel, channel),
                                                    provider) for n in range(addresses)],
                                   self.now, self.cause)
        return self

    def _answer(self, answer: Any) -> Life:
        self.notification.record([answer(uuid.UUID(d["delivery_id"]), d["provider"])
                                  for d in self.notification.pending_deliveries()],
                                 self.now, POLICY, 0.5, self.cause)
        return self

    def accept(self, *, delivered: bool = False, cost_micros: int = 0) -> Life:
        return self._answer(lambda delivery, provider: Answer(
            delivery, provider, True, 20, provider_message_id=f"m-{delivery}",
            delivered=delivered, cost_micros=cost_micros))

    def fail(self, code: str = "refused", *, retryable: bool = False) -> Life:
        return self._answer(lambda delivery, provider: Answer(
            delivery, provider, False, 30, code=code, retryable=retryable))

    def _accepted_delivery(self) -> tuple[str, uuid.UUID]:
        entry = next(d for d in self.notification.deliveries.values()
                     if d.get("outcome") == "accepted")
        return str(entry["provider_message_id"]), uuid.UUID(entry["delivery_id"])

    def deliver(self) -> Life:
        """A receipt for the accepted delivery (an SMS status callback)."""
        self.notification.confirm_delivery(*self._accepted_delivery(), "receipt", self.now,
                                           self.cause)
        return self

    def undelivered(self, code: str) -> Life:
        """A receipt saying the accepted delivery never arrived: the channel is given up."""
        self.notification.report_undelivered(*self._accepted_delivery(), code, self.now,
                                             self.cause)
        return self

    def read(self) -> Life:
        self.notification.mark_read(self.notification.recipient_id, self.now, self.cause)
        return self

    def recheck(self, reason: str) -> Life:
        """At dispatch, the current channel is ruled out by a decision step (`reason` as the
        pipeline words it: "preferences: opted out"): given up for the next, or suppressed."""
        channel = str(self.notification.channel)
        self.notification.recheck(Routing((), ((channel, reason),)), (), self.now, self.cause)
        return self

    def cancel(self, reason: str = "by its cancellation key") -> Life:
        self.notification.cancel(reason, self.now, self.cause)
        return self

    def events(self) -> list[Any]:
        return list(self.notification.collect_events())
