"""The Twilio SMS adapter against a local Twilio stand-in (HTTPS, its own CA): what the handset
shows, each documented refusal as an answer, slow and dropped connections bounded, and the
status callbacks Twilio signs reaching Parley's route (a forged or tampered one refused)."""

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
from adapters.notifications.twilio_sms import TwilioProvider
from commands.notifications.providers import Address, Content, Delivery, ProviderAnswer
from commands.notifications.receipts import DELIVERED, SENT, UNDELIVERED
from tests.providers import twilio
from tests.providers.servers import LocalServer, free_port
from tests.providers.sms_callbacks import CallbackReceiver

NUMBER = "+447700900123"
TIMEOUT = 1.0


@pytest.fixture(scope="module")
def stand_in() -> Iterator[twilio.TwilioStandIn]:
    yield twilio.TwilioStandIn(slow_seconds=3 * TIMEOUT)


@pytest.fixture(scope="module")
def server(stand_in: twilio.TwilioStandIn) -> Iterator[LocalServer]:
    with LocalServer(stand_in.app, tls=True) as running:
        yield running


@pytest.fixture
def twilio_account(stand_in: twilio.TwilioStandIn) -> twilio.TwilioStandIn:
    stand_in.reset()
    return stand_in


def entry(server: LocalServer, stand_in: twilio.TwilioStandIn, **changes: Any) -> dict[str, Any]:
    """A working entry, with `changes` (None removes a key)."""
    working = {"name": "twilio-main", "kind": "twilio", "account_sid": stand_in.account_sid,
               "auth_token": stand_in.auth_token, "from_number": "+15005550006",
               "endpoint": server.url, "timeout_seconds": TIMEOUT, "ca_file": server.ca_file}
    return {k: v for k, v in (working | changes).items() if v is not None}


def provider_for(server: LocalServer, stand_in: twilio.TwilioStandIn,
                 **changes: Any) -> TwilioProvider:
    environment = ProviderEnvironment(public_url="https://parley.example")
    [provider] = build_providers([entry(server, stand_in, **changes)], environment)
    assert isinstance(provider, TwilioProvider)
    return provider


def delivery(number: str = NUMBER, *, callback: str | None = None,
             content: Content | None = None) -> Delivery:
    notification, attempt = uuid.uuid4(), uuid.uuid4()
    return Delivery(attempt, notification, uuid.uuid4(), "sms", "high", "security",
                    Address("phone", number, "cp-1"),
                    content or Content("Parley", "Your code is 824193"),
                    status_callback_url=callback)


def send(provider: TwilioProvider, *deliveries: Delivery) -> list[ProviderAnswer]:
    async def sending() -> list[ProviderAnswer]:
        try:
            return [await provider.send(d) for d in deliveries]
        finally:
            await provider.aclose()

    return asyncio.run(asyncio.wait_for(sending(), timeout=15))


def test_an_accepted_sms_is_on_the_handset_with_twilios_message_id(
        server: LocalServer, twilio_account: twilio.TwilioStandIn) -> None:
    [answer] = send(provider_for(server, twilio_account), delivery())
    [message] = twilio_account.messages
    assert answer == ProviderAnswer.accepted_as(message.sid)
    assert message.sid.startswith("SM")
    assert twilio_account.handset(NUMBER) == ["Parley\nYour code is 824193"]
    assert message.sender == "+15005550006"


def test_the_status_callback_is_the_deliverys_own_or_else_made_from_the_public_url(
        server: LocalServer, twilio_account: twilio.TwilioStandIn) -> None:
    given = delivery(callback="https://parley.example/v1/notifications/callbacks/sms/"
                              "twilio-main?notification=a&attempt=b")
    made = delivery()
    send(provider_for(server, twilio_account), given, made)
    callbacks = [m.status_callback for m in twilio_account.messages]
    assert callbacks == [given.status_callback_url, sms_status_callback_url(
        "https://parley.example", "twilio-main", made.notification_id, made.attempt_id)]


