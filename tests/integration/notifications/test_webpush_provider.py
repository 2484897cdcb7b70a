"""The Web Push provider against a local push service that checks VAPID and that the browser's
key decrypts the payload (tests/providers/webpush.py), over HTTPS with HTTP/2."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from adapters.notifications.registry import ProviderEnvironment, build_providers
from adapters.notifications.vapid import VapidSigner, key_from_raw, new_key_pair
from adapters.notifications.webpush import WebPushProvider, push_payload
from commands.notifications.providers import Address, Content, Delivery, ProviderAnswer
from parley.logs import configure_logging
from tests.providers.webpush import Behaviour, Browser, PushService, Subscription

SEND_TIMEOUT_SECONDS = 5.0
SUBJECT = "mailto:ops@parley.example"
KEYS = new_key_pair()


@pytest.fixture(scope="module")
def push_service() -> Iterator[PushService]:
    with PushService(tls=True) as service:
        yield service


@pytest.fixture(autouse=True)
def fresh_behaviours(push_service: PushService) -> None:
    push_service.reset()


@pytest.fixture
def browser(push_service: PushService) -> Browser:
    return Browser(push_service)


@pytest.fixture
def subscription(browser: Browser) -> Subscription:
    """A subscription made, as browsers do, for Parley's applicationServerKey."""
    return browser.subscribe(application_server_key=KEYS.application_server_key)


def entry(push_service: PushService, **changes: Any) -> dict[str, Any]:
    return {"name": "webpush-main", "kind": "webpush", "vapid_private_key": KEYS.private_key,
            "subject": SUBJECT, "timeout_seconds": 2, "ca_file": push_service.ca_file} | changes


def provider(push_service: PushService, **changes: Any) -> WebPushProvider:
    return WebPushProvider.from_config(entry(push_service, **changes), ProviderEnvironment())


def delivery(address: Address, **changes: Any) -> Delivery:
    made = Delivery(attempt_id=uuid.uuid4(), notification_id=uuid.uuid4(),
                    recipient_id=uuid.uuid4(), channel="push", priority="normal",
                    category="new_message", address=address,
                    content=Content(title="Ada", body="Hello, Bob! 👋",
                                    data={"conversation_id": "c-1", "unread": 3},
                                    deep_link="parley://conversations/c-1"))
    return replace(made, **changes)


def send(push_service: PushService, *deliveries: Delivery, **changes: Any) -> list[ProviderAnswer]:
    """Sends each delivery in turn through one provider (opened and closed here)."""

    async def run() -> list[ProviderAnswer]:
        sender = provider(push_service, **changes)
        try:
            return [await asyncio.wait_for(sender.send(d), SEND_TIMEOUT_SECONDS)
                    for d in deliveries]
        finally:
            await sender.aclose()

    return asyncio.run(run())


# -- what the device reads ---------------------------------------------------------------------

def test_the_browser_decrypts_exactly_the_title_body_and_data_sent(
        push_service: PushService, subscription: Subscription) -> None:
    sent = delivery(subscription.address())

    [answer] = send(push_service, sent)

    assert answer.accepted, answer
    assert answer.provider_message_id is not None
    assert answer.provider_message_id.startswith(f"{push_service.origin}/m/")
    [shown] = push_service.shown(subscription)
    assert shown == {"title": "Ada", "body": "Hello, Bob! 👋",
                     "data": {"conversation_id": "c-1", "unread": 3},
                     "deep_link": "parley://conversations/c-1",
                     "notification_id": str(sent.notification_id),
                     "attempt_id": str(sent.attempt_id)}


def test_the_same_attempt_sent_twice_shows_once(
        push_service: PushService, subscription: Subscription) -> None:
    first = delivery(subscription.address())
    other = delivery(subscription.address())

    answers = send(push_service, first, first, other)

    assert all(a.accepted for a in answers)
    assert len(push_service.messages(subscription)) == 3
    assert [m.topic for m in push_service.messages(subscription)] == [
        first.attempt_id.hex, first.attempt_id.hex, other.attempt_id.hex]
    assert [s["attempt_id"] for s in push_service.shown(subscription)] == [
        str(first.attempt_id), str(other.attempt_id)]


# -- VAPID -------------------------------------------------------------------------------------

def test_the_push_service_verifies_the_vapid_jwt(
        push_service: PushService, subscription: Subscription) -> None:
    before = time.time()

    [answer] = send(push_service, delivery(subscription.address()))

    assert answer.accepted, answer
    [message] = push_service.messages(subscription)
    assert message.vapid_key == KEYS.application_server_key
    assert message.claims["aud"] == push_service.origin
    assert message.claims["sub"] == SUBJECT
    assert before < message.claims["exp"] <= before + 24 * 3600


