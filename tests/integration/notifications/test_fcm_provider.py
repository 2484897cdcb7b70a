"""The FCM HTTP v1 provider against a local FCM and OAuth2 token endpoint that verify the
service account's signed assertion and the bearer it earns (tests/providers/fcm.py), over
HTTPS with HTTP/2."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import jwt
import pytest

from adapters.notifications.fcm import FcmProvider
from adapters.notifications.registry import ProviderEnvironment, build_providers
from commands.notifications.providers import Address, Content, Delivery, ProviderAnswer
from parley.logs import QUIETED_LOGGERS
from tests.providers.credentials import service_account_key
from tests.providers.fcm import FCM_SCOPE, FcmStandIn
from tests.providers.push_service import Clock, Refusal, Stall
from tests.providers.servers import DroppingServer, free_port

SCENARIO_TIMEOUT_SECONDS = 8.0
ACCOUNT = service_account_key()
CLOCK = Clock()
DEVICE = "fcm-device-token:APA91bH" + "x" * 40
T = TypeVar("T")


@pytest.fixture(scope="module")
def fcm() -> Iterator[FcmStandIn]:
    with FcmStandIn(ACCOUNT, clock=CLOCK) as stand_in:
        yield stand_in


@pytest.fixture(autouse=True)
def fresh_stand_in(fcm: FcmStandIn) -> None:
    fcm.reset()
    CLOCK.offset = 0.0


def entry(fcm: FcmStandIn, **changes: Any) -> dict[str, Any]:
    return {"name": "fcm-main", "kind": "fcm", "project_id": fcm.project_id,
            "service_account": ACCOUNT.key_file(fcm.token_uri), "endpoint": fcm.url,
            "timeout_seconds": 2, "ca_file": fcm.ca_file} | changes


def delivery(token: str = DEVICE, **changes: Any) -> Delivery:
    made = Delivery(attempt_id=uuid.uuid4(), notification_id=uuid.uuid4(),
                    recipient_id=uuid.uuid4(), channel="push", priority="normal",
                    category="new_message", address=Address("fcm", token),
                    content=Content(title="Ada", body="Hello, Bob! 👋",
                                    data={"conversation_id": "c-1", "unread": 3},
                                    deep_link="parley://conversations/c-1"))
    return replace(made, **changes)


def run(scenario: Callable[[FcmProvider], Coroutine[Any, Any, T]], fcm: FcmStandIn, *,
        clock: Callable[[], float] = CLOCK, loopback_http: bool = False,
        seconds: float = SCENARIO_TIMEOUT_SECONDS, **changes: Any) -> T:
    """Runs `scenario` with a provider built from its entry, closed afterwards, in bounded
    time."""

    async def bounded() -> T:
        environment = ProviderEnvironment(allow_loopback_http=loopback_http)
        provider = FcmProvider.from_config(entry(fcm, **changes), environment, clock=clock)
        try:
            return await asyncio.wait_for(scenario(provider), seconds)
        finally:
            await provider.aclose()

    return asyncio.run(bounded())


def send(fcm: FcmStandIn, *deliveries: Delivery, **changes: Any) -> list[ProviderAnswer]:
    async def each(provider: FcmProvider) -> list[ProviderAnswer]:
        return [await provider.send(d) for d in deliveries]

    return run(each, fcm, **changes)


# -- what the device shows ---------------------------------------------------------------------

def test_an_accepted_message_has_fcms_name_and_the_device_shows_it(fcm: FcmStandIn) -> None:
    sent = delivery()
    [answer] = send(fcm, sent)

    [received] = fcm.received
    assert answer.accepted and answer.provider_message_id == received.name
    assert received.name.startswith(f"projects/{fcm.project_id}/messages/")
    [shown] = fcm.shown(DEVICE)
    assert (shown.title, shown.body) == ("Ada", "Hello, Bob! 👋")
    assert shown.data == {"conversation_id": "c-1", "unread": "3",
                          "notification_id": str(sent.notification_id),
                          "attempt_id": str(sent.attempt_id),
                          "deep_link": "parley://conversations/c-1"}
    assert received.http_version == "2"


def test_every_data_value_is_a_string_as_fcm_requires(fcm: FcmStandIn) -> None:
    content = Content("t", "b", data={"count": 3, "ok": True, "tags": ["a", "b"], "none": None})
    [answer] = send(fcm, delivery(content=content))

    assert answer.accepted, answer
    data = fcm.received[0].message["data"]
    assert {k: data[k] for k in ("count", "ok", "tags", "none")} == {
        "count": "3", "ok": "true", "tags": '["a","b"]', "none": "null"}


def test_the_same_attempt_sent_twice_shows_once(fcm: FcmStandIn) -> None:
    sent = delivery()
    answers = send(fcm, sent, sent)

    assert all(answer.accepted for answer in answers), {a.code for a in answers}
    assert len(fcm.received) == 2
    assert len(fcm.shown(DEVICE)) == 1
    message = fcm.received[0].message
    assert message["android"]["collapse_key"] == str(sent.attempt_id)
    assert message["apns"]["headers"]["apns-collapse-id"] == str(sent.attempt_id)


@pytest.mark.parametrize(("priority", "android", "apns"), [
    ("critical", "HIGH", "10"), ("high", "HIGH", "10"), ("normal", "NORMAL", "5"),
    ("bulk", "NORMAL", "5")])
def test_priority_and_ttl_follow_the_delivery(fcm: FcmStandIn, priority: str, android: str,
                                              apns: str) -> None:
    send(fcm, delivery(priority=priority, ttl_seconds=600))

    message = fcm.received[0].message
    assert message["android"]["priority"] == android
    assert message["android"]["ttl"] == "600s"
    assert message["apns"]["headers"]["apns-priority"] == apns
    expires = int(message["apns"]["headers"]["apns-expiration"])
    assert abs(expires - (time.time() + 600)) <= 2


def test_a_ttl_beyond_four_weeks_is_fcms_longest(fcm: FcmStandIn) -> None:
    send(fcm, delivery(ttl_seconds=10 * 7 * 24 * 3600))

    assert fcm.received[0].message["android"]["ttl"] == f"{28 * 24 * 3600}s"


# -- OAuth2: the service account's assertion and the bearer it earns ---------------------------

def test_the_access_token_is_fetched_once_for_many_sends(fcm: FcmStandIn) -> None:
    async def many(provider: FcmProvider) -> list[ProviderAnswer]:
        first = await provider.send(delivery())
        return [first, *await asyncio.gather(*(provider.send(delivery()) for _ in range(20)))]

    answers = run(many, fcm)

    assert all(answer.accepted for answer in answers), {a.code for a in answers}
    assert fcm.token_requests == 1
    assert len({request.bearer for request in fcm.received}) == 1


def test_concurrent_first_sends_share_one_token_exchange(fcm: FcmStandIn) -> None:
    async def many(provider: FcmProvider) -> list[ProviderAnswer]:
        return list(await asyncio.gather(*(provider.send(delivery()) for _ in range(10))))

    assert all(answer.accepted for answer in run(many, fcm))
    assert fcm.token_requests == 1


def test_a_refused_bearer_is_exchanged_again_and_the_send_retried_once(fcm: FcmStandIn) -> None:
    async def revoked_between(provider: FcmProvider) -> list[ProviderAnswer]:
        first = await provider.send(delivery())
        fcm.revoke_access_tokens()
        return [first, await provider.send(delivery()), await provider.send(delivery())]

    answers = run(revoked_between, fcm)

    assert all(answer.accepted for answer in answers), {a.code for a in answers}
    assert fcm.token_requests == 2
    assert len(fcm.received) == 3


def test_a_token_is_exchanged_again_a_minute_before_it_expires(fcm: FcmStandIn) -> None:
    async def an_hour_apart(provider: FcmProvider) -> list[ProviderAnswer]:
        first = await provider.send(delivery())
        CLOCK.advance(3599 - 61)  # still good for 61 s: kept
        second = await provider.send(delivery())
        CLOCK.advance(2)  # good for 59 s: replaced
        return [first, second, await provider.send(delivery())]

    answers = run(an_hour_apart, fcm)

    assert all(answer.accepted for answer in answers), {a.code for a in answers}
    assert fcm.token_requests == 2
    assert len({request.bearer for request in fcm.received}) == 2


def test_a_bearer_still_refused_after_the_exchange_is_an_auth_failure(fcm: FcmStandIn) -> None:
    fcm.token_lifetime_seconds = 0  # every token it issues has already expired
    try:
        [answer] = send(fcm, delivery())
    finally:
        fcm.token_lifetime_seconds = 3599

    assert (answer.accepted, answer.code, answer.retryable) == (False, "auth", False)
    assert fcm.token_requests == 2


def test_the_assertion_is_signed_by_the_account_for_fcms_scope(
        fcm: FcmStandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    assertions: list[str] = []
    original = jwt.encode

    def recording(*args: Any, **kwargs: Any) -> str:
        assertions.append(original(*args, **kwargs))
        return assertions[-1]

    monkeypatch.setattr("adapters.notifications.google_oauth.jwt.encode", recording)
    send(fcm, delivery())

    [assertion] = assertions
    claims = jwt.decode(assertion, ACCOUNT.public_key, algorithms=["RS256"],
                        audience=fcm.token_uri)
    assert claims["iss"] == ACCOUNT.client_email and claims["scope"] == FCM_SCOPE
    assert claims["exp"] - claims["iat"] == 3600


def test_an_assertion_signed_with_another_key_earns_no_token(fcm: FcmStandIn) -> None:
    impostor = service_account_key(ACCOUNT.client_email)
    [answer] = send(fcm, delivery(), service_account=impostor.key_file(fcm.token_uri))

    assert (answer.code, answer.retryable) == ("auth", False)
    assert "invalid_grant" in answer.detail
    assert fcm.received == []


def test_the_service_account_may_be_a_key_file(fcm: FcmStandIn, tmp_path: Path) -> None:
    path = ACCOUNT.write(tmp_path, fcm.token_uri)
    changes = {"service_account": None, "service_account_file": str(path)}
    [answer] = send(fcm, delivery(), **changes)

    assert answer.accepted


# -- connections: critical and high on their own, bulk on more than one ----------------------

BULK_HOLD_SECONDS = 1.5  # how long the stand-in holds each NORMAL-priority (bulk) message
BACKLOG = 110  # bulk sends in flight: more than the 100 streams one HTTP/2 connection carries
# 110 sends answered by a stand-in in this same process take seconds of CPU on a loaded machine
BACKLOG_TIMEOUT_SECONDS = 15


async def until(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    async with asyncio.timeout(seconds):
        while not condition():
            await asyncio.sleep(0.01)


def test_a_critical_push_is_not_held_behind_a_bulk_backlog(fcm: FcmStandIn) -> None:
    fcm.bulk_hold.seconds = BULK_HOLD_SECONDS

    async def urgent_during_backlog(provider: FcmProvider) -> tuple[ProviderAnswer, float, int]:
        backlog = [asyncio.ensure_future(provider.send(delivery(priority="bulk")))
                   for _ in range(BACKLOG)]
        await until(lambda: fcm.bulk_hold.held >= 100)
        started = time.monotonic()
        answer = await provider.send(delivery(priority="critical"))
        took, still_held = time.monotonic() - started, fcm.bulk_hold.held
        assert all(answer.accepted for answer in await asyncio.gather(*backlog))
        return answer, took, still_held

    answer, took, still_held = run(
        urgent_during_backlog, fcm, timeout_seconds=BACKLOG_TIMEOUT_SECONDS,
        seconds=BACKLOG_TIMEOUT_SECONDS + 5)

    assert answer.accepted
    assert took < 0.75  # on one shared connection: behind the backlog, 1.5 s or more
    assert still_held >= 100


def test_urgent_and_bulk_pushes_arrive_on_different_connections_with_one_bearer(
        fcm: FcmStandIn) -> None:
    async def mixed(provider: FcmProvider) -> list[ProviderAnswer]:
        sends = [provider.send(delivery(priority=p))
                 for p in ["normal", "bulk"] * 10 + ["critical", "high"]]
        return list(await asyncio.gather(*sends))

    answers = run(mixed, fcm, timeout_seconds=5)

    assert all(answer.accepted for answer in answers), {a.code for a in answers}

    urgent = {r.connection for r in fcm.received if r.message["android"]["priority"] == "HIGH"}
    bulk = {r.connection for r in fcm.received if r.message["android"]["priority"] == "NORMAL"}
    assert len(urgent) == 1 and len(bulk) == 2  # bulk_connections defaults to 2
    assert urgent.isdisjoint(bulk)
    assert {request.http_version for request in fcm.received} == {"2"}
    assert len({request.bearer for request in fcm.received}) == 1
    assert fcm.token_requests == 1


def test_bulk_is_spread_over_the_configured_connections_past_100_streams(
        fcm: FcmStandIn) -> None:
    fcm.bulk_hold.seconds = BULK_HOLD_SECONDS

    async def backlog(provider: FcmProvider) -> list[ProviderAnswer]:
        return list(await asyncio.gather(*(provider.send(delivery(priority="bulk"))
                                           for _ in range(BACKLOG))))

    answers = run(backlog, fcm, timeout_seconds=BACKLOG_TIMEOUT_SECONDS,
                  seconds=BACKLOG_TIMEOUT_SECONDS + 5, bulk_connections=3)

    assert all(answer.accepted for answer in answers), {a.code for a in answers}
    assert len({request.connection for request in fcm.received}) == 3
    # one HTTP/2 connection carries at most 100 streams at once (httpcore's and hypercorn's
    # limit): all of them held together means they came on more than one
    assert fcm.bulk_hold.peak == BACKLOG


@pytest.mark.parametrize("bad", [0, 17, 1.5, "2", True])
def test_bulk_connections_must_be_a_whole_number_from_1_to_16(fcm: FcmStandIn,
                                                              bad: Any) -> None:
    with pytest.raises(ValueError, match="bulk_connections"):
        FcmProvider.from_config(entry(fcm, bulk_connections=bad), ProviderEnvironment())


# -- FCM's documented errors -------------------------------------------------------------------

def test_an_unregistered_token_is_gone(fcm: FcmStandIn) -> None:
    fcm.script.for_token(DEVICE, Refusal(404, "UNREGISTERED"))
    [answer] = send(fcm, delivery())

    assert (answer.code, answer.retryable, answer.address_gone) == ("UNREGISTERED", False, True)


def test_a_malformed_token_is_gone(fcm: FcmStandIn) -> None:
    [answer] = send(fcm, delivery("not a token"))

    assert (answer.code, answer.retryable, answer.address_gone) == (
        "INVALID_ARGUMENT", False, True)
    assert "message.token" in answer.detail


def test_an_invalid_argument_about_the_message_is_ours_not_the_tokens(fcm: FcmStandIn) -> None:
    [answer] = send(fcm, delivery(content=Content("t", "b", data={"google.sent_time": "1"})))

    assert (answer.code, answer.retryable, answer.address_gone) == (
        "INVALID_ARGUMENT", False, False)


def test_quota_exceeded_is_retried_after_what_fcm_asked(fcm: FcmStandIn) -> None:
    fcm.script.next(Refusal(429, "QUOTA_EXCEEDED", retry_after="17"))
    [answer] = send(fcm, delivery())

    assert (answer.code, answer.retryable, answer.retry_after_seconds) == (
        "QUOTA_EXCEEDED", True, 17.0)


@pytest.mark.parametrize(("status", "code"), [(503, "UNAVAILABLE"), (500, "INTERNAL")])
def test_a_server_error_is_retryable_with_its_retry_after(fcm: FcmStandIn, status: int,
                                                          code: str) -> None:
    fcm.script.next(Refusal(status, code, retry_after="30"))
    [answer] = send(fcm, delivery())

    assert (answer.code, answer.retryable, answer.retry_after_seconds) == (code, True, 30.0)
    assert not answer.address_gone


def test_a_server_error_without_retry_after_leaves_the_delay_to_the_dispatcher(
        fcm: FcmStandIn) -> None:
    fcm.script.next(Refusal(503, "UNAVAILABLE"))
    [answer] = send(fcm, delivery())

    assert (answer.retryable, answer.retry_after_seconds) == (True, None)


def test_a_third_party_auth_error_is_not_taken_for_an_expired_bearer(fcm: FcmStandIn) -> None:
    fcm.script.next(Refusal(401, "THIRD_PARTY_AUTH_ERROR"))
    [answer] = send(fcm, delivery())

    assert (answer.code, answer.retryable) == ("THIRD_PARTY_AUTH_ERROR", False)
    assert fcm.token_requests == 1


def test_another_projects_token_is_not_retried(fcm: FcmStandIn) -> None:
    [answer] = send(fcm, delivery(), project_id="someone-else")

    assert (answer.code, answer.retryable, answer.address_gone) == (
        "SENDER_ID_MISMATCH", False, False)


def test_a_slow_fcm_is_a_timeout_within_the_bound(fcm: FcmStandIn) -> None:
    fcm.script.next(Stall(3))
    started = time.monotonic()
    [answer] = send(fcm, delivery(), timeout_seconds=0.3)

    assert (answer.code, answer.retryable) == ("timeout", True)
    assert time.monotonic() - started < 2


def test_an_answer_trickling_in_past_the_timeout_is_a_timeout(fcm: FcmStandIn) -> None:
    fcm.script.next(Stall(4, trickle=True))  # each byte comes well within the timeout
    started = time.monotonic()
    [answer] = send(fcm, delivery(), timeout_seconds=0.5)

    assert (answer.code, answer.retryable) == ("timeout", True)
    assert time.monotonic() - started < 2


def test_a_send_answers_within_its_timeout_however_many_exchanges_it_takes(
        fcm: FcmStandIn) -> None:
    fcm.token_stall_seconds = 0.35
    fcm.script.next(Stall(0.35))  # each exchange within the timeout, the two together not
    started = time.monotonic()
    [answer] = send(fcm, delivery(), timeout_seconds=0.5)

    assert (answer.code, answer.retryable) == ("timeout", True)
    assert time.monotonic() - started < 1.5


def test_a_dropped_connection_is_retryable(fcm: FcmStandIn) -> None:
    with DroppingServer() as dropping:
        [answer] = send(fcm, delivery(), endpoint=dropping.url, loopback_http=True)

    assert (answer.code, answer.retryable) == ("connection", True)
    assert dropping.dropped >= 1


def test_an_fcm_not_listening_is_a_connection_failure(fcm: FcmStandIn) -> None:
    [answer] = send(fcm, delivery(), endpoint=f"https://127.0.0.1:{free_port()}")

    assert (answer.code, answer.retryable) == ("connection", True)


def test_a_token_endpoint_not_listening_fails_the_send_as_retryable(fcm: FcmStandIn) -> None:
    account = ACCOUNT.key_file(f"https://127.0.0.1:{free_port()}/token")
    [answer] = send(fcm, delivery(), service_account=account)

    assert (answer.code, answer.retryable) == ("connection", True)


# -- secrets and personal data stay out of reprs and logs --------------------------------------

def test_no_key_token_or_text_reaches_the_repr_or_the_logs_of_a_failing_send(
        fcm: FcmStandIn, caplog: pytest.LogCaptureFixture) -> None:
    for name, level in QUIETED_LOGGERS.items():  # as configure_logging leaves them
        caplog.set_level(level, logger=name)
    caplog.set_level(logging.DEBUG)
    secret_text = "the secret body"
    fcm.script.next(Refusal(403, "PERMISSION_DENIED"))
    sent = delivery(content=Content("the secret title", secret_text, data={"pin": "8812"}))

    async def failing(provider: FcmProvider) -> tuple[ProviderAnswer, str]:
        return await provider.send(sent), repr(provider) + repr(sent)

    answer, reprs = run(failing, fcm)

    assert (answer.code, answer.retryable) == ("auth", False)
    bearer = fcm.received[0].bearer if fcm.received else None
    logged = "\n".join(f"{record.getMessage()} {record.exc_text or ''}"
                       for record in caplog.records)
    assert any(record.name == "parley.notifications.fcm" for record in caplog.records)
    for secret in (ACCOUNT.private_key_pem.splitlines()[1], DEVICE, secret_text,
                   "the secret title", "8812", bearer or "ya29."):
        assert secret not in logged
        assert secret not in reprs
        assert secret not in repr(answer)


def test_a_bad_entry_is_refused_naming_the_key_and_not_the_secret(fcm: FcmStandIn) -> None:
    broken = ACCOUNT.key_file(fcm.token_uri) | {"private_key": "-----BEGIN nonsense"}
    cases: dict[str, dict[str, Any]] = {
        "project_id": {"project_id": "../other/project"},
        "service_account.private_key": {"service_account": broken},
        "endpoint": {"endpoint": "http://fcm.example"},
        "timeout_seconds": {"timeout_seconds": -1},
        "service_account_file": {"service_account": None, "service_account_file": "/no.json"},
    }
    for key, change in cases.items():
        with pytest.raises(ValueError, match=key.replace(".", r"\.")) as refused:
            FcmProvider.from_config(entry(fcm, **change), ProviderEnvironment())
        assert "nonsense" not in str(refused.value)


def test_the_registry_builds_it_by_kind(fcm: FcmStandIn) -> None:
    [provider] = build_providers([entry(fcm)], ProviderEnvironment())

    assert isinstance(provider, FcmProvider)
    assert (provider.name, provider.channel, provider.kinds) == ("fcm-main", "push",
                                                                 frozenset({"fcm"}))
    asyncio.run(provider.aclose())
