"""Web Push provider: RFC 8030 delivery to a subscription's push service, the payload encrypted
for the browser with aes128gcm (RFC 8291, by pywebpush/http_ece) and the sender identified by
VAPID (RFC 8292). One provider is one VAPID identity; it reaches every push service (FCM's,
Mozilla's, Apple's, ...), since the subscription's endpoint says where it lives. A browser
binds each subscription to the applicationServerKey it was made with, so a second webpush
provider (failover) must hold the same VAPID key: with another one every push service answers
403, not retryable.

Entry keys: name, vapid_private_key (base64url, from `parley vapid generate`) or
vapid_private_key_file, subject ("mailto:..." or "https://..."), timeout_seconds, ca_file
(tests: a CA to trust besides the system's).
"""

from __future__ import annotations

import asyncio
import base64
import json
import ssl
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Self
from urllib.parse import urlsplit

import http_ece
import httpx
from py_vapid import Vapid, VapidException
from pywebpush import WebPusher, WebPushException

from adapters.notifications.registry import ProviderEnvironment
from adapters.notifications.vapid import VapidSigner, key_from_file, key_from_raw
from commands.notifications.providers import Delivery, ProviderAnswer, retry_after
from domain.notifications.channels import BULK, CRITICAL, HIGH, NORMAL, PUSH, WEB_PUSH
from domain.notifications.endpoints import endpoint_url_problem

KIND = "webpush"
# RFC 8291 §4: push services need accept no more than 4,096 bytes of encrypted body (3,993 of
# plaintext in one aes128gcm record)
MAX_BODY_BYTES = 4096
URGENCY_OF_PRIORITY: Mapping[str, str] = {CRITICAL: "high", HIGH: "high", NORMAL: "normal",
                                          BULK: "low"}
RETRYABLE_STATUSES = frozenset({408, 425, 429})
GONE_STATUSES = frozenset({404, 410})
ENTRY_KEYS = frozenset({"name", "kind", "vapid_private_key", "vapid_private_key_file", "subject",
                        "timeout_seconds", "ca_file"})
DETAIL_CHARACTERS = 200
# RFC 8291 §3: the browser's P-256 public key (an uncompressed point) and its auth secret
SUBSCRIPTION_KEY_BYTES: Mapping[str, int] = {"p256dh": 65, "auth": 16}


