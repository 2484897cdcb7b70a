"""A user's payment activity: the history that limits and the risk rules look back on.

`PaymentActivity` (one per user, id `activity_id(user_id)`) is write-side bookkeeping, as the
upload quota is: the payments the user sent (each counts toward limits from `record_send`
until a compensation releases it: declined, failed, reversed), the payments they received
(with whether the sender was new to them), reports against them, and the amounts of their
last settled sends per currency (the unusual-amount rule's median). Time always comes in as
`at`; nothing here reads a clock.

It stays bounded, whatever the user does:
- sends, receipts, releases and reports older than HISTORY_SECONDS (31 days: longer than any
  window a limit or rule may use) are dropped as the next event applies, with no event of
  their own (a replay drops the same ones at the same events);
- within that: at most MAX_SENDS live sends (`record_send` refuses the next,
  `TooManyPayments`: an allowance nobody sending by hand reaches), MAX_RECEIPTS receipts and
  MAX_REPORTS reports (the oldest dropped first: receiving money is never refused, and every
  count threshold a rule may have, MAX_COUNT_THRESHOLD, is far below these bounds);
- the senders ever seen and recipients ever paid: the MAX_COUNTERPARTIES (1,000) most recent
  (a sender not seen among that many later ones counts as new again);
- the last MEDIAN_HISTORY (50) settled sends per currency.
Queries count what happened at or after the time they are given (inclusive).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Final
from uuid import UUID, uuid5

from domain.errors import Conflict
from domain.payments.errors import InvalidAmount
from event_log.aggregate import SNAPSHOT_EVERY, Cause, ParleyAggregate, copied

ACTIVITY_NAMESPACE: Final = UUID("4e2b9c17-6d30-4f8a-a1c5-8b07e3d92f46")
HISTORY_SECONDS: Final = 31 * 24 * 3600
HISTORY: Final = timedelta(seconds=HISTORY_SECONDS)
MAX_SENDS: Final = 10_000
MAX_RECEIPTS: Final = 10_000
MAX_REPORTS: Final = 1_000
MAX_COUNTERPARTIES: Final = 1_000
MEDIAN_HISTORY: Final = 50
MAX_COUNT_THRESHOLD: Final = 1_000  # the largest count a risk rule may compare with


class TooManyPayments(Conflict):
    """The user sent MAX_SENDS payments in the last 31 days: no more until older ones age out."""


def activity_id(user_id: UUID) -> UUID:
    return uuid5(ACTIVITY_NAMESPACE, str(user_id))


def _drop_older(entries: dict[str, dict[str, Any]], cutoff: datetime) -> None:
    """Drop entries, oldest recorded first, until one is not older than `cutoff` (one
    recorded out of order waits for those before it: queries filter by time anyway)."""
    while entries:
        key = next(iter(entries))
        if entries[key]["at"] >= cutoff:
            return
        del entries[key]


def _median(amounts: list[int]) -> int:
    """The median in whole minor units (rounded down): no float ever holds money."""
    ordered = sorted(amounts)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) // 2


def _touch(seen: dict[str, datetime], key: str, at: datetime) -> None:
    """Mark `key` most recently seen, forgetting the least recent beyond the bound."""
    seen.pop(key, None)
    seen[key] = at
    while len(seen) > MAX_COUNTERPARTIES:
        del seen[next(iter(seen))]


class PaymentActivity(ParleyAggregate):
    """One user's recent payments, receipts and reports (see the module's docstring)."""

    snapshot_every = SNAPSHOT_EVERY  # it grows with every payment

    def __init__(self, user_id: UUID) -> None:
        self.user_id = user_id
        # by payment id (str: a snapshot is JSON), in the order recorded
        self.sent: dict[str, dict[str, Any]] = {}  # at, amount, currency, recipient_id, settled
        self.released: dict[str, dict[str, Any]] = {}  # at; a late record_send does nothing
        self.received: dict[str, dict[str, Any]] = {}  # at, amount, currency, sender_id, new_sender
        self.reports: dict[str, dict[str, Any]] = {}  # by reporter/payment: at, reporter_id
        self.senders_seen: dict[str, datetime] = {}  # sender id -> last receipt, oldest first
        self.recipients_paid: dict[str, datetime] = {}  # recipient id -> last settled send
        self.settled_amounts: dict[str, list[list[Any]]] = {}  # currency -> [[payment, amount]]
        self.latest_at: datetime | None = None  # the newest event's time: the history's end
        self.tier = "unverified"  # which limits apply (domain/payments/limits.py): an admin's call

    def _advance(self, at: datetime) -> None:
        """Move the history's end to `at` (never back) and drop what fell out of it."""
        self.latest_at = at if self.latest_at is None else max(self.latest_at, at)
        cutoff = self.latest_at - HISTORY
        _drop_older(self.sent, cutoff)
        _drop_older(self.released, cutoff)
        _drop_older(self.received, cutoff)
        _drop_older(self.reports, cutoff)

    def _history_start(self, at: datetime) -> datetime:
        """What an event at `at` would keep: nothing older than this."""
        return (at if self.latest_at is None else max(self.latest_at, at)) - HISTORY

    class Started(ParleyAggregate.Created):
        user_id: UUID

    class SendRecorded(ParleyAggregate.Event):
        """A payment the user initiated: it counts toward their limits from now."""

        payment_id: UUID
        recipient_id: UUID
        amount: int
        currency: str
        at: datetime

        def apply(self, aggregate: Any) -> None:
            aggregate._advance(self.at)
            aggregate.sent[str(self.payment_id)] = {
                "at": self.at, "amount": self.amount, "currency": self.currency,
                "recipient_id": self.recipient_id, "settled": False}

    class SendReleased(ParleyAggregate.Event):
        """Compensation: the payment was declined, failed or reversed; it no longer counts."""

        payment_id: UUID
        at: datetime

        def apply(self, aggregate: Any) -> None:
            aggregate._advance(self.at)
            key = str(self.payment_id)
            entry = aggregate.sent.pop(key, None)
            aggregate.released[key] = {"at": self.at}
            if entry is not None and entry["settled"]:
                amounts = aggregate.settled_amounts.get(entry["currency"], [])
                amounts[:] = [pair for pair in amounts if pair[0] != key]

    class SendSettled(ParleyAggregate.Event):
        """The payment reached its recipient: its amount joins the median's history."""

        payment_id: UUID
        at: datetime

        def apply(self, aggregate: Any) -> None:
            aggregate._advance(self.at)
            key = str(self.payment_id)
            entry = aggregate.sent.get(key)
            if entry is None:  # older than the history by now
                return
            entry["settled"] = True
            amounts = aggregate.settled_amounts.setdefault(entry["currency"], [])
            amounts.append([key, entry["amount"]])
            del amounts[:-MEDIAN_HISTORY]
            _touch(aggregate.recipients_paid, str(entry["recipient_id"]), self.at)

    class ReceiveRecorded(ParleyAggregate.Event):
        """A payment to the user; `new_sender`: the first from that sender (within the
        MAX_COUNTERPARTIES most recent ones)."""

        payment_id: UUID
        sender_id: UUID
        amount: int
        currency: str
        at: datetime
        new_sender: bool

        def apply(self, aggregate: Any) -> None:
            aggregate._advance(self.at)
            aggregate.received[str(self.payment_id)] = {
                "at": self.at, "amount": self.amount, "currency": self.currency,
                "sender_id": self.sender_id, "new_sender": self.new_sender}
            while len(aggregate.received) > MAX_RECEIPTS:
                del aggregate.received[next(iter(aggregate.received))]
            _touch(aggregate.senders_seen, str(self.sender_id), self.at)

    class Reported(ParleyAggregate.Event):
        """Another user reported this one (about a payment, or in general)."""

        reporter_id: UUID
        payment_id: UUID | None
        at: datetime

        def apply(self, aggregate: Any) -> None:
            aggregate._advance(self.at)
            aggregate.reports[f"{self.reporter_id}/{self.payment_id}"] = {
                "at": self.at, "reporter_id": self.reporter_id}
            while len(aggregate.reports) > MAX_REPORTS:
                del aggregate.reports[next(iter(aggregate.reports))]

    class TierChanged(ParleyAggregate.Event):
        """An admin verified the user (or took it back): their limits are the tier's now."""

        tier: str
        reason: str
        copies = copied("tier")

    def change_tier(self, tier: str, reason: str, cause: Cause) -> bool:
        if tier == self.tier:
            return False
        self.trigger_event(self.TierChanged, tier=tier, reason=reason, **cause.as_event_fields())
        return True

    @classmethod
    def start(cls, user_id: UUID, cause: Cause) -> PaymentActivity:
        """A user's activity, on their first payment, receipt or report."""
        return cls._create(cls.Started, id=activity_id(user_id), user_id=user_id,
                           **cause.as_event_fields())

    def record_send(self, payment_id: UUID, recipient_id: UUID, amount: int, currency: str,
                    at: datetime, cause: Cause) -> bool:
        """Count a payment toward the sender's limits (False: it already was, or was released:
        a redelivered step counts nothing twice)."""
        key = str(payment_id)
        if key in self.sent or key in self.released:
            return False
        if isinstance(amount, bool) or amount <= 0:
            raise InvalidAmount("amount", "an amount is a positive number of minor units")
        if (len(self.sent) >= MAX_SENDS
                and self.sent_count_since(self._history_start(at)) >= MAX_SENDS):
            raise TooManyPayments("amount", f"at most {MAX_SENDS} payments in 31 days")
        self.trigger_event(self.SendRecorded, payment_id=payment_id, recipient_id=recipient_id,
                           amount=amount, currency=currency, at=at, **cause.as_event_fields())
        return True

    def release_send(self, payment_id: UUID, at: datetime, cause: Cause) -> bool:
        """Compensation: a declined, failed or reversed payment no longer counts toward limits
        (False: it did not count, or no longer did)."""
        if str(payment_id) not in self.sent:
            return False
        self.trigger_event(self.SendReleased, payment_id=payment_id, at=at,
                           **cause.as_event_fields())
        return True

    def record_settled(self, payment_id: UUID, at: datetime, cause: Cause) -> bool:
        """A sent payment settled: its amount joins the median's history and its recipient
        the ones paid (False: not a counted send, or already settled)."""
        entry = self.sent.get(str(payment_id))
        if entry is None or entry["settled"] or entry["at"] < self._history_start(at):
            return False
        self.trigger_event(self.SendSettled, payment_id=payment_id, at=at,
                           **cause.as_event_fields())
        return True

    def record_receive(self, payment_id: UUID, sender_id: UUID, amount: int, currency: str,
                       at: datetime, cause: Cause) -> bool:
        """A payment to this user (False: already recorded)."""
        if str(payment_id) in self.received:
            return False
        self.trigger_event(self.ReceiveRecorded, payment_id=payment_id, sender_id=sender_id,
                           amount=amount, currency=currency, at=at,
                           new_sender=not self.knows_sender(sender_id),
                           **cause.as_event_fields())
        return True

    def record_report(self, reporter_id: UUID, at: datetime, cause: Cause,
                      payment_id: UUID | None = None) -> bool:
        """Another user reports this one (False: the same report again, or oneself)."""
        if reporter_id == self.user_id or f"{reporter_id}/{payment_id}" in self.reports:
            return False
        self.trigger_event(self.Reported, reporter_id=reporter_id, payment_id=payment_id,
                           at=at, **cause.as_event_fields())
        return True

    def sent_in(self, window_start: datetime, currency: str) -> tuple[int, int]:
        """How many payments in `currency` the user sent since `window_start`, and their
        total (minor units); released ones do not count."""
        amounts = [e["amount"] for e in self.sent.values()
                   if e["currency"] == currency and e["at"] >= window_start]
        return len(amounts), sum(amounts)

    def sent_count_since(self, window_start: datetime) -> int:
        """How many payments, in any currency, the user sent since `window_start`."""
        return sum(1 for e in self.sent.values() if e["at"] >= window_start)

    def received_in(self, window_start: datetime, currency: str) -> tuple[int, int]:
        amounts = [e["amount"] for e in self.received.values()
                   if e["currency"] == currency and e["at"] >= window_start]
        return len(amounts), sum(amounts)

    def received_count_since(self, window_start: datetime) -> int:
        return sum(1 for e in self.received.values() if e["at"] >= window_start)

    def distinct_recipients_since(self, window_start: datetime) -> frozenset[UUID]:
        return frozenset(e["recipient_id"] for e in self.sent.values()
                         if e["at"] >= window_start)

    def new_senders_since(self, window_start: datetime) -> frozenset[UUID]:
        """The senders whose first payment to this user came since `window_start`."""
        return frozenset(e["sender_id"] for e in self.received.values()
                         if e["new_sender"] and e["at"] >= window_start)

    def settled_count(self, currency: str) -> int:
        """How many settled sends in `currency` the median is taken over (at most 50)."""
        return len(self.settled_amounts.get(currency, []))

    def median_sent(self, currency: str) -> int | None:
        """The median of the last 50 settled sends in `currency` (rounded down to a minor
        unit), or None before the first."""
        amounts = [amount for _, amount in self.settled_amounts.get(currency, [])]
        return _median(amounts) if amounts else None

    def reports_since(self, window_start: datetime) -> int:
        """How many distinct users reported this one since `window_start`."""
        return len({e["reporter_id"] for e in self.reports.values() if e["at"] >= window_start})

    def has_sent_to(self, recipient_id: UUID) -> bool:
        """Whether a payment of this user's to `recipient_id` ever settled (within the 1,000
        most recent recipients)."""
        return str(recipient_id) in self.recipients_paid

    def knows_sender(self, sender_id: UUID) -> bool:
        """Whether `sender_id` ever paid this user (within the 1,000 most recent senders)."""
        return str(sender_id) in self.senders_seen
