"""Balances: one document per ledger account, its four totals after the last transfer event
that moved it.

Every transfer event names both accounts and carries their totals after it (ADR 0025), so
each event is two upserts of absolute totals at its log position: nothing is added
up here, a redelivered event is a no-op, and a wallet's balance is one document read however
many postings it has. The events name accounts by id only; a system account's kind is
recognised by its id (ids derive from kind and currency), and a wallet's owner is never
stored: `wallets_of` computes the ids of a user's wallets (domain/payments/accounts.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import singledispatchmethod
from typing import Any, Final
from uuid import UUID

from domain.payments.accounts import SYSTEM_KINDS, WALLET, Balances, system_account, wallet
from domain.payments.transfers import Transfer
from projections.read_model.documents import Query, ReadStore, Upsert
from projections.read_model.runner import Projector

LEDGER_ACCOUNTS: Final = "ledger_accounts"
TOTALS: Final = ("debits_pending", "debits_posted", "credits_pending", "credits_posted")
SCAN_PAGE: Final = 1000  # accounts read a page at a time by `ledger_totals`

TransferEvent = Transfer.Created | Transfer.Posted | Transfer.Voided | Transfer.Expired


@dataclass(frozen=True)
class Legs:
    """What a transfer event moves, between which accounts (every event names them)."""

    debit_account_id: UUID
    credit_account_id: UUID
    currency: str
    code: str
    reference: UUID | None
    amount: int  # as created: a hold's whole amount


def legs_of(event: TransferEvent) -> Legs:
    if isinstance(event, Transfer.Created):
        return Legs(event.debit_account_id, event.credit_account_id, event.currency,
                    event.code, event.reference, event.amount)
    return Legs(event.debit_account_id, event.credit_account_id, event.currency, event.code,
                event.reference, event.held_amount)


def kind_of(account_id: UUID, currency: str) -> str:
    """A system account's kind, known by its id; any other account is a wallet."""
    for kind in SYSTEM_KINDS:
        if system_account(kind, currency).id == account_id:
            return kind
    return WALLET


def account_document(account_id: UUID, currency: str, totals: dict[str, int],
                     transfer_id: UUID, position: int) -> dict[str, Any]:
    """An account's document as one transfer event leaves it."""
    balances = Balances.from_document(totals)
    return {"account_id": str(account_id), "kind": kind_of(account_id, currency),
            "currency": currency, **balances.as_document(), "available": balances.available,
            "posted": balances.posted, "last_transfer_id": str(transfer_id),
            "position": position}


class BalanceProjector:
    name = "payment_balances"
    context = "payments"
    collections = (LEDGER_ACCOUNTS,)

    @singledispatchmethod
    def changes(self, event: Any, position: int) -> list[Upsert]:
        return []

    @changes.register
    def _moved(self, event: TransferEvent, position: int) -> list[Upsert]:
        """Both accounts' totals after the transfer was created, posted, voided or expired."""
        legs = legs_of(event)
        return [Upsert(LEDGER_ACCOUNTS, str(account_id), position, account_document(
                    account_id, legs.currency, totals, event.originator_id, position))
                for account_id, totals in ((legs.debit_account_id, event.debit_balances),
                                           (legs.credit_account_id, event.credit_balances))]


def projectors() -> Sequence[Projector]:
    return [BalanceProjector()]


def wallet_view(document: dict[str, Any]) -> dict[str, Any]:
    """A wallet as its owner sees it: what it can spend, its balance, and what is held in
    and out of it."""
    return {"currency": document["currency"], "available": int(document["available"]),
            "posted": int(document["posted"]),
            "incoming_pending": int(document["credits_pending"]),
            "outgoing_pending": int(document["debits_pending"]),
            "position": int(document["position"])}


class BalanceQueries:
    def __init__(self, store: ReadStore) -> None:
        self._store = store

    def wallets_of(self, user_id: UUID | str, currencies: Sequence[str]) -> list[dict[str, Any]]:
        """The user's wallets in these currencies that money ever moved through (one read of
        their documents by id), in the order of `currencies`."""
        owner = UUID(str(user_id))
        ids = {currency: str(wallet(owner, currency).id) for currency in currencies}
        found = self._store.get_many(LEDGER_ACCOUNTS, list(ids.values()))
        return [wallet_view(found[i]) for i in ids.values() if i in found]

    def account(self, account_id: UUID | str) -> dict[str, Any] | None:
        """Any account's document (wallet or system), or None if it never moved."""
        return self._store.get(LEDGER_ACCOUNTS, str(account_id))

    def ledger_totals(self) -> dict[str, dict[str, Any]]:
        """Per currency, the four totals summed over every account, and whether debits equal
        credits (posted and pending apart): the conservation check an operator runs.

        Summed exactly, as integers, over every account's document (the stores' aggregations
        sum in floating point); an operator's check, not a request's. Read while transfers
        are being projected, it may straddle an event (one account of it counted before,
        the other after): exact once the projection is idle.
        """
        sums: dict[str, dict[str, int]] = {}
        after: list[Any] | None = None
        while True:
            page = self._store.query(Query(LEDGER_ACCOUNTS, sort_field="account_id",
                                           descending=False, after=after, limit=SCAN_PAGE))
            for document in page.documents:
                totals = sums.setdefault(str(document["currency"]),
                                         {**dict.fromkeys(TOTALS, 0), "accounts": 0})
                for name in TOTALS:
                    totals[name] += int(document.get(name, 0))
                totals["accounts"] += 1
            if page.next_after is None:
                break
            after = page.next_after
        return {currency: {**totals, "balanced": (
                    totals["debits_posted"] == totals["credits_posted"]
                    and totals["debits_pending"] == totals["credits_pending"])}
                for currency, totals in sorted(sums.items())}
