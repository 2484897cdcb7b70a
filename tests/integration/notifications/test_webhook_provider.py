"""The webhook provider against a receiver that verifies like a careful business endpoint
(Standard Webhooks signatures and timestamps, de-duplication by webhook-id), over real HTTP on
127.0.0.1: what it sends, how it signs through a secret rotation, and how it reads each
answer, from 2xx to a connection dropped without one."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from adapters.notifications.registry import ProviderEnvironment, build_providers
from adapters.notifications.webhooks import WebhookProvider
from commands.notifications.providers import Address, Content, Delivery, ProviderAnswer
from domain.notifications.endpoints import new_signing_secret
from tests.providers.servers import DroppingServer, LocalServer, free_port
from tests.providers.webhook_receiver import Answer, WebhookReceiver

SECRET = new_signing_secret()
TEST_BOUND_SECONDS = 10.0


@pytest.fixture(scope="module")
def receiver_server() -> Iterator[tuple[WebhookReceiver, LocalServer]]:
    receiver = WebhookReceiver(SECRET)
    with LocalServer(receiver) as server:
        yield receiver, server


@pytest.fixture(scope="module")
def tls_receiver_server() -> Iterator[tuple[WebhookReceiver, LocalServer]]:
    """A receiver behind HTTPS (HTTP/2 by ALPN) with a certificate for 127.0.0.1."""
    receiver = WebhookReceiver(SECRET)
    with LocalServer(receiver, tls=True) as server:
        yield receiver, server


@pytest.fixture
def tls_receiver(tls_receiver_server: tuple[WebhookReceiver, LocalServer]) -> WebhookReceiver:
    tls_receiver_server[0].reset()
    return tls_receiver_server[0]


@pytest.fixture
def receiver(receiver_server: tuple[WebhookReceiver, LocalServer]) -> WebhookReceiver:
    receiver, _ = receiver_server
    receiver.reset()
    receiver.hold(SECRET)
    return receiver


@pytest.fixture
def endpoint(receiver_server: tuple[WebhookReceiver, LocalServer]) -> str:
    """The receiver's base URL (http://127.0.0.1:port); the path picks its behaviour."""
    return receiver_server[1].url


def a_webhook_delivery(url: str, *, secret: str | None = SECRET,
                       previous_secret: str | None = None, category: str = "mention",
                       message_key: uuid.UUID | None = None) -> Delivery:
    keys = {name: value for name, value in
            (("secret", secret), ("previous_secret", previous_secret)) if value is not None}
    return Delivery(
        attempt_id=uuid.uuid4(), message_key=message_key or uuid.uuid4(),
        notification_id=uuid.uuid4(),
        recipient_id=uuid.uuid4(), channel="webhook", priority="high", category=category,
        address=Address("webhook", url, contact_point_id="cp-1", keys=keys),
        content=Content("Ada mentioned you", "Next book: @bob picks",
                        {"conversation_id": "c-1", "count": 2}, "parley://c/c-1"))


def sent(*deliveries: Delivery, **options: Any) -> list[ProviderAnswer]:
    """The answers of one provider (allowed http://127.0.0.1 unless told) to each delivery."""
    options.setdefault("allow_loopback_http", True)

    async def send_all() -> list[ProviderAnswer]:
        provider = WebhookProvider("hooks", **options)
        try:
            return [await provider.send(delivery) for delivery in deliveries]
        finally:
            await provider.aclose()

    return asyncio.run(asyncio.wait_for(send_all(), TEST_BOUND_SECONDS))


def answer_of(delivery: Delivery, **options: Any) -> ProviderAnswer:
    return sent(delivery, **options)[0]


