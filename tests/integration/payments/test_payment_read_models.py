"""The payments read models on both profiles, fed from the log as payments run through the
writer: wallets' balances after settle, fail and refund; statements newest first with a
cursor; a payment held for review in the queue with its evidence, then expired by the hold
timer; and the ledger conserving money (debits == credits per currency) throughout."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from pydantic import SecretStr

from adapters.read_model.elasticsearch_read_store import ElasticsearchReadStore
from commands.payments.payments import PaymentPolicy, RefundPayment, SendPayment
from commands.payments.timers import HoldExpiry
from commands.payments.transfers import RecordTransfers
from domain.payments.accounts import FEES, FUNDING_CLEARING, system_account, wallet
from domain.payments.transfers import CreateTransfer
from event_log.writer import GroupCommitWriter
from parley.assembly import Parley
from parley.bootstrap import build
from parley.settings import Settings
from parley.signing_keys import generate_key
from projections.payments.balances import BalanceQueries
from projections.payments.payments import PaymentQueries
from projections.payments.statements import StatementQueries
from tests.builders import a_cause, a_direct_conversation
from tests.integration.conftest import Pipeline, project_until_quiet

POLICY = PaymentPolicy(currencies=("USD",), fee_basis_points=100, hold_seconds=10)
# every payment from an account younger than a week goes to review
REVIEW_ALL = json.dumps({"version": 1, "review_at": 10, "decline_at": 1_000, "rules": [
    {"kind": "new_account", "score": 15, "params": {"min_age_seconds": 7 * 24 * 3600}}]})
T = TypeVar("T")


class Deployment:
    """A built Parley and, in production, what feeds its read models: the relay to Kafka and
    one projection runner into Elasticsearch (kept for the test), run when a read finds the
    model behind."""

    def __init__(self, parley: Parley, pipeline: Pipeline | None) -> None:
        self.parley = parley
        self._pipeline = pipeline
        self._runner = pipeline.projection_runner() if pipeline is not None else None

    def catch_up(self) -> None:
        if self._pipeline is not None and self._runner is not None:
            self._pipeline.relay().relay_once()
            project_until_quiet(self._runner, quiet_seconds=0.5)


def built(request: pytest.FixtureRequest, tmp_path: Path, **chosen: Any) -> Iterator[Parley]:
    if request.param == "production":
        services = request.getfixturevalue("services")
        settings = Settings(database_url=services["PARLEY_DATABASE_URL"],
                            kafka_bootstrap=services["PARLEY_KAFKA_BOOTSTRAP"],
                            elasticsearch_url=services["PARLEY_ELASTICSEARCH_URL"],
                            redis_url=services["PARLEY_REDIS_URL"],
                            namespace=request.getfixturevalue("namespace"),
                            secret_key=SecretStr(generate_key()), data_dir=tmp_path / "data",
                            **chosen)
    else:
        settings = Settings(database_url=None, data_dir=tmp_path / "data", **chosen)
    parley = build(settings)
    parley.start()
    pipeline = None
    if settings.database_url is not None:
        assert isinstance(parley.store, ElasticsearchReadStore)
        pipeline = Pipeline(settings, parley.event_log, writer(parley), parley.store)
    DEPLOYMENTS[id(parley)] = Deployment(parley, pipeline)
    yield parley
    DEPLOYMENTS.pop(id(parley))
    parley.close()


DEPLOYMENTS: dict[int, Deployment] = {}
PROFILES = ["embedded", pytest.param("production", marks=pytest.mark.services)]


@pytest.fixture(params=PROFILES)
def parley(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Parley]:
    yield from built(request, tmp_path)


@pytest.fixture(params=PROFILES)
def reviewing(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Parley]:
    yield from built(request, tmp_path, payment_rules=REVIEW_ALL)


def eventually(read: Callable[[], T], holds: Callable[[T], bool], seconds: float = 30) -> T:
    deadline = time.monotonic() + seconds
    while True:
        value = read()
        if holds(value):
            return value
        assert time.monotonic() < deadline, value
        for deployment in DEPLOYMENTS.values():
            deployment.catch_up()
        time.sleep(0.05)


def writer(parley: Parley) -> GroupCommitWriter:
    assert isinstance(parley.writer, GroupCommitWriter)
    return parley.writer


def queries(parley: Parley) -> tuple[BalanceQueries, StatementQueries, PaymentQueries]:
    return (BalanceQueries(parley.store), StatementQueries(parley.store),
            PaymentQueries(parley.store))


def funded(parley: Parley, user: uuid.UUID, amount: int) -> None:
    writer(parley).execute(RecordTransfers((CreateTransfer(
        uuid.uuid4(), system_account(FUNDING_CLEARING, "USD"), wallet(user, "USD"), amount,
        "funding"),), datetime.now(UTC)), a_cause())


def sent(parley: Parley, sender: uuid.UUID, recipient: uuid.UUID, conversation: uuid.UUID,
         amount: int, note: str) -> uuid.UUID:
    payment_id = uuid.uuid4()
    writer(parley).execute(SendPayment(payment_id, sender, recipient, conversation, amount, "USD",
                                      note, datetime.now(UTC), policy=POLICY), a_cause(sender))
    return payment_id


def conserved(balances: BalanceQueries) -> bool:
    return all(t["debits_posted"] == t["credits_posted"]
               and t["debits_pending"] == t["credits_pending"]
               for t in balances.ledger_totals().values())


def test_wallets_read_what_settled_failed_and_refunded_payments_left(parley: Parley) -> None:
    balances, statements, payments = queries(parley)
    conversation, ada, bob = a_direct_conversation(writer(parley))
    funded(parley, ada, 10_000)
    first = sent(parley, ada, bob, conversation, 4_000, "lunch")
    second = sent(parley, ada, bob, conversation, 4_000, "cinema")
    third = sent(parley, ada, bob, conversation, 4_000, "taxi")  # more than is left
    ended = eventually(lambda: [payments.payment(p, ada) for p in (first, second, third)],
                       lambda docs: [d and d["status"] for d in docs]
                       == ["settled", "settled", "failed"])
    assert ended[2] is not None and ended[2]["ended_reason"] == "insufficient_funds"
    writer(parley).execute(RefundPayment(first, uuid.uuid4(), 1_500, bob, "overpaid",
                                        datetime.now(UTC)), a_cause(bob))
    refunded = eventually(lambda: payments.payment(first, bob),
                          lambda d: d is not None and d["status"] == "partially_refunded")
    assert refunded is not None and refunded["refunded"] == 1_500
    [ada_usd] = eventually(lambda: balances.wallets_of(ada, ["USD", "EUR"]),
                           lambda w: bool(w) and w[0]["available"] == 10_000 - 8_080 + 1_500)
    assert (ada_usd["currency"], ada_usd["outgoing_pending"]) == ("USD", 0)
    [bob_usd] = balances.wallets_of(bob, ["USD"])
    assert bob_usd["posted"] == 8_000 - 1_500 and bob_usd["incoming_pending"] == 0
    fees = balances.account(system_account(FEES, "USD").id)
    assert fees is not None and fees["credits_posted"] == 80
    assert conserved(balances)
    # the statement: newest first, a page at a time by position
    wallet_id = wallet(ada, "USD").id
    every = statements.postings(wallet_id, None, 100)
    positions = [p["position"] for p in every]
    assert positions == sorted(positions, reverse=True)
    assert (every[0]["amount"], every[0]["counterparty_id"]) == (1_500, str(wallet(bob, "USD").id))
    assert every[-1]["code"] == "funding" and every[-1]["amount"] == 10_000
    page = statements.postings(wallet_id, None, 3)
    rest = statements.postings(wallet_id, page[-1]["position"], 100)
    assert [(p["transfer_id"], p["phase"]) for p in page + rest] == [
        (p["transfer_id"], p["phase"]) for p in every]
    # both parties list the payments, most recently changed first; others see nothing
    listed = payments.payments_of(bob, None, 2)
    assert listed[0]["payment_id"] == str(first)
    older = payments.payments_of(bob, (listed[-1]["updated_ms"], listed[-1]["payment_id"]), 10)
    assert {d["payment_id"] for d in listed + older} == {str(first), str(second), str(third)}
    assert payments.payment(first, uuid.uuid4()) is None


def test_a_payment_held_for_review_waits_in_the_queue_until_its_hold_expires(
        reviewing: Parley) -> None:
    parley = reviewing
    balances, _, payments = queries(parley)
    conversation, ada, bob = a_direct_conversation(writer(parley))
    funded(parley, ada, 10_000)
    payment_id = sent(parley, ada, bob, conversation, 2_500, "rent")
    [queued] = eventually(lambda: [d for d in payments.review_queue(50)
                                   if d["payment_id"] == str(payment_id)], bool)
    assert (queued["status"], queued["amount"], queued["fee"]) == ("in_review", 2_500, 25)
    assert (queued["sender_id"], queued["recipient_id"]) == (str(ada), str(bob))
    assert queued["assessed"]["outcome"] == "review" and queued["assessed"]["score"] == 15
    assert queued["assessed"]["rule_set_version"] == 1
    assert [r["kind"] for r in queued["assessed"]["results"] if r["triggered"]] == [
        "new_account"]
    reviewed = payments.for_review(payment_id)
    assert reviewed is not None and reviewed["assessed"] == queued["assessed"]
    assert "assessed" not in (payments.payment(payment_id, ada) or {"assessed": "missing"})
    [held] = balances.wallets_of(ada, ["USD"])
    assert (held["available"], held["outgoing_pending"]) == (10_000 - 2_525, 2_525)
    # the hold ends 10 s on: the timer, told it is later, expires it (no waiting)
    now = datetime.now(UTC)
    assert payments.due_holds(now, 10) == []
    later = now + timedelta(seconds=POLICY.hold_seconds + 1)
    assert payment_id in payments.due_holds(later, 10)
    expiry = HoldExpiry(payments, writer(parley).execute, lambda: later)
    assert expiry.expire_due(100) == 1
    failed = eventually(lambda: payments.payment(payment_id, bob),
                        lambda d: d is not None and d["status"] == "failed")
    assert failed is not None and failed["ended_reason"] == "hold_expired"
    assert "held_until_ms" not in failed
    assert not [d for d in payments.review_queue(50) if d["payment_id"] == str(payment_id)]
    [back] = eventually(lambda: balances.wallets_of(ada, ["USD"]),
                        lambda w: w[0]["outgoing_pending"] == 0)
    assert back["available"] == 10_000
    assert eventually(lambda: payments.due_holds(later, 10), lambda due: due == []) == []
    assert HoldExpiry(payments, writer(parley).execute, lambda: later).expire_due(100) == 0
    assert conserved(balances)