def test_a_message_signed_with_another_key_is_refused_by_the_push_service(
        push_service: PushService, subscription: Subscription) -> None:
    stranger = new_key_pair()

    [answer] = send(push_service, delivery(subscription.address()),
                    vapid_private_key=stranger.private_key)

    assert not answer.accepted
    assert (answer.code, answer.retryable, answer.address_gone) == ("403", False, False)
    assert push_service.refusals == [(403, "not the key this subscription was made for")]
    assert push_service.messages(subscription) == []


def test_a_forged_vapid_signature_is_refused_by_the_push_service(
        push_service: PushService, browser: Browser) -> None:
    """The stand-in really checks the ES256 signature against `k`: a JWT signed by one key but
    presented with another key is refused, even for a subscription that names no key."""
    open_subscription = browser.subscribe()
    forger = key_from_raw(new_key_pair().private_key)
    forged = VapidSigner(forger, SUBJECT).authorization(push_service.origin)
    token = forged.split("t=", 1)[1].split(",", 1)[0]
    header = f"vapid t={token}, k={KEYS.application_server_key}"

    status = asyncio.run(post_raw(push_service, open_subscription, authorization=header))

    assert status == 401
    assert push_service.refusals[-1][1].startswith("VAPID JWT refused")


def test_a_vapid_jwt_for_another_audience_is_refused(
        push_service: PushService, browser: Browser) -> None:
    open_subscription = browser.subscribe()
    elsewhere = VapidSigner(key_from_raw(KEYS.private_key), SUBJECT).authorization(
        "https://push.elsewhere.example")

    status = asyncio.run(post_raw(push_service, open_subscription, authorization=elsewhere))

    assert status == 401
    assert push_service.refusals[-1] == (401, "VAPID JWT refused: InvalidAudienceError")


async def post_raw(push_service: PushService, subscription: Subscription, *,
                   authorization: str) -> int:
    import httpx

    async with httpx.AsyncClient(verify=push_service.server.client_ssl_context(),
                                 timeout=SEND_TIMEOUT_SECONDS) as http:
        response = await http.post(subscription.endpoint, content=b"\x00" * 100, headers={
            "TTL": "60", "Content-Encoding": "aes128gcm", "Authorization": authorization})
        return response.status_code


# -- headers -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("priority", "urgency"), [
    ("critical", "high"), ("high", "high"), ("normal", "normal"), ("bulk", "low")])
def test_urgency_follows_the_priority(push_service: PushService, subscription: Subscription,
                                      priority: str, urgency: str) -> None:
    [answer] = send(push_service, delivery(subscription.address(), priority=priority))

    assert answer.accepted, answer
    assert [m.urgency for m in push_service.messages(subscription)] == [urgency]


def test_ttl_is_the_deliverys(push_service: PushService, subscription: Subscription) -> None:
    [answer] = send(push_service, delivery(subscription.address(), ttl_seconds=900))

    assert answer.accepted, answer
    assert [m.ttl for m in push_service.messages(subscription)] == [900]


# -- refusals ----------------------------------------------------------------------------------

def test_an_unsubscribed_subscription_is_gone(push_service: PushService,
                                              subscription: Subscription) -> None:
    push_service.unsubscribe(subscription)

    [answer] = send(push_service, delivery(subscription.address()))

    assert (answer.accepted, answer.code, answer.retryable, answer.address_gone) == (
        False, "410", False, True)


def test_a_subscription_the_service_does_not_know_is_gone(
        push_service: PushService, browser: Browser) -> None:
    [answer] = send(push_service, delivery(browser.never_subscribed().address()))

    assert (answer.accepted, answer.code, answer.retryable, answer.address_gone) == (
        False, "404", False, True)


def test_429_is_retried_after_what_the_service_asked(
        push_service: PushService, subscription: Subscription) -> None:
    push_service.answer_next(1, Behaviour(status=429, retry_after="37"))

    [answer] = send(push_service, delivery(subscription.address()))

    assert (answer.accepted, answer.code, answer.retryable) == (False, "429", True)
    assert answer.retry_after_seconds == 37
    assert not answer.address_gone


