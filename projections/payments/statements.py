"""Statements: each account's postings, newest first.

Each transfer event makes one posting per side (`ledger_postings`, id
`{transfer_id}/{phase}/{side}`): the account, the other account, what the money was for, the
amount from that account's view and the account's totals after it. A statement page is one
query of an account's postings by position, a keyset cursor: never a count, never an offset.

Signs, from the account's view: a transfer created or posted is negative on the debited
account and positive on the credited one (a pending one too: it holds that much); a hold
voided or expired gives back what it held, so it is positive on the debited account and
negative on the credited one. A posting's `pending` says whether it only holds money.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import singledispatchmethod
from typing import Any, Final
from uuid import UUID

from domain.payments.accounts import Balances
from domain.payments.transfers import Transfer
from projections.payments.balances import Legs, legs_of
from projections.read_model.documents import Eq, Filter, Query, Range, ReadStore, Upsert
from projections.read_model.runner import Projector

LEDGER_POSTINGS: Final = "ledger_postings"
CREATED, POSTED, VOIDED, EXPIRED = "created", "posted", "voided", "expired"
DEBIT, CREDIT = "debit", "credit"
MAX_PAGE: Final = 200


def epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def posting_id(transfer_id: UUID | str, phase: str, side: str) -> str:
    return f"{transfer_id}/{phase}/{side}"


def postings_of(event: Any, legs: Legs, position: int, phase: str, sign: int,
                pending: bool, amount: int | None = None) -> list[Upsert]:
    """The two postings of one transfer event; `sign` -1 where the debited account pays
    (created, posted), +1 where it is given back (voided, expired); `amount` that moved (the
    legs' whole amount if None)."""
    moved = sign * (legs.amount if amount is None else amount)
    common = {"transfer_id": str(event.originator_id), "position": position,
              "at": epoch_ms(event.at), "code": legs.code, "phase": phase,
              "pending": pending, "currency": legs.currency}
    if legs.reference is not None:
        common["reference"] = str(legs.reference)
    sides = ((DEBIT, legs.debit_account_id, legs.credit_account_id, event.debit_balances,
              moved),
             (CREDIT, legs.credit_account_id, legs.debit_account_id, event.credit_balances,
              -moved))
    changes = []
    for side, account_id, counterparty_id, totals, signed in sides:
        balances = Balances.from_document(totals)
        changes.append(Upsert(LEDGER_POSTINGS, posting_id(event.originator_id, phase, side),
                              position, {
            **common, "account_id": str(account_id), "side": side,
            "counterparty_id": str(counterparty_id), "amount": signed,
            "balances": balances.as_document(), "available": balances.available,
            "posted": balances.posted}))
    return changes


class StatementProjector:
    name = "payment_statements"
    context = "payments"
    collections = (LEDGER_POSTINGS,)


    @singledispatchmethod
    def changes(self, event: Any, position: int) -> list[Upsert]:
        return []

    @changes.register
    def _created(self, event: Transfer.Created, position: int) -> list[Upsert]:
        return postings_of(event, legs_of(event), position, CREATED, -1, event.pending)

    @changes.register
    def _posted(self, event: Transfer.Posted, position: int) -> list[Upsert]:
        return postings_of(event, legs_of(event), position, POSTED, -1, False,
                           event.amount)

    @changes.register
    def _voided(self, event: Transfer.Voided, position: int) -> list[Upsert]:
        return postings_of(event, legs_of(event), position, VOIDED, 1, False)

    @changes.register
    def _expired(self, event: Transfer.Expired, position: int) -> list[Upsert]:
        return postings_of(event, legs_of(event), position, EXPIRED, 1, False)


def projectors() -> Sequence[Projector]:
    return [StatementProjector()]


class StatementQueries:
    def __init__(self, store: ReadStore) -> None:
        self._store = store

    def postings(self, account_id: UUID | str, before_position: int | None = None,
                 limit: int = 50) -> list[dict[str, Any]]:
        """The account's postings, newest first: those before `before_position` (the last
        position of the page before), at most `limit` (up to 200)."""
        filters: list[Filter] = [Eq("account_id", str(account_id))]
        if before_position is not None:
            # an account has at most one posting per position: a transfer moves two accounts
            filters.append(Range("position", lte=before_position - 1))
        page = self._store.query(Query(LEDGER_POSTINGS, filters=filters, sort_field="position",
                                       descending=True, limit=max(1, min(limit, MAX_PAGE))))
        return page.documents