class WebPushProvider:
    """Sends each delivery as one encrypted push message to the address's endpoint."""

    def __init__(self, name: str, signer: VapidSigner, *, timeout_seconds: float,
                 allow_loopback_http: bool = False,
                 verify: ssl.SSLContext | bool = True) -> None:
        self._name = name
        self._signer = signer
        self._timeout_seconds = timeout_seconds
        self._allow_loopback_http = allow_loopback_http
        self._http = httpx.AsyncClient(http2=True, verify=verify, follow_redirects=False,
                                       timeout=httpx.Timeout(timeout_seconds))

    def __repr__(self) -> str:
        return f"WebPushProvider(name={self._name!r})"

    @classmethod
    def from_config(cls, entry: Mapping[str, Any], environment: ProviderEnvironment) -> Self:
        name = entry.get("name")
        if not isinstance(name, str) or not name:
            raise ValueError("webpush provider: name must be a non-empty string")
        where = f"notification provider {name!r}"
        for key in entry:
            if key not in ENTRY_KEYS:
                raise ValueError(f"{where}: unknown key {key!r} "
                                 f"(one of {', '.join(sorted(ENTRY_KEYS))})")
        subject = entry.get("subject")
        if not isinstance(subject, str) or not subject.startswith(("mailto:", "https://")):
            raise ValueError(f"{where}: subject must be a mailto: or https:// URL "
                             "(how push services reach the operator)")
        key = _vapid_key(entry, where)
        try:  # py_vapid's own checks of the claims, once, rather than at the first message
            VapidSigner(key, subject, cache=False).authorization("https://push.example")
        except VapidException:
            raise ValueError(f"{where}: subject is not a valid mailto: or https:// URL") from None
        timeout = entry.get("timeout_seconds", environment.timeout_seconds)
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
            raise ValueError(f"{where}: timeout_seconds must be a positive number")
        verify: ssl.SSLContext | bool = True
        if "ca_file" in entry:
            ca_file = entry["ca_file"]
            if not isinstance(ca_file, str) or not Path(ca_file).is_file():
                raise ValueError(f"{where}: ca_file must name a readable PEM file")
            verify = ssl.create_default_context(cafile=ca_file)
        return cls(name, VapidSigner(key, subject), timeout_seconds=float(timeout),
                   allow_loopback_http=environment.allow_loopback_http, verify=verify)

    @property
    def name(self) -> str:
        return self._name

    @property
    def channel(self) -> str:
        return PUSH

    @property
    def kinds(self) -> frozenset[str]:
        return frozenset({WEB_PUSH})

    @property
    def application_server_key(self) -> str:
        """What browsers pass to PushManager.subscribe() as applicationServerKey."""
        return self._signer.public_key

    async def send(self, delivery: Delivery) -> ProviderAnswer:
        address = delivery.address
        if address.kind != WEB_PUSH:
            return ProviderAnswer.failed("wrong_address_kind", retryable=False,
                                         detail=f"a {address.kind} address")
        problem = endpoint_url_problem(address.value,
                                       allow_loopback_http=self._allow_loopback_http)
        if problem is not None:
            return ProviderAnswer.failed("invalid_endpoint", retryable=False,
                                         detail=f"the endpoint {problem}")
        plaintext = push_payload(delivery)
        if len(plaintext) > MAX_BODY_BYTES:  # cannot fit once encrypted: spare the work
            return _too_large(len(plaintext))
        try:
            body = encrypt(plaintext, address.value, address.keys)
            authorization = self._signer.authorization(origin(address.value))
        except InvalidSubscription as error:
            return ProviderAnswer.failed("invalid_subscription", retryable=False,
                                         detail=str(error))
        except VapidException:
            return ProviderAnswer.failed("invalid_endpoint", retryable=False,
                                         detail="the endpoint's origin is not a VAPID audience")
        if len(body) > MAX_BODY_BYTES:
            return _too_large(len(body))
        headers = {"TTL": str(max(0, delivery.ttl_seconds)),
                   "Urgency": URGENCY_OF_PRIORITY.get(delivery.priority, "normal"),
                   # an undelivered message with the same topic is replaced: every attempt of
                   # one notification to one browser shows once
                   "Topic": delivery.dedup_key.hex,
                   "Content-Encoding": "aes128gcm",
                   "Content-Type": "application/octet-stream",
                   "Authorization": authorization}
        try:
            async with asyncio.timeout(self._timeout_seconds):
                response = await self._http.post(address.value, content=body, headers=headers)
        except (TimeoutError, httpx.TimeoutException):
            return ProviderAnswer.failed("timeout", retryable=True,
                                         detail=f"no answer within {self._timeout_seconds:g} s")
        except httpx.TransportError as error:
            return ProviderAnswer.failed("connection", retryable=True,
                                         detail=type(error).__name__)
        return answer_from(response, endpoint=address.value)

    async def aclose(self) -> None:
        await self._http.aclose()


class InvalidSubscription(ValueError):
    """The subscription's p256dh or auth key is missing or malformed."""


def push_payload(delivery: Delivery) -> bytes:
    """What the browser's service worker receives (as `event.data.json()`)."""
    content = delivery.content
    return json.dumps({"title": content.title, "body": content.body, "data": dict(content.data),
                       "deep_link": content.deep_link,
                       "notification_id": str(delivery.notification_id),
                       "attempt_id": str(delivery.attempt_id)},
                      separators=(",", ":"), ensure_ascii=False).encode()