def test_the_receiver_verifies_the_notification_and_sees_its_payload(
        receiver: WebhookReceiver, endpoint: str) -> None:
    delivery = a_webhook_delivery(f"{endpoint}/ok")

    answer = answer_of(delivery)

    assert answer.accepted and answer.delivered
    assert answer.provider_message_id == str(delivery.message_key)
    [received] = receiver.deliveries
    assert received.webhook_id == str(delivery.message_key)
    assert received.headers["content-type"] == "application/json"
    assert received.headers["user-agent"].startswith("Parley-Webhooks/")
    assert received.headers["webhook-signature"].count("v1,") == 1
    assert SECRET.removeprefix("whsec_") not in f"{received.headers} {received.payload}"
    sent_at = int(received.headers["webhook-timestamp"])
    assert abs(sent_at - time.time()) < 5
    payload = received.payload
    assert payload["type"] == "notification.mention"
    stamped = datetime.fromisoformat(payload["timestamp"])
    assert stamped.tzinfo is not None and int(stamped.timestamp()) == sent_at
    assert payload["data"] == {
        "notification_id": str(delivery.notification_id),
        "recipient_id": str(delivery.recipient_id),
        "category": "mention", "priority": "high",
        "title": "Ada mentioned you", "body": "Next book: @bob picks",
        "data": {"conversation_id": "c-1", "count": 2}, "deep_link": "parley://c/c-1",
    }


def test_during_a_rotation_a_receiver_holding_either_secret_verifies(
        receiver: WebhookReceiver, endpoint: str) -> None:
    old, new = SECRET, new_signing_secret()
    rotating = a_webhook_delivery(f"{endpoint}/ok", secret=new, previous_secret=old)

    receiver.hold(old)
    with_old = answer_of(rotating)
    receiver.hold(new)
    with_new = answer_of(rotating)

    assert with_old.accepted and with_new.accepted
    assert receiver.rejections == []
    signatures = receiver.requests[0].headers["webhook-signature"].split(" ")
    assert len(signatures) == 2 and all(s.startswith("v1,") for s in signatures)


def test_a_receiver_holding_neither_secret_refuses_the_request(
        receiver: WebhookReceiver, endpoint: str) -> None:
    receiver.hold(new_signing_secret())

    answer = answer_of(a_webhook_delivery(f"{endpoint}/ok", previous_secret=new_signing_secret()))

    assert (answer.accepted, answer.code, answer.retryable) == (False, "401", False)
    assert receiver.rejections == ["No matching signature found"]
    assert receiver.deliveries == []


def test_a_request_signed_six_minutes_ago_is_rejected_as_stale_by_the_receiver(
        receiver: WebhookReceiver, endpoint: str) -> None:
    def minutes_ago(minutes: int) -> Any:
        return lambda: datetime.now(UTC) - timedelta(minutes=minutes)

    stale = answer_of(a_webhook_delivery(f"{endpoint}/ok"), clock=minutes_ago(6))
    recent = answer_of(a_webhook_delivery(f"{endpoint}/ok"), clock=minutes_ago(4))

    assert (stale.accepted, stale.code) == (False, "401")
    assert receiver.rejections == ["Message timestamp too old"]
    assert recent.accepted
    assert len(receiver.deliveries) == 1


def test_a_gone_endpoint_answers_address_gone_and_is_not_retried(
        receiver: WebhookReceiver, endpoint: str) -> None:
    answer = answer_of(a_webhook_delivery(f"{endpoint}/gone"))

    assert (answer.accepted, answer.code, answer.address_gone, answer.retryable) == (
        False, "410", True, False)
    assert receiver.deliveries == []


@pytest.mark.parametrize(("path", "code", "delay"), [
    ("/throttled", "429", 3.0), ("/unavailable", "503", 7.0), ("/fail", "500", None)])
def test_throttling_and_server_errors_are_retried_after_the_delay_the_receiver_asks(
        receiver: WebhookReceiver, endpoint: str, path: str, code: str,
        delay: float | None) -> None:
    answer = answer_of(a_webhook_delivery(f"{endpoint}{path}"))

    assert (answer.accepted, answer.code, answer.retryable) == (False, code, True)
    assert answer.retry_after_seconds == delay
    assert not answer.address_gone


@pytest.mark.parametrize("status", [408, 425, 502, 504])
def test_timeouts_too_early_and_gateway_errors_are_retryable(
        receiver: WebhookReceiver, endpoint: str, status: int) -> None:
    receiver.answer_next(1, Answer(status))

    answer = answer_of(a_webhook_delivery(f"{endpoint}/ok"))

    assert (answer.code, answer.retryable) == (str(status), True)


