"""The Stripe adapter against a local Stripe stand-in over HTTP on 127.0.0.1: each path of a
PaymentIntent with manual capture, declines and 3-D Secure, idempotent retries, a charge
whose answer is lost, payouts, and the signed webhooks Stripe sends (verified with Parley's
`verify`, duplicated and reordered as Stripe may). No shared services are needed."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from adapters.payments.stripe_processor import (
    PaymentIntentView,
    ProcessorDeclined,
    ProcessorRefused,
    ProcessorTimedOut,
    ProcessorUnavailable,
    StripeProcessor,
)
from commands.payments.card_processor import NotAProcessorToken, WebhookSignatureInvalid
from commands.payments.webhook_signatures import verify
from tests.providers import stripe
from tests.providers.servers import LocalServer, free_port

TIMEOUT = 1.0
REFERENCE = "payment-0f5d2c1e"


class WebhookInbox:
    """Parley's webhook endpoint, reduced to what a test needs: every POST's body and
    Stripe-Signature header, answered 200."""

    def __init__(self) -> None:
        self.received: list[tuple[bytes, str | None]] = []
        self._lock = threading.Lock()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        with self._lock:
            self.received.append((body, headers.get("stripe-signature")))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})


@pytest.fixture
def inbox() -> Iterator[tuple[WebhookInbox, LocalServer]]:
    receiving = WebhookInbox()
    with LocalServer(receiving) as running:
        yield receiving, running


@pytest.fixture
def stripe_account(inbox: tuple[WebhookInbox, LocalServer]) -> Iterator[stripe.StripeStandIn]:
    with stripe.StripeStandIn(webhook_url=inbox[1].url + "/v1/payments/webhooks/stripe") as s:
        yield s


@pytest.fixture
def server(stripe_account: stripe.StripeStandIn) -> Iterator[LocalServer]:
    with LocalServer(stripe_account.app) as running:
        yield running


@pytest.fixture
def processor(server: LocalServer, stripe_account: stripe.StripeStandIn
              ) -> Iterator[StripeProcessor]:
    with StripeProcessor(stripe_account.secret_key, base_url=server.url,
                         connect_timeout=TIMEOUT, read_timeout=TIMEOUT) as client:
        yield client


def key() -> str:
    return str(uuid.uuid4())


def held(processor: StripeProcessor, amount: int = 1250, method: str = stripe.VISA,
         currency: str = "USD") -> str:
    """The id of an intent authorised (requires_capture) for `amount`."""
    intent = processor.create_payment_intent(amount, currency, method, REFERENCE, key())
    assert processor.confirm(intent.id, key()).status == "requires_capture"
    return intent.id


def event_types(account: stripe.StripeStandIn, count: int) -> list[str]:
    return [w.type for w in account.wait_for_webhooks(count)]


# ---- PaymentIntents --------------------------------------------------------------------

def test_a_hold_is_authorised_then_captured_in_full(
        processor: StripeProcessor, stripe_account: stripe.StripeStandIn) -> None:
    created = processor.create_payment_intent(1250, "USD", stripe.VISA, REFERENCE, key())
    assert (created.status, created.amount, created.currency, created.reference) == (
        "requires_confirmation", 1250, "USD", REFERENCE)
    confirmed = processor.confirm(created.id, key())
    assert (confirmed.status, confirmed.amount_capturable, confirmed.amount_received) == (
        "requires_capture", 1250, 0)
    captured = processor.capture(created.id, key())
    assert (captured.status, captured.amount_capturable, captured.amount_received) == (
        "succeeded", 0, 1250)
    assert processor.retrieve(created.id) == captured
    assert stripe_account.history[created.id] == [
        "requires_confirmation", "processing", "requires_capture", "succeeded"]
    assert stripe_account.intents[created.id]["currency"] == "usd"  # Stripe's lower case
    assert event_types(stripe_account, 2) == ["payment_intent.amount_capturable_updated",
                                              "payment_intent.succeeded"]


def test_a_partial_capture_takes_part_and_releases_the_rest(
        processor: StripeProcessor) -> None:
    intent_id = held(processor, 5000)
    captured = processor.capture(intent_id, key(), amount_to_capture=3200)
    assert (captured.status, captured.amount, captured.amount_received,
            captured.amount_capturable) == ("succeeded", 5000, 3200, 0)


def test_a_capture_beyond_the_hold_is_refused(processor: StripeProcessor) -> None:
    intent_id = held(processor, 5000)
    with pytest.raises(ProcessorRefused) as refused:
        processor.capture(intent_id, key(), amount_to_capture=5001)
    assert (refused.value.status, refused.value.code) == (400, "amount_too_large")
    assert processor.retrieve(intent_id).status == "requires_capture"


@pytest.mark.parametrize("confirmed", [False, True])
def test_cancel_releases_a_hold_or_an_intent_not_yet_confirmed(
        processor: StripeProcessor, stripe_account: stripe.StripeStandIn,
        confirmed: bool) -> None:
    intent_id = (held(processor) if confirmed else processor.create_payment_intent(
        1250, "USD", stripe.VISA, REFERENCE, key()).id)
    cancelled = processor.cancel(intent_id, key())
    assert (cancelled.status, cancelled.amount_capturable, cancelled.amount_received) == (
        "canceled", 0, 0)
    assert event_types(stripe_account, 1 + confirmed)[-1] == "payment_intent.canceled"


def test_a_step_from_the_wrong_state_is_refused_and_changes_nothing(
        processor: StripeProcessor) -> None:
    unconfirmed = processor.create_payment_intent(1250, "USD", stripe.VISA, REFERENCE, key())
    captured = held(processor)
    processor.capture(captured, key())
    steps: list[Callable[[], PaymentIntentView]] = [
        lambda: processor.capture(unconfirmed.id, key()),
        lambda: processor.cancel(captured, key()),
        lambda: processor.confirm(captured, key())]
    for step in steps:
        with pytest.raises(ProcessorRefused) as refused:
            step()
        assert (refused.value.status, refused.value.code) == (
            400, "payment_intent_unexpected_state")
    assert processor.retrieve(unconfirmed.id).status == "requires_confirmation"
    assert processor.retrieve(captured).status == "succeeded"


@pytest.mark.parametrize(("method", "code"), [
    (stripe.DECLINED, "generic_decline"), (stripe.INSUFFICIENT_FUNDS, "insufficient_funds")])
def test_a_declined_card_is_declined_and_the_intent_needs_a_payment_method_again(
        processor: StripeProcessor, stripe_account: stripe.StripeStandIn, method: str,
        code: str) -> None:
    intent = processor.create_payment_intent(1250, "USD", method, REFERENCE, key())
    with pytest.raises(ProcessorDeclined) as declined:
        processor.confirm(intent.id, key())
    assert declined.value.code == code
    assert declined.value.intent is not None
    assert (declined.value.intent.id, declined.value.intent.status,
            declined.value.intent.last_error_code) == (intent.id, "requires_payment_method", code)
    assert processor.retrieve(intent.id) == declined.value.intent
    assert event_types(stripe_account, 1) == ["payment_intent.payment_failed"]
    with pytest.raises(ProcessorRefused):  # no payment method left to confirm with
        processor.confirm(intent.id, key())


def test_decline_next_declines_the_next_good_card_only(
        processor: StripeProcessor, stripe_account: stripe.StripeStandIn) -> None:
    stripe_account.decline_next = True
    intent = processor.create_payment_intent(1250, "USD", stripe.VISA, REFERENCE, key())
    with pytest.raises(ProcessorDeclined) as declined:
        processor.confirm(intent.id, key())
    assert declined.value.code == "generic_decline"
    assert held(processor)


def test_three_d_secure_waits_for_the_customer_then_holds(
        processor: StripeProcessor, server: LocalServer,
        stripe_account: stripe.StripeStandIn) -> None:
    intent = processor.create_payment_intent(1250, "USD", stripe.AUTHENTICATION_REQUIRED,
                                             REFERENCE, key())
    assert processor.confirm(intent.id, key()).status == "requires_action"
    with pytest.raises(ProcessorRefused):  # nothing to capture yet
        processor.capture(intent.id, key())
    complete_action(server, stripe_account, intent.id)
    assert processor.retrieve(intent.id).status == "requires_capture"
    assert processor.capture(intent.id, key()).amount_received == 1250
    assert stripe_account.history[intent.id] == [
        "requires_confirmation", "requires_action", "processing", "requires_capture",
        "succeeded"]


def test_three_d_secure_failed_needs_a_payment_method_again(
        processor: StripeProcessor, server: LocalServer,
        stripe_account: stripe.StripeStandIn) -> None:
    intent = processor.create_payment_intent(1250, "USD", stripe.AUTHENTICATION_REQUIRED,
                                             REFERENCE, key())
    processor.confirm(intent.id, key())
    complete_action(server, stripe_account, intent.id, outcome="fail")
    failed = processor.retrieve(intent.id)
    assert (failed.status, failed.last_error_code) == (
        "requires_payment_method", "payment_intent_authentication_failure")
    assert event_types(stripe_account, 1) == ["payment_intent.payment_failed"]


def complete_action(server: LocalServer, account: stripe.StripeStandIn, intent_id: str,
                    outcome: str = "succeed") -> None:
    answer = httpx.post(f"{server.url}/test/payment_intents/{intent_id}/complete_action",
                        data={"outcome": outcome}, timeout=5,
                        headers={"Authorization": f"Bearer {account.secret_key}"})
    assert answer.status_code == 200, answer.text


# ---- idempotency -----------------------------------------------------------------------

def test_a_retry_with_the_same_key_is_the_same_intent_not_a_second_one(
        processor: StripeProcessor, stripe_account: stripe.StripeStandIn) -> None:
    creating, confirming = key(), key()
    first = processor.create_payment_intent(1250, "USD", stripe.VISA, REFERENCE, creating)
    again = processor.create_payment_intent(1250, "USD", stripe.VISA, REFERENCE, creating)
    assert again == first
    assert len(stripe_account.intents) == 1
    assert processor.confirm(first.id, confirming) == processor.confirm(first.id, confirming)
    assert event_types(stripe_account, 1) == ["payment_intent.amount_capturable_updated"]
    stripe_account.settle()
    assert len(stripe_account.webhooks) == 1  # the retry charged nothing more


def test_a_key_reused_with_other_parameters_is_refused(processor: StripeProcessor) -> None:
    reused = key()
    processor.create_payment_intent(1250, "USD", stripe.VISA, REFERENCE, reused)
    with pytest.raises(ProcessorRefused) as refused:
        processor.create_payment_intent(1300, "USD", stripe.VISA, REFERENCE, reused)
    assert (refused.value.status, refused.value.code) == (400, "idempotency_error")


def test_a_decline_is_kept_for_its_key_as_stripe_keeps_it(
        processor: StripeProcessor, stripe_account: stripe.StripeStandIn) -> None:
    intent = processor.create_payment_intent(1250, "USD", stripe.DECLINED, REFERENCE, key())
    confirming = key()
    for _ in range(2):
        with pytest.raises(ProcessorDeclined):
            processor.confirm(intent.id, confirming)
    stripe_account.settle()
    assert [w.type for w in stripe_account.webhooks] == ["payment_intent.payment_failed"]


def test_a_charge_whose_answer_is_lost_times_out_and_retrieve_shows_it_took_effect(
        processor: StripeProcessor, stripe_account: stripe.StripeStandIn) -> None:
    intent = processor.create_payment_intent(1250, "USD", stripe.VISA, REFERENCE, key())
    confirming = key()
    stripe_account.timeout_after_charging(3 * TIMEOUT)
    started = time.monotonic()
    with pytest.raises(ProcessorTimedOut):
        processor.confirm(intent.id, confirming)
    assert time.monotonic() - started < TIMEOUT + 0.5
    assert processor.retrieve(intent.id).status == "requires_capture"
    assert event_types(stripe_account, 1) == ["payment_intent.amount_capturable_updated"]
    with pytest.raises(ProcessorRefused) as still_running:  # the first request has not ended
        processor.confirm(intent.id, confirming)
    assert (still_running.value.status, still_running.value.code) == (
        409, "idempotency_key_in_use")
    time.sleep(2.5 * TIMEOUT)
    assert processor.confirm(intent.id, confirming).status == "requires_capture"
    assert stripe_account.history[intent.id].count("requires_capture") == 1


# ---- payouts ---------------------------------------------------------------------------

def test_a_payout_is_pending_then_paid(processor: StripeProcessor,
                                       stripe_account: stripe.StripeStandIn) -> None:
    payout = processor.create_payout(10_000, "EUR", "ba_1NdPx2", REFERENCE, key())
    assert (payout.status, payout.amount, payout.currency, payout.reference) == (
        "pending", 10_000, "EUR", REFERENCE)
    assert event_types(stripe_account, 1) == ["payout.paid"]
    paid = processor.retrieve_payout(payout.id)
    assert (paid.status, paid.failure_code) == ("paid", None)


def test_a_failed_payout_says_why(processor: StripeProcessor,
                                  stripe_account: stripe.StripeStandIn) -> None:
    stripe_account.fail_payouts = True
    payout = processor.create_payout(10_000, "GBP", "ba_1NdPx2", REFERENCE, key())
    [webhook] = stripe_account.wait_for_webhooks(1)
    assert (webhook.type, webhook.event["data"]["object"]["failure_code"]) == (
        "payout.failed", "account_closed")
    failed = processor.retrieve_payout(payout.id)
    assert (failed.status, failed.failure_code) == ("failed", "account_closed")


# ---- webhooks --------------------------------------------------------------------------

def test_every_webhook_is_a_stripe_event_whose_signature_verifies(
        processor: StripeProcessor, stripe_account: stripe.StripeStandIn,
        inbox: tuple[WebhookInbox, LocalServer]) -> None:
    intent_id = held(processor)
    processor.capture(intent_id, key())
    processor.create_payout(1250, "USD", "ba_1NdPx2", REFERENCE, key())
    sent = stripe_account.wait_for_webhooks(3)
    stripe_account.settle()
    received = inbox[0].received
    assert len(received) == 3 and all(w.status == 200 for w in sent)
    for body, header in received:
        verify(body, header, [stripe_account.webhook_secret], int(time.time()))
        with pytest.raises(WebhookSignatureInvalid):
            verify(body, header, ["whsec_guessed"], int(time.time()))
    event = sent[0].event
    assert (event["object"], event["id"][:4], event["data"]["object"]["id"]) == (
        "event", "evt_", intent_id)


def test_while_the_secret_rolls_a_receiver_with_either_secret_verifies(
        processor: StripeProcessor, stripe_account: stripe.StripeStandIn,
        inbox: tuple[WebhookInbox, LocalServer]) -> None:
    previous = stripe_account.webhook_secret
    stripe_account.previous_webhook_secret = previous
    stripe_account.webhook_secret = "whsec_" + uuid.uuid4().hex
    held(processor)
    stripe_account.wait_for_webhooks(1)
    stripe_account.settle()
    [(body, header)] = inbox[0].received
    assert header is not None and header.count("v1=") == 2
    for secrets in ([previous], [stripe_account.webhook_secret], ["whsec_other", previous]):
        verify(body, header, secrets, int(time.time()))


def test_duplicated_webhooks_arrive_twice_with_the_same_event_id(
        processor: StripeProcessor, stripe_account: stripe.StripeStandIn) -> None:
    stripe_account.duplicate_webhooks = True
    processor.capture(held(processor), key())
    sent = stripe_account.wait_for_webhooks(4)
    ids = [w.event_id for w in sent]
    assert ids[0] == ids[1] and ids[2] == ids[3] and ids[0] != ids[2]


def test_reordered_webhooks_arrive_newest_first(
        processor: StripeProcessor, stripe_account: stripe.StripeStandIn,
        inbox: tuple[WebhookInbox, LocalServer]) -> None:
    stripe_account.reorder_webhooks = True
    processor.capture(held(processor), key())
    stripe_account.settle()
    assert stripe_account.webhooks == []
    stripe_account.release_webhooks()
    assert event_types(stripe_account, 2) == ["payment_intent.succeeded",
                                              "payment_intent.amount_capturable_updated"]


def test_a_webhook_delay_holds_each_webhook_back(
        processor: StripeProcessor, stripe_account: stripe.StripeStandIn) -> None:
    stripe_account.webhook_delay = 0.5
    started = time.monotonic()
    held(processor)
    stripe_account.wait_for_webhooks(1)
    assert time.monotonic() - started >= 0.5


# ---- what reaches Stripe, and what is refused --------------------------------------------

def test_every_post_carries_the_key_and_an_idempotency_key_and_no_card_number(
        processor: StripeProcessor, stripe_account: stripe.StripeStandIn) -> None:
    processor.capture(held(processor), key())
    processor.create_payout(1250, "USD", "card_1NdPx2", REFERENCE, key())
    posts = [r for r in stripe_account.requests if r.method == "POST"]
    assert len(posts) == 4
    assert all(r.idempotency_key for r in posts)
    assert all(r.headers["authorization"] == f"Bearer {stripe_account.secret_key}"
               and r.headers["content-type"].startswith("application/x-www-form-urlencoded")
               for r in posts if r.form)
    assert posts[0].form["metadata[reference]"] == REFERENCE
    assert stripe_account.card_numbers_seen() == []


@pytest.mark.parametrize("method", ["4242424242424242", "4242 4242 4242 4242", "pm 4242",
                                    "tok_visa", "pm_../../v1/payouts"])
def test_a_payment_method_that_is_not_a_pm_token_never_leaves(
        processor: StripeProcessor, stripe_account: stripe.StripeStandIn, method: str) -> None:
    with pytest.raises(NotAProcessorToken) as refused:
        processor.create_payment_intent(1250, "USD", method, REFERENCE, key())
    assert method not in str(refused.value)
    assert stripe_account.requests == []


def test_the_stand_in_finds_a_card_number_that_did_arrive(
        stripe_account: stripe.StripeStandIn, server: LocalServer) -> None:
    httpx.post(f"{server.url}/v1/payment_intents", timeout=5,
               data={"amount": "1250", "currency": "usd", "description": "4242-4242-4242-4242"},
               headers={"Authorization": f"Bearer {stripe_account.secret_key}",
                        "Idempotency-Key": key()})
    assert stripe_account.card_numbers_seen() == ["4242-4242-4242-4242"]


@pytest.mark.parametrize(("amount", "currency", "code"), [
    (49, "USD", "amount_too_small"), (100_000_000, "USD", "amount_too_large"),
    (1255, "KWD", "parameter_invalid_integer"), (49, "JPY", "amount_too_small")])
def test_amounts_stripe_will_not_take_are_refused_by_stripe(
        processor: StripeProcessor, amount: int, currency: str, code: str) -> None:
    with pytest.raises(ProcessorRefused) as refused:
        processor.create_payment_intent(amount, currency, stripe.VISA, REFERENCE, key())
    assert (refused.value.status, refused.value.code) == (400, code)


def test_amounts_in_minor_units_of_each_exponent_go_as_they_are(
        processor: StripeProcessor, stripe_account: stripe.StripeStandIn) -> None:
    for amount, currency in ((500, "JPY"), (1250, "USD"), (1250, "KWD")):
        intent = processor.create_payment_intent(amount, currency, stripe.VISA, REFERENCE,
                                                 key())
        assert (intent.amount, intent.currency) == (amount, currency)
        assert stripe_account.intents[intent.id]["amount"] == amount


def test_a_wrong_secret_key_is_refused_and_never_quoted(
        server: LocalServer, stripe_account: stripe.StripeStandIn) -> None:
    wrong = "sk_test_" + uuid.uuid4().hex
    with StripeProcessor(wrong, base_url=server.url) as client, \
            pytest.raises(ProcessorRefused) as refused:
        client.retrieve("pi_unknown")
    assert refused.value.status == 401
    assert wrong not in str(refused.value) and wrong[-4:] not in str(refused.value)
    assert wrong not in repr(client)


def test_an_unknown_intent_is_refused_as_missing(processor: StripeProcessor) -> None:
    with pytest.raises(ProcessorRefused) as refused:
        processor.retrieve("pi_doesnotexist")
    assert (refused.value.status, refused.value.code) == (404, "resource_missing")


def test_stripe_unreachable_or_failing_is_unavailable(server: LocalServer) -> None:
    with StripeProcessor("sk_test_x", base_url=f"http://127.0.0.1:{free_port()}",
                         connect_timeout=TIMEOUT) as closed, pytest.raises(ProcessorUnavailable):
        closed.retrieve("pi_1")

    async def failing(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": 503, "headers": []})
            await send({"type": "http.response.body", "body": b'{"error": {}}'})

    with LocalServer(failing) as down, \
            StripeProcessor("sk_test_x", base_url=down.url) as client, \
            pytest.raises(ProcessorUnavailable):
        client.confirm("pi_1", key())


@pytest.mark.parametrize("url", ["http://api.stripe.com", "ftp://127.0.0.1",
                                 "https://api.stripe.com?x=1", "http://10.0.0.5:8080"])
def test_the_key_is_never_sent_in_the_clear_over_a_network(url: str) -> None:
    with pytest.raises(ValueError, match="https"):
        StripeProcessor("sk_test_x", base_url=url)


def test_nothing_secret_reaches_the_logs_even_at_debug(
        processor: StripeProcessor, stripe_account: stripe.StripeStandIn,
        caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        processor.capture(held(processor, method=stripe.VISA), key())
        with pytest.raises(ProcessorDeclined):
            held(processor, method=stripe.DECLINED)
    assert caplog.records  # httpx did log each request
    for secret in (stripe_account.secret_key, stripe.VISA, stripe.DECLINED):
        assert secret not in caplog.text
