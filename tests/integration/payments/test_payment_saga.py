"""A payment's saga on both profiles, driven through the writer: the process manager takes
each payment from initiated to settled (or failed), and the ledger moves only then; many
payments at once from one wallet spend exactly what it holds."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from concurrent.futures import Future
from datetime import UTC, datetime
from pathlib import Path

import pytest

from commands.audit.queries import AuditCriteria
from commands.payments.payments import PaymentPolicy, SendPayment
from commands.payments.transfers import RecordTransfers
from domain.payments.accounts import FEES, FUNDING_CLEARING, LedgerAccount, system_account, wallet
from domain.payments.payments import Payment, fee_transfer_id, hold_transfer_id
from domain.payments.transfers import CreateTransfer
from parley.assembly import Parley
from parley.bootstrap import build
from parley.settings import Settings
from parley.signing_keys import generate_key
from tests.builders import a_cause, a_direct_conversation, embedded_settings

POLICY = PaymentPolicy(currencies=("USD",), fee_basis_points=100)  # a 1% fee


@pytest.fixture(params=["embedded", pytest.param("production", marks=pytest.mark.services)])
def parley(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Parley]:
    if request.param == "production":
        services = request.getfixturevalue("services")
        namespace = request.getfixturevalue("namespace")
        settings = Settings(database_url=services["PARLEY_DATABASE_URL"],
                            kafka_bootstrap=services["PARLEY_KAFKA_BOOTSTRAP"],
                            elasticsearch_url=services["PARLEY_ELASTICSEARCH_URL"],
                            redis_url=services["PARLEY_REDIS_URL"], namespace=namespace,
                            secret_key=generate_key(), data_dir=tmp_path / "data")
    else:
        settings = embedded_settings(tmp_path / "data")
    built = build(settings)
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


def test_fifty_payments_at_once_from_one_wallet_spend_exactly_what_it_holds(
        parley: Parley) -> None:
    conversation, ada, bob = a_direct_conversation(parley.writer)
    funded(parley, ada, 17 * 1_000 + 500)  # enough for 17 of them, and a little
    futures: list[tuple[uuid.UUID, Future[object]]] = []
    for n in range(50):
        payment_id = uuid.uuid4()
        futures.append((payment_id, parley.writer.submit(SendPayment(
            payment_id, ada, bob, conversation, 1_000, "USD", f"#{n}", datetime.now(UTC),
            policy=PaymentPolicy(currencies=("USD",))), a_cause(ada), f"pay-{payment_id}")))
    for _, future in futures:
        future.result(timeout=30)
    payments = ended(parley, [payment_id for payment_id, _ in futures])
    states = [p.state for p in payments]
    assert states.count("settled") == 17 and states.count("failed") == 33
    assert {p.reason for p in payments if p.state == "failed"} == {"insufficient_funds"}
    ada_wallet = parley.event_log.repository.get(wallet(ada, "USD").id)
    assert ada_wallet.balances.available == 500 and ada_wallet.balances.debits_pending == 0
    assert parley.event_log.repository.get(wallet(bob, "USD").id).balances.posted == 17_000


def test_the_audit_log_follows_a_payment_by_its_correlation_id_to_the_ledger(
        parley: Parley) -> None:
    conversation, ada, bob = a_direct_conversation(parley.writer)
    funded(parley, ada, 5_000)
    cause = a_cause(ada)
    payment_id = uuid.uuid4()
    parley.writer.execute(SendPayment(payment_id, ada, bob, conversation, 1_200, "USD", "book",
                                      datetime.now(UTC), policy=POLICY), cause)
    assert ended(parley, [payment_id])[0].state == "settled"
    entries = parley.audit.search(AuditCriteria(correlation_id=cause.correlation_id),
                                  limit=500).entries
    types = [entry.type for entry in entries]
    for step in ("Payment.Initiated", "Payment.RiskAssessed", "Payment.Authorised",
                 "Payment.Settled", "Transfer.Created", "Transfer.Posted",
                 "LedgerAccount.BalancesChanged"):
        assert step in types, types
    # the hold comes after the payment; the posting commits with Settled, in one transaction
    assert types.index("Payment.Initiated") < types.index("Transfer.Created") < types.index(
        "Transfer.Posted")
    held = [e for e in entries if e.type == "Transfer.Created"]
    assert {str(e.aggregate_id) for e in held} == {str(hold_transfer_id(payment_id)),
                                                  str(fee_transfer_id(payment_id))}