@pytest.mark.parametrize("status", [400, 403, 404, 422])
def test_other_client_errors_are_not_retried(
        receiver: WebhookReceiver, endpoint: str, status: int) -> None:
    receiver.answer_next(1, Answer(status, (("retry-after", "5"),)))

    answer = answer_of(a_webhook_delivery(f"{endpoint}/ok"))

    assert (answer.code, answer.retryable, answer.address_gone) == (str(status), False, False)
    assert answer.retry_after_seconds is None


def test_a_slow_receiver_is_a_retryable_timeout_within_the_configured_seconds(
        receiver: WebhookReceiver, endpoint: str) -> None:
    [provider] = build_providers([{"name": "hooks", "kind": "webhook", "timeout_seconds": 0.5}],
                                 ProviderEnvironment(allow_loopback_http=True))

    async def send_slowly() -> tuple[ProviderAnswer, float]:
        started = time.monotonic()
        try:
            return (await provider.send(a_webhook_delivery(f"{endpoint}/slow")),
                    time.monotonic() - started)
        finally:
            await provider.aclose()

    answer, elapsed = asyncio.run(asyncio.wait_for(send_slowly(), TEST_BOUND_SECONDS))

    assert (answer.code, answer.retryable) == ("timeout", True)
    assert 0.45 < elapsed < 1.5
    assert receiver.deliveries == []


def test_endpoints_answering_slowly_do_not_hold_up_a_delivery_to_another(
        receiver: WebhookReceiver, endpoint: str) -> None:
    provider = WebhookProvider("hooks", allow_loopback_http=True, timeout_seconds=1.5)

    async def one_among_slow_ones() -> tuple[ProviderAnswer, float]:
        slow = [asyncio.ensure_future(provider.send(a_webhook_delivery(f"{endpoint}/slow")))
                for _ in range(16)]
        await asyncio.sleep(0.2)  # the slow ones hold their connections
        started = time.monotonic()
        answer = await provider.send(a_webhook_delivery(f"{endpoint}/ok"))
        elapsed = time.monotonic() - started
        await asyncio.gather(*slow)
        await provider.aclose()
        return answer, elapsed

    answer, elapsed = asyncio.run(asyncio.wait_for(one_among_slow_ones(), TEST_BOUND_SECONDS))

    assert answer.accepted
    assert elapsed < 0.75  # not queued behind them for a connection


def test_a_receiver_trickling_its_answer_is_cut_off_at_the_timeout(
        receiver: WebhookReceiver, endpoint: str) -> None:
    # each byte comes well within the timeout, so only a deadline over the whole send ends it
    receiver.answer_next(1, Answer(200, trickle_seconds=0.1))
    started = time.monotonic()

    answer = answer_of(a_webhook_delivery(f"{endpoint}/ok"), timeout_seconds=0.5)

    assert (answer.code, answer.retryable) == ("timeout", True)
    assert time.monotonic() - started < 2


def test_a_body_that_never_ends_is_read_only_up_to_the_limit(
        receiver: WebhookReceiver, endpoint: str) -> None:
    receiver.answer_next(1, Answer(200, endless=True))

    answer = answer_of(a_webhook_delivery(f"{endpoint}/ok"), max_response_bytes=1024,
                       timeout_seconds=3)

    assert answer.accepted and answer.delivered


def test_a_connection_dropped_refused_or_reset_is_retryable(
        receiver: WebhookReceiver, endpoint: str) -> None:
    with DroppingServer(after_request=True) as hang_up:
        dropped_mid_answer, reset, refused = sent(
            a_webhook_delivery(f"{endpoint}/drop"), a_webhook_delivery(f"{hang_up.url}/hook"),
            a_webhook_delivery(f"http://127.0.0.1:{free_port()}/hook"))
        assert hang_up.dropped >= 1

    for answer in (dropped_mid_answer, reset, refused):
        assert (answer.accepted, answer.code, answer.retryable) == (False, "connection", True)


def test_a_redirect_is_a_failure_and_is_not_followed(
        receiver: WebhookReceiver, endpoint: str) -> None:
    answer = answer_of(a_webhook_delivery(f"{endpoint}/redirect"))

    assert (answer.accepted, answer.code, answer.retryable) == (False, "redirect", False)
    assert [request.path for request in receiver.requests] == ["/redirect"]
    assert receiver.deliveries == []