def test_a_messaging_service_sends_in_place_of_a_number(
        server: LocalServer, twilio_account: twilio.TwilioStandIn) -> None:
    service = "MG" + "a" * 32
    provider = provider_for(server, twilio_account, messaging_service_sid=service,
                            from_number=None)
    [answer] = send(provider, delivery())
    assert answer.accepted
    assert [m.sender for m in twilio_account.messages] == [service]


@pytest.mark.parametrize(("behaviour", "code", "gone"), [
    (twilio.INVALID_NUMBER, "21211", True), (twilio.NOT_MOBILE, "21614", True),
    (twilio.UNSUBSCRIBED, "21610", False)])
def test_a_number_that_cannot_take_sms_is_not_retried(
        server: LocalServer, twilio_account: twilio.TwilioStandIn, behaviour: str, code: str,
        gone: bool) -> None:
    twilio_account.behave_for(NUMBER, behaviour)
    [answer] = send(provider_for(server, twilio_account), delivery())
    assert (answer.accepted, answer.code, answer.retryable, answer.address_gone) == (
        False, code, False, gone)
    assert NUMBER not in answer.detail and NUMBER not in repr(answer)
    assert twilio_account.messages == []


def test_rate_limited_is_retryable_after_the_seconds_twilio_asks_for(
        server: LocalServer, twilio_account: twilio.TwilioStandIn) -> None:
    twilio_account.behave_next(twilio.RATE_LIMITED, twilio.SERVER_ERROR)
    limited, unavailable, accepted = send(provider_for(server, twilio_account),
                                          delivery(), delivery(), delivery())
    assert (limited.code, limited.retryable, limited.retry_after_seconds) == ("20429", True, 7.0)
    assert (unavailable.code, unavailable.retryable) == ("503", True)
    assert accepted.accepted


def test_a_wrong_auth_token_is_an_auth_failure_not_retried(
        server: LocalServer, twilio_account: twilio.TwilioStandIn) -> None:
    [answer] = send(provider_for(server, twilio_account, auth_token="not-the-token"), delivery())
    assert (answer.accepted, answer.code, answer.retryable) == (False, "auth", False)


def test_a_slow_twilio_is_a_timeout_within_the_providers_bound(
        server: LocalServer, twilio_account: twilio.TwilioStandIn) -> None:
    twilio_account.behave_next(twilio.SLOW)
    started = time.monotonic()
    [answer] = send(provider_for(server, twilio_account), delivery())
    assert (answer.code, answer.retryable) == ("timeout", True)
    assert time.monotonic() - started < TIMEOUT + 1.0


def test_a_dropped_or_refused_connection_is_retryable(
        server: LocalServer, twilio_account: twilio.TwilioStandIn) -> None:
    twilio_account.behave_next(twilio.DROP)
    [dropped] = send(provider_for(server, twilio_account), delivery())
    [refused] = send(provider_for(server, twilio_account,
                                  endpoint=f"https://127.0.0.1:{free_port()}"), delivery())
    assert (dropped.code, dropped.retryable) == ("connection", True)
    assert (refused.code, refused.retryable) == ("connection", True)


def test_a_number_not_in_e164_is_refused_without_calling_twilio(
        server: LocalServer, twilio_account: twilio.TwilioStandIn) -> None:
    [answer] = send(provider_for(server, twilio_account), delivery("07700 900123"))
    assert (answer.accepted, answer.code, answer.retryable) == (False, "invalid_number", False)
    assert twilio_account.requests == 0


@pytest.mark.parametrize(("change", "key"), [
    ({"account_sid": "not-a-sid"}, "account_sid"), ({"from_number": "07700900123"}, "from_number"),
    ({"messaging_service_sid": "MG1"}, "from_number"), ({"timeout_seconds": 0}, "timeout_seconds"),
    ({"endpoint": "http://api.twilio.example"}, "endpoint"), ({"auth_token": ""}, "auth_token")])
def test_a_bad_entry_is_refused_naming_the_key_never_the_secret(
        server: LocalServer, twilio_account: twilio.TwilioStandIn, change: dict[str, Any],
        key: str) -> None:
    with pytest.raises(ValueError, match=key) as refused:
        build_providers([entry(server, twilio_account, **change)], ProviderEnvironment())
    assert twilio_account.auth_token not in str(refused.value)


