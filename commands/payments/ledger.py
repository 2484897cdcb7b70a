"""The ledger as a command sees it: load what a chain of operations names, decide it, keep it.

Accounts open on first use (a wallet the first time money moves into or out of it, a system
account the first time its currency is used), so no command has to open them ahead.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from domain.payments.accounts import AccountRef, Balances, LedgerAccount
from domain.payments.transfers import CreateTransfer, Ledger, Operation, Transfer, accounts_named
from event_log.aggregate import Cause
from event_log.batch import Batch


def account(batch: Batch, ref: AccountRef, cause: Cause) -> LedgerAccount:
    """The account, opened now if it never was."""
    found = batch.find(LedgerAccount, ref.id)
    if found is None:
        found = LedgerAccount.open(ref, cause)
        batch.add(found)
    return found


def balances(batch: Batch, ref: AccountRef) -> Balances:
    """An account's totals as the write side knows them (zero if it never moved)."""
    found = batch.find(LedgerAccount, ref.id)
    return Balances() if found is None else found.balances


def record(batch: Batch, operations: Sequence[Operation], at: datetime,
           cause: Cause) -> list[Transfer]:
    """Decides a linked chain on the batch's aggregates: all of it is recorded, or it raises
    before anything is (so a refusal leaves the batch as it was)."""
    named_transfers = [o.transfer_id for o in operations]
    transfers = {t.id: t for t in (batch.find(Transfer, i) for i in named_transfers)
                 if t is not None}
    refs = {ref.id: ref for o in operations if isinstance(o, CreateTransfer)
            for ref in (o.debit, o.credit)}
    accounts: dict[UUID, LedgerAccount] = {}
    for account_id in accounts_named(operations, transfers):
        found = batch.find(LedgerAccount, account_id)
        if found is None and account_id in refs:
            found = LedgerAccount.open(refs[account_id], cause)  # added only once recorded
        if found is not None:
            accounts[account_id] = found
    created = Ledger(accounts, transfers).apply(operations, at, cause)
    for touched in (*accounts.values(), *created):
        batch.add(touched)
    return created
