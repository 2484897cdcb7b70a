"""A payment's saga on the embedded profile, driven through the writer: the process manager
takes each payment from initiated to settled (or failed), and the ledger moves only then."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from commands.payments.payments import PaymentPolicy, SendPayment
from commands.payments.transfers import RecordTransfers
from domain.payments.accounts import FEES, FUNDING_CLEARING, LedgerAccount, system_account, wallet
from domain.payments.payments import Payment
from domain.payments.transfers import CreateTransfer
from parley.assembly import Parley
from parley.bootstrap import build
from tests.builders import a_cause, a_direct_conversation, embedded_settings

POLICY = PaymentPolicy(currencies=("USD",), fee_basis_points=100)  # a 1% fee


@pytest.fixture
def parley(tmp_path: Path) -> Iterator[Parley]:
    built = build(embedded_settings(tmp_path / "data"))
    built.start()
    yield built
    built.close()


def funded(parley: Parley, user: uuid.UUID, amount: int) -> None:
    parley.writer.execute(RecordTransfers((CreateTransfer(
        uuid.uuid4(), system_account(FUNDING_CLEARING, "USD"), wallet(user, "USD"), amount,
        "funding"),), datetime.now(UTC)), a_cause())


def ended(parley: Parley, payment_ids: list[uuid.UUID]) -> list[Payment]:
    deadline = time.monotonic() + 15
    while True:
        payments = [parley.event_log.repository.get(p) for p in payment_ids]
        if all(p.state in ("settled", "failed", "declined", "reversed") for p in payments):
            return payments
        assert time.monotonic() < deadline, [p.state for p in payments]
        time.sleep(0.05)


def totals(parley: Parley, ref: object) -> object:
    return parley.event_log.repository.get(ref.id).balances  # type: ignore[attr-defined]


def test_payments_settle_while_the_wallet_affords_them_and_fail_after(parley: Parley) -> None:
    conversation, ada, bob = a_direct_conversation(parley.writer)
    funded(parley, ada, 10_000)
    sent = []
    for note in ("lunch", "cinema", "taxi"):
        payment_id = uuid.uuid4()
        accepted = parley.writer.execute(SendPayment(
            payment_id, ada, bob, conversation, 4_000, "USD", note, datetime.now(UTC),
            policy=POLICY), a_cause(ada)).result
        assert (accepted.status, accepted.fee) == ("initiated", 40)
        sent.append(payment_id)
    payments = ended(parley, sent)
    assert [p.state for p in payments] == ["settled", "settled", "failed"]
    assert payments[2].reason == "insufficient_funds"
    ada_wallet = parley.event_log.repository.get(wallet(ada, "USD").id)
    assert isinstance(ada_wallet, LedgerAccount)
    assert ada_wallet.balances.available == 10_000 - 2 * 4_040
    assert ada_wallet.balances.debits_pending == 0
    bob_wallet = parley.event_log.repository.get(wallet(bob, "USD").id)
    assert bob_wallet.balances.posted == 8_000
    fees = parley.event_log.repository.get(system_account(FEES, "USD").id)
    assert fees.balances.credits_posted == 80