@pytest.mark.parametrize("status", [500, 502, 503])
def test_a_server_error_is_retryable(push_service: PushService, subscription: Subscription,
                                     status: int) -> None:
    push_service.answer_for(subscription, Behaviour(status=status, retry_after="5"))

    [answer] = send(push_service, delivery(subscription.address()))

    assert (answer.accepted, answer.code, answer.retryable) == (False, str(status), True)
    assert answer.retry_after_seconds == 5


@pytest.mark.parametrize("status", [400, 401, 403, 413])
def test_a_refusal_of_the_request_itself_is_not_retried(
        push_service: PushService, subscription: Subscription, status: int) -> None:
    push_service.answer_next(1, Behaviour(status=status))

    [answer] = send(push_service, delivery(subscription.address()))

    assert (answer.accepted, answer.code, answer.retryable, answer.address_gone) == (
        False, str(status), False, False)


def test_a_slow_push_service_times_out_within_the_bound(
        push_service: PushService, subscription: Subscription) -> None:
    push_service.answer_next(1, Behaviour(delay_seconds=2.0))
    started = time.monotonic()

    [answer] = send(push_service, delivery(subscription.address()), timeout_seconds=0.3)

    assert (answer.accepted, answer.code, answer.retryable) == (False, "timeout", True)
    assert time.monotonic() - started < 1.5


def test_an_answer_that_trickles_in_is_cut_off_at_the_bound(
        push_service: PushService, subscription: Subscription) -> None:
    """Each byte comes within httpx's read timeout; the whole exchange still has one bound."""
    push_service.answer_next(1, Behaviour(trickle_seconds=1.5))
    started = time.monotonic()

    [answer] = send(push_service, delivery(subscription.address()), timeout_seconds=0.4)

    assert (answer.accepted, answer.code, answer.retryable) == (False, "timeout", True)
    assert time.monotonic() - started < 1.2


def test_a_dropped_connection_is_retryable(push_service: PushService,
                                           subscription: Subscription) -> None:
    push_service.answer_next(1, Behaviour(drop=True))

    [answer] = send(push_service, delivery(subscription.address()))

    assert (answer.accepted, answer.code, answer.retryable) == (False, "connection", True)


@pytest.mark.parametrize("trouble", [Behaviour(drop=True), Behaviour(status=503),
                                     Behaviour(delay_seconds=1.0)], ids=["drop", "503", "slow"])
def test_the_provider_sends_again_after_trouble(push_service: PushService,
                                                subscription: Subscription,
                                                trouble: Behaviour) -> None:
    push_service.answer_next(1, trouble)

    answers = send(push_service, *(delivery(subscription.address()) for _ in range(2)),
                   timeout_seconds=0.5)

    assert [a.accepted for a in answers] == [False, True], answers
    assert len(push_service.shown(subscription)) == 1


def test_a_push_service_that_is_not_listening_is_a_connection_failure(
        push_service: PushService, subscription: Subscription) -> None:
    from tests.providers.servers import free_port

    nowhere = replace(subscription.address(),
                      value=f"https://127.0.0.1:{free_port()}/push/{subscription.id}")

    [answer] = send(push_service, delivery(nowhere))

    assert (answer.accepted, answer.code, answer.retryable) == (False, "connection", True)


def test_a_payload_over_4096_encrypted_bytes_is_refused_before_sending(
        push_service: PushService, subscription: Subscription) -> None:
    """aes128gcm adds 103 bytes (header 86, tag 16, padding delimiter 1): 3,993 bytes of JSON
    is the most one push message carries."""
    def of_plaintext_size(size: int) -> Delivery:
        empty = delivery(subscription.address(), content=Content(title="t", body=""))
        filler = size - len(push_payload(empty))
        return replace(empty, content=Content(title="t", body="x" * filler))

    fits, too_big = of_plaintext_size(3993), of_plaintext_size(3994)

    answers = send(push_service, fits, too_big)

    assert answers[0].accepted, answers[0]
    assert [len(m.body) for m in push_service.messages(subscription)] == [4096]
    assert (answers[1].accepted, answers[1].code, answers[1].retryable) == (
        False, "payload_too_large", False)
    assert push_service.requests == 1


@pytest.mark.parametrize("broken", [
    {"p256dh": "bm90IGEga2V5", "auth": "same"},  # not a point
    {"p256dh": "", "auth": "same"},
    {"p256dh": "B" + "A" * 86, "auth": "same"},  # 65 bytes, not on the curve
    {"p256dh": "same", "auth": ""},
    {"p256dh": "same", "auth": "AA"},  # auth secrets are 16 bytes
    {"p256dh": "same", "auth": "not base64url!"},
    {"p256dh": "same"},
], ids=["short-p256dh", "empty-p256dh", "off-curve", "empty-auth", "short-auth",
        "garbled-auth", "no-auth"])
