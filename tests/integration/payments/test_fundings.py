"""Funding and payouts against the Stripe stand-in over real HTTP on 127.0.0.1, with the
stand-in's signed webhooks delivered to Parley's app (embedded profile, in process, served by
a LocalServer): credited once however the charge's answers and webhooks come (duplicated,
reordered, after a timeout, then reconciled by retrieve), declines and 3-D Secure, payouts
paid and failed (the money back), and no card number ever reaching the stand-in.

The funding process managers are not in the manifest yet, so each test takes the process's
step itself (`charge_card` / `send_payout` and the outcome through the writer), as the
effect port does."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from adapters.payments.stripe_processor import StripeProcessor
from api.app import create_app
from commands.payments import ledger
from commands.payments.card_processor import ProcessorTimedOut
from commands.payments.funding_steps import (
    ChargeCard,
    SendPayout,
    charge_card,
    reconcile_funding,
    send_payout,
)
from commands.payments.fundings import FundWallet, RequestPayout
from commands.payments.transfers import RecordTransfers
from domain.payments.accounts import FUNDING_CLEARING, system_account, wallet
from domain.payments.fundings import Funding, Payout, funding_id, payout_id
from domain.payments.transfers import CreateTransfer
from event_log.batch import Batch
from parley.assembly import Parley
from parley.bootstrap import build
from tests.builders import a_cause
from tests.e2e.payments.in_process import payment_settings
from tests.providers import stripe
from tests.providers.servers import LocalServer

ADA = uuid.uuid4()
WEBHOOKS = "/v1/payments/processor/webhooks"


@dataclass
class Funded:
    parley: Parley
    account: stripe.StripeStandIn
    processor: StripeProcessor
    processor_url: str

    def funding(self, method: str = stripe.VISA, amount: int = 2500) -> ChargeCard:
        ident = funding_id(ADA, uuid.uuid4().hex)
        self.parley.writer.execute(FundWallet(ident, ADA, amount, "USD", method, now()),
                                   a_cause(ADA))
        return ChargeCard(ident, amount, "USD", method, "", a_cause())

    def charge(self, step: ChargeCard) -> None:
        self.parley.writer.execute(charge_card(self.processor, step, now()), step.cause)

    def state(self, kind: type[Funding] | type[Payout], ident: uuid.UUID) -> str:
        found = Batch(self.parley.event_log.repository).find(kind, ident)
        assert found is not None
        return found.state

    def until(self, kind: type[Funding] | type[Payout], ident: uuid.UUID, state: str) -> None:
        deadline = time.monotonic() + 10
        while self.state(kind, ident) != state:
            assert time.monotonic() < deadline, self.state(kind, ident)
            time.sleep(0.02)

    def wallet_posted(self) -> int:
        batch = Batch(self.parley.event_log.repository)
        return ledger.balances(batch, wallet(ADA, "USD")).posted


def now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
def funded(tmp_path: Path) -> Iterator[Funded]:
    account = stripe.StripeStandIn()
    settings = payment_settings(tmp_path).model_copy(update={
        "payment_webhook_secrets": SecretStr(account.webhook_secret)})
    parley = build(settings)
    with LocalServer(create_app(parley)) as app, LocalServer(account.app) as processor_server:
        account.webhook_url = app.url + WEBHOOKS
        with StripeProcessor(account.secret_key, base_url=processor_server.url,
                             connect_timeout=1.0, read_timeout=1.0) as processor:
            yield Funded(parley, account, processor, processor_server.url)
        account.close()


def test_a_charge_credits_the_wallet_once_whatever_the_webhooks_say(funded: Funded) -> None:
    funded.account.duplicate_webhooks = True
    step = funded.funding()
    funded.charge(step)
    funded.account.settle()
    assert funded.state(Funding, step.funding_id) == "succeeded"
    assert funded.wallet_posted() == 2500
    assert funded.account.card_numbers_seen() == []


def test_reordered_webhooks_never_move_a_funding_backwards(funded: Funded) -> None:
    funded.account.reorder_webhooks = True
    step = funded.funding()
    funded.charge(step)
    funded.account.release_webhooks()
    funded.account.settle()
    assert funded.state(Funding, step.funding_id) == "succeeded"
    assert funded.wallet_posted() == 2500


def test_a_declined_card_fails_the_funding_and_credits_nothing(funded: Funded) -> None:
    step = funded.funding(stripe.DECLINED)
    funded.charge(step)
    funded.account.settle()
    assert funded.state(Funding, step.funding_id) == "failed"
    assert funded.wallet_posted() == 0


def test_3d_secure_asks_for_action_and_its_completion_is_captured(funded: Funded) -> None:
    step = funded.funding(stripe.AUTHENTICATION_REQUIRED)
    funded.charge(step)
    assert funded.state(Funding, step.funding_id) == "action_required"
    intent_id = next(iter(funded.account.intents))
    httpx.post(f"{funded.processor_url}/test/payment_intents/{intent_id}/complete_action",
               headers={"Authorization": f"Bearer {funded.account.secret_key}"})
    funded.until(Funding, step.funding_id, "processing")  # the webhook: requires_capture
    # what FundingProcess answers to requires_capture: capture the existing intent
    funded.charge(ChargeCard(step.funding_id, 0, "", "", intent_id, a_cause()))
    assert funded.state(Funding, step.funding_id) == "succeeded"
    assert funded.wallet_posted() == 2500


def test_a_charge_whose_answer_is_lost_is_credited_once_by_webhook_then_reconcile(
        funded: Funded) -> None:
    step = funded.funding()
    funded.account.timeout_after_charging(2.0)  # the create takes effect, its answer is late
    with pytest.raises(ProcessorTimedOut):
        charge_card(funded.processor, step, now())
    time.sleep(1.5)  # the first answer is done (a retry meanwhile is 409 key in use: retried)
    funded.charge(step)  # the runner's retry: the same keys, the same intent
    funded.account.settle()
    intent_id = next(iter(funded.account.intents))
    funded.parley.writer.execute(reconcile_funding(funded.processor, step.funding_id,
                                                   intent_id, now()), a_cause())
    assert len(funded.account.intents) == 1
    assert funded.state(Funding, step.funding_id) == "succeeded"
    assert funded.wallet_posted() == 2500


def fund_directly(funded: Funded, amount: int) -> None:
    funded.parley.writer.execute(RecordTransfers((CreateTransfer(
        uuid.uuid4(), system_account(FUNDING_CLEARING, "USD"), wallet(ADA, "USD"), amount,
        "funding"),), now()), a_cause())


@pytest.mark.parametrize("fails, posted", [(False, 400), (True, 1000)])
def test_a_paid_payout_posts_and_a_failed_one_gives_the_money_back(
        funded: Funded, fails: bool, posted: int) -> None:
    fund_directly(funded, 1000)
    funded.account.fail_payouts = fails
    ident = payout_id(ADA, uuid.uuid4().hex)
    funded.parley.writer.execute(RequestPayout(ident, ADA, 600, "USD", "ba_1", now()),
                                 a_cause(ADA))
    step = SendPayout(ident, 600, "USD", "ba_1", a_cause())
    funded.parley.writer.execute(send_payout(funded.processor, step, now()), step.cause)
    funded.until(Payout, ident, "failed" if fails else "paid")
    assert funded.wallet_posted() == posted
