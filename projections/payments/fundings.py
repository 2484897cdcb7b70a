"""Fundings and payouts as their owner sees them, and the fundings a reconciling schedule
looks for (stuck in processing since `updated_ms`).

One document per funding (`fundings`) and per payout (`payouts`), id the aggregate's id,
merged from each event at its position. The payment method and the payout destination are
processor tokens; the views leave the payment method out all the same (it is the owner's,
and nothing they need back).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import singledispatchmethod
from typing import Any, Final
from uuid import UUID

from domain.payments.fundings import (
    FAILED,
    PAID,
    REQUESTED,
    SENT,
    SUCCEEDED,
    Funding,
    FundingNotFound,
    Payout,
    PayoutNotFound,
)
from projections.payments.payments import epoch_ms, iso
from projections.read_model.documents import AnyOf, Query, Range, ReadStore, Upsert
from projections.read_model.runner import Projector

FUNDINGS: Final = "fundings"
PAYOUTS: Final = "payouts"
UNENDED_FUNDING: Final = (REQUESTED, "processing")


class FundingProjector:
    name = "fundings"
    context = "payments"
    collections = (FUNDINGS, PAYOUTS)

    @singledispatchmethod
    def changes(self, event: Any, position: int) -> list[Upsert]:
        return []

    @staticmethod
    def _set(collection: str, event: Any, position: int, at: datetime,
             fields: dict[str, Any]) -> list[Upsert]:
        return [Upsert(collection, str(event.originator_id), position,
                       {**fields, "updated_ms": epoch_ms(at), "position": position})]

    @changes.register
    def _requested(self, event: Funding.Requested, position: int) -> list[Upsert]:
        return self._set(FUNDINGS, event, position, event.requested_at, {
            "funding_id": str(event.originator_id), "user_id": str(event.user_id),
            "amount": event.amount, "currency": event.currency, "state": REQUESTED,
            "requested_ms": epoch_ms(event.requested_at)})

    @changes.register
    def _progressed(self, event: Funding.Progressed, position: int) -> list[Upsert]:
        state = "action_required" if event.intent_status == "requires_action" else "processing"
        return self._set(FUNDINGS, event, position, event.at, {
            "state": state, "intent_id": event.intent_id, "intent_status": event.intent_status})

    @changes.register
    def _succeeded(self, event: Funding.Succeeded, position: int) -> list[Upsert]:
        return self._set(FUNDINGS, event, position, event.at, {
            "state": SUCCEEDED, "intent_id": event.intent_id,
            "transfer_id": str(event.transfer_id)})

    @changes.register
    def _funding_failed(self, event: Funding.Failed, position: int) -> list[Upsert]:
        return self._set(FUNDINGS, event, position, event.at,
                         {"state": FAILED, "failure_code": event.code})

    @changes.register
    def _payout_requested(self, event: Payout.Requested, position: int) -> list[Upsert]:
        return self._set(PAYOUTS, event, position, event.requested_at, {
            "payout_id": str(event.originator_id), "user_id": str(event.user_id),
            "amount": event.amount, "currency": event.currency,
            "destination": event.destination, "transfer_id": str(event.transfer_id),
            "state": REQUESTED, "requested_ms": epoch_ms(event.requested_at)})

    @changes.register
    def _payout_sent(self, event: Payout.Sent, position: int) -> list[Upsert]:
        return self._set(PAYOUTS, event, position, event.at, {
            "state": SENT, "processor_payout_id": event.processor_payout_id})

    @changes.register
    def _payout_paid(self, event: Payout.Paid, position: int) -> list[Upsert]:
        return self._set(PAYOUTS, event, position, event.at, {"state": PAID})

    @changes.register
    def _payout_failed(self, event: Payout.Failed, position: int) -> list[Upsert]:
        return self._set(PAYOUTS, event, position, event.at,
                         {"state": FAILED, "failure_code": event.code})


def projectors() -> Sequence[Projector]:
    return [FundingProjector()]


def owner_view(document: dict[str, Any]) -> dict[str, Any]:
    """The document with ISO 8601 times beside the ms ones, and no bookkeeping."""
    view = {k: v for k, v in document.items() if k not in ("position",)}
    view |= {name: iso(int(document[ms])) for ms, name in
             (("requested_ms", "requested_at"), ("updated_ms", "updated_at"))
             if ms in document}
    return view


class FundingQueries:
    """A user's own fundings and payouts; someone else's answer as unknown ones do."""

    def __init__(self, store: ReadStore) -> None:
        self._store = store

    def _own(self, collection: str, user_id: UUID, doc_id: UUID) -> dict[str, Any] | None:
        found = self._store.get(collection, str(doc_id))
        return None if found is None or found.get("user_id") != str(user_id) else found

    def funding(self, user_id: UUID, funding_id: UUID) -> dict[str, Any]:
        found = self._own(FUNDINGS, user_id, funding_id)
        if found is None:
            raise FundingNotFound("funding_id", "no such funding")
        return owner_view(found)

    def payout(self, user_id: UUID, payout_id: UUID) -> dict[str, Any]:
        found = self._own(PAYOUTS, user_id, payout_id)
        if found is None:
            raise PayoutNotFound("payout_id", "no such payout")
        return owner_view(found)

    def stuck_fundings(self, unchanged_since: datetime, limit: int) -> list[dict[str, Any]]:
        """Fundings not ended and not moved since then, oldest first (to reconcile)."""
        return self._store.query(Query(
            FUNDINGS, (AnyOf("state", UNENDED_FUNDING),
                       Range("updated_ms", lte=epoch_ms(unchanged_since))),
            sort_field="updated_ms", descending=False, limit=limit)).documents

    def unended_payouts(self, unchanged_since: datetime, limit: int) -> list[dict[str, Any]]:
        return self._store.query(Query(
            PAYOUTS, (AnyOf("state", (SENT,)),
                      Range("updated_ms", lte=epoch_ms(unchanged_since))),
            sort_field="updated_ms", descending=False, limit=limit)).documents