@pytest.mark.parametrize(("url", "allow_loopback_http"), [
    ("{endpoint}/ok", False),  # plain http to 127.0.0.1 where the deployment does not allow it
    ("http://localhost:{port}/ok", True),  # plain http to a host name, even one that is local
    ("http://user:password@127.0.0.1:{port}/ok", True),
    ("ftp://127.0.0.1:{port}/ok", True),
])
def test_an_endpoint_url_parley_does_not_send_to_is_refused_without_sending(
        receiver: WebhookReceiver, receiver_server: tuple[WebhookReceiver, LocalServer],
        endpoint: str, url: str, allow_loopback_http: bool) -> None:
    target = url.format(endpoint=endpoint, port=receiver_server[1].port)

    answer = answer_of(a_webhook_delivery(target), allow_loopback_http=allow_loopback_http)

    assert (answer.accepted, answer.code, answer.retryable) == (False, "endpoint_refused", False)
    assert receiver.requests == [] and receiver.rejections == []


@pytest.mark.parametrize("url", [
    "https://127.0.0.1:{port}/ok",  # loopback, where the deployment does not run tests
    "https://localhost:{port}/ok",  # a name for it
    "https://[::ffff:127.0.0.1]:{port}/ok",  # loopback in IPv6 clothing
    "https://169.254.169.254/latest/meta-data/",  # the cloud's metadata service
    "https://10.1.2.3/hook",  # the deployment's own network
])
def test_an_endpoint_inside_the_deployments_network_is_refused_without_connecting(
        tls_receiver: WebhookReceiver,
        tls_receiver_server: tuple[WebhookReceiver, LocalServer], url: str) -> None:
    server = tls_receiver_server[1]
    started = time.monotonic()

    answer = answer_of(a_webhook_delivery(url.format(port=server.port)),
                       allow_loopback_http=False, verify=server.client_ssl_context(),
                       timeout_seconds=3)

    assert (answer.accepted, answer.code, answer.retryable) == (False, "endpoint_refused", False)
    assert time.monotonic() - started < 1  # refused, not timed out trying
    assert tls_receiver.requests == [] and tls_receiver.rejections == []


@pytest.mark.parametrize(("secret", "code"), [(None, "no_signing_secret"),
                                              ("whsec_", "bad_signing_secret")])
def test_an_endpoint_without_a_usable_secret_is_not_sent_to(
        receiver: WebhookReceiver, endpoint: str, secret: str | None, code: str) -> None:
    answer = answer_of(a_webhook_delivery(f"{endpoint}/ok", secret=secret))

    assert (answer.accepted, answer.code, answer.retryable) == (False, code, False)
    assert receiver.requests == [] and receiver.rejections == []


def test_the_same_attempt_sent_twice_is_one_delivery_at_the_receiver(
        receiver: WebhookReceiver, endpoint: str) -> None:
    delivery = a_webhook_delivery(f"{endpoint}/ok")

    first, again = sent(delivery, delivery)

    assert first.accepted and again.accepted
    assert [r.webhook_id for r in receiver.requests] == [str(delivery.message_key)] * 2
    assert [r.webhook_id for r in receiver.deliveries] == [str(delivery.message_key)]


def test_a_retry_after_a_timeout_the_receiver_had_taken_is_still_one_delivery(
        receiver: WebhookReceiver, endpoint: str) -> None:
    first_attempt = a_webhook_delivery(f"{endpoint}/ok")
    retry = replace(first_attempt, attempt_id=uuid.uuid4())  # the next attempt, same message

    sent(first_attempt, retry)

    assert len(receiver.requests) == 2
    assert [r.webhook_id for r in receiver.deliveries] == [str(first_attempt.message_key)]


def test_a_delivery_without_a_message_key_is_identified_by_its_attempt(
        receiver: WebhookReceiver, endpoint: str) -> None:
    delivery = replace(a_webhook_delivery(f"{endpoint}/ok"), message_key=None)

    answer = answer_of(delivery)

    assert answer.provider_message_id == str(delivery.attempt_id)
    assert [r.webhook_id for r in receiver.deliveries] == [str(delivery.attempt_id)]


def test_successive_deliveries_share_one_pooled_connection(
        receiver: WebhookReceiver, endpoint: str) -> None:
    answers = sent(*(a_webhook_delivery(f"{endpoint}/ok") for _ in range(3)))

    assert all(answer.accepted for answer in answers)
    assert len({request.client_port for request in receiver.requests}) == 1


