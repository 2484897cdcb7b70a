"""A stand-in for APNs, served over HTTP/2 (TLS, ALPN h2), checking what APNs checks.

`POST /3/device/{token}`: anything not HTTP/2 is refused; the provider token must be an ES256
JWT with the team key's `kid`, signed by it, `iss` the team and `iat` less than an hour old
(403 ExpiredProviderToken otherwise), and not replaced on one connection within 20 minutes
of the last (429 TooManyProviderTokenUpdates); `apns-topic` must be the app's bundle id,
`apns-push-type` set, the token 64 hex digits, the headers well-formed and the payload JSON
of at most 4 KB. An accepted push answers 200 with its `apns-id` and is shown on the device.
Refusals are `{"reason": ...}` with Apple's reasons.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.providers.credentials import AppleSigningKey
from tests.providers.push_service import BulkHold, Refusal, Screens, Script, Shown, Stall
from tests.providers.servers import LocalServer

DEVICE_TOKEN = re.compile(r"[0-9a-f]{64}")
PUSH_TYPES = frozenset({"alert", "background", "location", "voip", "complication",
                        "fileprovider", "mdm", "liveactivity", "pushtotalk"})
MAX_PAYLOAD_BYTES = 4096
PROVIDER_TOKEN_LIFETIME_SECONDS = 3600
MIN_TOKEN_UPDATE_SECONDS = 20 * 60


@dataclass(frozen=True)
class ApnsRequest:
    """One push APNs accepted, as it arrived."""

    device_token: str
    http_version: str
    provider_token: str
    headers: dict[str, str]  # the apns-* headers
    payload: dict[str, Any]
    apns_id: str
    connection: Any  # the client's (host, port): one per TCP connection


class ApnsStandIn:
    """`with ApnsStandIn(key, topic=...) as apns:` serves APNs at `apns.url` (HTTPS, HTTP/2)
    for the team whose signing key is `key`."""

    def __init__(self, key: AppleSigningKey, *, topic: str = "chat.parley.app",
                 clock: Callable[[], float] = time.time) -> None:
        self.key = key
        self.topic = topic
        self.script = Script()
        self.screens = Screens()
        self.bulk_hold = BulkHold()  # apns-priority 5 and 1 wait `bulk_hold.seconds`
        self._clock = clock
        self._lock = threading.Lock()
        self._received: list[ApnsRequest] = []
        self._refused: list[tuple[int, str]] = []
        self._expired_up_to = float("-inf")  # tokens issued at or before are expired
        self._token_of_connection: dict[Any, tuple[str, int]] = {}
        self.server = LocalServer(Starlette(routes=[
            Route("/3/device/{token}", self._push, methods=["POST"]),
        ]), tls=True)

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def ca_file(self) -> str:
        assert self.server.ca_file is not None
        return self.server.ca_file

    @property
    def received(self) -> list[ApnsRequest]:
        with self._lock:
            return list(self._received)

    @property
    def refused(self) -> list[tuple[int, str]]:
        """The status and reason of every refusal, in order."""
        with self._lock:
            return list(self._refused)

    def shown(self, token: str) -> list[Shown]:
        return self.screens.of(token)

    def expire_provider_tokens(self) -> None:
        """Every provider token issued up to now is refused as expired from now on."""
        with self._lock:
            self._expired_up_to = self._clock()

    def reset(self) -> None:
        self.script.clear()
        self.screens.clear()
        self.bulk_hold.clear()
        with self._lock:
            self._received.clear()
            self._refused.clear()
            self._expired_up_to = float("-inf")
            self._token_of_connection.clear()

    def __enter__(self) -> ApnsStandIn:
        self.server.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.stop()

    async def _push(self, request: Request) -> Response:
        body = await request.body()  # all of it first (see tests/providers/fcm.py)
        if request.scope["http_version"] != "2":
            return self._refusal(505, "HTTP/2 required")  # APNs speaks nothing else
        provider_token = request.headers.get("authorization", "").removeprefix("bearer ")
        refusal = self._provider_token_problem(provider_token, request.scope.get("client"))
        device_token = request.path_params["token"]
        refusal = refusal or self._request_problem(request, device_token, body)
        if refusal is not None:
            return self._refusal(*refusal)
        behaviour = self.script.take(device_token)
        if isinstance(behaviour, Stall):
            await asyncio.sleep(behaviour.seconds)
        elif isinstance(behaviour, Refusal):
            return self._refusal(behaviour.status, behaviour.reason, behaviour.retry_after)
        if request.headers.get("apns-priority", "10") != "10":
            await self.bulk_hold.hold()
        headers = {name: value for name, value in request.headers.items()
                   if name.startswith("apns-")}
        apns_id = headers.get("apns-id") or str(uuid.uuid4()).upper()
        payload = json.loads(body)
        with self._lock:
            self._received.append(ApnsRequest(device_token, request.scope["http_version"],
                                              provider_token, headers, payload, apns_id,
                                              request.scope.get("client")))
        alert = payload["aps"].get("alert", {})
        self.screens.show(device_token, headers.get("apns-collapse-id") or apns_id,
                          Shown(alert.get("title", ""), alert.get("body", ""),
                                {k: v for k, v in payload.items() if k != "aps"}))
        return Response(status_code=200, headers={"apns-id": apns_id})

    def _provider_token_problem(self, token: str, connection: Any) -> tuple[int, str] | None:
        if not token:
            return 403, "MissingProviderToken"
        try:
            header = jwt.get_unverified_header(token)
            claims = jwt.decode(token, self.key.public_key, algorithms=["ES256"],
                                issuer=self.key.team_id,
                                options={"require": ["iss", "iat"], "verify_iat": False})
        except jwt.PyJWTError:
            return 403, "InvalidProviderToken"
        if header.get("kid") != self.key.key_id:
            return 403, "InvalidProviderToken"
        issued_at, now = int(claims["iat"]), self._clock()
        with self._lock:
            too_old = now - issued_at > PROVIDER_TOKEN_LIFETIME_SECONDS
            if issued_at <= self._expired_up_to or too_old:
                return 403, "ExpiredProviderToken"
            previous = self._token_of_connection.get(connection)
            if (previous is not None and previous[0] != token
                    and previous[1] > self._expired_up_to
                    and now - previous[1] <= PROVIDER_TOKEN_LIFETIME_SECONDS
                    and issued_at - previous[1] < MIN_TOKEN_UPDATE_SECONDS):
                return 429, "TooManyProviderTokenUpdates"
            self._token_of_connection[connection] = (token, issued_at)
        return None

    def _request_problem(self, request: Request, device_token: str,
                         body: bytes) -> tuple[int, str] | None:
        headers = request.headers
        if not DEVICE_TOKEN.fullmatch(device_token):
            return 400, "BadDeviceToken"
        if "apns-topic" not in headers:
            return 400, "MissingTopic"
        if headers["apns-topic"] != self.topic:
            return 400, "TopicDisallowed"
        if headers.get("apns-push-type") not in PUSH_TYPES:
            return 400, "InvalidPushType"
        if headers.get("apns-priority", "10") not in ("1", "5", "10"):
            return 400, "BadPriority"
        if not headers.get("apns-expiration", "0").isdigit():
            return 400, "BadExpirationDate"
        if len(headers.get("apns-collapse-id", "").encode()) > 64:
            return 400, "BadCollapseId"
        if "apns-id" in headers:
            try:
                uuid.UUID(headers["apns-id"])
            except ValueError:
                return 400, "BadMessageId"
        if not body:
            return 400, "PayloadEmpty"
        if len(body) > MAX_PAYLOAD_BYTES:
            return 413, "PayloadTooLarge"
        try:
            payload = json.loads(body)
        except ValueError:
            return 400, "BadPayload"  # not one of Apple's reasons: APNs's answer is unspecified
        if not isinstance(payload, dict) or not isinstance(payload.get("aps"), dict):
            return 400, "BadPayload"
        return None

    def _refusal(self, status: int, reason: str,
                 retry_after: str | None = None) -> JSONResponse:
        with self._lock:
            self._refused.append((status, reason))
        body: dict[str, Any] = {"reason": reason}
        if status == 410:
            body["timestamp"] = int(self._clock() * 1000)
        headers = {"retry-after": retry_after} if retry_after else None
        return JSONResponse(body, status_code=status, headers=headers)
