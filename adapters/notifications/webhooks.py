"""Webhooks to business and bot endpoints, signed per the Standard Webhooks scheme.

Each delivery is one POST of JSON to the endpoint's URL (the Address value) with the headers
`webhook-id`, `webhook-timestamp` (unix seconds) and `webhook-signature` (`v1,<base64
HMAC-SHA256>` by the `standardwebhooks` package). The `webhook-id` is the delivery's message
key, the same for every attempt of a notification to this endpoint, as Standard Webhooks asks
of a message sent again: the receiver de-duplicates by it, so a retry after a timeout it had
in fact taken is still one delivery (the attempt id where a delivery has no message key).
While a secret is being rotated the request carries both secrets' signatures,
space-separated, so a receiver holding either one verifies it.

A 2xx means the receiver has it (accepted and delivered). A 3xx is never followed (the
endpoint must be registered where it is); 410 Gone removes the endpoint; 408, 425, 429 and
5xx may work later (their Retry-After is honoured); any other 4xx will not. No answer within
the timeout, or a refused, reset or dropped connection, is retryable.

Endpoints are URLs Parley's users registered, so the provider connects to public addresses
only (`public_network.PublicNetworkOnly`: not the metadata service, not localhost, not the
deployment's private network, unless `allow_private_networks`). That check has to sit where
the connection is made, which httpx's client cannot take, so the provider keeps one httpcore
connection pool (httpx's own engine: pooled, HTTP/1.1, and HTTP/2 where the endpoint's TLS
offers it) on that network backend. The client's extras would be wrong here anyway: it logs
each request's full URL at INFO (endpoint URLs often carry a token of their own), keeps a
cookie jar one receiver could fill, and can follow redirects. The pool sends exactly the
request built below.
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from math import floor
from typing import Any, Final, Self

import httpcore
import httpx
from standardwebhooks.webhooks import EmptyWebhookSecretError, Webhook

from adapters.notifications import entry_fields
from adapters.notifications.http_posts import CONNECTION_FAILED, TIMED_OUT
from adapters.notifications.public_network import NonPublicAddress, PublicNetworkOnly
from adapters.notifications.registry import ProviderEnvironment
from commands.notifications.providers import Delivery, ProviderAnswer, retry_after
from domain.notifications.channels import WEBHOOK, WEBHOOK_ENDPOINT
from domain.notifications.endpoints import endpoint_url_problem

log = logging.getLogger(__name__)

KIND: Final = "webhook"
DEFAULT_USER_AGENT: Final = "Parley-Webhooks/1.0"
DEFAULT_MAX_RESPONSE_BYTES: Final = 64 * 1024
ENTRY_KEYS: Final = frozenset({"name", "kind", "timeout_seconds", "user_agent",
                               "max_response_bytes", "allow_private_networks"})
# One pool serves every business's endpoint, so its cap must sit above the dispatcher's
# concurrency: a send waiting for a free connection behind other endpoints' slow answers
# would time out without ever reaching its own endpoint.
MAX_CONNECTIONS: Final = 1024
MAX_IDLE_CONNECTIONS: Final = 128
# statuses that say "not now" rather than "no"
RETRYABLE_STATUSES: Final = frozenset({408, 425, 429})
GONE: Final = 410

# answer codes that are not an HTTP status
ENDPOINT_REFUSED: Final = "endpoint_refused"
NO_SIGNING_SECRET: Final = "no_signing_secret"
BAD_SIGNING_SECRET: Final = "bad_signing_secret"
REDIRECT: Final = "redirect"


class WebhookProvider:
    """Sends notifications to webhook endpoints (kind `webhook`, channel `webhook`).

    `allow_private_networks` lets endpoints resolve to private addresses (bots inside the
    deployment's own network); loopback only with `allow_loopback_http` (tests). `verify` is
    the TLS trust (tests pass their local CA's context); `clock` the time requests are
    signed at.
    """

    def __init__(self, name: str, *, timeout_seconds: float = 10.0,
                 user_agent: str = DEFAULT_USER_AGENT,
                 max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
                 allow_loopback_http: bool = False,
                 allow_private_networks: bool = False,
                 verify: ssl.SSLContext | bool = True,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._name = name
        self._timeout_seconds = timeout_seconds
        self._user_agent = user_agent
        self._max_response_bytes = max_response_bytes
        self._allow_loopback_http = allow_loopback_http
        self._clock = clock
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify), http2=True,
            max_connections=MAX_CONNECTIONS, max_keepalive_connections=MAX_IDLE_CONNECTIONS,
            network_backend=PublicNetworkOnly(allow_loopback=allow_loopback_http,
                                              allow_private=allow_private_networks))

    @classmethod
    def from_config(cls, entry: Mapping[str, Any], environment: ProviderEnvironment) -> Self:
        """A provider from its entry; a ValueError names a key that is unknown or wrong."""
        unknown = sorted(set(entry) - ENTRY_KEYS)
        if unknown:
            raise ValueError(f"webhook provider: unknown key {unknown[0]!r} "
                             f"(known: {', '.join(sorted(ENTRY_KEYS))})")
        return cls(entry_fields.text(entry, "name"),
                   timeout_seconds=entry_fields.positive_seconds(entry, "timeout_seconds",
                                                                 environment.timeout_seconds),
                   user_agent=_header_text(entry, "user_agent", DEFAULT_USER_AGENT),
                   max_response_bytes=_byte_count(entry, "max_response_bytes",
                                                  DEFAULT_MAX_RESPONSE_BYTES),
                   allow_loopback_http=environment.allow_loopback_http,
                   allow_private_networks=_flag(entry, "allow_private_networks", False))

    @property
    def name(self) -> str:
        return self._name

    @property
    def channel(self) -> str:
        return WEBHOOK

    @property
    def kinds(self) -> frozenset[str]:
        return frozenset({WEBHOOK_ENDPOINT})

    def __repr__(self) -> str:
        return f"WebhookProvider(name={self._name!r})"

    async def send(self, delivery: Delivery) -> ProviderAnswer:
        url = delivery.address.value
        problem = endpoint_url_problem(url, allow_loopback_http=self._allow_loopback_http)
        if problem is not None:
            return self._answered(delivery, ProviderAnswer.failed(
                ENDPOINT_REFUSED, retryable=False, detail=f"the endpoint URL {problem}"))
        signed = self._signed_request(delivery)
        if isinstance(signed, ProviderAnswer):
            return self._answered(delivery, signed)
        return self._answered(delivery, await self._post(signed))

    async def aclose(self) -> None:
        await self._pool.aclose()

    def _signed_request(self, delivery: Delivery) -> SignedPost | ProviderAnswer:
        keys = delivery.address.keys
        secrets = [keys[key] for key in ("secret", "previous_secret") if keys.get(key)]
        if not secrets:
            return ProviderAnswer.failed(NO_SIGNING_SECRET, retryable=False,
                                         detail="the endpoint has no signing secret")
        moment = self._clock().astimezone(UTC)
        message_id = str(delivery.dedup_key)
        body = payload(delivery, moment)
        try:
            signature = " ".join(Webhook(secret).sign(message_id, moment, body)
                                 for secret in secrets)
        except (ValueError, EmptyWebhookSecretError):
            # the library's message says what is wrong with the base64, never the secret
            return ProviderAnswer.failed(BAD_SIGNING_SECRET, retryable=False,
                                         detail="a signing secret is not valid base64")
        headers = [
            (b"content-type", b"application/json"),
            (b"user-agent", self._user_agent.encode()),
            (b"webhook-id", message_id.encode()),
            (b"webhook-timestamp", str(floor(moment.timestamp())).encode()),
            (b"webhook-signature", signature.encode()),
        ]
        try:
            # httpx's URL parsing: IDNA host names, percent-encoding, default ports
            url = httpx.URL(delivery.address.value)
        except httpx.InvalidURL:
            return ProviderAnswer.failed(ENDPOINT_REFUSED, retryable=False,
                                         detail="the endpoint URL is not valid")
        target = httpcore.URL(scheme=url.raw_scheme, host=url.raw_host, port=url.port,
                              target=url.raw_path)
        return SignedPost(target, headers, body.encode(), message_id)

    async def _post(self, post: SignedPost) -> ProviderAnswer:
        """The receiver's answer; httpcore's timeouts bound each phase, the deadline the whole."""
        timeouts = dict.fromkeys(("connect", "read", "write", "pool"), self._timeout_seconds)
        try:
            async with (asyncio.timeout(self._timeout_seconds),
                        self._pool.stream("POST", post.url, headers=post.headers,
                                          content=post.body,
                                          extensions={"timeout": timeouts}) as response):
                await self._read_at_most(response)
        except (TimeoutError, httpcore.TimeoutException):
            return ProviderAnswer.failed(TIMED_OUT, retryable=True,
                                         detail=f"no answer within {self._timeout_seconds:g} s")
        except NonPublicAddress as refusal:
            return ProviderAnswer.failed(ENDPOINT_REFUSED, retryable=False, detail=str(refusal))
        except (httpcore.NetworkError, httpcore.ProtocolError) as error:
            # refused, reset, dropped: the class says which; its text may name the host
            return ProviderAnswer.failed(CONNECTION_FAILED, retryable=True,
                                         detail=type(error).__name__)
        retry_header = next((value.decode("latin-1") for name, value in response.headers
                             if name.lower() == b"retry-after"), None)
        return answer_to(response.status, retry_header, post.message_id)

    async def _read_at_most(self, response: httpcore.Response) -> None:
        """Reads the body (so the connection can be reused) up to the limit, then stops."""
        if self._max_response_bytes == 0:
            return
        read = 0
        async for chunk in response.aiter_stream():
            read += len(chunk)
            if read >= self._max_response_bytes:
                return

    def _answered(self, delivery: Delivery, answer: ProviderAnswer) -> ProviderAnswer:
        log.debug("webhook provider %s: attempt %s answered %s", self._name,
                  delivery.attempt_id, "2xx" if answer.accepted else answer.code)
        return answer


@dataclass(frozen=True)
class SignedPost:
    """One signed request, ready to send."""

    url: httpcore.URL = field(repr=False)
    headers: list[tuple[bytes, bytes]] = field(repr=False)
    body: bytes = field(repr=False)
    message_id: str


def _flag(entry: Mapping[str, Any], key: str, default: bool) -> bool:
    value = entry.get(key, default)
    if not isinstance(value, bool):
        raise ValueError(f"{key} must be true or false")
    return value


def _header_text(entry: Mapping[str, Any], key: str, default: str) -> str:
    value = entry_fields.text(entry, key, default)
    if not value.isascii() or not value.isprintable():
        raise ValueError(f"{key} must be printable ASCII (it is sent as a header)")
    return value


def _byte_count(entry: Mapping[str, Any], key: str, default: int) -> int:
    value = entry.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{key} must be a whole number of bytes, 0 or more")
    return value


def payload(delivery: Delivery, moment: datetime) -> str:
    """The JSON body: the event type, when it was sent, and the notification."""
    content = delivery.content
    return json.dumps({
        "type": f"notification.{delivery.category}",
        "timestamp": moment.isoformat().replace("+00:00", "Z"),
        "data": {
            "notification_id": str(delivery.notification_id),
            "recipient_id": str(delivery.recipient_id),
            "category": delivery.category,
            "priority": delivery.priority,
            "title": content.title,
            "body": content.body,
            "data": dict(content.data),
            "deep_link": content.deep_link,
        },
    }, separators=(",", ":"), ensure_ascii=False)


def answer_to(status: int, retry_after_header: str | None, message_id: str) -> ProviderAnswer:
    """What the receiver's status says about the delivery (message `message_id`)."""
    detail = f"HTTP {status} {httpx.codes.get_reason_phrase(status)}".rstrip()
    if 200 <= status < 300:
        return ProviderAnswer.accepted_as(message_id, delivered=True)
    if 300 <= status < 400:
        return ProviderAnswer.failed(REDIRECT, retryable=False,
                                     detail=f"{detail}: redirects are not followed")
    if status == GONE:
        return ProviderAnswer.failed(str(status), retryable=False, detail=detail,
                                     address_gone=True)
    if status in RETRYABLE_STATUSES or status >= 500:
        return ProviderAnswer.failed(str(status), retryable=True, detail=detail,
                                     retry_after_seconds=retry_after(retry_after_header))
    return ProviderAnswer.failed(str(status), retryable=False, detail=detail)
