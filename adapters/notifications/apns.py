"""Push to Apple devices over APNs: HTTP/2 `POST /3/device/{token}` with a provider JWT.

HTTP/2 connections kept open and multiplexed, as Apple asks: critical and high on one of their
own, the rest on `bulk_connections` others (adapters/notifications/push_connections.py). The
provider token (ES256, `kid` = the key's id, `iss` = the team, `iat`) is one for all of them,
reused and replaced after 40 minutes: APNs refuses one older than an hour and one replaced
more often than every 20 minutes. The
attempt id is the `apns-id` (echoed back as the message's id) and the `apns-collapse-id`, so
an attempt sent twice is shown once. Errors: Apple's `reason`s
(developer.apple.com, "Handling notification responses from APNs").
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Mapping
from typing import Any, Self

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, EllipticCurvePrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from adapters.notifications import entry_fields
from adapters.notifications.http_posts import retryable, within
from adapters.notifications.push_connections import (
    DEFAULT_BULK_CONNECTIONS,
    PushConnections,
    bulk_connections,
)
from adapters.notifications.registry import ProviderEnvironment
from commands.notifications.providers import Delivery, ProviderAnswer
from domain.notifications.channels import APNS_TOKEN, CRITICAL, HIGH, PUSH

DEFAULT_ENDPOINT = "https://api.push.apple.com"
PROVIDER_TOKEN_REFRESH_SECONDS = 40 * 60
GONE_REASONS = frozenset({"Unregistered", "ExpiredToken", "BadDeviceToken",
                          "DeviceTokenNotForTopic"})
DEVICE_TOKEN = re.compile(r"[0-9a-fA-F]{16,400}")  # 64 today; Apple says the length may grow
TEAM_OR_KEY_ID = re.compile(r"[A-Z0-9]{10}")

log = logging.getLogger("parley.notifications.apns")


class ProviderTokens:
    """The team's current provider JWT: minted on first use, replaced after 40 minutes or
    when APNs says it expired."""

    def __init__(self, team_id: str, key_id: str, key: EllipticCurvePrivateKey,
                 clock: Callable[[], float]) -> None:
        self._team_id, self._key_id, self._key, self._clock = team_id, key_id, key, clock
        self._token: str | None = None
        self._issued_at = 0.0

    def __repr__(self) -> str:
        return f"ProviderTokens(team_id={self._team_id!r}, key_id={self._key_id!r})"

    def current(self) -> str:
        now = self._clock()
        if self._token is None or now - self._issued_at >= PROVIDER_TOKEN_REFRESH_SECONDS:
            self._issued_at = now
            self._token = jwt.encode({"iss": self._team_id, "iat": int(now)}, self._key,
                                     algorithm="ES256", headers={"kid": self._key_id})
        return self._token

    def expired(self, token: str) -> None:
        if self._token == token:
            self._token = None


class ApnsProvider:
    """One APNs gateway (api.push.apple.com, or its port 2197) for one app (topic)."""

    def __init__(self, name: str, *, team_id: str, key_id: str, key: EllipticCurvePrivateKey,
                 topic: str, endpoint: str = DEFAULT_ENDPOINT, timeout_seconds: float = 10.0,
                 bulk_connections: int = DEFAULT_BULK_CONNECTIONS, ca_file: str | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self._name, self._topic, self._endpoint = name, topic, endpoint
        self._timeout, self._clock = timeout_seconds, clock
        self._tokens = ProviderTokens(team_id, key_id, key, clock)
        self._connections = PushConnections(bulk_connections=bulk_connections,
                                            timeout_seconds=timeout_seconds, ca_file=ca_file)

    @classmethod
    def from_config(cls, entry: Mapping[str, Any], environment: ProviderEnvironment, *,
                    clock: Callable[[], float] = time.time) -> Self:
        ids = {}
        for key in ("team_id", "key_id"):
            ids[key] = entry_fields.text(entry, key)
            if not TEAM_OR_KEY_ID.fullmatch(ids[key]):
                raise ValueError(f"{key} must be Apple's 10-character identifier")
        return cls(entry_fields.text(entry, "name"), team_id=ids["team_id"],
                   key_id=ids["key_id"], key=signing_key(entry), topic=entry_fields.text(
                       entry, "topic"),
                   endpoint=entry_fields.endpoint(entry, "endpoint", DEFAULT_ENDPOINT,
                                                  environment),
                   timeout_seconds=entry_fields.positive_seconds(
                       entry, "timeout_seconds", environment.timeout_seconds),
                   bulk_connections=bulk_connections(entry),
                   ca_file=entry_fields.existing_file(entry, "ca_file"), clock=clock)

    def __repr__(self) -> str:
        return f"ApnsProvider(name={self._name!r}, topic={self._topic!r})"

    @property
    def name(self) -> str:
        return self._name

    @property
    def channel(self) -> str:
        return PUSH

    @property
    def kinds(self) -> frozenset[str]:
        return frozenset({APNS_TOKEN})

    async def send(self, delivery: Delivery) -> ProviderAnswer:
        return await within(self._timeout, self._sent(delivery))

    async def _sent(self, delivery: Delivery) -> ProviderAnswer:
        device = delivery.address.value
        if not DEVICE_TOKEN.fullmatch(device):  # and never a path of our making
            return ProviderAnswer.failed("BadDeviceToken", retryable=False,
                                         detail="not a hexadecimal device token",
                                         address_gone=True)
        url, body = f"{self._endpoint}/3/device/{device}", apns_payload(delivery)
        for first_try in (True, False):
            bearer = self._tokens.current()
            response = await self._connections.post(
                delivery.priority, url, seconds=self._timeout, content=body,
                headers=self._headers(delivery, bearer))
            if isinstance(response, ProviderAnswer):
                return response
            if first_try and response.status_code == 403 and (
                    reason_of(response) == "ExpiredProviderToken"):
                self._tokens.expired(bearer)
                continue
            return self._noted(answer_for(response))
        raise AssertionError("the second try always answers")

    async def aclose(self) -> None:
        await self._connections.aclose()

    def _headers(self, delivery: Delivery, bearer: str) -> dict[str, str]:
        attempt = str(delivery.attempt_id)
        ttl = max(0, delivery.ttl_seconds)
        return {
            "authorization": f"bearer {bearer}",
            "apns-topic": self._topic,
            "apns-push-type": "alert",
            "apns-priority": "10" if delivery.priority in (CRITICAL, HIGH) else "5",
            # 0: deliver now or never, as the ttl asks
            "apns-expiration": str(int(self._clock()) + ttl if ttl else 0),
            "apns-id": attempt,
            "apns-collapse-id": str(delivery.dedup_key),  # one shown across retries
            "content-type": "application/json",
        }

    def _noted(self, answer: ProviderAnswer) -> ProviderAnswer:
        if answer.code in ("InvalidProviderToken", "ExpiredProviderToken", "TopicDisallowed",
                           "BadTopic", "MissingTopic"):
            log.warning("%s: APNs refused its configuration (%s); every send will fail until "
                        "it is fixed", self._name, answer.code)
        return answer


def signing_key(entry: Mapping[str, Any]) -> EllipticCurvePrivateKey:
    """The team's .p8 key (PEM), given inline as private_key or in private_key_file."""
    pem = entry_fields.inline_or_file(entry, "private_key")
    try:
        key = load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError):
        key = None
    if not isinstance(key, EllipticCurvePrivateKey) or not isinstance(key.curve, SECP256R1):
        raise ValueError("private_key must be an unencrypted P-256 key (the .p8 file) in PEM")
    return key


