"""The Vonage SMS adapter against a local Vonage stand-in (HTTPS, its own CA): what the handset
shows (unicode too), each documented status as an answer, slow and dropped connections bounded,
and Vonage's signed delivery receipts reaching Parley's route (forged, stale or tampered ones
refused)."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from adapters.notifications.registry import ProviderEnvironment, build_providers
from adapters.notifications.sms_receipts import sms_status_callback_url
from adapters.notifications.vonage_sms import VonageProvider
from commands.notifications.providers import Address, Content, Delivery, ProviderAnswer
from commands.notifications.receipts import DELIVERED, FAILED, SENT, UNDELIVERED
from tests.providers import vonage
from tests.providers.servers import LocalServer, free_port
from tests.providers.sms_callbacks import CallbackReceiver

NUMBER = "+447700900456"
TIMEOUT = 1.0


@pytest.fixture(scope="module")
def stand_in() -> Iterator[vonage.VonageStandIn]:
    yield vonage.VonageStandIn(slow_seconds=3 * TIMEOUT)


@pytest.fixture(scope="module")
def server(stand_in: vonage.VonageStandIn) -> Iterator[LocalServer]:
    with LocalServer(stand_in.app, tls=True) as running:
        yield running


@pytest.fixture
def account(stand_in: vonage.VonageStandIn) -> vonage.VonageStandIn:
    stand_in.reset()
    return stand_in


def entry(server: LocalServer, stand_in: vonage.VonageStandIn, **changes: Any) -> dict[str, Any]:
    """A working entry, with `changes` (None removes a key)."""
    working = {"name": "vonage-main", "kind": "vonage", "api_key": stand_in.api_key,
               "api_secret": stand_in.api_secret, "from": "+447700900000",
               "signature_secret": stand_in.signature_secret, "endpoint": server.url,
               "timeout_seconds": TIMEOUT, "ca_file": server.ca_file}
    return {k: v for k, v in (working | changes).items() if v is not None}


def provider_for(server: LocalServer, stand_in: vonage.VonageStandIn,
                 **changes: Any) -> VonageProvider:
    environment = ProviderEnvironment(public_url="https://parley.example")
    [provider] = build_providers([entry(server, stand_in, **changes)], environment)
    assert isinstance(provider, VonageProvider)
    return provider


def delivery(number: str = NUMBER, *, callback: str | None = None,
             content: Content | None = None) -> Delivery:
    return Delivery(uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), "sms", "normal", "account",
                    Address("phone", number, "cp-1"),
                    content or Content("Parley", "Ada sent you a message"),
                    status_callback_url=callback)


def send(provider: VonageProvider, *deliveries: Delivery) -> list[ProviderAnswer]:
    async def sending() -> list[ProviderAnswer]:
        try:
            return [await provider.send(d) for d in deliveries]
        finally:
            await provider.aclose()

    return asyncio.run(asyncio.wait_for(sending(), timeout=15))


def test_an_accepted_sms_is_on_the_handset_with_its_attempt_as_client_ref(
        server: LocalServer, account: vonage.VonageStandIn) -> None:
    sent = delivery()
    [answer] = send(provider_for(server, account), sent)
    [message] = account.messages
    assert answer == ProviderAnswer.accepted_as(message.message_ids[0], cost_micros=33_300)
    assert account.handset(NUMBER) == ["Parley\nAda sent you a message"]
    assert (message.to, message.sender, message.client_ref) == (
        "447700900456", "447700900000", str(sent.attempt_id))
    assert message.callback == sms_status_callback_url(
        "https://parley.example", "vonage-main", sent.notification_id, sent.attempt_id)


def test_text_beyond_gsm7_goes_as_unicode_and_arrives_intact(
        server: LocalServer, account: vonage.VonageStandIn) -> None:
    send(provider_for(server, account), delivery(content=Content("Zoë", "Ünïcödé ✓ 你好")))
    assert account.handset(NUMBER) == ["Zoë\nÜnïcödé ✓ 你好"]


def test_a_long_text_is_one_message_of_several_segments_known_by_the_first(
        server: LocalServer, account: vonage.VonageStandIn) -> None:
    [answer] = send(provider_for(server, account), delivery(content=Content("", "x" * 400)))
    [message] = account.messages
    assert len(message.message_ids) == 3
    assert answer.provider_message_id == message.message_ids[0]


def test_without_a_signature_secret_no_receipts_are_asked_for(
        server: LocalServer, account: vonage.VonageStandIn) -> None:
    [answer] = send(provider_for(server, account, signature_secret=None), delivery())
    assert answer.accepted
    assert [m.callback for m in account.messages] == [None]


@pytest.mark.parametrize(("behaviour", "code", "retry", "gone"), [
    (vonage.THROTTLED, "1", True, False), (vonage.QUOTA, "9", True, False),
    (vonage.INVALID, "3", False, False), (vonage.BARRED, "7", False, False),
    (vonage.DEACTIVATED, "33", False, True), (vonage.HTTP_429, "429", True, False),
    (vonage.SERVER_ERROR, "503", True, False)])
def test_each_documented_refusal_is_its_answer(
        server: LocalServer, account: vonage.VonageStandIn, behaviour: str, code: str,
        retry: bool, gone: bool) -> None:
    account.behave_for(NUMBER, behaviour)
    [answer] = send(provider_for(server, account), delivery())
    assert (answer.accepted, answer.code, answer.retryable, answer.address_gone) == (
        False, code, retry, gone)
    assert NUMBER.removeprefix("+") not in answer.detail
    assert account.messages == []


def test_wrong_credentials_are_an_auth_failure_not_retried(
        server: LocalServer, account: vonage.VonageStandIn) -> None:
    [answer] = send(provider_for(server, account, api_secret="not-the-secret"), delivery())
    assert (answer.accepted, answer.code, answer.retryable) == (False, "auth", False)


def test_a_slow_vonage_is_a_timeout_within_the_providers_bound(
        server: LocalServer, account: vonage.VonageStandIn) -> None:
    account.behave_next(vonage.SLOW)
    started = time.monotonic()
    [answer] = send(provider_for(server, account), delivery())
    assert (answer.code, answer.retryable) == ("timeout", True)
    assert time.monotonic() - started < TIMEOUT + 1.0


def test_a_dropped_or_refused_connection_is_retryable(
        server: LocalServer, account: vonage.VonageStandIn) -> None:
    account.behave_next(vonage.DROP)
    [dropped] = send(provider_for(server, account), delivery())
    [refused] = send(provider_for(server, account, endpoint=f"https://127.0.0.1:{free_port()}"),
                     delivery())
    assert (dropped.code, dropped.retryable) == ("connection", True)
    assert (refused.code, refused.retryable) == ("connection", True)


@pytest.mark.parametrize(("change", "key"), [
    ({"from": "Parley Notifications"}, "from"), ({"signature_method": "md5hash"},
                                                 "signature_method"),
    ({"api_key": ""}, "api_key"), ({"api_secret": None}, "api_secret"),
    ({"endpoint": "http://rest.vonage.example"}, "endpoint")])
def test_a_bad_entry_is_refused_naming_the_key_never_the_secret(
        server: LocalServer, account: vonage.VonageStandIn, change: dict[str, Any],
        key: str) -> None:
    with pytest.raises(ValueError, match=key) as refused:
        build_providers([entry(server, account, **change)], ProviderEnvironment())
    assert account.api_secret not in str(refused.value)


def test_secrets_and_the_sender_never_show_in_a_repr(
        server: LocalServer, account: vonage.VonageStandIn) -> None:
    shown = repr(provider_for(server, account))
    assert account.api_secret not in shown and account.signature_secret not in shown
    assert "447700900000" not in shown


# ---- delivery receipts, signed by the stand-in, verified by Parley's route -----------------

@pytest.fixture(scope="module")
def receiver(stand_in: vonage.VonageStandIn) -> Iterator[tuple[CallbackReceiver, LocalServer]]:
    verifiers = {"vonage-main": VonageProvider(
        "vonage-main", stand_in.api_key, stand_in.api_secret, "447700900000",
        stand_in.signature_secret).callback_verifier()}
    receiving = CallbackReceiver(verifiers)
    with LocalServer(receiving.app) as running:
        receiving.public_url = running.url
        yield receiving, running


def sent_through_vonage(server: LocalServer, stand_in: vonage.VonageStandIn,
                        public_url: str) -> tuple[Delivery, vonage.VonageMessage]:
    made = delivery()
    callback = sms_status_callback_url(public_url, "vonage-main", made.notification_id,
                                       made.attempt_id)
    sending = Delivery(made.attempt_id, made.notification_id, made.recipient_id, made.channel,
                       made.priority, made.category, made.address, made.content,
                       status_callback_url=callback)
    [answer] = send(provider_for(server, stand_in), sending)
    assert answer.accepted
    return made, stand_in.messages[-1]


def test_vonages_signed_receipts_reach_the_notification_as_form_or_json(
        server: LocalServer, account: vonage.VonageStandIn,
        receiver: tuple[CallbackReceiver, LocalServer]) -> None:
    receiving, running = receiver
    made, message = sent_through_vonage(server, account, running.url)
    before = len(receiving.writer.commands)
    receipts = [account.receipt(message, "delivered"),
                account.receipt(message, "accepted", as_json=True),
                account.receipt(message, "unknown"),
                account.receipt(message, "failed", err_code="9"),
                account.receipt(message, "rejected", err_code="50", as_json=True)]
    assert [r.post().status_code for r in receipts] == [204] * 5
    recorded = [(c.attempt_id, c.provider_message_id, c.status, c.code)
                for c in receiving.writer.commands[before:]]
    first = message.message_ids[0]
    assert recorded == [(made.attempt_id, first, DELIVERED, ""), (made.attempt_id, first, SENT, ""),
                        (made.attempt_id, first, UNDELIVERED, "9"),
                        (made.attempt_id, first, FAILED, "50")]


def test_a_forged_stale_tampered_or_misdirected_receipt_is_refused(
        server: LocalServer, account: vonage.VonageStandIn,
        receiver: tuple[CallbackReceiver, LocalServer]) -> None:
    receiving, running = receiver
    made, message = sent_through_vonage(server, account, running.url)
    before = len(receiving.writer.commands)
    genuine = account.receipt(message, "failed", err_code="6")
    refused = [
        account.receipt(message, "delivered", secret="guessed"),
        account.receipt(message, "delivered", at=time.time() - 301),
        vonage.SignedReceipt(genuine.url, genuine.fields | {"status": "delivered"}),
        account.receipt(message, "delivered", url=sms_status_callback_url(
            running.url, "vonage-main", made.notification_id, uuid.uuid4())),
        account.receipt(message, "delivered", url=sms_status_callback_url(
            running.url, "vonage-other", made.notification_id, made.attempt_id)),
    ]
    assert [r.post().status_code for r in refused] == [403] * 5
    assert receiving.writer.commands[before:] == []


def test_nothing_private_reaches_the_logs_even_at_debug(
        server: LocalServer, account: vonage.VonageStandIn,
        caplog: pytest.LogCaptureFixture) -> None:
    account.behave_next(vonage.INVALID, vonage.THROTTLED, vonage.DROP)
    with caplog.at_level(logging.DEBUG):
        send(provider_for(server, account), *(delivery() for _ in range(4)))
    assert len(account.messages) == 1
    for private in (account.api_secret, NUMBER.removeprefix("+"), "Ada sent you"):
        assert private not in caplog.text