def test_the_auth_token_may_come_from_a_file_and_never_shows_in_a_repr(
        server: LocalServer, twilio_account: twilio.TwilioStandIn, tmp_path: Any) -> None:
    token_file = tmp_path / "twilio-token"
    token_file.write_text(twilio_account.auth_token + "\n")
    settings = entry(server, twilio_account, auth_token=None, auth_token_file=str(token_file))
    [provider] = build_providers([settings], ProviderEnvironment())
    assert twilio_account.auth_token not in repr(provider)
    assert isinstance(provider, TwilioProvider)
    [answer] = send(provider, delivery())
    assert answer.accepted
    assert "824193" not in repr(delivery()) and NUMBER not in repr(delivery())


# ---- status callbacks, signed by the stand-in, verified by Parley's route ------------------

@pytest.fixture(scope="module")
def receiver(stand_in: twilio.TwilioStandIn) -> Iterator[tuple[CallbackReceiver, LocalServer]]:
    verifiers = {"twilio-main": TwilioProvider(
        "twilio-main", stand_in.account_sid, stand_in.auth_token,
        {"From": "+15005550006"}).callback_verifier()}
    receiving = CallbackReceiver(verifiers)
    with LocalServer(receiving.app) as running:
        receiving.public_url = running.url
        yield receiving, running


def sent_through_twilio(server: LocalServer, stand_in: twilio.TwilioStandIn,
                        public_url: str) -> tuple[Delivery, twilio.TwilioMessage]:
    made = delivery()
    callback = sms_status_callback_url(public_url, "twilio-main", made.notification_id,
                                       made.attempt_id)
    [answer] = send(provider_for(server, stand_in), delivery(callback=callback))
    assert answer.accepted
    return made, stand_in.messages[-1]


def test_twilios_signed_callbacks_reach_the_notification_in_any_order(
        server: LocalServer, twilio_account: twilio.TwilioStandIn,
        receiver: tuple[CallbackReceiver, LocalServer]) -> None:
    receiving, running = receiver
    _, message = sent_through_twilio(server, twilio_account, running.url)
    before = len(receiving.writer.commands)
    answers = [twilio_account.status_callback(message, status, error_code=code).post()
               for status, code in (("delivered", None), ("sent", None), ("queued", None),
                                    ("undelivered", "30003"))]
    assert [a.status_code for a in answers] == [204, 204, 204, 204]
    recorded = [(c.provider_message_id, c.status, c.code)
                for c in receiving.writer.commands[before:]]
    assert recorded == [(message.sid, DELIVERED, ""), (message.sid, SENT, ""),
                        (message.sid, UNDELIVERED, "30003")]


def test_a_forged_or_tampered_twilio_callback_is_refused(
        server: LocalServer, twilio_account: twilio.TwilioStandIn,
        receiver: tuple[CallbackReceiver, LocalServer]) -> None:
    receiving, running = receiver
    made, message = sent_through_twilio(server, twilio_account, running.url)
    before = len(receiving.writer.commands)
    forged = twilio_account.status_callback(message, "delivered", auth_token="guessed")
    genuine = twilio_account.status_callback(message, "failed")
    tampered = twilio.SignedCallback(genuine.url, genuine.fields | {"MessageStatus": "delivered"},
                                     genuine.headers)
    other_attempt = twilio.SignedCallback(sms_status_callback_url(
        running.url, "twilio-main", made.notification_id, uuid.uuid4()), genuine.fields,
        genuine.headers)
    assert [c.post().status_code for c in (forged, tampered, other_attempt)] == [403, 403, 403]
    assert receiving.writer.commands[before:] == []


def test_nothing_private_reaches_the_logs_even_at_debug(
        server: LocalServer, twilio_account: twilio.TwilioStandIn,
        caplog: pytest.LogCaptureFixture) -> None:
    twilio_account.behave_next(twilio.INVALID_NUMBER, twilio.RATE_LIMITED, twilio.DROP)
    with caplog.at_level(logging.DEBUG):
        send(provider_for(server, twilio_account), *(delivery() for _ in range(4)))
    assert len(twilio_account.messages) == 1
    for private in (twilio_account.auth_token, NUMBER, "824193"):
        assert private not in caplog.text
