"""SMS through Vonage's SMS API (kind "vonage"), the second SMS provider, of another shape.

`POST {endpoint}/sms/json` with a JSON body: api_key, api_secret, from, to (E.164 without the
`+`), text (`type: unicode` when it is not all GSM-7), callback (where delivery receipts go)
and client-ref (the attempt id, which Vonage echoes in each receipt). Vonage answers 200 with
{"message-count", "messages": [{"status", "message-id", "message-price", "error-text"}]}: one
entry per segment, status "0" accepted, anything else refused, by its documented table
(developer.vonage.com/en/messaging/sms/guides/troubleshooting-sms and /en/api-errors/sms):

  1 Throttled (retry), 2 Missing Parameters, 3 Invalid Parameters (also a bad `to`),
  4 Invalid Credentials, 5 Internal Error (retry), 6 Invalid Message (e.g. an unrecognised
  number prefix), 7 Number Barred, 8 Partner Account Barred, 9 Partner Quota Violation
  (top up and retry), 10 Too Many Existing Binds (back off and retry), 11 Account Not Enabled
  For HTTP, 12 Message Too Long, 14 Invalid Signature, 15 Invalid Sender Address,
  22 Invalid Network Code, 23 Invalid Callback Url, 29 Non-Whitelisted Destination,
  32 Signature And API Secret Disallowed, 33 Number De-activated.

Only 33 says the number is gone; the others do not tell a dead number from a bad request.
Vonage takes no idempotency key (client-ref is only echoed), so a send repeated after a crash
is a second SMS, as with Twilio.

Delivery receipts: Vonage signs them (`sig`) when the account has signed webhooks, with the
`signature_secret` of this entry and its `signature_method` (default sha256); without a
secret, no callback is asked for, since an unsigned receipt could not be trusted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Final, Self

import httpx

from adapters.notifications.entry_fields import (
    endpoint,
    existing_file,
    inline_or_file,
    positive_seconds,
    text,
)
from adapters.notifications.http_posts import bounded, client_tls, retryable
from adapters.notifications.registry import ProviderEnvironment
from adapters.notifications.sms_numbers import digits_of, is_e164
from adapters.notifications.sms_receipts import (
    VONAGE_SIGNATURE_METHODS,
    VonageCallbackVerifier,
    sms_status_callback_url,
)
from commands.notifications.providers import Delivery, ProviderAnswer
from domain.notifications.channels import PHONE_NUMBER, SMS
from domain.notifications.content import GSM7, GSM7_EXTENDED, sms_text

DEFAULT_ENDPOINT: Final = "https://rest.nexmo.com"
ACCEPTED: Final = "0"
RETRYABLE: Final = frozenset({"1", "5", "9", "10"})
AUTH: Final = frozenset({"4", "14", "32"})
NUMBER_GONE: Final = "33"
STATUS_NAMES: Final = {
    "1": "throttled", "2": "missing parameters", "3": "invalid parameters",
    "4": "invalid credentials", "5": "internal error", "6": "invalid message",
    "7": "number barred", "8": "partner account barred", "9": "partner quota violation",
    "10": "too many existing binds", "11": "account not enabled for HTTP",
    "12": "message too long", "14": "invalid signature", "15": "invalid sender address",
    "22": "invalid network code", "23": "invalid callback url",
    "29": "non-whitelisted destination", "32": "signature and API secret disallowed",
    "33": "number de-activated",
}
ALPHANUMERIC_SENDER_MAX: Final = 11


@dataclass(frozen=True)
class VonageProvider:
    """One Vonage account (API key), sending from one number or alphanumeric sender id."""

    provider_name: str
    api_key: str
    api_secret: str = field(repr=False)
    sender: str = field(repr=False)  # digits of a number, or an alphanumeric sender id
    signature_secret: str | None = field(default=None, repr=False)
    signature_method: str = "sha256"
    endpoint: str = DEFAULT_ENDPOINT
    timeout_seconds: float = 10.0
    ca_file: str | None = None
    public_url: str = "http://127.0.0.1:8000"
    _clients: list[httpx.AsyncClient] = field(default_factory=list, repr=False, compare=False)

    @classmethod
    def from_config(cls, entry: Mapping[str, Any], environment: ProviderEnvironment) -> Self:
        method = entry.get("signature_method", "sha256")
        if method not in VONAGE_SIGNATURE_METHODS:
            raise ValueError("signature_method must be one of "
                             f"{', '.join(sorted(VONAGE_SIGNATURE_METHODS))}")
        signature_secret = (inline_or_file(entry, "signature_secret").strip()
                            if "signature_secret" in entry or "signature_secret_file" in entry
                            else None)
        return cls(
            provider_name=text(entry, "name"), api_key=text(entry, "api_key"),
            api_secret=inline_or_file(entry, "api_secret").strip(),
            sender=_sender(text(entry, "from")), signature_secret=signature_secret,
            signature_method=method,
            endpoint=endpoint(entry, "endpoint", DEFAULT_ENDPOINT, environment),
            timeout_seconds=positive_seconds(entry, "timeout_seconds",
                                             environment.timeout_seconds),
            ca_file=existing_file(entry, "ca_file"), public_url=environment.public_url)

    @property
    def name(self) -> str:
        return self.provider_name

    @property
    def channel(self) -> str:
        return SMS

    @property
    def kinds(self) -> frozenset[str]:
        return frozenset({PHONE_NUMBER})

    def callback_verifier(self) -> VonageCallbackVerifier:
        return VonageCallbackVerifier(self.signature_secret, self.signature_method)

    async def send(self, delivery: Delivery) -> ProviderAnswer:
        if delivery.address.kind != PHONE_NUMBER or not is_e164(delivery.address.value):
            return ProviderAnswer.failed("invalid_number", retryable=False,
                                         detail="not an E.164 phone number")
        words = sms_text(delivery.content)
        message: dict[str, str] = {
            "api_key": self.api_key, "api_secret": self.api_secret, "from": self.sender,
            "to": digits_of(delivery.address.value), "text": words,
            "client-ref": str(delivery.attempt_id)}
        if not all(c in GSM7 or c in GSM7_EXTENDED for c in words):
            message["type"] = "unicode"
        if self.signature_secret:
            message["callback"] = delivery.status_callback_url or sms_status_callback_url(
                self.public_url, self.name, delivery.notification_id, delivery.attempt_id)
        response = await bounded(self._client(), "POST", f"{self.endpoint}/sms/json",
                                 seconds=self.timeout_seconds, json=message)
        if isinstance(response, ProviderAnswer):
            return response
        return answer_of(response)

    async def aclose(self) -> None:
        while self._clients:
            await self._clients.pop().aclose()

    def _client(self) -> httpx.AsyncClient:
        if not self._clients:
            self._clients.append(httpx.AsyncClient(verify=client_tls(self.ca_file),
                                                   timeout=self.timeout_seconds))
        return self._clients[0]


def _sender(value: str) -> str:
    if is_e164(value):
        return digits_of(value)
    if value.isascii() and value.replace(" ", "").isalnum() and (
            len(value) <= ALPHANUMERIC_SENDER_MAX):
        return value
    raise ValueError("from must be an E.164 number or an alphanumeric sender id of at most "
                     f"{ALPHANUMERIC_SENDER_MAX} characters")


def answer_of(response: httpx.Response) -> ProviderAnswer:
    """What Vonage's answer means: the HTTP status first, then the first segment's status (a
    refusal refuses the whole message; an accepted one is known by its first segment's id)."""
    if response.status_code == 429:
        return retryable("429", response, "Vonage: too many requests")
    if response.status_code >= 500:
        return retryable(str(response.status_code), response,
                         f"Vonage answered {response.status_code}")
    if response.status_code == 401:
        return ProviderAnswer.failed("auth", retryable=False, detail="Vonage refused the key")
    messages = _messages(response)
    if response.status_code != 200 or not messages:
        return ProviderAnswer.failed(str(response.status_code), retryable=False,
                                     detail=f"Vonage answered HTTP {response.status_code}")
    refused = next((m for m in messages if str(m.get("status")) != ACCEPTED), None)
    if refused is None:
        return ProviderAnswer.accepted_as(str(messages[0].get("message-id", "")),
                                          cost_micros=sum(_micros(m) for m in messages))
    status = str(refused.get("status"))
    detail = f"Vonage: {STATUS_NAMES.get(status, 'refused')} (status {status})"
    if status in RETRYABLE:
        return retryable(status, response, detail)
    return ProviderAnswer.failed("auth" if status in AUTH else status, retryable=False,
                                 detail=detail, address_gone=status == NUMBER_GONE)


def _messages(response: httpx.Response) -> list[dict[str, Any]]:
    try:
        body = response.json()
    except ValueError:
        return []
    entries = body.get("messages") if isinstance(body, dict) else None
    return [m for m in entries if isinstance(m, dict)] if isinstance(entries, list) else []


def _micros(message: Mapping[str, Any]) -> int:
    try:
        return int(Decimal(str(message.get("message-price", "0"))) * 1_000_000)
    except InvalidOperation:
        return 0
