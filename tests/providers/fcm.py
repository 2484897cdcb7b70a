"""A stand-in for FCM HTTP v1 and Google's OAuth2 token endpoint, checking what they check.

`POST /token` takes a service account's JWT assertion (RFC 7523): it verifies the RS256
signature with the account's public key, the issuer, audience (this endpoint), scope and an
expiry at most an hour after issue, and issues an opaque access token with `expires_in`.
`POST /v1/projects/{project}/messages:send` requires a bearer it issued and not expired, and
a well-formed message (a token, string-only data without reserved keys, an android priority
and ttl), answers `{"name": "projects/{project}/messages/<id>"}`, and shows the notification
on the device. Refusals are FCM's JSON errors with their `FcmError` detail.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import secrets
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import jwt
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.providers.credentials import ServiceAccountKey
from tests.providers.push_service import BulkHold, Refusal, Screens, Script, Shown, Stall
from tests.providers.servers import LocalServer

FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
FCM_ERROR = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest"
STATUS_OF_CODE = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
                  404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL",
                  503: "UNAVAILABLE"}
MESSAGES = {"UNREGISTERED": "Requested entity was not found.",
            "QUOTA_EXCEEDED": "Quota exceeded for the device (or project).",
            "UNAVAILABLE": "The service is currently unavailable.",
            "INTERNAL": "Internal error encountered.",
            "INVALID_ARGUMENT": "The registration token is not a valid FCM registration token"}
RESERVED_DATA_KEYS = ("from", "notification", "message_type")
RESERVED_DATA_PREFIXES = ("google", "gcm")
TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_:\-]{20,4096}")
TTL_SHAPE = re.compile(r"\d+(\.\d{1,9})?s")


@dataclass(frozen=True)
class FcmRequest:
    """One message FCM accepted, as it arrived."""

    project_id: str
    http_version: str
    bearer: str
    message: dict[str, Any]
    name: str
    connection: Any  # the client's (host, port): one per TCP connection


class FcmStandIn:
    """`with FcmStandIn(account) as fcm:` serves FCM and the token endpoint over HTTPS
    (HTTP/2 by ALPN) at `fcm.url`; `fcm.token_uri` is where the account exchanges tokens."""

    def __init__(self, account: ServiceAccountKey, *, project_id: str = "parley-test",
                 token_lifetime_seconds: int = 3599,
                 clock: Callable[[], float] = time.time) -> None:
        self.account = account
        self.project_id = project_id
        self.token_lifetime_seconds = token_lifetime_seconds
        self.token_stall_seconds = 0.0  # how long the token endpoint takes to answer
        self.script = Script()
        self.screens = Screens()
        self.bulk_hold = BulkHold()  # android priority NORMAL waits `bulk_hold.seconds`
        self._clock = clock
        self._lock = threading.Lock()
        self._issued: dict[str, float] = {}  # access token -> when it expires
        self._received: list[FcmRequest] = []
        self._token_requests = 0
        self._message_ids = itertools.count(1)
        self.server = LocalServer(Starlette(routes=[
            Route("/token", self._token, methods=["POST"]),
            Route("/v1/projects/{project}/messages:send", self._send, methods=["POST"]),
        ]), tls=True)

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def token_uri(self) -> str:
        return f"{self.server.url}/token"

    @property
    def ca_file(self) -> str:
        assert self.server.ca_file is not None
        return self.server.ca_file

    @property
    def received(self) -> list[FcmRequest]:
        with self._lock:
            return list(self._received)

    @property
    def token_requests(self) -> int:
        """How many access tokens were asked for (and issued)."""
        with self._lock:
            return self._token_requests

    def shown(self, token: str) -> list[Shown]:
        return self.screens.of(token)

    def revoke_access_tokens(self) -> None:
        """Every token issued so far is refused from now on (as if revoked or expired)."""
        with self._lock:
            self._issued.clear()

    def reset(self) -> None:
        self.script.clear()
        self.screens.clear()
        self.bulk_hold.clear()
        self.token_stall_seconds = 0.0
        with self._lock:
            self._received.clear()
            self._token_requests = 0

    def __enter__(self) -> FcmStandIn:
        self.server.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.stop()

    async def _token(self, request: Request) -> JSONResponse:
        await asyncio.sleep(self.token_stall_seconds)
        # urlencoded by hand: Starlette's form parser needs python-multipart
        form = {key: values[0] for key, values in parse_qs((await request.body()).decode()).items()}
        if form.get("grant_type") != JWT_BEARER_GRANT:
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        try:
            # the signature, issuer and audience; the times against this stand-in's clock
            claims = jwt.decode(str(form.get("assertion", "")), self.account.public_key,
                                algorithms=["RS256"], audience=self.token_uri,
                                issuer=self.account.client_email,
                                options={"require": ["iss", "aud", "iat", "exp", "scope"],
                                         "verify_exp": False, "verify_iat": False})
        except jwt.PyJWTError as error:
            return JSONResponse({"error": "invalid_grant", "error_description": str(error)},
                                status_code=400)
        now, issued, expires = self._clock(), int(claims["iat"]), int(claims["exp"])
        if not issued - 60 <= now < expires or expires - issued > 3600:
            return JSONResponse({"error": "invalid_grant",
                                 "error_description": "Invalid JWT: bad iat or exp"},
                                status_code=400)
        if FCM_SCOPE not in str(claims["scope"]).split():
            return JSONResponse({"error": "invalid_scope"}, status_code=400)
        token = "ya29." + secrets.token_urlsafe(32)
        with self._lock:
            self._token_requests += 1
            self._issued[token] = self._clock() + self.token_lifetime_seconds
        return JSONResponse({"access_token": token, "expires_in": self.token_lifetime_seconds,
                             "token_type": "Bearer"})

    async def _send(self, request: Request) -> Response:
        # the whole request first, as Google's front ends do: an HTTP/2 stream answered before
        # its body arrived is reset, and the client sees a write error instead of the answer
        body = await request.body()
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
        with self._lock:
            good = self._issued.get(bearer, 0.0) > self._clock()
        if not good:
            return error(401, "Request had invalid authentication credentials.")
        project = request.path_params["project"]
        if project != self.project_id:
            return error(403, "Permission denied on the project.", "SENDER_ID_MISMATCH")
        try:
            message = json.loads(body)["message"]
        except (ValueError, KeyError, TypeError):
            return error(400, "Invalid JSON payload received.", "INVALID_ARGUMENT")
        problem = message_problem(message)
        if problem is not None:
            return error(400, problem[1], "INVALID_ARGUMENT", field=problem[0])
        behaviour = self.script.take(message["token"])
        if isinstance(behaviour, Stall) and behaviour.trickle:
            return trickled({"name": "projects/p/messages/trickled"}, behaviour.seconds)
        if isinstance(behaviour, Stall):
            await asyncio.sleep(behaviour.seconds)
        elif isinstance(behaviour, Refusal):
            return error(behaviour.status, MESSAGES.get(behaviour.reason, "Refused."),
                         behaviour.reason, field=behaviour.field,
                         retry_after=behaviour.retry_after)
        if message.get("android", {}).get("priority", "NORMAL") == "NORMAL":
            await self.bulk_hold.hold()
        name = f"projects/{project}/messages/0:{next(self._message_ids)}%{secrets.token_hex(8)}"
        with self._lock:
            self._received.append(FcmRequest(project, request.scope["http_version"], bearer,
                                             message, name, request.scope.get("client")))
        notification = message.get("notification", {})
        collapse_key = message.get("android", {}).get("collapse_key") or name
        self.screens.show(message["token"], collapse_key,
                          Shown(notification.get("title", ""), notification.get("body", ""),
                                dict(message.get("data", {}))))
        return JSONResponse({"name": name})


def message_problem(message: Any) -> tuple[str, str] | None:
    """The field of a message FCM would refuse, and why; None if it would take it."""
    if not isinstance(message, dict):
        return "message", "Invalid value"
    token = message.get("token")
    if not isinstance(token, str) or not TOKEN_SHAPE.fullmatch(token):
        return "message.token", "The registration token is not a valid FCM registration token"
    notification = message.get("notification", {})
    if not isinstance(notification, dict) or not all(
            isinstance(notification.get(key, ""), str) for key in ("title", "body")):
        return "message.notification", "Invalid value"
    data = message.get("data", {})
    if not isinstance(data, dict):
        return "message.data", "Invalid value"
    for key, value in data.items():
        if not isinstance(value, str):
            return f"message.data[{key}].value", "Invalid value (TYPE_STRING)"
        if key in RESERVED_DATA_KEYS or key.startswith(RESERVED_DATA_PREFIXES):
            return "message.data", f"Invalid data payload key: {key}"
    android = message.get("android", {})
    if android.get("priority", "NORMAL") not in ("NORMAL", "HIGH"):
        return "message.android.priority", "Invalid value"
    if not TTL_SHAPE.fullmatch(str(android.get("ttl", "0s"))):
        return "message.android.ttl", "Invalid duration"
    headers = message.get("apns", {}).get("headers", {})
    if len(str(headers.get("apns-collapse-id", "")).encode()) > 64:
        return "message.apns.headers", "apns-collapse-id longer than 64 bytes"
    return None


def trickled(body: dict[str, Any], seconds: float) -> StreamingResponse:
    """A 200 whose JSON body takes `seconds` to arrive, a byte at a time."""
    encoded = json.dumps(body).encode()

    async def slowly() -> AsyncIterator[bytes]:
        for byte in encoded:
            await asyncio.sleep(seconds / len(encoded))
            yield bytes([byte])

    return StreamingResponse(slowly(), media_type="application/json")


def error(status: int, message: str, code: str | None = None, *, field: str | None = None,
          retry_after: str | None = None) -> JSONResponse:
    """An error answer shaped as FCM's (a google.rpc.Status with an FcmError detail)."""
    details: list[dict[str, Any]] = []
    if code is not None:
        details.append({"@type": FCM_ERROR, "errorCode": code})
    if field is not None:
        details.append({"@type": BAD_REQUEST,
                        "fieldViolations": [{"field": field, "description": message}]})
    body = {"error": {"code": status, "message": message,
                      "status": STATUS_OF_CODE.get(status, "UNKNOWN"), "details": details}}
    headers = {"retry-after": retry_after} if retry_after else None
    return JSONResponse(body, status_code=status, headers=headers)
