"""The APNs provider against a local APNs that speaks only HTTP/2 and verifies the provider
JWT with the team's public key (tests/providers/apns.py)."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import httpx
import jwt
import pytest

from adapters.notifications.apns import ApnsProvider
from adapters.notifications.registry import ProviderEnvironment, build_providers
from commands.notifications.providers import Address, Content, Delivery, ProviderAnswer
from parley.logs import QUIETED_LOGGERS
from tests.providers.apns import ApnsStandIn
from tests.providers.credentials import apple_signing_key
from tests.providers.push_service import Clock, Refusal, Stall
from tests.providers.servers import DroppingServer, free_port

SCENARIO_TIMEOUT_SECONDS = 8.0
KEY = apple_signing_key()
CLOCK = Clock()
TOPIC = "chat.parley.app"
DEVICE = "a1b2c3d4" * 8
T = TypeVar("T")


@pytest.fixture(scope="module")
def apns() -> Iterator[ApnsStandIn]:
    with ApnsStandIn(KEY, topic=TOPIC, clock=CLOCK) as stand_in:
        yield stand_in


@pytest.fixture(autouse=True)
def fresh_stand_in(apns: ApnsStandIn) -> None:
    apns.reset()
    CLOCK.offset = 0.0


def entry(apns: ApnsStandIn, **changes: Any) -> dict[str, Any]:
    return {"name": "apns-main", "kind": "apns", "team_id": KEY.team_id, "key_id": KEY.key_id,
            "private_key": KEY.private_key_pem, "topic": TOPIC, "endpoint": apns.url,
            "timeout_seconds": 2, "ca_file": apns.ca_file} | changes


def delivery(token: str = DEVICE, **changes: Any) -> Delivery:
    made = Delivery(attempt_id=uuid.uuid4(), notification_id=uuid.uuid4(),
                    recipient_id=uuid.uuid4(), channel="push", priority="normal",
                    category="new_message", address=Address("apns", token),
                    content=Content(title="Ada", body="Hello, Bob! 👋",
                                    data={"conversation_id": "c-1", "unread": 3},
                                    deep_link="parley://conversations/c-1"))
    return replace(made, **changes)


def run(scenario: Callable[[ApnsProvider], Coroutine[Any, Any, T]], apns: ApnsStandIn, *,
        loopback_http: bool = False, seconds: float = SCENARIO_TIMEOUT_SECONDS,
        **changes: Any) -> T:
    """Runs `scenario` with a provider built from its entry, closed afterwards, in bounded
    time."""

    async def bounded() -> T:
        environment = ProviderEnvironment(allow_loopback_http=loopback_http)
        provider = ApnsProvider.from_config(entry(apns, **changes), environment, clock=CLOCK)
        try:
            return await asyncio.wait_for(scenario(provider), seconds)
        finally:
            await provider.aclose()

    return asyncio.run(bounded())


def send(apns: ApnsStandIn, *deliveries: Delivery, **changes: Any) -> list[ProviderAnswer]:
    async def each(provider: ApnsProvider) -> list[ProviderAnswer]:
        return [await provider.send(d) for d in deliveries]

    return run(each, apns, **changes)


# -- what the device shows ---------------------------------------------------------------------

def test_an_accepted_push_is_known_by_its_apns_id_and_the_device_shows_it(
        apns: ApnsStandIn) -> None:
    sent = delivery()
    [answer] = send(apns, sent)

    assert answer.accepted and answer.provider_message_id == str(sent.attempt_id)
    [received] = apns.received
    assert received.apns_id == str(sent.attempt_id)
    [shown] = apns.shown(DEVICE)
    assert (shown.title, shown.body) == ("Ada", "Hello, Bob! 👋")
    assert shown.data == {"conversation_id": "c-1", "unread": 3,
                          "notification_id": str(sent.notification_id),
                          "attempt_id": str(sent.attempt_id),
                          "deep_link": "parley://conversations/c-1"}
    assert received.payload["aps"] == {"alert": {"title": "Ada", "body": "Hello, Bob! 👋"},
                                       "sound": "default"}


def test_the_same_attempt_sent_twice_shows_once(apns: ApnsStandIn) -> None:
    sent = delivery()
    answers = send(apns, sent, sent)

    assert all(answer.accepted for answer in answers), {a.code for a in answers}
    assert len(apns.received) == 2
    assert len(apns.shown(DEVICE)) == 1
    assert apns.received[0].headers["apns-collapse-id"] == str(sent.attempt_id)


@pytest.mark.parametrize(("priority", "apns_priority"), [
    ("critical", "10"), ("high", "10"), ("normal", "5"), ("bulk", "5")])
def test_the_headers_say_topic_type_priority_and_expiry(apns: ApnsStandIn, priority: str,
                                                        apns_priority: str) -> None:
    send(apns, delivery(priority=priority, ttl_seconds=600))

    headers = apns.received[0].headers
    assert headers["apns-topic"] == TOPIC
    assert headers["apns-push-type"] == "alert"
    assert headers["apns-priority"] == apns_priority
    assert abs(int(headers["apns-expiration"]) - (CLOCK() + 600)) <= 2


def test_a_zero_ttl_asks_for_delivery_now_or_never(apns: ApnsStandIn) -> None:
    send(apns, delivery(ttl_seconds=0))

    assert apns.received[0].headers["apns-expiration"] == "0"


# -- HTTP/2: critical and high on a connection of their own, bulk on more than one ------------

BULK_HOLD_SECONDS = 1.5  # how long the stand-in holds each apns-priority 5 (bulk) push
BACKLOG = 110  # bulk sends in flight: more than the 100 streams one HTTP/2 connection carries
# 110 sends answered by a stand-in in this same process take seconds of CPU on a loaded machine
BACKLOG_TIMEOUT_SECONDS = 15


async def until(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    async with asyncio.timeout(seconds):
        while not condition():
            await asyncio.sleep(0.01)


def test_pushes_go_over_http2_urgent_and_bulk_on_different_connections_with_one_token(
        apns: ApnsStandIn) -> None:
    async def together(provider: ApnsProvider) -> list[ProviderAnswer]:
        sends = [provider.send(delivery(priority=p))
                 for p in ["normal", "bulk"] * 10 + ["critical", "high"]]
        return list(await asyncio.gather(*sends))

    answers = run(together, apns, timeout_seconds=5)

    assert all(answer.accepted for answer in answers), {a.code for a in answers}
    assert {request.http_version for request in apns.received} == {"2"}
    urgent = {r.connection for r in apns.received if r.headers["apns-priority"] == "10"}
    bulk = {r.connection for r in apns.received if r.headers["apns-priority"] == "5"}
    assert len(urgent) == 1 and len(bulk) == 2  # bulk_connections defaults to 2
    assert urgent.isdisjoint(bulk)
    assert len({request.provider_token for request in apns.received}) == 1
    assert apns.refused == []  # not one TooManyProviderTokenUpdates


def test_a_critical_push_is_not_held_behind_a_bulk_backlog(apns: ApnsStandIn) -> None:
    apns.bulk_hold.seconds = BULK_HOLD_SECONDS

    async def urgent_during_backlog(provider: ApnsProvider) -> tuple[ProviderAnswer, float, int]:
        backlog = [asyncio.ensure_future(provider.send(delivery(priority="bulk")))
                   for _ in range(BACKLOG)]
        await until(lambda: apns.bulk_hold.held >= 100)
        started = time.monotonic()
        answer = await provider.send(delivery(priority="critical"))
        took, still_held = time.monotonic() - started, apns.bulk_hold.held
        assert all(answer.accepted for answer in await asyncio.gather(*backlog))
        return answer, took, still_held

    answer, took, still_held = run(
        urgent_during_backlog, apns, timeout_seconds=BACKLOG_TIMEOUT_SECONDS,
        seconds=BACKLOG_TIMEOUT_SECONDS + 5)

    assert answer.accepted
    assert took < 0.75  # on one shared connection: behind the backlog, 1.5 s or more
    assert still_held >= 100


def test_bulk_is_spread_over_the_configured_connections_past_100_streams(
        apns: ApnsStandIn) -> None:
    apns.bulk_hold.seconds = BULK_HOLD_SECONDS

    async def backlog(provider: ApnsProvider) -> list[ProviderAnswer]:
        return list(await asyncio.gather(*(provider.send(delivery(priority="bulk"))
                                           for _ in range(BACKLOG))))

    answers = run(backlog, apns, timeout_seconds=BACKLOG_TIMEOUT_SECONDS,
                  seconds=BACKLOG_TIMEOUT_SECONDS + 5, bulk_connections=3)

    assert all(answer.accepted for answer in answers), {a.code for a in answers}
    assert len({request.connection for request in apns.received}) == 3
    # one HTTP/2 connection carries at most 100 streams at once (httpcore's and hypercorn's
    # limit): all of them held together means they came on more than one
    assert apns.bulk_hold.peak == BACKLOG


@pytest.mark.parametrize("bad", [0, 17, 1.5, "2", True])
def test_bulk_connections_must_be_a_whole_number_from_1_to_16(apns: ApnsStandIn,
                                                              bad: Any) -> None:
    with pytest.raises(ValueError, match="bulk_connections"):
        ApnsProvider.from_config(entry(apns, bulk_connections=bad), ProviderEnvironment())


def test_the_stand_in_refuses_http1_as_apns_does(apns: ApnsStandIn) -> None:
    with httpx.Client(verify=apns.server.client_ssl_context(), http2=False) as http1:
        response = http1.post(f"{apns.url}/3/device/{DEVICE}", content=b"{}", timeout=5)

    assert response.status_code == 505
    assert apns.received == []


# -- the provider token ------------------------------------------------------------------------

def test_the_provider_token_is_es256_by_the_teams_key(apns: ApnsStandIn) -> None:
    send(apns, delivery())

    token = apns.received[0].provider_token
    assert jwt.get_unverified_header(token) == {"alg": "ES256", "kid": KEY.key_id,
                                                "typ": "JWT"}
    claims = jwt.decode(token, KEY.public_key, algorithms=["ES256"],
                        options={"verify_iat": False})
    assert claims["iss"] == KEY.team_id and abs(claims["iat"] - CLOCK()) <= 2


def test_the_provider_token_is_reused_then_replaced_after_40_minutes(apns: ApnsStandIn) -> None:
    async def over_an_hour(provider: ApnsProvider) -> list[ProviderAnswer]:
        answers = [await provider.send(delivery())]
        CLOCK.advance(30 * 60)
        answers.append(await provider.send(delivery()))
        CLOCK.advance(11 * 60)
        answers.append(await provider.send(delivery()))
        return answers

    answers = run(over_an_hour, apns)

    assert all(answer.accepted for answer in answers), apns.refused
    tokens = [request.provider_token for request in apns.received]
    assert tokens[0] == tokens[1] != tokens[2]


def test_an_expired_provider_token_is_replaced_and_the_push_sent_again(
        apns: ApnsStandIn) -> None:
    async def expired_between(provider: ApnsProvider) -> list[ProviderAnswer]:
        first = await provider.send(delivery())
        apns.expire_provider_tokens()
        CLOCK.advance(1)
        return [first, await provider.send(delivery())]

    answers = run(expired_between, apns)

    assert all(answer.accepted for answer in answers), {a.code for a in answers}
    assert apns.refused == [(403, "ExpiredProviderToken")]
    first, second = apns.received
    assert first.provider_token != second.provider_token


def test_a_token_signed_by_another_key_is_refused_and_not_retried(apns: ApnsStandIn) -> None:
    other = apple_signing_key(KEY.team_id, KEY.key_id)
    [answer] = send(apns, delivery(), private_key=other.private_key_pem)

    assert (answer.code, answer.retryable, answer.address_gone) == (
        "InvalidProviderToken", False, False)
    assert apns.refused == [(403, "InvalidProviderToken")]


def test_the_key_may_be_a_p8_file(apns: ApnsStandIn, tmp_path: Path) -> None:
    path = tmp_path / "AuthKey.p8"
    path.write_text(KEY.private_key_pem)
    [answer] = send(apns, delivery(), private_key=None, private_key_file=str(path))

    assert answer.accepted


# -- APNs's documented errors ------------------------------------------------------------------

@pytest.mark.parametrize(("status", "reason"), [
    (410, "Unregistered"), (400, "BadDeviceToken"), (400, "DeviceTokenNotForTopic")])
def test_a_token_apns_no_longer_knows_is_gone(apns: ApnsStandIn, status: int,
                                              reason: str) -> None:
    apns.script.for_token(DEVICE, Refusal(status, reason))
    [answer] = send(apns, delivery())

    assert (answer.code, answer.retryable, answer.address_gone) == (reason, False, True)


def test_a_token_that_is_not_hex_is_gone_without_a_request(apns: ApnsStandIn) -> None:
    [answer] = send(apns, delivery("../../3/device/x?y"))

    assert (answer.code, answer.address_gone) == ("BadDeviceToken", True)
    assert apns.received == [] and apns.refused == []


@pytest.mark.parametrize(("status", "reason"), [
    (429, "TooManyRequests"), (500, "InternalServerError"), (503, "ServiceUnavailable")])
def test_throttling_and_server_errors_are_retryable_after_what_apns_asked(
        apns: ApnsStandIn, status: int, reason: str) -> None:
    apns.script.next(Refusal(status, reason, retry_after="12"))
    [answer] = send(apns, delivery())

    assert (answer.code, answer.retryable, answer.retry_after_seconds) == (reason, True, 12.0)
    assert not answer.address_gone


def test_a_payload_refused_as_too_large_is_not_retried(apns: ApnsStandIn) -> None:
    [answer] = send(apns, delivery(content=Content("t", "x" * 5000)))

    assert (answer.code, answer.retryable, answer.address_gone) == (
        "PayloadTooLarge", False, False)


def test_another_apps_topic_is_not_retried(apns: ApnsStandIn) -> None:
    [answer] = send(apns, delivery(), topic="com.example.other")

    assert (answer.code, answer.retryable) == ("TopicDisallowed", False)


def test_a_slow_apns_is_a_timeout_within_the_bound(apns: ApnsStandIn) -> None:
    apns.script.next(Stall(3))
    started = time.monotonic()
    [answer] = send(apns, delivery(), timeout_seconds=0.3)

    assert (answer.code, answer.retryable) == ("timeout", True)
    assert time.monotonic() - started < 2


def test_a_dropped_connection_is_retryable(apns: ApnsStandIn) -> None:
    with DroppingServer() as dropping:
        [answer] = send(apns, delivery(), endpoint=dropping.url, loopback_http=True)

    assert (answer.code, answer.retryable) == ("connection", True)
    assert dropping.dropped >= 1


def test_a_gateway_not_listening_is_a_connection_failure(apns: ApnsStandIn) -> None:
    [answer] = send(apns, delivery(), endpoint=f"https://127.0.0.1:{free_port()}")

    assert (answer.code, answer.retryable) == ("connection", True)


# -- secrets and personal data stay out of reprs and logs --------------------------------------

def test_no_key_token_or_text_reaches_the_repr_or_the_logs_of_a_failing_send(
        apns: ApnsStandIn, caplog: pytest.LogCaptureFixture) -> None:
    for name, level in QUIETED_LOGGERS.items():  # as configure_logging leaves them
        caplog.set_level(level, logger=name)
    caplog.set_level(logging.DEBUG)
    secret_text = "the secret body"
    sent = delivery(content=Content("the secret title", secret_text, data={"pin": "8812"}))

    async def failing(provider: ApnsProvider) -> tuple[ProviderAnswer, str]:
        # a token from another key: APNs refuses it, the adapter logs its configuration error
        return await provider.send(sent), repr(provider) + repr(sent)

    other = apple_signing_key(KEY.team_id, KEY.key_id)
    answer, reprs = run(failing, apns, private_key=other.private_key_pem)

    assert answer.code == "InvalidProviderToken"
    logged = "\n".join(f"{record.getMessage()} {record.exc_text or ''}"
                       for record in caplog.records)
    assert any(record.name == "parley.notifications.apns" for record in caplog.records)
    for secret in (other.private_key_pem.splitlines()[1], DEVICE, secret_text,
                   "the secret title", "8812", "eyJ"):  # eyJ: how every JWT begins
        assert secret not in logged
        assert secret not in reprs
        assert secret not in repr(answer)


def test_a_bad_entry_is_refused_naming_the_key_and_not_the_secret(apns: ApnsStandIn) -> None:
    rsa_pem = "-----BEGIN PRIVATE KEY-----\nnonsense\n-----END PRIVATE KEY-----\n"
    cases: dict[str, dict[str, Any]] = {
        "team_id": {"team_id": "team"}, "key_id": {"key_id": ""},
        "private_key": {"private_key": rsa_pem}, "topic": {"topic": None},
        "endpoint": {"endpoint": "http://api.push.apple.com"},
        "private_key_file": {"private_key": None, "private_key_file": "/nowhere.p8"},
    }
    for key, change in cases.items():
        with pytest.raises(ValueError, match=key) as refused:
            ApnsProvider.from_config(entry(apns, **change), ProviderEnvironment())
        assert "nonsense" not in str(refused.value)


def test_the_registry_builds_it_by_kind(apns: ApnsStandIn) -> None:
    [provider] = build_providers([entry(apns)], ProviderEnvironment())

    assert isinstance(provider, ApnsProvider)
    assert (provider.name, provider.channel, provider.kinds) == ("apns-main", "push",
                                                                 frozenset({"apns"}))
    asyncio.run(provider.aclose())
