"""Notification analytics: one document per notification and channel (how far it got on that
channel, when, through which provider) and one per accepted delivery (what the provider
charged), for counts, rates, latency percentiles and cost computed by the read store
(projections/notifications/analytics_report.py).

A channel's document is created when the notification is requested (its category, priority
and request time come only with that event); later events change it where it exists. Its
`status` is where it stands now: pending (routed, never tried, e.g. a fallback not needed),
queued, sent, retrying, accepted, delivered, failed, suppressed, cancelled or digested
(collapsed into a digest, which is a notification of its own, counted as any other). A channel
the dispatch re-check gave up (the recipient opted out, unsubscribed or withdrew SMS consent
since routing) is suppressed with that reason, not failed. Reasons are kept
as their first clause ("throttle: <bucket> over its limit" -> "throttle"): a group key, never
an address or a bucket's name. Nothing of the recipient is recorded.

A patch of every open channel (a suppression, a cancel, a click) costs the Elasticsearch store
a search, so only what ends a notification is one: holds are not projected (the trace and the
due-time index have them).
"""

from __future__ import annotations

from datetime import datetime
from functools import singledispatchmethod
from typing import Any, Final

from domain.notifications.channels import IN_APP, SMS
from domain.notifications.content import Content, sms_segments, sms_text
from domain.notifications.notifications import GIVEN_UP, Notification
from projections.read_model.documents import AnyOf, DocumentChange, Eq, PatchMatching, Upsert
from projections.read_model.documents import Difference as _Difference

ANALYTICS: Final = "notification_analytics"
CHARGES: Final = "notification_charges"
STATUSES: Final = ("pending", "queued", "sent", "retrying", "accepted", "delivered", "failed",
                   "suppressed", "cancelled", "digested")
STILL_OPEN: Final = ("pending", "queued", "retrying")  # what a cancel or a suppression ends
REASON_CHARS: Final = 64
UNREAD_IN_TIME: Final = "not delivered or read in time"  # a fallback's reason (the domain's)
SINCE_ROUTING: Final = " since routing"  # how the domain's re-check words a give-up's reason
LATENCY: Final = _Difference("latency_ms", "delivered_at_ms", "requested_at_ms")


def reason_key(reason: str) -> str:
    """A reason as a group key: its first clause, bounded."""
    return reason.split(":", 1)[0].strip()[:REASON_CHARS] or "unspecified"


def channel_doc(notification: Any, channel: str) -> str:
    return f"{notification}:{channel}"


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


