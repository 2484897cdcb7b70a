"""Stripe's PaymentIntents and Payouts over HTTP: the `CardProcessor` port's Stripe adapter.

Stripe API v1: form-encoded POSTs (nested fields as `metadata[reference]`), JSON answers,
`Authorization: Bearer <secret key>`, and an `Idempotency-Key` header on every POST (Stripe
keeps the first answer to a key for 24 hours, returns it to a retry with the same parameters,
and refuses the key with other parameters, `idempotency_error`). Errors are
`{"error": {type, code, decline_code, message, payment_intent}}`; a declined card is 402
`card_error`, and the intent goes back to `requires_payment_method`. Intents use manual
capture: created, confirmed to `requires_capture` (a hold on the card), then captured (all or
part) or cancelled. The Stripe-Version header pins the shapes of the answers.

Amounts are integers of minor units, as Parley's are. ISO 4217 and Stripe agree on the
exponents of the currencies Parley accepts by default (JPY 0, USD 2, KWD 3), though not on
every currency (ISK; HUF and TWD payouts); for three-decimal currencies Stripe wants the last
digit 0. The adapter sends amounts as they are: what Stripe will not take it refuses
(`ProcessorRefused`, `amount_too_small` and the like).

The adapter retries nothing (resilience is shared machinery) and logs nothing. Nothing secret
leaves it: its errors carry its own text, never Stripe's message (which can quote part of the
key), its repr shows the base URL only, and httpx's INFO line names the method and the URL,
which carry intent ids, never a token. A payment method that is not a `pm_` token is refused
before anything is sent.

The exceptions and views are the port's (commands/payments/card_processor.py), re-exported
here so the adapter's users and the port's catch the same classes.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Final
from urllib.parse import urlsplit

import httpx

from commands.payments.card_processor import (
    DESTINATION_PREFIXES,
    INTENT_PREFIXES,
    PAYMENT_METHOD_PREFIXES,
    PAYOUT_PREFIXES,
    CardProcessorError,
    PaymentIntentView,
    PayoutView,
    ProcessorDeclined,
    ProcessorRefused,
    ProcessorTimedOut,
    ProcessorUnavailable,
    processor_token,
)
from domain.payments.errors import InvalidAmount, UnknownCurrency

__all__ = ["API_VERSION", "STRIPE_API", "CardProcessorError", "PaymentIntentView", "PayoutView",
           "ProcessorDeclined", "ProcessorRefused", "ProcessorTimedOut", "ProcessorUnavailable",
           "StripeProcessor", "intent_view", "payout_view"]

STRIPE_API: Final = "https://api.stripe.com"
API_VERSION: Final = "2024-06-20"
CAPTURE_METHODS: Final = frozenset({"manual", "automatic"})
MAX_IDEMPOTENCY_KEY: Final = 255  # Stripe's limit
_REFERENCE = re.compile(r"[A-Za-z0-9_.:-]{1,200}")
_CURRENCY = re.compile(r"[A-Z]{3}")
_LOOPBACK: Final = frozenset({"127.0.0.1", "localhost", "::1"})
# Not sent: the request failed before it left (nothing can have happened at Stripe)
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# Sent, and no answer: it may have taken effect
_NO_ANSWER = (httpx.ReadTimeout, httpx.WriteTimeout, httpx.ReadError, httpx.WriteError,
              httpx.RemoteProtocolError)


class StripeProcessor:
    """One Stripe account, reached at `base_url` (https, or http to a loopback stand-in), each
    call bounded by the connect and read timeouts. Close it with `close()` or `with`."""

    def __init__(self, secret_key: str, *, base_url: str = STRIPE_API,
                 connect_timeout: float = 3.0, read_timeout: float = 10.0,
                 api_version: str = API_VERSION, ca_file: str | None = None) -> None:
        if not secret_key or secret_key != secret_key.strip():
            raise ValueError("the Stripe secret key is empty or has surrounding spaces")
        if not (connect_timeout > 0 and read_timeout > 0):
            raise ValueError("the connect and read timeouts must be positive seconds")
        self.base_url = _base_url(base_url)
        verify: ssl.SSLContext | bool = (ssl.create_default_context(cafile=ca_file) if ca_file
                                         else True)
        self._client = httpx.Client(
            base_url=self.base_url, verify=verify, follow_redirects=False,
            timeout=httpx.Timeout(read_timeout, connect=connect_timeout, pool=connect_timeout),
            headers={"Authorization": f"Bearer {secret_key}", "Stripe-Version": api_version,
                     "User-Agent": "Parley-Payments/1.0"})

    def __repr__(self) -> str:
        return f"StripeProcessor(base_url={self.base_url!r})"

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> StripeProcessor:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()

    def create_payment_intent(self, amount: int, currency: str, payment_method: str,
                              reference: str, idempotency_key: str,
                              capture_method: str = "manual") -> PaymentIntentView:
        if capture_method not in CAPTURE_METHODS:
            raise ValueError("capture_method is manual or automatic")
        form = {"amount": _amount(amount), "currency": _currency(currency),
                "payment_method": processor_token(payment_method, PAYMENT_METHOD_PREFIXES,
                                                  "payment_method"),
                # cards only: no redirecting method, so confirming needs no return_url
                "payment_method_types[0]": "card", "capture_method": capture_method,
                "metadata[reference]": _reference(reference)}
        return intent_view(self._post("/v1/payment_intents", form, idempotency_key))

    def confirm(self, intent_id: str, idempotency_key: str) -> PaymentIntentView:
        return intent_view(self._post(f"{_intent_path(intent_id)}/confirm", {},
                                      idempotency_key))

    def capture(self, intent_id: str, idempotency_key: str,
                amount_to_capture: int | None = None) -> PaymentIntentView:
        form = {} if amount_to_capture is None else {
            "amount_to_capture": _amount(amount_to_capture)}
        return intent_view(self._post(f"{_intent_path(intent_id)}/capture", form,
                                      idempotency_key))

    def cancel(self, intent_id: str, idempotency_key: str) -> PaymentIntentView:
        return intent_view(self._post(f"{_intent_path(intent_id)}/cancel", {},
                                      idempotency_key))

    def retrieve(self, intent_id: str) -> PaymentIntentView:
        return intent_view(self._send("GET", _intent_path(intent_id)))

    def create_payout(self, amount: int, currency: str, destination: str, reference: str,
                      idempotency_key: str) -> PayoutView:
        form = {"amount": _amount(amount), "currency": _currency(currency),
                "destination": processor_token(destination, DESTINATION_PREFIXES,
                                               "destination"),
                "metadata[reference]": _reference(reference)}
        return payout_view(self._post("/v1/payouts", form, idempotency_key))

    def retrieve_payout(self, payout_id: str) -> PayoutView:
        return payout_view(self._send(
            "GET", f"/v1/payouts/{processor_token(payout_id, PAYOUT_PREFIXES, 'payout_id')}"))

    def _post(self, path: str, form: Mapping[str, str], idempotency_key: str) -> dict[str, Any]:
        if not (0 < len(idempotency_key) <= MAX_IDEMPOTENCY_KEY and idempotency_key.isascii()
                and idempotency_key.isprintable()):
            raise ValueError(f"an idempotency key is 1 to {MAX_IDEMPOTENCY_KEY} printable "
                             "ASCII characters")
        return self._send("POST", path, data=dict(form),
                          headers={"Idempotency-Key": idempotency_key})

    def _send(self, method: str, path: str, **request: Any) -> dict[str, Any]:
        try:
            response = self._client.request(method, path, **request)
        except _NOT_SENT as error:
            raise ProcessorUnavailable(f"Stripe could not be reached ({type(error).__name__})"
                                       ) from None
        except _NO_ANSWER as error:
            raise ProcessorTimedOut(f"no answer from Stripe ({type(error).__name__}); the "
                                    "request may have taken effect") from None
        body = _json(response)
        if response.status_code == 200 and body is not None:
            return body
        raise _refusal(response.status_code, body)


def intent_view(body: Mapping[str, Any]) -> PaymentIntentView:
    """A PaymentIntent object of Stripe's as the port's view (ProcessorTimedOut if it is not
    one: whatever was asked may have happened, and the caller reconciles)."""
    try:
        if body["object"] != "payment_intent":
            raise ValueError("not a payment_intent")
        error = body.get("last_payment_error")
        return PaymentIntentView(
            id=_text(body, "id"), status=_text(body, "status"), amount=_whole(body, "amount"),
            amount_capturable=_whole(body, "amount_capturable"),
            amount_received=_whole(body, "amount_received"),
            currency=_text(body, "currency").upper(), reference=_reference_of(body),
            last_error_code=_error_code(error) if isinstance(error, Mapping) else None)
    except (KeyError, TypeError, ValueError):
        raise ProcessorTimedOut("Stripe's answer is not a PaymentIntent; the request may have "
                                "taken effect") from None


def payout_view(body: Mapping[str, Any]) -> PayoutView:
    """A Payout object of Stripe's as the port's view (ProcessorTimedOut if it is not one)."""
    try:
        if body["object"] != "payout":
            raise ValueError("not a payout")
        failure = body.get("failure_code")
        return PayoutView(id=_text(body, "id"), status=_text(body, "status"),
                          amount=_whole(body, "amount"),
                          currency=_text(body, "currency").upper(),
                          reference=_reference_of(body),
                          failure_code=failure if isinstance(failure, str) else None)
    except (KeyError, TypeError, ValueError):
        raise ProcessorTimedOut("Stripe's answer is not a Payout; the request may have taken "
                                "effect") from None


def _refusal(status: int, body: dict[str, Any] | None) -> CardProcessorError:
    error = body.get("error") if body is not None else None
    error = error if isinstance(error, dict) else {}
    if status >= 500 or status == 429:
        return ProcessorUnavailable(f"Stripe answered HTTP {status}; try again later")
    if status == 402 and error.get("type") == "card_error":
        intent = error.get("payment_intent")
        view = _intent_or_none(intent) if isinstance(intent, Mapping) else None
        return ProcessorDeclined(_error_code(error), view)
    if status == 401:
        return ProcessorRefused(status, str(error.get("code") or "invalid_api_key"))
    return ProcessorRefused(status, str(error.get("code") or error.get("type") or
                                        f"http_{status}"))


def _intent_or_none(body: Mapping[str, Any]) -> PaymentIntentView | None:
    try:
        return intent_view(body)
    except ProcessorTimedOut:
        return None


def _error_code(error: Mapping[str, Any]) -> str:
    """The most specific reason Stripe gives: the decline code, else the code, else the type."""
    for key in ("decline_code", "code", "type"):
        value = error.get(key)
        if isinstance(value, str) and value:
            return value
    return "unknown"


def _json(response: httpx.Response) -> dict[str, Any] | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _text(body: Mapping[str, Any], key: str) -> str:
    value = body[key]
    if not isinstance(value, str) or not value:
        raise ValueError(f"{key} is not a string")
    return value


def _whole(body: Mapping[str, Any], key: str) -> int:
    value = body[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{key} is not a whole number of minor units")
    return value


def _reference_of(body: Mapping[str, Any]) -> str:
    metadata = body.get("metadata")
    reference = metadata.get("reference") if isinstance(metadata, Mapping) else None
    return reference if isinstance(reference, str) else ""


def _amount(amount: int) -> str:
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise InvalidAmount("amount", "an amount is a positive integer of minor units")
    return str(amount)


def _currency(currency: str) -> str:
    if not (isinstance(currency, str) and _CURRENCY.fullmatch(currency)):
        raise UnknownCurrency("currency", "a currency is an upper-case ISO 4217 code such as "
                                          "USD")
    return currency.lower()  # Stripe's codes are lower case


def _reference(reference: str) -> str:
    if not _REFERENCE.fullmatch(reference):
        raise ValueError("a reference is 1 to 200 letters, digits or _ . : -")
    return reference


def _intent_path(intent_id: str) -> str:
    return f"/v1/payment_intents/{processor_token(intent_id, INTENT_PREFIXES, 'intent_id')}"


def _base_url(url: str) -> str:
    """https, or plain http to this machine only (a stand-in): the key is never sent in the
    clear over a network."""
    parts = urlsplit(url)
    loopback = parts.scheme == "http" and parts.hostname in _LOOPBACK
    if not (parts.scheme == "https" or loopback) or not parts.hostname or parts.query:
        raise ValueError("the Stripe base URL must be https (or http to 127.0.0.1)")
    return url.rstrip("/")
