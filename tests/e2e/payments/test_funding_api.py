"""Funding and payouts over HTTP, embedded profile in process: the processor's signed
webhooks credit a funding once (duplicates and stale events change nothing), a forged or
stale signature is 400 and records nothing, someone else's funding is 404, a payout holds
the money at once, and without a processor the routes answer 404.

The funding process managers are not in the manifest yet (the lead lists them), so these
tests drive fundings by webhook alone; the charge through the stand-in is H6's next part.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.app import create_app
from commands.payments.webhook_signatures import sign
from parley.bootstrap import build
from tests.builders import ParleyClient, Person
from tests.e2e.payments.in_process import Payments, payment_settings

SECRET = "whsec_test_secret"


@pytest.fixture
def payments(tmp_path: Path) -> Iterator[Payments]:
    settings = payment_settings(tmp_path).model_copy(update={
        "payment_processor_url": "http://127.0.0.1:9",  # never called: no process manager
        "payment_processor_secret_key": SecretStr("sk_test_x"),
        "payment_webhook_secrets": SecretStr(f"whsec_old,{SECRET}")})
    parley = build(settings)
    with TestClient(create_app(parley)) as http:
        yield Payments(parley, http, ParleyClient(http), tmp_path)


def funding_of(payments: Payments, person: Person, amount: int = 2500) -> str:
    answer = payments.post(person, "/v1/wallets/USD/fundings",
                           {"amount": amount, "payment_method": "pm_card_visa"})
    assert answer.status_code == 202, answer.text
    return str(answer.json()["funding_id"])


def intent_event(funding: str, status: str, amount: int = 2500) -> dict[str, Any]:
    kind = {"succeeded": "payment_intent.succeeded",
            "requires_capture": "payment_intent.amount_capturable_updated"}[status]
    return {"id": f"evt_{uuid.uuid4().hex}", "type": kind, "data": {"object": {
        "id": "pi_1", "object": "payment_intent", "status": status, "amount": amount,
        "amount_capturable": 0 if status == "succeeded" else amount,
        "amount_received": amount if status == "succeeded" else 0, "currency": "usd",
        "metadata": {"reference": funding}}}}


def deliver(payments: Payments, event: dict[str, Any], secret: str = SECRET,
            at: int | None = None) -> Any:
    body = json.dumps(event).encode()
    header = sign(body, secret, at if at is not None else int(time.time()))
    return payments.http.post("/v1/payments/processor/webhooks", content=body,
                              headers={"Stripe-Signature": header,
                                       "Content-Type": "application/json"})


def available(payments: Payments, person: Person) -> int:
    deadline = time.monotonic() + 10
    while True:
        wallets = payments.http.get("/v1/wallets", headers=person.auth).json()
        found = [w for w in wallets.get("wallets", []) if w.get("currency") == "USD"]
        if found or time.monotonic() > deadline:
            return int(found[0]["available"]["minor_units"]) if found else 0
        time.sleep(0.05)


def test_a_succeeded_webhook_credits_once_and_duplicates_or_stale_events_change_nothing(
        payments: Payments) -> None:
    ada = payments.person()
    funding = funding_of(payments, ada)
    succeeded = intent_event(funding, "succeeded")
    first = deliver(payments, succeeded)
    assert first.status_code == 200 and first.json()["applied"] is True
    assert deliver(payments, succeeded).status_code == 200  # redelivered: from the receipt
    late = deliver(payments, intent_event(funding, "requires_capture"))  # out of order
    assert late.json()["applied"] is False
    again = deliver(payments, intent_event(funding, "succeeded"))  # another event, same end
    assert again.json()["applied"] is False
    assert available(payments, ada) == 2500


@pytest.mark.parametrize("secret, age", [("whsec_forged", 0), (SECRET, 301)])
def test_a_forged_or_stale_signature_is_400_and_records_nothing(
        payments: Payments, secret: str, age: int) -> None:
    ada = payments.person()
    funding = funding_of(payments, ada)
    answer = deliver(payments, intent_event(funding, "succeeded"), secret,
                     int(time.time()) - age)
    assert answer.status_code == 400
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert payments.http.get(f"/v1/fundings/{funding}", headers=ada.auth).json()[
        "state"] == "requested"


def test_someone_elses_funding_is_not_found(payments: Payments) -> None:
    ada, bob = payments.person("Ada"), payments.person("Bob")
    funding = funding_of(payments, ada)
    assert payments.http.get(f"/v1/fundings/{funding}", headers=bob.auth).status_code == 404
    assert payments.http.get(f"/v1/fundings/{funding}", headers=ada.auth).status_code == 200


def test_a_payout_beyond_the_wallet_is_409_at_once(payments: Payments) -> None:
    ada = payments.person()
    payments.fund(ada, 1000)
    refused = payments.post(ada, "/v1/wallets/USD/payouts",
                            {"amount": 1001, "destination": "ba_1"})
    assert refused.status_code == 409
    accepted = payments.post(ada, "/v1/wallets/USD/payouts",
                             {"amount": 600, "destination": "ba_1"})
    assert accepted.status_code == 202, accepted.text


def test_without_a_processor_funding_is_not_found(tmp_path: Path) -> None:
    with TestClient(create_app(build(payment_settings(tmp_path)))) as http:
        ada = ParleyClient(http).register("Ada")
        answer = http.post("/v1/wallets/USD/fundings", headers=ada.auth | {
            "Idempotency-Key": "k1"}, json={"amount": 100, "payment_method": "pm_card_visa"})
        assert answer.status_code == 404 and answer.json()["detail"] == "funding is not configured"


def test_a_card_number_is_refused_before_it_is_recorded_or_logged(
        payments: Payments, caplog: pytest.LogCaptureFixture) -> None:
    ada = payments.person()
    answer = payments.post(ada, "/v1/wallets/USD/fundings",
                           {"amount": 100, "payment_method": "4242 4242 4242 4242"})
    assert answer.status_code == 422
    assert "4242" not in answer.text and "4242" not in caplog.text


def test_an_event_type_parley_does_not_follow_is_200_and_ignored(payments: Payments) -> None:
    answer = deliver(payments, {"id": "evt_other", "type": "customer.created",
                                "data": {"object": {"id": "cus_1"}}})
    assert answer.status_code == 200 and answer.json()["applied"] is False


def test_a_webhook_without_a_signature_is_400(payments: Payments) -> None:
    answer = payments.http.post("/v1/payments/processor/webhooks", content=b"{}",
                                headers={"Content-Type": "application/json"})
    assert answer.status_code == 400
