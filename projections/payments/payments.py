"""Payments as their sender and recipient see them, the review queue, and the holds' due
times.

One document per payment (`payments`, id the payment id), merged from each of its events at
the event's position. What depends on more than one event is worked out when it is read:
refunds are kept by refund id (a merge adds one without reading the others), and the amount
refunded and the status (`Payment.status`: refunded, partially_refunded) are summed from
them. Times are epoch milliseconds (`*_ms`), as the stores sort and compare them; the views
add ISO 8601 times beside them.

The document is also the hold-expiry timer's due-time index (`held_until_ms`, set while the
money is held, gone once the payment ends) and the review queue (`awaiting_review`: held for
review and not decided yet). The risk evidence is for reviewers: a party's view leaves out
the assessment and who reviewed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from functools import singledispatchmethod
from typing import Any, Final
from uuid import UUID

from domain.payments.payments import IN_REVIEW, INITIATED, SETTLED, Payment
from projections.read_model.documents import Eq, Query, Range, ReadStore, Upsert
from projections.read_model.runner import Projector

PAYMENTS: Final = "payments"
MAX_PAGE: Final = 200
REVIEWERS_ONLY: Final = ("assessed", "review", "ended_by")
TIMES: Final = {"initiated_ms": "initiated_at", "settled_ms": "settled_at",
                "updated_ms": "updated_at"}

Cursor = tuple[int, UUID | str]  # (a document's sort time in ms, its payment id)


def epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat()


class PaymentProjector:
    name = "payments"
    context = "payments"
    collections = (PAYMENTS,)

    @singledispatchmethod
    def changes(self, event: Any, position: int) -> list[Upsert]:
        return []

    @staticmethod
    def _set(event: Any, position: int, at: datetime, fields: dict[str, Any]) -> list[Upsert]:
        return [Upsert(PAYMENTS, str(event.originator_id), position,
                       {**fields, "updated_ms": epoch_ms(at), "position": position})]

    @changes.register
    def _initiated(self, event: Payment.Initiated, position: int) -> list[Upsert]:
        fields = {
            "payment_id": str(event.originator_id), "sender_id": str(event.sender_id),
            "recipient_id": str(event.recipient_id),
            "conversation_id": str(event.conversation_id), "amount": event.amount,
            "fee": event.fee, "currency": event.currency, "note": event.note,
            "state": INITIATED, "initiated_ms": epoch_ms(event.initiated_at),
            "awaiting_review": False}
        if event.request_id is not None:
            fields["request_id"] = str(event.request_id)
        return self._set(event, position, event.initiated_at, fields)

    @changes.register
    def _assessed(self, event: Payment.RiskAssessed, position: int) -> list[Upsert]:
        return self._set(event, position, event.at, {
            "state": "assessed", "assessed": {
                "outcome": event.outcome, "score": event.score,
                "rule_set_version": event.rule_set_version, "results": event.results,
                "at_ms": epoch_ms(event.at)}})

    @changes.register
    def _declined(self, event: Payment.Declined, position: int) -> list[Upsert]:
        return self._set(event, position, event.at, {"state": "declined",
                                                     "ended_reason": event.reason})

    @changes.register
    def _authorised(self, event: Payment.Authorised, position: int) -> list[Upsert]:
        return self._set(event, position, event.at, {
            "state": IN_REVIEW if event.review else "authorised",
            "hold_transfer_id": str(event.transfer_id),
            "held_until_ms": epoch_ms(event.expires_at), "awaiting_review": event.review})

    @changes.register
    def _review_decided(self, event: Payment.ReviewDecided, position: int) -> list[Upsert]:
        return self._set(event, position, event.at, {"awaiting_review": False, "review": {
            "reviewer_id": str(event.reviewer_id), "approved": event.approved,
            "reason": event.reason, "at_ms": epoch_ms(event.at)}})

    @changes.register
    def _settled(self, event: Payment.Settled, position: int) -> list[Upsert]:
        return self._set(event, position, event.at, {
            "state": SETTLED, "settled_ms": epoch_ms(event.at), "held_until_ms": None,
            "awaiting_review": False})

    @changes.register
    def _failed(self, event: Payment.Failed, position: int) -> list[Upsert]:
        return self._set(event, position, event.at, {
            "state": "failed", "ended_reason": event.reason, "held_until_ms": None,
            "awaiting_review": False})

    @changes.register
    def _reversed(self, event: Payment.Reversed, position: int) -> list[Upsert]:
        return self._set(event, position, event.at, {
            "state": "reversed", "ended_reason": event.reason, "ended_by": str(event.by),
            "held_until_ms": None, "awaiting_review": False})

    @changes.register
    def _refunded(self, event: Payment.Refunded, position: int) -> list[Upsert]:
        refund = {"refund_id": str(event.refund_id), "transfer_id": str(event.transfer_id),
                  "amount": event.amount, "reason": event.reason, "by": str(event.by),
                  "at_ms": epoch_ms(event.at)}
        return self._set(event, position, event.at,
                         {"refunds_by_id": {str(event.refund_id): refund}})


def projectors() -> Sequence[Projector]:
    return [PaymentProjector()]


def status_of(state: str, amount: int, refunded: int) -> str:
    """As `Payment.status`: the state, with refunds told apart."""
    if state == SETTLED and refunded:
        return "refunded" if refunded >= amount else "partially_refunded"
    return state


def reviewer_view(document: dict[str, Any]) -> dict[str, Any]:
    """The whole payment as stored, with what is summed when read: the refunds (oldest
    first), the amount refunded, the status, and ISO 8601 times beside the ms ones."""
    view = {k: v for k, v in document.items() if k != "refunds_by_id"}
    refunds = sorted((dict(r) for r in (document.get("refunds_by_id") or {}).values()),
                     key=lambda r: (int(r["at_ms"]), str(r["refund_id"])))
    for refund in refunds:
        refund["at"] = iso(int(refund["at_ms"]))
    refunded = sum(int(r["amount"]) for r in refunds)
    view |= {"refunds": refunds, "refunded": refunded,
             "status": status_of(str(document["state"]), int(document["amount"]), refunded)}
    view |= {name: iso(int(document[ms])) for ms, name in TIMES.items() if ms in document}
    return view


def party_view(document: dict[str, Any]) -> dict[str, Any]:
    """The payment as its sender or recipient sees it: no risk evidence, no reviewer."""
    view = {k: v for k, v in reviewer_view(document).items() if k not in REVIEWERS_ONLY}
    view["refunds"] = [{k: v for k, v in r.items() if k != "by"} for r in view["refunds"]]
    return view


class PaymentQueries:
    def __init__(self, store: ReadStore) -> None:
        self._store = store

    def payment(self, payment_id: UUID | str, viewer_id: UUID | str) -> dict[str, Any] | None:
        """The payment if `viewer_id` sent or received it; to anyone else it does not
        exist (None, as for no payment)."""
        document = self._store.get(PAYMENTS, str(payment_id))
        if document is None or str(viewer_id) not in (document["sender_id"],
                                                      document["recipient_id"]):
            return None
        return party_view(document)

    def payments_of(self, user_id: UUID | str, before: Cursor | None = None,
                    limit: int = 50) -> list[dict[str, Any]]:
        """Payments the user sent or received, most recently changed first: those after the
        cursor `before` (the last one's `updated_ms` and `payment_id`), at most `limit`.

        Two keyset queries (sent, received), each of one page, merged: a page is never a
        scan of everyone's payments, and no `OR` is asked of the stores."""
        limit = max(1, min(limit, MAX_PAGE))
        after = [int(before[0]), str(before[1])] if before is not None else None
        found: list[dict[str, Any]] = []
        for party in ("sender_id", "recipient_id"):
            found += self._store.query(Query(
                PAYMENTS, filters=(Eq(party, str(user_id)),), sort_field="updated_ms",
                descending=True, after=after, limit=limit)).documents
        found.sort(key=lambda d: (int(d["updated_ms"]), str(d["payment_id"])), reverse=True)
        return [party_view(d) for d in found[:limit]]

    def review_queue(self, limit: int = 50,
                     after: Cursor | None = None) -> list[dict[str, Any]]:
        """Payments held for review and not decided yet, oldest first (by initiation), with
        their evidence: those after the cursor `after` (the last one's `initiated_ms` and
        `payment_id`), at most `limit`."""
        cursor = [int(after[0]), str(after[1])] if after is not None else None
        page = self._store.query(Query(
            PAYMENTS, filters=(Eq("awaiting_review", True),), sort_field="initiated_ms",
            descending=False, after=cursor, limit=max(1, min(limit, MAX_PAGE))))
        return [reviewer_view(d) for d in page.documents]

    def for_review(self, payment_id: UUID | str) -> dict[str, Any] | None:
        """Any payment, with its evidence and decision (for reviewers)."""
        document = self._store.get(PAYMENTS, str(payment_id))
        return None if document is None else reviewer_view(document)

    def due_holds(self, now: datetime, limit: int) -> list[UUID]:
        """Payments whose money is still held past the hold's end, the longest overdue
        first (as far as the read model knows: the write side decides again)."""
        page = self._store.query(Query(
            PAYMENTS, filters=(Range("held_until_ms", lte=epoch_ms(now)),),
            sort_field="held_until_ms", descending=False, limit=limit))
        return [UUID(d["payment_id"]) for d in page.documents]