def encrypt(plaintext: bytes, endpoint: str, keys: Mapping[str, str]) -> bytes:
    """The aes128gcm body for the subscription (a fresh ECDH key and salt each time)."""
    for name, size in SUBSCRIPTION_KEY_BYTES.items():
        if not isinstance(keys.get(name), str):
            raise InvalidSubscription(f"the subscription has no {name} key")
        if not _is_base64url_of(keys[name], size):
            raise InvalidSubscription(f"the subscription's {name} key is not {size} bytes "
                                      "of base64url")
    try:
        pusher = WebPusher({"endpoint": endpoint,
                            "keys": {"p256dh": keys["p256dh"], "auth": keys["auth"]}})
        encoded = pusher.encode(plaintext, content_encoding="aes128gcm")
    except (WebPushException, http_ece.ECEException, ValueError, TypeError, IndexError):
        # never the keys themselves in the message
        raise InvalidSubscription("the subscription's p256dh or auth key is invalid") from None
    body: bytes = encoded["body"]
    return body


def _is_base64url_of(text: str, size: int) -> bool:
    try:
        return len(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))) == size
    except ValueError:  # binascii.Error
        return False


def origin(url: str) -> str:
    """scheme://host[:port] of the endpoint: the VAPID JWT's audience."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    default = {"https": 443, "http": 80}.get(parts.scheme)
    port = f":{parts.port}" if parts.port is not None and parts.port != default else ""
    return f"{parts.scheme}://{host}{port}"


def answer_from(response: httpx.Response, *, endpoint: str) -> ProviderAnswer:
    """RFC 8030 §5 and §7, and what push services actually answer."""
    status = response.status_code
    if 200 <= status < 300:
        return ProviderAnswer.accepted_as(response.headers.get("location"))
    code, detail = str(status), _detail(response, endpoint)
    if status in GONE_STATUSES:  # the subscription expired or was unsubscribed
        return ProviderAnswer.failed(code, retryable=False, detail=detail, address_gone=True)
    if status in RETRYABLE_STATUSES or status >= 500:
        return ProviderAnswer.failed(code, retryable=True, detail=detail,
                                     retry_after_seconds=retry_after(
                                         response.headers.get("retry-after")))
    # 400 malformed, 401/403 VAPID refused, 413 too large: the same request fails again
    return ProviderAnswer.failed(code, retryable=False, detail=detail)


def _detail(response: httpx.Response, endpoint: str) -> str:
    """The reason and the start of the service's explanation, without the endpoint (a bearer
    capability for the subscription) should the service echo it."""
    text = response.text.replace(endpoint, "<endpoint>")
    path = urlsplit(endpoint).path
    if len(path) > 1:
        text = text.replace(path, "<endpoint>")
    text = " ".join(text[:DETAIL_CHARACTERS].split())
    return f"{response.reason_phrase}: {text}" if text else response.reason_phrase


def _too_large(size: int) -> ProviderAnswer:
    return ProviderAnswer.failed("payload_too_large", retryable=False,
                                 detail=f"{size} bytes; a push message carries at most "
                                        f"{MAX_BODY_BYTES} encrypted")


def _vapid_key(entry: Mapping[str, Any], where: str) -> Vapid:
    raw, file = entry.get("vapid_private_key"), entry.get("vapid_private_key_file")
    if (raw is None) == (file is None):
        raise ValueError(f"{where}: give exactly one of vapid_private_key and "
                         "vapid_private_key_file")
    try:
        if raw is not None:
            if not isinstance(raw, str):
                raise ValueError("must be a string")
            return key_from_raw(raw)
        if not isinstance(file, str):
            raise ValueError("must be a path")
        return key_from_file(Path(file))
    except ValueError as error:
        key = "vapid_private_key" if raw is not None else "vapid_private_key_file"
        raise ValueError(f"{where}: {key} {error}") from None
