"""The ledger's rules: bounded wallets, transfers once by id, holds resolved once, linked
chains all or none, and accounts that reload the same from a snapshot."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from domain.payments.accounts import FUNDING_CLEARING, LedgerAccount, system_account, wallet
from domain.payments.errors import (
    InsufficientFunds,
    MixedCurrencies,
    TransferAlreadyResolved,
    TransferExists,
)
from domain.payments.transfers import (
    CreateTransfer,
    Ledger,
    PostPending,
    Transfer,
    VoidPending,
)
from event_log.log import EventLog
from tests.builders import a_cause

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
ADA, BOB = uuid.uuid4(), uuid.uuid4()
FUNDING = system_account(FUNDING_CLEARING, "USD")


def a_ledger() -> tuple[Ledger, dict[uuid.UUID, LedgerAccount], dict[uuid.UUID, Transfer]]:
    accounts = {ref.id: LedgerAccount.open(ref, a_cause())
                for ref in (FUNDING, wallet(ADA, "USD"), wallet(BOB, "USD"),
                            wallet(ADA, "EUR"))}
    transfers: dict[uuid.UUID, Transfer] = {}
    return Ledger(accounts, transfers), accounts, transfers


def fund(ledger: Ledger, amount: int) -> None:
    ledger.apply([CreateTransfer(uuid.uuid4(), FUNDING, wallet(ADA, "USD"), amount, "funding")],
                 NOW, a_cause())


def test_a_wallet_is_never_debited_beyond_what_it_holds() -> None:
    ledger, accounts, _ = a_ledger()
    fund(ledger, 1_000)
    with pytest.raises(InsufficientFunds):
        ledger.apply([CreateTransfer(uuid.uuid4(), wallet(ADA, "USD"), wallet(BOB, "USD"),
                                     1_001, "payment")], NOW, a_cause())
    assert accounts[wallet(ADA, "USD").id].balances.available == 1_000


def test_a_hold_counts_against_the_balance_and_posts_in_part_once() -> None:
    ledger, accounts, _ = a_ledger()
    fund(ledger, 1_000)
    hold = uuid.uuid4()
    ledger.apply([CreateTransfer(hold, wallet(ADA, "USD"), wallet(BOB, "USD"), 800, "payment",
                                 pending=True)], NOW, a_cause())
    assert accounts[wallet(ADA, "USD").id].balances.available == 200
    ledger.apply([PostPending(hold, 500)], NOW, a_cause())
    ada, bob = (accounts[wallet(u, "USD").id].balances for u in (ADA, BOB))
    assert (ada.available, ada.debits_pending, bob.posted, bob.credits_pending) == (500, 0, 500, 0)
    for again in (PostPending(hold), VoidPending(hold, "late")):
        with pytest.raises(TransferAlreadyResolved):
            ledger.apply([again], NOW, a_cause())


def test_a_refused_link_refuses_its_whole_chain_and_records_nothing() -> None:
    ledger, accounts, _ = a_ledger()
    fund(ledger, 1_000)
    before = {i: len(a.pending_events) for i, a in accounts.items()}
    with pytest.raises(InsufficientFunds):
        ledger.apply([CreateTransfer(uuid.uuid4(), wallet(ADA, "USD"), wallet(BOB, "USD"),
                                     600, "payment"),
                      CreateTransfer(uuid.uuid4(), wallet(ADA, "USD"), wallet(BOB, "USD"),
                                     600, "payment")], NOW, a_cause())
    assert {i: len(a.pending_events) for i, a in accounts.items()} == before


def test_transfers_are_unique_by_id_and_never_mix_currencies() -> None:
    ledger, _, _ = a_ledger()
    fund(ledger, 1_000)
    same = CreateTransfer(uuid.uuid4(), wallet(ADA, "USD"), wallet(BOB, "USD"), 10, "payment")
    ledger.apply([same], NOW, a_cause())
    with pytest.raises(TransferExists):
        ledger.apply([same], NOW, a_cause())
    with pytest.raises(MixedCurrencies):
        ledger.apply([CreateTransfer(uuid.uuid4(), wallet(ADA, "EUR"), wallet(BOB, "USD"), 1,
                                     "payment")], NOW, a_cause())


def test_the_ledger_sums_to_zero_after_every_operation() -> None:
    ledger, accounts, _ = a_ledger()

    def sums() -> tuple[int, int]:
        totals = [a.balances for a in accounts.values()]
        return (sum(t.debits_posted - t.credits_posted for t in totals),
                sum(t.debits_pending - t.credits_pending for t in totals))

    fund(ledger, 1_000)
    assert sums() == (0, 0)
    created = ledger.apply([CreateTransfer(uuid.uuid4(), wallet(ADA, "USD"),
                                           wallet(BOB, "USD"), 300, "payment", pending=True)],
                           NOW, a_cause())
    assert sums() == (0, 0)
    ledger.apply([PostPending(created[0].id, 120)], NOW, a_cause())
    assert sums() == (0, 0)
    posted = created[0].pending_events[-1]
    assert isinstance(posted, Transfer.Posted)
    assert posted.credit_balances == accounts[wallet(BOB, "USD").id].balances.as_document()


def test_an_account_reloads_the_same_from_its_snapshot() -> None:
    log = EventLog(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    ledger, accounts, _ = a_ledger()
    fund(ledger, 1_000)
    account = accounts[wallet(ADA, "USD").id]
    log.save(account)
    log.take_snapshot(account.id)
    reloaded = log.repository.get(account.id)
    assert reloaded.balances == account.balances and reloaded.balances.available == 1_000
