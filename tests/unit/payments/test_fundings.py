"""Fundings and payouts: credited once however often or in whatever order the processor tells
of it, never moved backwards, payouts held at once and posted or given back; the card steps
call the processor under keys that make a retry the same call."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from eventsourcing.application import Application

from commands.payments import ledger
from commands.payments.card_processor import (
    PaymentIntentView,
    PayoutView,
    ProcessorDeclined,
    ProcessorTimedOut,
)
from commands.payments.funding_steps import (
    ChargeCard,
    FundingProcess,
    PayoutProcess,
    SendPayout,
    charge_card,
    send_payout,
)
from commands.payments.fundings import (
    FundWallet,
    RecordFundingOutcome,
    RecordPayoutOutcome,
    RequestPayout,
    fund_wallet,
    record_funding_outcome,
    record_payout_outcome,
    request_payout,
)
from domain.payments.accounts import FUNDING_CLEARING, PAYOUTS_CLEARING, system_account, wallet
from domain.payments.errors import InsufficientFunds, InvalidAmount
from domain.payments.fundings import (
    ACTION_REQUIRED,
    FAILED,
    PAID,
    SUCCEEDED,
    Funding,
    FundingNotFound,
    Payout,
    funding_id,
    payout_id,
)
from event_log.batch import Batch
from tests.builders import a_cause

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
ADA = uuid.uuid4()


def a_batch() -> Batch:
    return Batch(Application().repository)


def requested(batch: Batch, amount: int = 5000) -> uuid.UUID:
    funding = funding_id(ADA, str(uuid.uuid4()))
    fund_wallet(batch, FundWallet(funding, ADA, amount, "USD", "pm_card_visa", NOW), a_cause())
    return funding


def told(batch: Batch, funding: uuid.UUID, status: str, error_code: str | None = None,
         received: int = 0) -> bool:
    command = RecordFundingOutcome(funding, "pi_1", status, received, NOW, error_code)
    return record_funding_outcome(batch, command, a_cause()).moved


def wallet_posted(batch: Batch) -> int:
    return ledger.balances(batch, wallet(ADA, "USD")).posted


def test_ids_are_the_same_for_a_retried_request_and_differ_between_callers() -> None:
    assert funding_id(ADA, "k1") == funding_id(ADA, "k1")
    assert funding_id(ADA, "k1") != funding_id(uuid.uuid4(), "k1")
    assert funding_id(ADA, "k1") != payout_id(ADA, "k1")


def test_a_retried_funding_request_answers_the_funding_it_made() -> None:
    batch = a_batch()
    funding = requested(batch)
    again = fund_wallet(batch, FundWallet(funding, ADA, 5000, "USD", "pm_card_visa", NOW),
                        a_cause())
    assert not again.moved
    assert again.state == "requested"


@pytest.mark.parametrize("amount", [0, -1, 10**15 + 1])
def test_a_funding_of_no_or_too_much_money_is_refused(amount: int) -> None:
    with pytest.raises(InvalidAmount):
        Funding.request(uuid.uuid4(), ADA, amount, "USD", "pm_card_visa", NOW, a_cause())


def test_success_credits_the_wallet_once_however_often_it_is_told() -> None:
    batch = a_batch()
    funding = requested(batch)
    assert told(batch, funding, "succeeded", received=5000)
    assert not told(batch, funding, "succeeded", received=5000)  # a duplicate webhook
    assert wallet_posted(batch) == 5000
    assert ledger.balances(batch, system_account(FUNDING_CLEARING, "USD")).debits_posted == 5000
    assert batch.find(Funding, funding).state == SUCCEEDED  # type: ignore[union-attr]


def test_a_late_or_stale_report_never_moves_a_funding_backwards() -> None:
    batch = a_batch()
    funding = requested(batch)
    assert told(batch, funding, "requires_capture")
    assert not told(batch, funding, "requires_confirmation")  # stale: an earlier state
    assert told(batch, funding, "succeeded")
    for late in ("requires_capture", "processing", "canceled"):
        assert not told(batch, funding, late)
    assert batch.find(Funding, funding).state == SUCCEEDED  # type: ignore[union-attr]
    assert wallet_posted(batch) == 5000


def test_a_decline_fails_the_funding_with_its_code_and_credits_nothing() -> None:
    batch = a_batch()
    funding = requested(batch)
    assert told(batch, funding, "requires_payment_method", "insufficient_funds")
    found = batch.find(Funding, funding)
    assert found is not None and (found.state, found.failure_code) == (
        FAILED, "insufficient_funds")
    assert not told(batch, funding, "succeeded")
    assert wallet_posted(batch) == 0


def test_3d_secure_asks_for_action_and_a_failed_authentication_still_ends_it() -> None:
    batch = a_batch()
    funding = requested(batch)
    told(batch, funding, "requires_confirmation")
    assert told(batch, funding, "requires_action")
    assert batch.find(Funding, funding).state == ACTION_REQUIRED  # type: ignore[union-attr]
    assert told(batch, funding, "requires_payment_method", "authentication_required")
    assert batch.find(Funding, funding).state == FAILED  # type: ignore[union-attr]


def test_an_unknown_funding_is_not_found() -> None:
    with pytest.raises(FundingNotFound):
        told(a_batch(), uuid.uuid4(), "succeeded")


def funded_batch(amount: int) -> Batch:
    batch = a_batch()
    told(batch, requested(batch, amount), "succeeded")
    return batch


def a_payout(batch: Batch, amount: int) -> uuid.UUID:
    payout = payout_id(ADA, str(uuid.uuid4()))
    request_payout(batch, RequestPayout(payout, ADA, amount, "USD", "ba_1", NOW), a_cause())
    return payout


def test_a_payout_holds_the_money_at_once_and_a_short_wallet_is_refused() -> None:
    batch = funded_batch(3000)
    with pytest.raises(InsufficientFunds):
        a_payout(batch, 3001)
    a_payout(batch, 2000)
    assert ledger.balances(batch, wallet(ADA, "USD")).available == 1000
    with pytest.raises(InsufficientFunds):
        a_payout(batch, 1001)


def test_a_paid_payout_posts_the_hold_and_a_failed_one_gives_the_money_back() -> None:
    batch = funded_batch(3000)
    paid, failed = a_payout(batch, 1000), a_payout(batch, 500)
    for payout, status in ((paid, "in_transit"), (paid, "paid"), (failed, "failed")):
        record_payout_outcome(batch, RecordPayoutOutcome(payout, "po_1", status, NOW,
                                                         "account_closed"), a_cause())
    again = record_payout_outcome(batch, RecordPayoutOutcome(paid, "po_1", "failed", NOW),
                                  a_cause())
    assert not again.moved and again.state == PAID
    account = ledger.balances(batch, wallet(ADA, "USD"))
    assert (account.posted, account.available) == (2000, 2000)
    assert ledger.balances(batch, system_account(PAYOUTS_CLEARING, "USD")).credits_posted == 1000
    found = batch.find(Payout, failed)
    assert found is not None and found.failure_code == "account_closed"


INTENT = PaymentIntentView("pi_1", "requires_confirmation", 5000, 0, 0, "USD", "f")


class RecordingProcessor:
    """A processor double that records each call and its idempotency key."""

    def __init__(self, confirmed: str = "requires_capture",
                 fail: Exception | None = None) -> None:
        self.calls: list[tuple[str, str]] = []
        self._confirmed = confirmed
        self._fail = fail

    def create_payment_intent(self, amount: int, currency: str, payment_method: str,
                              reference: str, idempotency_key: str,
                              capture_method: str = "manual") -> PaymentIntentView:
        self.calls.append(("create", idempotency_key))
        return INTENT

    def confirm(self, intent_id: str, idempotency_key: str) -> PaymentIntentView:
        self.calls.append(("confirm", idempotency_key))
        if self._fail is not None:
            raise self._fail
        return replace(INTENT, status=self._confirmed)

    def capture(self, intent_id: str, idempotency_key: str,
                amount_to_capture: int | None = None) -> PaymentIntentView:
        self.calls.append(("capture", idempotency_key))
        return replace(INTENT, status="succeeded", amount_received=5000)

    def retrieve(self, intent_id: str) -> PaymentIntentView:
        self.calls.append(("retrieve", ""))
        return replace(INTENT, status="requires_capture")

    def create_payout(self, amount: int, currency: str, destination: str, reference: str,
                      idempotency_key: str) -> PayoutView:
        self.calls.append(("payout", idempotency_key))
        return PayoutView("po_1", "pending", amount, currency, reference)

    def cancel(self, intent_id: str, idempotency_key: str) -> PaymentIntentView:
        raise AssertionError("a funding never cancels")

    def retrieve_payout(self, payout_id: str) -> PayoutView:
        raise AssertionError("not reconciling here")


FUNDING = uuid.uuid4()
CHARGE = ChargeCard(FUNDING, 5000, "USD", "pm_card_visa", "", a_cause())


def test_charging_creates_confirms_and_captures_each_under_a_key_of_its_step() -> None:
    processor = RecordingProcessor()
    outcome = charge_card(processor, CHARGE, NOW)
    assert (outcome.intent_status, outcome.amount_received) == ("succeeded", 5000)
    assert processor.calls == [(step, f"{FUNDING}/{step}")
                               for step in ("create", "confirm", "capture")]
    repeated = RecordingProcessor()
    charge_card(repeated, CHARGE, NOW)
    assert repeated.calls == processor.calls  # a retry is the same calls, the same keys


def test_a_declined_card_is_an_outcome_and_a_timeout_is_left_to_reconcile() -> None:
    declined = ProcessorDeclined("card_declined", replace(
        INTENT, status="requires_payment_method", last_error_code="card_declined"))
    outcome = charge_card(RecordingProcessor(fail=declined), CHARGE, NOW)
    assert (outcome.intent_status, outcome.error_code) == ("requires_payment_method",
                                                           "card_declined")
    with pytest.raises(ProcessorTimedOut):
        charge_card(RecordingProcessor(fail=ProcessorTimedOut("read")), CHARGE, NOW)


def test_3d_secure_is_not_captured_until_it_is_authorised() -> None:
    processor = RecordingProcessor(confirmed="requires_action")
    assert charge_card(processor, CHARGE, NOW).intent_status == "requires_action"
    assert [c for c, _ in processor.calls] == ["create", "confirm"]
    after = RecordingProcessor()
    charge_card(after, replace(CHARGE, intent_id="pi_1"), NOW)
    assert after.calls == [("retrieve", ""), ("capture", f"{FUNDING}/capture")]


def test_the_processes_charge_requested_fundings_and_send_requested_payouts() -> None:
    batch = a_batch()
    funding = requested(batch)
    events = batch.find(Funding, funding).collect_events()  # type: ignore[union-attr]
    (charge,) = FundingProcess().react(events[0])
    assert (charge.funding_id, charge.amount, charge.intent_id) == (funding, 5000, "")
    told_batch = funded_batch(100)
    payout = a_payout(told_batch, 100)
    (requested_payout,) = told_batch.find(Payout, payout).collect_events()  # type: ignore[union-attr]
    (send,) = PayoutProcess().react(requested_payout)
    processor = RecordingProcessor()
    assert send_payout(processor, send, NOW).status == "pending"
    assert processor.calls == [("payout", f"{payout}/payout")]
    assert isinstance(send, SendPayout)
