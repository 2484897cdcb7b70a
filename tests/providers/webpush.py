"""A Web Push service standing in for FCM's, Mozilla's or Apple's (RFC 8030/8291/8292), and the
browser side of a subscription.

`PushService` checks each message as a real push service does: the VAPID JWT (ES256 against the
`k` key, verified with PyJWT, an implementation independent of the sender's py_vapid; aud its
own origin; exp in the future and at most 24 h ahead; sub present), that the subscription was
made with that key (applicationServerKey), TTL, Content-Encoding aes128gcm, Urgency and Topic,
and a body of at most 4,096 bytes; then answers 201 with a Location. `Browser.subscribe()`
makes what PushManager.subscribe() makes (a P-256 key pair, a 16-byte auth secret, an endpoint
under the service) and decrypts what the service received with http_ece, so a test reads the
text a device would show.

Behaviours for tests: `unsubscribe` (then 410), `answer_next(n, Behaviour(...))` and
`answer_for(subscription, Behaviour(...))`: a status (404, 429 with Retry-After, 503...), a
delay, an answer that trickles in, or a dropped connection.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import socket
import struct
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import http_ece
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from domain.notifications.addresses import Address
from domain.notifications.channels import WEB_PUSH
from tests.providers.servers import LocalServer, free_port

MAX_BODY_BYTES = 4096
MAX_JWT_LIFETIME_SECONDS = 24 * 3600
URGENCIES = ("very-low", "low", "normal", "high")
TOPIC_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Behaviour:
    """How the service answers instead of accepting: a status (with Retry-After), after a delay,
    or by dropping the connection once the request arrived (a reset, no answer)."""

    status: int | None = None
    retry_after: str | None = None
    body: str = ""  # of the refusal
    delay_seconds: float = 0.0
    drop: bool = False
    trickle_seconds: float = 0.0  # a 201 whose body comes a byte every 0.1 s for this long


@dataclass(frozen=True)
class PushedMessage:
    """One message the service took, as it took it (the body still encrypted)."""

    subscription_id: str
    body: bytes = field(repr=False)
    ttl: int
    urgency: str
    topic: str | None
    claims: dict[str, Any]
    vapid_key: str
    received_at: float


@dataclass
class Subscription:
    """A browser's push subscription: what it hands the application server (endpoint, p256dh,
    auth) and what it keeps (the private key) to decrypt its messages."""

    id: str
    endpoint: str
    private_key: ec.EllipticCurvePrivateKey = field(repr=False)
    auth_secret: bytes = field(repr=False)
    application_server_key: str | None = None

    @property
    def p256dh(self) -> str:
        point = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
        return b64url(point)

    @property
    def auth(self) -> str:
        return b64url(self.auth_secret)

    def address(self) -> Address:
        return Address(kind=WEB_PUSH, value=self.endpoint,
                       contact_point_id=f"cp-{uuid.uuid4().hex}",
                       keys={"p256dh": self.p256dh, "auth": self.auth})

    def decrypt(self, message: PushedMessage) -> bytes:
        """What the service worker's `event.data` holds (http_ece, the receiver's side)."""
        plaintext: bytes = http_ece.decrypt(message.body, private_key=self.private_key,
                                            auth_secret=self.auth_secret, version="aes128gcm")
        return plaintext


class _Front:
    """The service's public port: a TCP relay to hypercorn that can cut off the connection a
    request came on with a reset (what a crashed or cut-off push service does), which an ASGI
    app cannot do itself. TLS passes through untouched."""

    def __init__(self, backend_port: int) -> None:
        self.port = free_port()
        self._backend_port = backend_port
        self._server: asyncio.Server | None = None
        # hypercorn sees each relayed connection as coming from the relay's local port
        self._by_backend_port: dict[int, tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = {}

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for client, backend in list(self._by_backend_port.values()):
                client.transport.abort()
                backend.transport.abort()

    def cut(self, backend_port: int) -> None:
        for writer in self._by_backend_port.get(backend_port, ()):
            sock = writer.transport.get_extra_info("socket")
            if sock is not None:  # linger 0: the close is a reset
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()

    async def _relay(self, client_reader: asyncio.StreamReader,
                     client_writer: asyncio.StreamWriter) -> None:
        backend_reader, backend_writer = await asyncio.open_connection("127.0.0.1",
                                                                       self._backend_port)
        port = int(backend_writer.get_extra_info("sockname")[1])
        self._by_backend_port[port] = (client_writer, backend_writer)
        try:
            await asyncio.gather(_pipe(client_reader, backend_writer),
                                 _pipe(backend_reader, client_writer))
        finally:
            self._by_backend_port.pop(port, None)
            client_writer.transport.abort()
            backend_writer.transport.abort()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError, asyncio.IncompleteReadError):
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
    with contextlib.suppress(OSError, RuntimeError):
        if not writer.transport.is_closing():
            writer.write_eof()


class PushService:
    """`with PushService() as service:` an HTTPS (HTTP/2) push service on 127.0.0.1."""

    def __init__(self, *, tls: bool = True) -> None:
        self._lock = threading.Lock()
        self._subscriptions: dict[str, Subscription] = {}
        self._unsubscribed: set[str] = set()
        self._messages: list[PushedMessage] = []
        self._next: list[Behaviour] = []
        self._per_subscription: dict[str, Behaviour] = {}
        self.requests = 0
        self.refusals: list[tuple[int, str]] = []  # (status, why) of each refused message
        self.server = LocalServer(self._app(), tls=tls)
        self._front = _Front(self.server.port)
        # scheme://127.0.0.1:port (the front's), what aud must be
        self.origin = f"{'https' if tls else 'http'}://127.0.0.1:{self._front.port}"

    def __enter__(self) -> PushService:
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()

    @property
    def ca_file(self) -> str | None:
        return self.server.ca_file

    # -- test controls -------------------------------------------------------------------------

    def register(self, subscription: Subscription) -> None:
        with self._lock:
            self._subscriptions[subscription.id] = subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        """The user revoked permission (or the subscription expired): 410 Gone from now on."""
        with self._lock:
            self._unsubscribed.add(subscription.id)

    def answer_next(self, count: int, behaviour: Behaviour) -> None:
        with self._lock:
            self._next.extend([behaviour] * count)

    def answer_for(self, subscription: Subscription, behaviour: Behaviour | None) -> None:
        with self._lock:
            if behaviour is None:
                self._per_subscription.pop(subscription.id, None)
            else:
                self._per_subscription[subscription.id] = behaviour

    def reset(self) -> None:
        with self._lock:
            self._messages.clear()
            self._next.clear()
            self._per_subscription.clear()
            self.refusals.clear()
            self.requests = 0

    def messages(self, subscription: Subscription) -> list[PushedMessage]:
        with self._lock:
            return [m for m in self._messages if m.subscription_id == subscription.id]

    def shown(self, subscription: Subscription) -> list[dict[str, Any]]:
        """What the device shows once it comes online: each message decrypted, a later one with
        the same Topic replacing an earlier one (RFC 8030 §5.4)."""
        by_topic: dict[str, PushedMessage] = {}
        for index, message in enumerate(self.messages(subscription)):
            by_topic[message.topic or f"untopical-{index}"] = message
        return [json.loads(subscription.decrypt(m)) for m in by_topic.values()]

    # -- the protocol --------------------------------------------------------------------------

    def _app(self) -> Any:
        starlette = Starlette(routes=[Route("/push/{subscription_id}", self._push,
                                            methods=["POST"])])

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "lifespan":
                await self._lifespan(receive, send)
                return
            behaviour = self._behaviour_for(scope) if scope["type"] == "http" else None
            if behaviour is not None:
                receive = await _read_whole_request(receive)
            if behaviour is not None and behaviour.delay_seconds:
                await asyncio.sleep(behaviour.delay_seconds)
            if behaviour is not None and behaviour.drop:
                self._front.cut(int(scope["client"][1]))
                return
            if behaviour is not None and behaviour.trickle_seconds:
                await _trickle(send, behaviour.trickle_seconds)
                return
            if behaviour is not None and behaviour.status is not None:
                headers = {"retry-after": behaviour.retry_after} if behaviour.retry_after else {}
                refusal = Response(behaviour.body, status_code=behaviour.status, headers=headers)
                await refusal(scope, receive, send)
                return
            await starlette(scope, receive, send)

        return app

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self._front.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self._front.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return

    def _behaviour_for(self, scope: Scope) -> Behaviour | None:
        subscription_id = str(scope.get("path", "")).rsplit("/", 1)[-1]
        with self._lock:
            self.requests += 1
            if self._next:
                return self._next.pop(0)
            return self._per_subscription.get(subscription_id)

    async def _push(self, request: Request) -> Response:
        subscription_id = request.path_params["subscription_id"]
        body = await request.body()
        with self._lock:
            subscription = self._subscriptions.get(subscription_id)
            gone = subscription_id in self._unsubscribed
        if subscription is None:
            return self._refuse(404, "no such subscription")
        if gone:
            return self._refuse(410, "unsubscribed")
        claims_or_refusal = self._verify_vapid(request.headers.get("authorization", ""),
                                               subscription)
        if isinstance(claims_or_refusal, Response):
            return claims_or_refusal
        claims, vapid_key = claims_or_refusal
        ttl = request.headers.get("ttl", "")
        if not ttl.isdigit():
            return self._refuse(400, "TTL header missing or not a number")
        if request.headers.get("content-encoding") != "aes128gcm":
            return self._refuse(400, "Content-Encoding must be aes128gcm")
        urgency = request.headers.get("urgency", "normal")
        if urgency not in URGENCIES:
            return self._refuse(400, f"unknown Urgency {urgency!r}")
        topic = request.headers.get("topic")
        if topic is not None and (len(topic) > 32 or not set(topic) <= TOPIC_ALPHABET):
            return self._refuse(400, "Topic must be at most 32 base64url characters")
        if len(body) > MAX_BODY_BYTES:
            return self._refuse(413, "payload over 4096 bytes")
        message_id = uuid.uuid4().hex
        with self._lock:
            self._messages.append(PushedMessage(subscription_id, body, int(ttl), urgency, topic,
                                                claims, vapid_key, time.time()))
        return Response(status_code=201, headers={"location": f"{self.origin}/m/{message_id}",
                                                  "ttl": ttl})

    def _verify_vapid(self, authorization: str,
                      subscription: Subscription) -> tuple[dict[str, Any], str] | Response:
        scheme, _, rest = authorization.partition(" ")
        if scheme.lower() != "vapid":
            return self._refuse(401, "Authorization is not vapid")
        parameters = dict(part.strip().partition("=")[::2] for part in rest.split(","))
        token, key = parameters.get("t", ""), parameters.get("k", "")
        try:
            public_key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(),
                                                                      unb64url(key))
            claims: dict[str, Any] = jwt.decode(
                token, public_key, algorithms=["ES256"], audience=self.origin,
                options={"require": ["aud", "exp", "sub"]})
        except (ValueError, jwt.InvalidTokenError) as error:
            return self._refuse(401, f"VAPID JWT refused: {type(error).__name__}")
        if claims["exp"] > time.time() + MAX_JWT_LIFETIME_SECONDS:
            return self._refuse(401, "VAPID exp more than 24 h ahead")
        if not str(claims["sub"]).startswith(("mailto:", "https://")):
            return self._refuse(401, "VAPID sub is not a mailto: or https: URL")
        if subscription.application_server_key not in (None, key):
            return self._refuse(403, "not the key this subscription was made for")
        return claims, key

    def _refuse(self, status: int, why: str) -> Response:
        with self._lock:
            self.refusals.append((status, why))
        return Response(why, status_code=status)


async def _trickle(send: Send, seconds: float) -> None:
    count = max(1, int(seconds / 0.1))
    await send({"type": "http.response.start", "status": 201,
                "headers": [(b"content-length", str(count).encode())]})
    for _ in range(count):
        await asyncio.sleep(0.1)
        await send({"type": "http.response.body", "body": b".", "more_body": True})
    await send({"type": "http.response.body", "body": b""})


async def _read_whole_request(receive: Receive) -> Receive:
    """Reads the request body before answering, as a push service does (hypercorn drops an
    HTTP/2 connection whose request was answered unread), and replays it to the app."""
    messages = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request" or not message.get("more_body", False):
            break

    async def replay() -> Any:
        return messages.pop(0) if messages else await receive()

    return replay


class Browser:
    """Subscribes the way a browser does, at one push service."""

    def __init__(self, service: PushService) -> None:
        self.service = service

    def subscribe(self, application_server_key: str | None = None) -> Subscription:
        """PushManager.subscribe({applicationServerKey}): the service then takes messages for
        it only when signed with that key."""
        subscription = self._new_subscription(application_server_key)
        self.service.register(subscription)
        return subscription

    def never_subscribed(self) -> Subscription:
        """A well-formed subscription the service never issued (it answers 404)."""
        return self._new_subscription(None)

    def _new_subscription(self, application_server_key: str | None) -> Subscription:
        subscription_id = b64url(os.urandom(16))
        return Subscription(
            id=subscription_id, endpoint=f"{self.service.origin}/push/{subscription_id}",
            private_key=ec.generate_private_key(ec.SECP256R1()), auth_secret=os.urandom(16),
            application_server_key=application_server_key)
