"""A business's webhook endpoint, standing in for one: it verifies every request the way a
careful receiver does (the `standardwebhooks` package: the signature over id, timestamp and
body, and a timestamp at most 5 minutes off), answers 401 to one that fails, and keeps what
the business would see: each verified delivery once, however often its `webhook-id` came.

Serve it with `LocalServer(receiver)` (tests/providers/servers.py). The path chooses how it
answers (`/ok`, `/fail`, `/unavailable`, `/gone`, `/throttled`, `/slow`, `/drop`,
`/redirect`), or `answer_next(n, answer)` overrides the next n requests, whatever their path.
A verified request is recorded before the behaviour; only a 2xx makes it a delivery.
(A peer that hangs up without any answer is servers.DroppingServer: no ASGI app can be one.)
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class Answer:
    """How the receiver answers a verified request."""

    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    delay_seconds: float = 0.0  # before answering (or until the sender gives up)
    drops: bool = False  # starts the answer, then drops the connection mid-body
    endless: bool = False  # a body that never ends (until the sender hangs up)
    trickle_seconds: float = 0.0  # a body of one byte every so often, never finished


OK = Answer(200)
SERVER_ERROR = Answer(500)
UNAVAILABLE = Answer(503, (("retry-after", "7"),))
GONE = Answer(410)
THROTTLED = Answer(429, (("retry-after", "3"),))
SLOW = Answer(200, delay_seconds=5.0)
DROPS = Answer(200, drops=True)
REDIRECTS = Answer(307, (("location", "/ok"),))
ANSWERS_BY_PATH: Mapping[str, Answer] = {
    "/ok": OK, "/fail": SERVER_ERROR, "/unavailable": UNAVAILABLE, "/gone": GONE,
    "/throttled": THROTTLED, "/slow": SLOW, "/drop": DROPS, "/redirect": REDIRECTS,
}


@dataclass(frozen=True)
class Received:
    """One verified request."""

    webhook_id: str
    path: str
    http_version: str
    client_port: int
    headers: Mapping[str, str] = field(repr=False)
    payload: Any = field(repr=False)


class WebhookReceiver:
    """An ASGI app verifying with the one secret it holds (`hold` swaps it)."""

    def __init__(self, secret: str) -> None:
        self._secret = secret
        self._lock = threading.Lock()
        self._overrides: list[Answer] = []
        self.requests: list[Received] = []  # every verified request, repeats included
        self.rejections: list[str] = []  # why each refused request was refused
        self._deliveries: dict[str, Received] = {}

    def hold(self, secret: str) -> None:
        with self._lock:
            self._secret = secret

    def answer_next(self, count: int, answer: Answer) -> None:
        with self._lock:
            self._overrides.extend([answer] * count)

    def reset(self) -> None:
        with self._lock:
            self._overrides.clear()
            self.requests.clear()
            self.rejections.clear()
            self._deliveries.clear()

    @property
    def deliveries(self) -> list[Received]:
        """What the business has: each verified, 2xx-answered webhook id once."""
        with self._lock:
            return list(self._deliveries.values())

    def requests_to(self, path: str) -> list[Received]:
        with self._lock:
            return [request for request in self.requests if request.path == path]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = await _body(receive)
        headers = {name.decode("latin-1").lower(): value.decode("latin-1")
                   for name, value in scope["headers"]}
        with self._lock:
            secret = self._secret
        try:
            payload = Webhook(secret).verify(body, headers)
        except (WebhookVerificationError, ValueError) as refusal:
            with self._lock:
                self.rejections.append(str(refusal))
            await _answer(send, 401, (), b'{"error":"bad signature"}')
            return
        received = Received(headers["webhook-id"], scope["path"], scope["http_version"],
                            scope["client"][1], headers, payload)
        with self._lock:
            self.requests.append(received)
            answer = (self._overrides.pop(0) if self._overrides
                      else ANSWERS_BY_PATH.get(scope["path"], OK))
        if answer.delay_seconds and await _sender_left(receive, answer.delay_seconds):
            return
        if answer.drops:
            await send({"type": "http.response.start", "status": answer.status,
                        "headers": [(b"content-length", b"1000")]})
            await send({"type": "http.response.body", "body": b"{", "more_body": True})
            raise ConnectionAbortedError("the stand-in drops this connection")
        if 200 <= answer.status < 300:
            with self._lock:
                self._deliveries.setdefault(received.webhook_id, received)
        if answer.endless or answer.trickle_seconds:
            await _endless_answer(send, receive, answer.status, answer.trickle_seconds)
            return
        await _answer(send, answer.status, answer.headers, b"")


async def _body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _sender_left(receive: Receive, seconds: float) -> bool:
    """Waits `seconds`; True if the sender hung up meanwhile."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            while (await receive())["type"] != "http.disconnect":
                pass
            return True
    return False


async def _endless_answer(send: Send, receive: Receive, status: int,
                         trickle_seconds: float) -> None:
    """64 KiB chunks as fast as the sender takes them, or a byte every `trickle_seconds`,
    until it hangs up (at most 30 s)."""
    await send({"type": "http.response.start", "status": status, "headers": []})
    chunk = b"x" if trickle_seconds else b"x" * 65536
    async with asyncio.timeout(30):
        sending = asyncio.ensure_future(_keep_sending(send, chunk, trickle_seconds))
        try:
            while (await receive())["type"] != "http.disconnect":
                pass
        finally:
            sending.cancel()


async def _keep_sending(send: Send, chunk: bytes, pause_seconds: float) -> None:
    while True:
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await asyncio.sleep(pause_seconds)


async def _answer(send: Send, status: int, headers: tuple[tuple[str, str], ...],
                  body: bytes) -> None:
    raw = [(name.encode(), value.encode()) for name, value in headers]
    raw.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


