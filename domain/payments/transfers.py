"""Transfers: immutable, unique by id, single-phase or two-phase, and linked in chains.

A transfer moves an amount from one account (debited) to another (credited) of the same
currency. Single-phase transfers post at once. A pending transfer holds its amount (it counts
against the debited account's available balance) until it is posted, in full or in part (the
rest is released), voided, or expired after its timeout: it is resolved exactly once.

Every event of a transfer names both accounts and carries both accounts' totals after it, so
the balance read model is a plain upsert and the ledger sums to zero at every log position:
each event moves debits and credits by the same amounts.

`Ledger.apply` decides a chain of operations (linked: all or none). It plans every move on
copies of the accounts' totals first and refuses the chain before any event is recorded if
one step breaks a rule, so a refused chain leaves nothing behind.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final
from uuid import UUID

from domain.payments.accounts import AccountRef, Balances, LedgerAccount
from domain.payments.errors import (
    InsufficientFunds,
    InvalidAmount,
    MixedCurrencies,
    TransferAlreadyResolved,
    TransferExists,
    TransferNotFound,
    TransferNotPending,
)
from domain.payments.money import MAX_AMOUNT
from event_log.aggregate import Cause, ParleyAggregate, copied, values

POSTED: Final = "posted"
PENDING: Final = "pending"
VOIDED: Final = "voided"
EXPIRED: Final = "expired"


class Transfer(ParleyAggregate):
    """One transfer and, if two-phase, how it was resolved."""

    def __init__(self, debit_account_id: UUID, credit_account_id: UUID, amount: int,
                 currency: str, pending: bool, timeout_at: datetime | None, code: str,
                 reference: UUID | None) -> None:
        self.debit_account_id = debit_account_id
        self.credit_account_id = credit_account_id
        self.amount = amount
        self.currency = currency
        self.pending = pending
        self.timeout_at = timeout_at
        self.code = code
        self.reference = reference
        self.state = PENDING if pending else POSTED
        self.posted_amount = 0 if pending else amount

    class Created(ParleyAggregate.Created):
        debit_account_id: UUID
        credit_account_id: UUID
        amount: int
        currency: str
        pending: bool
        timeout_at: datetime | None
        code: str  # what the money is for: payment, funding, payout, refund, fee
        reference: UUID | None  # the payment, funding or payout it belongs to
        at: datetime
        debit_balances: dict[str, int]
        credit_balances: dict[str, int]

    class Resolved(ParleyAggregate.Event):
        """A pending transfer's end: it names the legs again (what it moved, between whom),
        so a reader of the relayed stream needs no memory of the transfer's creation."""

        debit_account_id: UUID
        credit_account_id: UUID
        currency: str
        code: str
        reference: UUID | None
        held_amount: int

    class Posted(Resolved):
        """A pending transfer posted: `amount` of it (the rest released)."""

        amount: int
        at: datetime
        debit_balances: dict[str, int]
        credit_balances: dict[str, int]
        copies = copied(posted_amount="amount")
        sets = values(state=POSTED)

    class Voided(Resolved):
        reason: str
        at: datetime
        debit_balances: dict[str, int]
        credit_balances: dict[str, int]
        sets = values(state=VOIDED)

    class Expired(Resolved):
        at: datetime
        debit_balances: dict[str, int]
        credit_balances: dict[str, int]
        sets = values(state=EXPIRED)


@dataclass(frozen=True)
class CreateTransfer:
    transfer_id: UUID
    debit: AccountRef
    credit: AccountRef
    amount: int
    code: str
    reference: UUID | None = None
    pending: bool = False
    timeout_at: datetime | None = None


@dataclass(frozen=True)
class PostPending:
    """Post a pending transfer; `amount` None posts all of it."""

    transfer_id: UUID
    amount: int | None = None


@dataclass(frozen=True)
class VoidPending:
    transfer_id: UUID
    reason: str


@dataclass(frozen=True)
class ExpirePending:
    transfer_id: UUID


Operation = CreateTransfer | PostPending | VoidPending | ExpirePending


def accounts_named(operations: Sequence[Operation],
                   transfers: Mapping[UUID, Transfer]) -> list[UUID]:
    """The accounts a chain moves (what a handler loads before deciding it)."""
    named: list[UUID] = []
    for operation in operations:
        if isinstance(operation, CreateTransfer):
            named += [operation.debit.id, operation.credit.id]
        elif (transfer := transfers.get(operation.transfer_id)) is not None:
            named += [transfer.debit_account_id, transfer.credit_account_id]
    return list(dict.fromkeys(named))