class NotificationAnalyticsProjector:
    name = "notification_analytics"
    context = "notifications"
    collections = (ANALYTICS, CHARGES)

    @singledispatchmethod
    def changes(self, event: Any, position: int) -> list[DocumentChange]:
        return []

    @staticmethod
    def _on(event: Any, channel: str, position: int, fields: dict[str, Any],
            differences: tuple[_Difference, ...] = ()) -> Upsert:
        """A change of the channel's document, if the request created one."""
        nid = str(event.originator_id)
        return Upsert(ANALYTICS, channel_doc(nid, channel), position, fields,
                      only_if=("notification_id", nid), differences=differences)

    @staticmethod
    def _open_ones(event: Any, position: int, fields: dict[str, Any]) -> PatchMatching:
        """A change of every channel of the notification not tried or out yet."""
        return PatchMatching(ANALYTICS, (Eq("notification_id", str(event.originator_id)),
                                         AnyOf("status", STILL_OPEN)), position, fields)

    @changes.register
    def _requested(self, event: Notification.Requested, position: int) -> list[DocumentChange]:
        nid = str(event.originator_id)
        segments = sms_segments(sms_text(Content(event.title, event.body)))
        return [Upsert(ANALYTICS, channel_doc(nid, channel), position, {
            "notification_id": nid, "category": event.category, "priority": event.priority,
            "channel": channel, "status": "pending",
            "requested_at_ms": _ms(event.requested_at),
            "segments": segments if channel == SMS else 0})
            for channel in dict.fromkeys(event.channels)]

    @changes.register
    def _routed(self, event: Notification.Routed, position: int) -> list[DocumentChange]:
        return [self._on(event, str(channel), position, {
            "status": "suppressed", "suppressed_reason": reason_key(str(reason))})
            for channel, reason in event.skipped]

    @changes.register
    def _suppressed(self, event: Notification.Suppressed,
                    position: int) -> list[DocumentChange]:
        return [self._open_ones(event, position, {
            "status": "suppressed", "suppressed_reason": reason_key(event.reason),
            "finished_at_ms": _ms(event.at)})]

    @changes.register
    def _queued(self, event: Notification.Queued, position: int) -> list[DocumentChange]:
        return [self._on(event, event.channel, position, {"status": "queued"})]

    @changes.register
    def _dispatched(self, event: Notification.Dispatched,
                    position: int) -> list[DocumentChange]:
        fields: dict[str, Any] = {"status": "sent", "dispatched_at_ms": _ms(event.at),
                                  "attempts": event.attempt}
        if event.deliveries:
            fields["provider"] = str(event.deliveries[0].get("provider", ""))
        return [self._on(event, event.channel, position, fields)]

    @changes.register
    def _accepted(self, event: Notification.Accepted, position: int) -> list[DocumentChange]:
        return [
            self._on(event, event.channel, position, {
                "status": "accepted", "provider": event.provider,
                "accepted_at_ms": _ms(event.at)}),
            Upsert(CHARGES, str(event.delivery_id), position, {
                "notification_id": str(event.originator_id), "channel": event.channel,
                "provider": event.provider, "cost_micros": int(event.cost_micros),
                "charged_at_ms": _ms(event.at)}),
        ]

    @changes.register
    def _delivered(self, event: Notification.Delivered, position: int) -> list[DocumentChange]:
        return [self._on(event, event.channel, position, {
            "status": "delivered", "delivered_at_ms": _ms(event.at)}, (LATENCY,))]

    @changes.register
    def _posted(self, event: Notification.PostedToInbox,
                position: int) -> list[DocumentChange]:
        return [self._on(event, IN_APP, position, {
            "status": "delivered", "provider": "inbox", "delivered_at_ms": _ms(event.at)},
            (LATENCY,))]

    @changes.register
    def _failed(self, event: Notification.Failed, position: int) -> list[DocumentChange]:
        return [self._on(event, event.channel, position, {
            "status": "failed", "provider": event.provider,
            "failure_code": event.code[:REASON_CHARS] or "unspecified"})]

    @changes.register
    def _retried(self, event: Notification.Retried, position: int) -> list[DocumentChange]:
        return [self._on(event, event.channel, position, {"status": "retrying"})]

    @changes.register
    def _fell_back(self, event: Notification.FellBack, position: int) -> list[DocumentChange]:
        return self._given_up(event, event.from_channel, event.reason, position)

    @changes.register
    def _dead_lettered(self, event: Notification.DeadLettered,
                       position: int) -> list[DocumentChange]:
        channel, _, reason = event.reason.partition(":")
        return self._given_up(event, channel.strip(), reason.strip(), position)

    def _given_up(self, event: Any, channel: str, reason: str,
                  position: int) -> list[DocumentChange]:
        """A channel given up is failed, unless a provider took it and it only went unread in
        time (an accepted channel stays accepted; an undelivered receipt fails it)."""
        fields: dict[str, Any] = {"given_up_reason": reason_key(reason),
                                  "finished_at_ms": _ms(event.at)}
        if not reason.startswith(UNREAD_IN_TIME) and not reason.endswith(SINCE_ROUTING):
            fields["status"] = "failed"  # a re-check's give-up: suppressed by `_rechecked`
        return [self._on(event, channel, position, fields)]

    @changes.register
    def _rechecked(self, event: Notification.Rechecked,
                   position: int) -> list[DocumentChange]:
        """A channel given up at dispatch by a decision step (before the FellBack or the
        Suppressed that follows) is suppressed for the step's reason."""
        if event.outcome != GIVEN_UP:
            return []
        return [self._on(event, event.channel, position, {
            "status": "suppressed", "suppressed_reason": reason_key(event.reason or ""),
            "finished_at_ms": _ms(event.at)})]

    @changes.register
    def _digested(self, event: Notification.Digested, position: int) -> list[DocumentChange]:
        return [self._open_ones(event, position, {
            "status": "digested", "finished_at_ms": _ms(event.at)})]

    @changes.register
    def _cancelled(self, event: Notification.Cancelled, position: int) -> list[DocumentChange]:
        return [self._open_ones(event, position, {
            "status": "cancelled", "cancelled_reason": reason_key(event.reason),
            "finished_at_ms": _ms(event.at)})]

    @changes.register
    def _read(self, event: Notification.Read, position: int) -> list[DocumentChange]:
        return [self._on(event, IN_APP, position, {"read_at_ms": _ms(event.at)})]

    @changes.register
    def _clicked(self, event: Notification.Clicked, position: int) -> list[DocumentChange]:
        """On the channel the link was followed on (an email's, the inbox's); a click of
        version 1, which named none, on every channel that was taken."""
        if event.channel is not None:
            return [self._on(event, event.channel, position, {"clicked_at_ms": _ms(event.at)})]
        return [PatchMatching(ANALYTICS, (Eq("notification_id", str(event.originator_id)),
                                          AnyOf("status", ("accepted", "delivered"))),
                              position, {"clicked_at_ms": _ms(event.at)})]


def projectors() -> list[NotificationAnalyticsProjector]:
    return [NotificationAnalyticsProjector()]
