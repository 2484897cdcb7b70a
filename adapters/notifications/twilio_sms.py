"""SMS through Twilio's Programmable Messaging API (kind "twilio").

`POST {endpoint}/2010-04-01/Accounts/{sid}/Messages.json`, form-encoded To, From (or
MessagingServiceSid), Body and StatusCallback, HTTP Basic auth with the account SID and auth
token. Twilio answers 201 with the message resource (`sid`, `status` queued or accepted) and
later posts status callbacks, signed with the auth token, to the URL it was given
(api/notifications/callbacks.py verifies them with `callback_verifier()`).

The text: an SMS has no title field, so the handset shows the title, a newline, then the body
(`domain.notifications.content.sms_text`, which the trigger API also counts segments of).

Twilio's Messages resource takes no idempotency key: a send repeated after a crash between
Twilio's 201 and Parley recording it is a second SMS. The dispatcher's rule (an attempt
already accepted is not sent again) bounds that window to the crash itself.
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
from adapters.notifications.sms_numbers import is_e164
from adapters.notifications.sms_receipts import TwilioCallbackVerifier, sms_status_callback_url
from commands.notifications.providers import Delivery, ProviderAnswer
from domain.notifications.addresses import Address
from domain.notifications.channels import PHONE_NUMBER, SMS
from domain.notifications.content import sms_text

DEFAULT_ENDPOINT: Final = "https://api.twilio.com"
# Twilio's error codes (twilio.com/docs/api/errors) that say the number cannot take SMS.
NOT_A_NUMBER: Final = frozenset({"21211", "21614"})  # invalid 'To'; 'To' is not a mobile number
UNSUBSCRIBED: Final = "21610"  # the recipient replied STOP: consent, not a dead number
TOO_MANY_REQUESTS: Final = "20429"
AUTH: Final = "auth"
# What each outcome is called in answers, never the service's own message (it quotes numbers).
DETAILS: Final = {
    "21211": "Twilio: the 'To' number is not a valid phone number",
    "21614": "Twilio: the 'To' number is not a mobile number",
    UNSUBSCRIBED: "Twilio: the recipient has unsubscribed (replied STOP)",
    TOO_MANY_REQUESTS: "Twilio: too many requests",
    AUTH: "Twilio refused the account SID or auth token",
}


@dataclass(frozen=True)
class TwilioProvider:
    """One Twilio account (or subaccount), sending from one number or messaging service."""

    provider_name: str
    account_sid: str
    auth_token: str = field(repr=False)
    sender: Mapping[str, str]  # {"From": "+1..."} or {"MessagingServiceSid": "MG..."}
    endpoint: str = DEFAULT_ENDPOINT
    timeout_seconds: float = 10.0
    ca_file: str | None = None
    public_url: str = "http://127.0.0.1:8000"
    _clients: list[httpx.AsyncClient] = field(default_factory=list, repr=False, compare=False)

    @classmethod
    def from_config(cls, entry: Mapping[str, Any], environment: ProviderEnvironment) -> Self:
        account_sid = text(entry, "account_sid")
        if not (account_sid.startswith("AC") and account_sid[2:].isalnum()):
            raise ValueError("account_sid must be a Twilio account SID (AC...)")
        has_number, has_service = "from_number" in entry, "messaging_service_sid" in entry
        if has_number == has_service:
            raise ValueError("exactly one of from_number and messaging_service_sid must be given")
        sender: dict[str, str]
        if has_number:
            number = text(entry, "from_number")
            if not is_e164(number):
                raise ValueError("from_number must be an E.164 number (+ and digits)")
            sender = {"From": number}
        else:
            sender = {"MessagingServiceSid": text(entry, "messaging_service_sid")}
        return cls(
            provider_name=text(entry, "name"), account_sid=account_sid,
            auth_token=inline_or_file(entry, "auth_token").strip(), sender=sender,
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

    def callback_verifier(self) -> TwilioCallbackVerifier:
        return TwilioCallbackVerifier(self.auth_token)

    async def send(self, delivery: Delivery) -> ProviderAnswer:
        refused = _unreachable(delivery.address)
        if refused is not None:
            return refused
        form = {"To": delivery.address.value, **self.sender, "Body": sms_text(delivery.content),
                "StatusCallback": delivery.status_callback_url or sms_status_callback_url(
                    self.public_url, self.name, delivery.notification_id, delivery.attempt_id)}
        url = f"{self.endpoint}/2010-04-01/Accounts/{self.account_sid}/Messages.json"
        response = await bounded(self._client(), "POST", url, seconds=self.timeout_seconds,
                                 data=form, auth=(self.account_sid, self.auth_token))
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


def _unreachable(address: Address) -> ProviderAnswer | None:
    if address.kind != PHONE_NUMBER or not is_e164(address.value):
        return ProviderAnswer.failed("invalid_number", retryable=False,
                                     detail="not an E.164 phone number")
    return None


def answer_of(response: httpx.Response) -> ProviderAnswer:
    """What Twilio's answer means (its REST API's documented statuses and error codes)."""
    body = _json(response)
    if response.status_code in (200, 201) and isinstance(body.get("sid"), str):
        return ProviderAnswer.accepted_as(body["sid"], cost_micros=_micros(body.get("price")))
    code = str(body.get("code") or response.status_code)
    if response.status_code == 401:
        return ProviderAnswer.failed(AUTH, retryable=False, detail=DETAILS[AUTH])
    if response.status_code == 429 or code == TOO_MANY_REQUESTS:
        return retryable(code, response, DETAILS[TOO_MANY_REQUESTS])
    if response.status_code >= 500:
        return retryable(str(response.status_code), response,
                         f"Twilio answered {response.status_code}")
    return ProviderAnswer.failed(
        code, retryable=False, address_gone=code in NOT_A_NUMBER,
        detail=DETAILS.get(code, f"Twilio refused the message (HTTP {response.status_code}, "
                                 f"error {code})"))


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _micros(price: object) -> int:
    """Twilio's `price` is a negative decimal string (a charge) or null until it is known."""
    try:
        return int(abs(Decimal(str(price))) * 1_000_000) if price is not None else 0
    except InvalidOperation:
        return 0