class Ledger:
    """The accounts and transfers one command loaded, deciding chains of operations on them."""

    def __init__(self, accounts: Mapping[UUID, LedgerAccount],
                 transfers: Mapping[UUID, Transfer]) -> None:
        self._accounts = accounts
        self._transfers = dict(transfers)

    def apply(self, operations: Sequence[Operation], at: datetime,
              cause: Cause) -> list[Transfer]:
        """Records the chain, all of it or (by raising before any event) none of it; returns
        the transfers it created."""
        planned: dict[UUID, Balances] = {}
        touched: set[UUID] = set()  # transfers this chain creates or resolves: once each
        moves: list[tuple[Operation, Balances, Balances]] = []
        for operation in operations:
            debit_id, credit_id, debit, credit = self._plan(operation, planned, touched)
            touched.add(operation.transfer_id)
            planned[debit_id], planned[credit_id] = debit, credit
            moves.append((operation, debit, credit))
        return [t for o, d, c in moves if (t := self._record(o, d, c, at, cause)) is not None]

    def balances(self, account_id: UUID) -> Balances:
        return self._accounts[account_id].balances

    def _plan(self, operation: Operation, planned: Mapping[UUID, Balances],
              touched: set[UUID]) -> tuple[UUID, UUID, Balances, Balances]:
        if isinstance(operation, CreateTransfer):
            if operation.transfer_id in self._transfers or operation.transfer_id in touched:
                raise TransferExists("transfer_id", "a transfer with this id exists")
            return self._plan_create(operation, planned)
        transfer = self._transfers.get(operation.transfer_id)
        if transfer is None:
            raise TransferNotFound("transfer_id", "no such pending transfer")
        if not transfer.pending:
            raise TransferNotPending("transfer_id", "the transfer is not two-phase")
        if transfer.state != PENDING or transfer.id in touched:
            state = transfer.state if transfer.state != PENDING else "resolved in this chain"
            raise TransferAlreadyResolved("transfer_id", f"the transfer was {state}")
        held = transfer.amount
        posted = 0
        if isinstance(operation, PostPending):
            posted = held if operation.amount is None else operation.amount
            if not 0 < posted <= held:
                raise InvalidAmount("amount", "a posting takes more than zero and at most "
                                              "the pending amount")
        debit_id, credit_id = transfer.debit_account_id, transfer.credit_account_id
        debit = self._current(debit_id, planned).moved(debits_pending=-held,
                                                       debits_posted=posted)
        credit = self._current(credit_id, planned).moved(credits_pending=-held,
                                                         credits_posted=posted)
        return debit_id, credit_id, debit, credit

    def _plan_create(self, operation: CreateTransfer,
                     planned: Mapping[UUID, Balances]) -> tuple[UUID, UUID, Balances, Balances]:
        if operation.debit.currency != operation.credit.currency:
            raise MixedCurrencies("currency", "both accounts of a transfer share a currency")
        if operation.debit.id == operation.credit.id:
            raise InvalidAmount("credit", "a transfer moves money between two accounts")
        if not 0 < operation.amount <= MAX_AMOUNT:
            raise InvalidAmount("amount", "an amount is more than zero")
        amount = operation.amount
        debit_id, credit_id = operation.debit.id, operation.credit.id
        if operation.pending:
            debit = self._current(debit_id, planned).moved(debits_pending=amount)
            credit = self._current(credit_id, planned).moved(credits_pending=amount)
        else:
            debit = self._current(debit_id, planned).moved(debits_posted=amount)
            credit = self._current(credit_id, planned).moved(credits_posted=amount)
        if not self._accounts[debit_id].admits(debit):
            raise InsufficientFunds("amount", "the account's available balance is less than "
                                              "the amount")
        if not self._accounts[credit_id].admits(credit):
            raise InsufficientFunds("amount", "the credited account may not take it")
        return debit_id, credit_id, debit, credit

    def _current(self, account_id: UUID, planned: Mapping[UUID, Balances]) -> Balances:
        if account_id in planned:
            return planned[account_id]
        return self._accounts[account_id].balances

    def _record(self, operation: Operation, debit: Balances, credit: Balances, at: datetime,
                cause: Cause) -> Transfer | None:
        if isinstance(operation, CreateTransfer):
            transfer: Transfer = Transfer._create(
                Transfer.Created, id=operation.transfer_id,
                debit_account_id=operation.debit.id, credit_account_id=operation.credit.id,
                amount=operation.amount, currency=operation.debit.currency,
                pending=operation.pending, timeout_at=operation.timeout_at,
                code=operation.code, reference=operation.reference, at=at,
                debit_balances=debit.as_document(), credit_balances=credit.as_document(),
                **cause.as_event_fields())
            self._transfers[transfer.id] = transfer
            created: Transfer | None = transfer
        else:
            transfer = self._transfers[operation.transfer_id]
            sides = {"at": at, "debit_balances": debit.as_document(),
                     "credit_balances": credit.as_document(),
                     "debit_account_id": transfer.debit_account_id,
                     "credit_account_id": transfer.credit_account_id,
                     "currency": transfer.currency, "code": transfer.code,
                     "reference": transfer.reference, "held_amount": transfer.amount,
                     **cause.as_event_fields()}
            if isinstance(operation, PostPending):
                transfer.trigger_event(Transfer.Posted,
                                       amount=operation.amount or transfer.amount, **sides)
            elif isinstance(operation, VoidPending):
                transfer.trigger_event(Transfer.Voided, reason=operation.reason, **sides)
            else:
                transfer.trigger_event(Transfer.Expired, **sides)
            created = None
        self._accounts[transfer.debit_account_id].move_to(debit, transfer.id, cause)
        self._accounts[transfer.credit_account_id].move_to(credit, transfer.id, cause)
        return created
