"""A local stand-in for Vonage's SMS API (`POST /sms/json`) and its signed delivery receipts.

It checks what Vonage checks (api_key and api_secret, the required from / to / text, `to` as
E.164 digits without the `+`) and answers in Vonage's shape: HTTP 200 with one entry per
segment, each with its own `status` (0 accepted, else its documented code and `error-text`).
Text that is not GSM-7 reaches the handset intact only when sent as `type: unicode`; otherwise
the handset shows `?` for what GSM-7 cannot carry, as a GSM-7 message would.

Behaviours per number or for the next N requests: throttled (1), invalid parameters (3), number
barred (7), quota (9), number de-activated (33), HTTP 429 / 5xx, slow, or a connection dropped
mid-answer. Vonage de-duplicates nothing (client-ref is only echoed back), so neither does this:
`by_reference()` lets a test count what each attempt sent.

Receipts are signed with a separate implementation of Vonage's scheme (not Parley's).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import secrets
import time
import uuid
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import parse_qsl, urlencode

import httpx

from domain.notifications.content import GSM7, GSM7_EXTENDED, sms_segments

ACCEPT: Final = "accept"
THROTTLED: Final = "1"
INVALID: Final = "3"
BARRED: Final = "7"
QUOTA: Final = "9"
DEACTIVATED: Final = "33"
HTTP_429: Final = "http_429"
SERVER_ERROR: Final = "server_error"
SLOW: Final = "slow"
DROP: Final = "drop"
ERROR_TEXTS: Final = {THROTTLED: "Throughput Rate Exceeded - please wait [ 30 ] and retry",
                      INVALID: "Invalid to address: {to}", BARRED: "Number barred: {to}",
                      QUOTA: "Quota Exceeded - rejected", DEACTIVATED: "Number de-activated: {to}"}
DIGITS = re.compile(r"[1-9][0-9]{6,14}")
HASHES: Final = {"md5": hashlib.md5, "sha1": hashlib.sha1, "sha256": hashlib.sha256,
                 "sha512": hashlib.sha512}


@dataclass(frozen=True)
class VonageMessage:
    """One SMS Vonage accepted (all its segments)."""

    message_ids: tuple[str, ...]
    to: str
    sender: str
    text: str
    unicode: bool
    callback: str | None
    client_ref: str | None

    @property
    def on_the_handset(self) -> str:
        if self.unicode:
            return self.text
        return "".join(c if c in GSM7 or c in GSM7_EXTENDED else "?" for c in self.text)


@dataclass(frozen=True)
class SignedReceipt:
    """A delivery receipt as Vonage would post it (form fields, or JSON for POST-JSON)."""

    url: str
    fields: dict[str, str]
    as_json: bool = False

    def post(self, timeout: float = 5.0) -> httpx.Response:
        if self.as_json:
            return httpx.post(self.url, json=self.fields, timeout=timeout)
        return httpx.post(self.url, content=urlencode(self.fields), timeout=timeout,
                          headers={"content-type": "application/x-www-form-urlencoded"})


def vonage_signature(fields: Mapping[str, str], secret: str, method: str = "sha256") -> str:
    """Vonage's scheme, written again for the stand-in (Parley's is the code under test)."""
    signed = "".join("&{}={}".format(name, fields[name].replace("&", "_").replace("=", "_"))
                     for name in sorted(fields))
    return hmac.new(secret.encode(), signed.encode(), HASHES[method]).hexdigest()


@dataclass
class VonageStandIn:
    """The ASGI app (`app`) of one Vonage account; serve it with tests.providers.servers."""

    api_key: str = "a1b2c3d4"
    api_secret: str = field(default_factory=lambda: secrets.token_hex(8), repr=False)
    signature_secret: str = field(default_factory=lambda: secrets.token_hex(16), repr=False)
    slow_seconds: float = 3.0
    messages: list[VonageMessage] = field(default_factory=list)
    requests: int = 0
    by_number: dict[str, str] = field(default_factory=dict)
    upcoming: deque[str] = field(default_factory=deque)

    def behave_next(self, *behaviours: str) -> None:
        self.upcoming.extend(behaviours)

    def behave_for(self, number: str, behaviour: str) -> None:
        """`number` in E.164 (with its `+`), as the test knows it."""
        self.by_number[number.removeprefix("+")] = behaviour

    def reset(self) -> None:
        self.messages.clear()
        self.by_number.clear()
        self.upcoming.clear()
        self.requests = 0

    def handset(self, number: str) -> list[str]:
        digits = number.removeprefix("+")
        return [m.on_the_handset for m in self.messages if m.to == digits]

    def by_reference(self) -> Counter[str | None]:
        return Counter(m.client_ref for m in self.messages)

    def receipt(self, message: VonageMessage, status: str, *, err_code: str = "0",
                secret: str | None = None, method: str = "sha256", at: float | None = None,
                as_json: bool = False, url: str | None = None) -> SignedReceipt:
        """The receipt Vonage would send for `message` (signed with the account's signature
        secret, or `secret` for a forged one; stamped `at`, Unix seconds, default now)."""
        target = url or message.callback
        assert target is not None, "the message asked for no receipts"
        stamped = int(time.time() if at is None else at)
        fields = {"msisdn": message.to, "to": message.sender, "network-code": "23410",
                  "messageId": message.message_ids[0], "price": "0.03330000", "status": status,
                  "scts": time.strftime("%y%m%d%H%M", time.gmtime(stamped)),
                  "err-code": err_code, "api-key": self.api_key,
                  "message-timestamp": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(stamped)),
                  "timestamp": str(stamped), "nonce": str(uuid.uuid4())}
        if message.client_ref is not None:
            fields["client-ref"] = message.client_ref
        fields["sig"] = vonage_signature(fields, secret or self.signature_secret, method)
        return SignedReceipt(target, fields, as_json)

    async def app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.requests += 1
        status, answer = await self._answer(scope, body, send)
        if status == 0:
            return  # dropped
        payload = json.dumps(answer).encode()
        await send({"type": "http.response.start", "status": status, "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(payload)).encode())]})
        await send({"type": "http.response.body", "body": payload})

    async def _answer(self, scope: dict[str, Any], body: bytes,
                      send: Any) -> tuple[int, dict[str, Any]]:
        if scope["method"] != "POST" or scope["path"] != "/sms/json":
            return 404, {"error-code": "404", "error-code-label": "not found"}
        fields = _fields(scope, body)
        if fields.get("api_key") != self.api_key or not hmac.compare_digest(
                fields.get("api_secret", "").encode(), self.api_secret.encode()):
            return 200, _refused("4", "Bad Credentials")
        for required in ("from", "to", "text"):
            if not fields.get(required):
                return 200, _refused("2", f"Missing {required} param")
        to = fields["to"]
        behaviour = self.upcoming.popleft() if self.upcoming else self.by_number.get(to, ACCEPT)
        if not DIGITS.fullmatch(to):
            behaviour = INVALID
        if behaviour == DROP:
            await _drop(send)
            return 0, {}
        if behaviour == SLOW:
            await asyncio.sleep(self.slow_seconds)
        if behaviour == HTTP_429:
            return 429, {"type": "https://developer.nexmo.com/api-errors#throttled",
                         "title": "Throttled"}
        if behaviour == SERVER_ERROR:
            return 503, {"title": "Service Unavailable"}
        if behaviour in ERROR_TEXTS:
            return 200, _refused(behaviour, ERROR_TEXTS[behaviour].format(to=to))
        segments = sms_segments(fields["text"])
        message = VonageMessage(tuple(f"0A{secrets.token_hex(7).upper()}" for _ in range(segments)),
                                to, fields["from"], fields["text"],
                                fields.get("type") == "unicode", fields.get("callback"),
                                fields.get("client-ref"))
        self.messages.append(message)
        return 200, {"message-count": str(segments), "messages": [
            {"to": to, "message-id": message_id, "status": "0", "remaining-balance": "3.14159",
             "message-price": "0.03330000", "network": "23410",
             **({"client-ref": message.client_ref} if message.client_ref else {})}
            for message_id in message.message_ids]}


def _fields(scope: dict[str, Any], body: bytes) -> dict[str, str]:
    content_type = dict(scope["headers"]).get(b"content-type", b"").decode()
    if content_type.startswith("application/json"):
        parsed = json.loads(body or b"{}")
        return {str(k): str(v) for k, v in parsed.items()} if isinstance(parsed, dict) else {}
    return dict(parse_qsl(body.decode(), keep_blank_values=True))


def _refused(status: str, text: str) -> dict[str, Any]:
    return {"message-count": "1", "messages": [{"status": status, "error-text": text}]}


async def _drop(send: Any) -> None:
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"512")]})
    await send({"type": "http.response.body", "body": b'{"message-count": "1', "more_body": True})
    raise ConnectionAbortedError("the stand-in drops this connection")
