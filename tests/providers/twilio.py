"""A local stand-in for Twilio's Messages API, and the status callbacks Twilio sends.

It checks what Twilio checks (HTTP Basic auth with the account SID and auth token, the SID in
the path, the required To / From-or-MessagingServiceSid / Body, an E.164 To) and answers in
Twilio's shapes (201 with the message resource; errors as {code, message, more_info, status},
whose message quotes the number, as Twilio's do). Behaviours per number or for the next N
requests: rate limited (429, code 20429, Retry-After), a 5xx, an invalid or non-mobile number
(21211, 21614), an unsubscribed recipient (21610), slow, or a connection dropped mid-answer.

Twilio's Messages resource has no idempotency key, so neither has this: every accepted request
is one more SMS on the handset (`handset(number)` shows them), and a test can see duplicates.

Status callbacks are signed here with a separate implementation of Twilio's scheme (not
Parley's), so a test of Parley's verifier is not checking the code against itself.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import re
import secrets
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import parse_qsl, urlencode

import httpx

ACCEPT: Final = "accept"
RATE_LIMITED: Final = "rate_limited"
SERVER_ERROR: Final = "server_error"
INVALID_NUMBER: Final = "invalid_number"
NOT_MOBILE: Final = "not_mobile"
UNSUBSCRIBED: Final = "unsubscribed"
SLOW: Final = "slow"
DROP: Final = "drop"
E164 = re.compile(r"\+[1-9][0-9]{6,14}")
ERRORS: Final = {
    INVALID_NUMBER: (400, 21211, "Invalid 'To' Phone Number: {to}"),
    NOT_MOBILE: (400, 21614, "'To' number {to} is not a valid mobile number"),
    UNSUBSCRIBED: (400, 21610, "Attempt to send to unsubscribed recipient {to}"),
    RATE_LIMITED: (429, 20429, "Too Many Requests"),
    SERVER_ERROR: (503, 20500, "Service Unavailable"),
}


@dataclass(frozen=True)
class TwilioMessage:
    """One SMS Twilio accepted."""

    sid: str
    account_sid: str
    to: str
    sender: str  # the From number or the MessagingServiceSid
    body: str
    status_callback: str | None


@dataclass(frozen=True)
class SignedCallback:
    """A status callback as Twilio would post it: where, what, and the signature header."""

    url: str
    fields: dict[str, str]
    headers: dict[str, str]

    def post(self, timeout: float = 5.0, verify: Any = True) -> httpx.Response:
        return httpx.post(self.url, content=urlencode(self.fields), headers=self.headers,
                          timeout=timeout, verify=verify)


def twilio_signature(url: str, fields: Mapping[str, str], auth_token: str) -> str:
    """Twilio's scheme, written again for the stand-in (Parley's is the code under test)."""
    payload = url + "".join(f"{name}{fields[name]}" for name in sorted(fields))
    mac = hmac.new(auth_token.encode("utf-8"), payload.encode("utf-8"), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode("ascii")


@dataclass
class TwilioStandIn:
    """The ASGI app (`app`) of one Twilio account; serve it with tests.providers.servers."""

    account_sid: str = "AC" + "0" * 31 + "1"
    auth_token: str = field(default_factory=lambda: secrets.token_hex(16), repr=False)
    slow_seconds: float = 3.0
    retry_after_seconds: int = 7
    messages: list[TwilioMessage] = field(default_factory=list)
    requests: int = 0
    by_number: dict[str, str] = field(default_factory=dict)
    upcoming: deque[str] = field(default_factory=deque)

    def behave_next(self, *behaviours: str) -> None:
        """The next requests (whatever their number) get these behaviours, in order."""
        self.upcoming.extend(behaviours)

    def behave_for(self, number: str, behaviour: str) -> None:
        self.by_number[number] = behaviour

    def reset(self) -> None:
        self.messages.clear()
        self.by_number.clear()
        self.upcoming.clear()
        self.requests = 0

    def handset(self, number: str) -> list[str]:
        """The texts `number` has received, oldest first."""
        return [m.body for m in self.messages if m.to == number]

    def status_callback(self, message: TwilioMessage, status: str, *,
                        error_code: str | None = None, auth_token: str | None = None,
                        url: str | None = None) -> SignedCallback:
        """The callback Twilio would send for `message` reaching `status` (signed with the
        account's token, or `auth_token` for a forged one; to `url` to send it elsewhere)."""
        target = url or message.status_callback
        assert target is not None, "the message asked for no status callbacks"
        fields = {"AccountSid": message.account_sid, "ApiVersion": "2010-04-01",
                  "From": message.sender, "MessageSid": message.sid, "MessageStatus": status,
                  "SmsSid": message.sid, "SmsStatus": status, "To": message.to}
        if error_code is not None:
            fields["ErrorCode"] = error_code
        signature = twilio_signature(target, fields, auth_token or self.auth_token)
        return SignedCallback(target, fields, {
            "content-type": "application/x-www-form-urlencoded",
            "x-twilio-signature": signature, "user-agent": "TwilioProxy/1.1"})

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
        headers = [(b"content-type", b"application/json"),
                   (b"content-length", str(len(payload)).encode())]
        if status == 429:
            headers.append((b"retry-after", str(self.retry_after_seconds).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})

    async def _answer(self, scope: dict[str, Any], body: bytes,
                      send: Any) -> tuple[int, dict[str, Any]]:
        path = f"/2010-04-01/Accounts/{self.account_sid}/Messages.json"
        if scope["method"] != "POST" or scope["path"] != path:
            return 404, _error(404, 20404, "The requested resource was not found")
        if not self._authorised(scope):
            return 401, _error(401, 20003, "Authenticate")
        fields = dict(parse_qsl(body.decode(), keep_blank_values=True))
        to, text = fields.get("To", ""), fields.get("Body", "")
        sender = fields.get("From") or fields.get("MessagingServiceSid")
        if not to:
            return 400, _error(400, 21604, "A 'To' phone number is required.")
        if not sender:
            return 400, _error(400, 21603, "A 'From' phone number is required.")
        if not text:
            return 400, _error(400, 21602, "Message body is required.")
        behaviour = self.upcoming.popleft() if self.upcoming else self.by_number.get(to, ACCEPT)
        if not E164.fullmatch(to):
            behaviour = INVALID_NUMBER
        if behaviour == DROP:
            await _drop(send)
            return 0, {}
        if behaviour == SLOW:
            await asyncio.sleep(self.slow_seconds)
        if behaviour in ERRORS:
            status, code, words = ERRORS[behaviour]
            return status, _error(status, code, words.format(to=to))
        message = TwilioMessage("SM" + secrets.token_hex(16), self.account_sid, to, sender, text,
                                fields.get("StatusCallback"))
        self.messages.append(message)
        return 201, {
            "sid": message.sid, "account_sid": self.account_sid, "to": to,
            "from": fields.get("From"), "messaging_service_sid":
                fields.get("MessagingServiceSid"), "body": text,
            "status": "accepted" if "MessagingServiceSid" in fields else "queued",
            "num_segments": "1", "price": None, "price_unit": "USD",
            "direction": "outbound-api", "api_version": "2010-04-01", "error_code": None,
            "uri": f"{path.removesuffix('.json')}/{message.sid}.json"}

    def _authorised(self, scope: dict[str, Any]) -> bool:
        headers = dict(scope["headers"])
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        return hmac.compare_digest(headers.get(b"authorization", b""),
                                   f"Basic {expected}".encode())


def _error(status: int, code: int, message: str) -> dict[str, Any]:
    return {"code": code, "message": message, "status": status,
            "more_info": f"https://www.twilio.com/docs/errors/{code}"}


async def _drop(send: Any) -> None:
    """Start an answer, then give up mid-body: the server closes the connection."""
    await send({"type": "http.response.start", "status": 201,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"512")]})
    await send({"type": "http.response.body", "body": b'{"sid": "SM', "more_body": True})
    raise ConnectionAbortedError("the stand-in drops this connection")