def test_a_subscription_with_broken_keys_is_refused_without_sending(
        push_service: PushService, subscription: Subscription, broken: dict[str, str]) -> None:
    real = {"p256dh": subscription.p256dh, "auth": subscription.auth}
    keys = {name: real[name] if value == "same" else value for name, value in broken.items()}

    [answer] = send(push_service, delivery(replace(subscription.address(), keys=keys)))

    assert (answer.code, answer.retryable, answer.address_gone) == (
        "invalid_subscription", False, False)
    assert push_service.requests == 0


def test_an_endpoint_that_is_not_https_is_refused_without_sending(
        push_service: PushService, subscription: Subscription) -> None:
    plain = replace(subscription.address(), value=subscription.endpoint.replace("https", "http"))

    [answer] = send(push_service, delivery(plain))

    assert (answer.code, answer.retryable) == ("invalid_endpoint", False)
    assert push_service.requests == 0


# -- configuration -----------------------------------------------------------------------------

def test_the_registry_builds_it_by_kind(push_service: PushService) -> None:
    [built] = build_providers([entry(push_service)], ProviderEnvironment())

    assert isinstance(built, WebPushProvider)
    assert (built.name, built.channel, built.kinds) == ("webpush-main", "push",
                                                        frozenset({"webpush"}))
    assert built.application_server_key == KEYS.application_server_key
    asyncio.run(built.aclose())


def test_the_key_may_come_from_a_file(push_service: PushService, subscription: Subscription,
                                      tmp_path: Path) -> None:
    key_file = tmp_path / "vapid.key"
    key_file.write_text(KEYS.private_key + "\n")

    [answer] = send(push_service, delivery(subscription.address()), vapid_private_key=None,
                    vapid_private_key_file=str(key_file))

    assert answer.accepted, answer


@pytest.mark.parametrize(("changes", "named"), [
    ({"vapid_private_key": None}, "vapid_private_key"),
    ({"vapid_private_key": "c2hvcnQ"}, "vapid_private_key"),
    ({"vapid_private_key_file": "/nonexistent/vapid.key"}, "vapid_private_key"),
    ({"subject": None}, "subject"),
    ({"subject": "ops@parley.example"}, "subject"),
    ({"subject": "mailto:nobody"}, "subject"),
    ({"timeout_seconds": 0}, "timeout_seconds"),
    ({"ca_file": "/nonexistent/ca.pem"}, "ca_file"),
    ({"vapid_key": "x"}, "vapid_key"),
])
def test_a_bad_entry_is_refused_naming_the_key(push_service: PushService,
                                               changes: dict[str, Any], named: str) -> None:
    bad = {k: v for k, v in (entry(push_service) | changes).items() if v is not None}

    with pytest.raises(ValueError, match=named) as refused:
        WebPushProvider.from_config(bad, ProviderEnvironment())

    assert KEYS.private_key not in str(refused.value)


# -- secrets and personal data -----------------------------------------------------------------

def test_no_key_secret_endpoint_or_text_in_reprs_answers_or_logs(
        push_service: PushService, subscription: Subscription) -> None:
    """Under Parley's own logging at DEBUG, nothing of the subscription, the VAPID private key
    or the message shows in what is logged or printed."""
    records: list[str] = []
    capture = logging.Handler()
    capture.emit = lambda record: records.append(record.getMessage())  # type: ignore[method-assign]
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    configure_logging("DEBUG")
    root.addHandler(capture)
    try:
        sent = delivery(subscription.address())
        push_service.answer_next(1, Behaviour(status=400,
                                              body=f"no such subscription {sent.address.value}"))
        answers = send(push_service, sent, sent)
        built = provider(push_service)
        printed = " ".join([repr(built), repr(sent), repr(sent.address), *map(repr, answers),
                            *(a.detail for a in answers)])
        asyncio.run(built.aclose())
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
    assert records, "nothing was logged: the capture is not working"
    said = printed + "\n".join(records)
    private_scalar = base64.urlsafe_b64decode(KEYS.private_key + "=").hex()
    for secret in (KEYS.private_key, private_scalar, subscription.auth, subscription.p256dh,
                   subscription.id, "Hello, Bob!", json.dumps("Hello, Bob! 👋")[1:-1]):
        assert secret not in said, said[max(0, said.find(secret) - 300):said.find(secret) + 100]