def apns_payload(delivery: Delivery) -> bytes:
    """The JSON body: the alert the device shows, then the data and the ids for the app."""
    content = delivery.content
    payload: dict[str, Any] = {key: value for key, value in content.data.items()
                               if key != "aps"}
    payload["aps"] = {"alert": {"title": content.title, "body": content.body},
                      "sound": "default"}
    payload["notification_id"] = str(delivery.notification_id)
    payload["attempt_id"] = str(delivery.attempt_id)
    if content.deep_link:
        payload["deep_link"] = content.deep_link
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def reason_of(response: httpx.Response) -> str:
    try:
        reason = response.json().get("reason")
    except (ValueError, AttributeError):
        reason = None
    return reason if isinstance(reason, str) and reason else str(response.status_code)


def answer_for(response: httpx.Response) -> ProviderAnswer:
    """What APNs's answer means for the delivery."""
    status = response.status_code
    if status == 200:
        return ProviderAnswer.accepted_as(response.headers.get("apns-id"))
    reason = reason_of(response)
    detail = f"{status} {reason}"
    if status == 410 or (status == 400 and reason in GONE_REASONS):
        return ProviderAnswer.failed(reason, retryable=False, detail=detail, address_gone=True)
    if status == 429 or status >= 500:
        return retryable(reason, response, detail)
    return ProviderAnswer.failed(reason, retryable=False, detail=detail)