def test_an_https_endpoint_is_sent_to_over_http2(
        tls_receiver: WebhookReceiver,
        tls_receiver_server: tuple[WebhookReceiver, LocalServer]) -> None:
    server = tls_receiver_server[1]

    answer = answer_of(a_webhook_delivery(f"{server.url}/ok"),
                       verify=server.client_ssl_context())

    assert answer.accepted
    assert [request.http_version for request in tls_receiver.deliveries] == ["2"]


@pytest.fixture
def parley_log_levels() -> Iterator[None]:
    """The levels Parley's processes give libraries' loggers (parley/logs.py)."""
    from parley.logs import QUIETED_LOGGERS

    saved = {name: logging.getLogger(name).level for name in QUIETED_LOGGERS}
    for name, level in QUIETED_LOGGERS.items():
        logging.getLogger(name).setLevel(level)
    yield
    for name, level in saved.items():
        logging.getLogger(name).setLevel(level)


def test_secrets_urls_and_message_text_stay_out_of_reprs_answers_and_logs(
        receiver: WebhookReceiver, endpoint: str, tls_receiver: WebhookReceiver,
        tls_receiver_server: tuple[WebhookReceiver, LocalServer], parley_log_levels: None,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    previous = new_signing_secret()
    url_token = "tok-" + uuid.uuid4().hex
    tls = tls_receiver_server[1]
    urls = [*(f"{endpoint}/{path}?token={url_token}" for path in ("ok", "fail", "redirect")),
            f"http://127.0.0.1:{free_port()}/?token={url_token}",  # refused
            f"http://localhost:{tls.port}/?token={url_token}",  # not sent
            f"{tls.url}/ok?token={url_token}"]  # HTTP/2
    deliveries = [a_webhook_delivery(url, previous_secret=previous) for url in urls]
    receiver.hold(previous)
    tls_receiver.hold(previous)

    answers = sent(*deliveries, verify=tls.client_ssl_context())

    assert answers[0].accepted and answers[-1].accepted
    signatures = [signature.split(",")[1]
                  for request in (receiver.requests[0], tls_receiver.requests[0])
                  for signature in request.headers["webhook-signature"].split(" ")]
    forbidden = [SECRET, SECRET.removeprefix("whsec_"), previous, url_token,
                 "Ada mentioned you", "Next book", *signatures]
    provider = WebhookProvider("hooks")
    seen = "\n".join([repr(provider), *map(repr, deliveries), *map(repr, answers),
                      *(record.getMessage() for record in caplog.records)])
    assert any(record.name == "adapters.notifications.webhooks" for record in caplog.records)
    assert any(record.name.startswith("httpcore.http2") for record in caplog.records)
    for secret in forbidden:
        assert secret not in seen


@pytest.mark.parametrize(("entry", "key"), [
    ({"timeout_seconds": 0}, "timeout_seconds"),
    ({"timeout_seconds": "10"}, "timeout_seconds"),
    ({"max_response_bytes": -1}, "max_response_bytes"),
    ({"max_response_bytes": 1.5}, "max_response_bytes"),
    ({"user_agent": ""}, "user_agent"),
    ({"user_agent": "Acme/1\r\nX-Injected: 1"}, "user_agent"),
    ({"allow_private_networks": "yes"}, "allow_private_networks"),
    ({"secret": "whsec_abc"}, "secret"),  # secrets belong to endpoints, not to the provider
])
def test_a_bad_entry_is_refused_naming_its_key(entry: dict[str, Any], key: str) -> None:
    with pytest.raises(ValueError, match=key) as refusal:
        build_providers([{"name": "hooks", "kind": "webhook", **entry}], ProviderEnvironment())
    assert "whsec_abc" not in str(refusal.value)


def test_an_entry_builds_a_provider_for_webhook_endpoints() -> None:
    [provider] = build_providers([{"name": "hooks", "kind": "webhook", "user_agent": "Acme/2",
                                   "max_response_bytes": 4096}], ProviderEnvironment())

    assert isinstance(provider, WebhookProvider)
    assert (provider.name, provider.channel, provider.kinds) == (
        "hooks", "webhook", frozenset({"webhook"}))
