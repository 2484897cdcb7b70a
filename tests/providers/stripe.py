"""A local stand-in for Stripe's PaymentIntents and Payouts, and the webhooks Stripe sends.

It checks what Stripe checks: the secret key (`Authorization: Bearer`, else 401), form-encoded
bodies with only the parameters each endpoint knows (`parameter_unknown`), integer amounts
within Stripe's minimum and maximum charge (and a last digit 0 for three-decimal currencies),
lower-case currencies, and Idempotency-Key: the same key and parameters answer the first
answer again (`Idempotent-Replayed: true`), other parameters or another endpoint are 400
`idempotency_error`, a key whose first request is still running is 409
`idempotency_key_in_use`; validation failures are not kept, as Stripe keeps a key only once
the endpoint ran. PaymentIntents follow Stripe's state machine (`requires_payment_method ->
requires_confirmation -> requires_action -> processing -> requires_capture -> succeeded |
canceled`; a transition from the wrong state is 400 `payment_intent_unexpected_state`), and
Stripe's test payment methods behave as Stripe's do: `pm_card_visa` authorises,
`pm_card_chargeDeclined` (and ...InsufficientFunds) declines with 402 `card_error` and sends
the intent back to `requires_payment_method`, `pm_card_authenticationRequired` stops at
`requires_action` until the stand-in-only `POST /test/payment_intents/{id}/complete_action`
(`outcome=fail` fails 3-D Secure). Payouts start `pending` and become `paid` (or `failed`,
`account_closed`, with `fail_payouts`) on the webhook thread.

Webhooks go from a thread of their own to `webhook_url`, signed with a separate implementation
of Stripe's scheme (not Parley's, which is the code under test), with both signatures while a
`previous_webhook_secret` is set, as during Stripe's secret rolling. Fault switches: `decline_next`,
`timeout_after_charging(seconds)` (the next POST takes effect, then its answer waits),
`duplicate_webhooks`, `reorder_webhooks` (held until `release_webhooks()`, then sent newest
first), `fail_payouts`, `webhook_delay` (seconds before each job). Every request is recorded
(`requests`) so a test can check that each POST had an Idempotency-Key and that no card number
ever arrived (`card_numbers_seen()`). Serve `app` with tests.providers.servers.LocalServer.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import queue
import re
import secrets
import string
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import parse_qsl

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

VISA: Final = "pm_card_visa"
DECLINED: Final = "pm_card_chargeDeclined"
INSUFFICIENT_FUNDS: Final = "pm_card_chargeDeclinedInsufficientFunds"
AUTHENTICATION_REQUIRED: Final = "pm_card_authenticationRequired"
DECLINE_CODES: Final = {DECLINED: "generic_decline", INSUFFICIENT_FUNDS: "insufficient_funds"}
PAYMENT_METHODS: Final = frozenset({VISA, AUTHENTICATION_REQUIRED, *DECLINE_CODES})
MINIMUM_CHARGE: Final = {"usd": 50, "eur": 50, "gbp": 30, "jpy": 50, "chf": 50, "cad": 50,
                         "aud": 50, "inr": 50, "brl": 50}  # Stripe's published minimums
MAXIMUM_AMOUNT: Final = 99_999_999  # eight digits of minor units
THREE_DECIMAL: Final = frozenset({"bhd", "jod", "kwd", "omr", "tnd"})
CANCELLABLE: Final = frozenset({"requires_payment_method", "requires_confirmation",
                                "requires_action", "requires_capture"})
_CARD_NUMBER = re.compile(r"(?<![0-9])[0-9](?:[ -]?[0-9]){12,18}(?![0-9])")
_ID_CHARACTERS: Final = string.ascii_letters + string.digits
Job = Callable[[], list[dict[str, Any]]]


class StripeFault(Exception):
    """An error answer: `kept` if Stripe would keep it for its idempotency key (the endpoint
    ran), not for a request refused before that."""

    def __init__(self, status: int, kind: str, message: str, code: str | None = None, *,
                 param: str | None = None, kept: bool = False, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.kept = status, kept
        self.body = {"error": {"type": kind, "message": message, "code": code, "param": param,
                               **extra}}


@dataclass(frozen=True)
class ReceivedRequest:
    """One request the stand-in received (headers lower-cased)."""

    method: str
    path: str
    headers: Mapping[str, str] = field(repr=False)
    form: Mapping[str, str] = field(repr=False)

    @property
    def idempotency_key(self) -> str | None:
        return self.headers.get("idempotency-key")


@dataclass(frozen=True)
class SentWebhook:
    """One webhook POST: the event, the exact body and signature, and the answer (None if
    the receiver could not be reached)."""

    event: dict[str, Any] = field(repr=False)
    body: bytes = field(repr=False)
    signature: str
    status: int | None

    @property
    def type(self) -> str:
        return str(self.event["type"])

    @property
    def event_id(self) -> str:
        return str(self.event["id"])


def stripe_signature(body: bytes, secret: str, timestamp: int) -> str:
    """Stripe's v1 scheme, written again for the stand-in (Parley's is the code under test)."""
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def stripe_id(prefix: str) -> str:
    """An id as Stripe's look (`pi_3MtwBw...`): letters and digits, never a long digit run
    that `card_numbers_seen` would mistake for a card number."""
    return prefix + "".join(secrets.choice(_ID_CHARACTERS) for _ in range(24))


def luhn_valid(digits: str) -> bool:
    total = 0
    for place, digit in enumerate(int(d) for d in reversed(digits)):
        total += digit if place % 2 == 0 else (digit * 2 - 9 if digit > 4 else digit * 2)
    return total % 10 == 0


@dataclass
class StripeStandIn:
    """One Stripe account in test mode. `app` is its ASGI app; `close()` stops its webhook
    thread (or use it as a context manager)."""

    secret_key: str = field(default_factory=lambda: "sk_test_" + secrets.token_hex(12),
                            repr=False)
    webhook_url: str | None = None
    webhook_secret: str = field(default_factory=lambda: "whsec_" + secrets.token_hex(16),
                                repr=False)
    previous_webhook_secret: str | None = field(default=None, repr=False)
    clock: Callable[[], float] = time.time
    decline_next: bool = False
    duplicate_webhooks: bool = False
    reorder_webhooks: bool = False
    fail_payouts: bool = False
    webhook_delay: float = 0.0
    requests: list[ReceivedRequest] = field(default_factory=list)
    webhooks: list[SentWebhook] = field(default_factory=list)
    intents: dict[str, dict[str, Any]] = field(default_factory=dict)
    payouts: dict[str, dict[str, Any]] = field(default_factory=dict)
    history: dict[str, list[str]] = field(default_factory=dict)  # every status of an intent

    def __post_init__(self) -> None:
        self._lock = threading.RLock()
        self._kept: dict[str, tuple[tuple[Any, ...], int, dict[str, Any]]] = {}
        self._running: set[str] = set()
        self._delay_next: float | None = None
        self._held: list[dict[str, Any]] = []
        self._jobs: queue.Queue[tuple[Job, bool] | None] = queue.Queue()
        self._unfinished = 0
        self._idle = threading.Condition(self._lock)
        self._worker: threading.Thread | None = None
        operations: list[tuple[str, str, Callable[..., dict[str, Any]]]] = [
            ("POST", "/v1/payment_intents", self._create_intent),
            ("POST", "/v1/payment_intents/{intent_id}/confirm", self._confirm),
            ("POST", "/v1/payment_intents/{intent_id}/capture", self._capture),
            ("POST", "/v1/payment_intents/{intent_id}/cancel", self._cancel),
            ("POST", "/test/payment_intents/{intent_id}/complete_action", self._complete_action),
            ("POST", "/v1/payouts", self._create_payout),
            ("GET", "/v1/payment_intents/{intent_id}", self._retrieve_intent),
            ("GET", "/v1/payouts/{payout_id}", self._retrieve_payout)]
        self.app = Starlette(routes=[
            *(Route(path, (self._poster if method == "POST" else self._getter)(operation),
                    methods=[method]) for method, path, operation in operations),
            Route("/{rest:path}", self._unrecognised,
                  methods=["GET", "POST", "PUT", "PATCH", "DELETE"])])

    # ---- test controls -----------------------------------------------------------------

    def timeout_after_charging(self, seconds: float) -> None:
        """The next POST takes effect (and its webhooks go), then its answer waits `seconds`."""
        self._delay_next = seconds

    def release_webhooks(self) -> None:
        """Send the webhooks `reorder_webhooks` held, newest first."""
        with self._lock:
            held, self._held = self._held[::-1], []
        self._enqueue(lambda: held, may_hold=False)

    def settle(self, timeout: float = 5.0) -> None:
        """Wait until the webhook thread has done everything asked of it so far."""
        with self._idle:
            if not self._idle.wait_for(lambda: self._unfinished == 0, timeout):
                raise TimeoutError("the stand-in's webhook thread is still busy")

    def wait_for_webhooks(self, count: int, timeout: float = 5.0) -> list[SentWebhook]:
        deadline = time.monotonic() + timeout
        while len(self.webhooks) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(self.webhooks)} webhooks sent, not {count}")
            time.sleep(0.01)
        return list(self.webhooks)

    def card_numbers_seen(self) -> list[str]:
        """Every Luhn-valid 13-19 digit number (spaces or dashes allowed between digits) in
        any path, header (but the secret key's) or form field received."""
        texts = [text for r in self.requests for text in (
            r.path, *(v for k, v in r.headers.items() if k != "authorization"),
            *r.form.keys(), *r.form.values())]
        found = (m.group() for text in texts for m in _CARD_NUMBER.finditer(text))
        return [number for number in found if luhn_valid(re.sub(r"[ -]", "", number))]

    def close(self) -> None:
        if self._worker is not None:
            self._jobs.put(None)
            self._worker.join(timeout=10)
            self._worker = None

    def __enter__(self) -> StripeStandIn:
        return self

    def __exit__(self, *exception: object) -> None:
        self.close()

    # ---- HTTP --------------------------------------------------------------------------

    def _poster(self, operation: Callable[..., dict[str, Any]]) -> Callable[..., Any]:
        async def endpoint(request: Request) -> Response:
            return await self._post(request, operation)
        return endpoint

    def _getter(self, operation: Callable[..., dict[str, Any]]) -> Callable[..., Any]:
        async def endpoint(request: Request) -> Response:
            if (refused := await self._received(request, {})) is not None:
                return refused
            with self._lock:
                status, answer, _ = self._run(operation, {}, request.path_params)
            return _answer(status, answer)
        return endpoint

    async def _unrecognised(self, request: Request) -> Response:
        if (refused := await self._received(request, {})) is not None:
            return refused
        return _answer(404, StripeFault(404, "invalid_request_error", "Unrecognized request "
                       f"URL ({request.method}: {request.url.path})").body)

    async def _received(self, request: Request, form: dict[str, str]) -> Response | None:
        """Records the request; the 401 answer if it does not carry the account's key."""
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in request.scope["headers"]}
        with self._lock:
            self.requests.append(ReceivedRequest(request.method, request.url.path, headers,
                                                 form))
        given = headers.get("authorization", "").encode()
        if not hmac.compare_digest(given, f"Bearer {self.secret_key}".encode()):
            return _answer(401, StripeFault(401, "invalid_request_error", "Invalid API Key "
                                            f"provided: {given.decode()[:12]}****").body)
        return None

    async def _post(self, request: Request, operation: Callable[..., dict[str, Any]]
                    ) -> Response:
        body = await request.body()
        form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        if (refused := await self._received(request, form)) is not None:
            return refused
        content_type = request.headers.get("content-type", "")
        if body and not content_type.startswith("application/x-www-form-urlencoded"):
            return _answer(400, StripeFault(400, "invalid_request_error", "Stripe API v1 "
                                            "takes application/x-www-form-urlencoded").body)
        key = request.headers.get("idempotency-key")
        fingerprint = (request.url.path, tuple(sorted(form.items())))
        with self._lock:
            replay = self._replay(key, fingerprint)
            if replay is not None:
                return replay
            status, answer, kept = self._run(operation, form, request.path_params)
            delay, self._delay_next = self._delay_next, None
            if key is not None:
                self._running.add(key)
        try:
            if delay:
                await asyncio.sleep(delay)
        finally:
            with self._lock:
                if key is not None:
                    self._running.discard(key)
                    if kept:
                        self._kept[key] = (fingerprint, status, answer)
        return _answer(status, answer)

    def _replay(self, key: str | None, fingerprint: tuple[Any, ...]) -> Response | None:
        if key is None:
            return None
        if len(key) > 255:
            return _answer(400, StripeFault(400, "invalid_request_error", "Idempotency keys "
                                            "are at most 255 characters").body)
        if key in self._running:
            return _answer(409, StripeFault(409, "invalid_request_error", "There is currently "
                           "another in-progress request using this idempotency key",
                           "idempotency_key_in_use").body)
        if key not in self._kept:
            return None
        first, status, answer = self._kept[key]
        if first != fingerprint:
            return _answer(400, StripeFault(400, "idempotency_error", "Keys for idempotent "
                           "requests can only be used with the same parameters they were "
                           "first used with").body)
        return _answer(status, answer, replayed=True)

    def _run(self, operation: Callable[..., dict[str, Any]], form: dict[str, str],
             ids: Mapping[str, str]) -> tuple[int, dict[str, Any], bool]:
        try:
            return 200, operation(form, **ids), True
        except StripeFault as fault:
            return fault.status, fault.body, fault.kept

    # ---- PaymentIntents ----------------------------------------------------------------

    def _create_intent(self, form: dict[str, str]) -> dict[str, Any]:
        _known(form, {"amount", "currency", "payment_method", "capture_method", "confirm",
                      "description"}, ("metadata[", "payment_method_types["))
        currency = _currency(form)
        amount = _amount(form, "amount", currency)
        capture_method = form.get("capture_method", "automatic")
        if capture_method not in ("automatic", "manual"):
            raise StripeFault(400, "invalid_request_error", "Invalid capture_method",
                              param="capture_method")
        method = self._payment_method(form)
        intent_id = stripe_id("pi_")
        intent = {"id": intent_id, "object": "payment_intent", "amount": amount,
                  "amount_capturable": 0, "amount_received": 0, "currency": currency,
                  "capture_method": capture_method,
                  "client_secret": stripe_id(f"{intent_id}_secret_"),
                  "created": int(self.clock()), "livemode": False,
                  "metadata": _metadata(form), "payment_method": method,
                  "last_payment_error": None, "next_action": None, "canceled_at": None,
                  "cancellation_reason": None, "status": "requires_payment_method"}
        self.intents[intent_id] = intent
        self.history[intent_id] = []
        self._become(intent, "requires_confirmation" if method else "requires_payment_method")
        if form.get("confirm") == "true":
            self._authorise(intent)
        return dict(intent)

    def _confirm(self, form: dict[str, str], intent_id: str) -> dict[str, Any]:
        _known(form, {"payment_method", "return_url", "off_session"})
        intent = self._intent(intent_id)
        method = self._payment_method(form) or intent["payment_method"]
        if intent["status"] not in ("requires_confirmation", "requires_payment_method") \
                or method is None:
            raise _unexpected(intent, "confirm")
        intent["payment_method"] = method
        self._authorise(intent)
        return dict(intent)

    def _authorise(self, intent: dict[str, Any]) -> None:
        method = intent["payment_method"]
        if self.decline_next or method in DECLINE_CODES:
            self.decline_next = False
            self._decline(intent, DECLINE_CODES.get(method, "generic_decline"))
        if method == AUTHENTICATION_REQUIRED:
            intent["next_action"] = {"type": "use_stripe_sdk"}
            self._become(intent, "requires_action")
            return
        self._authorised(intent)

    def _authorised(self, intent: dict[str, Any]) -> None:
        intent["next_action"] = None
        self._become(intent, "processing")
        if intent["capture_method"] == "manual":
            intent["amount_capturable"] = intent["amount"]
            self._become(intent, "requires_capture", "payment_intent.amount_capturable_updated")
        else:
            intent["amount_received"] = intent["amount"]
            self._become(intent, "succeeded", "payment_intent.succeeded")

    def _decline(self, intent: dict[str, Any], decline_code: str) -> None:
        words = ("Your card has insufficient funds." if decline_code == "insufficient_funds"
                 else "Your card was declined.")
        error = {"type": "card_error", "code": "card_declined", "decline_code": decline_code,
                 "message": words}
        intent.update(last_payment_error=error, payment_method=None)
        self._become(intent, "requires_payment_method", "payment_intent.payment_failed")
        raise StripeFault(402, "card_error", words, "card_declined", kept=True,
                          decline_code=decline_code, payment_intent=dict(intent))

    def _complete_action(self, form: dict[str, str], intent_id: str) -> dict[str, Any]:
        _known(form, {"outcome"})
        intent = self._intent(intent_id)
        if intent["status"] != "requires_action":
            raise _unexpected(intent, "complete the action of")
        if form.get("outcome", "succeed") == "fail":
            intent.update(next_action=None, payment_method=None, last_payment_error={
                "type": "invalid_request_error", "code": "payment_intent_authentication_failure",
                "message": "The payment method's authentication failed."})
            self._become(intent, "requires_payment_method", "payment_intent.payment_failed")
        else:
            self._authorised(intent)
        return dict(intent)

    def _capture(self, form: dict[str, str], intent_id: str) -> dict[str, Any]:
        _known(form, {"amount_to_capture"}, ("metadata[",))
        intent = self._intent(intent_id)
        if intent["status"] != "requires_capture":
            raise _unexpected(intent, "capture")
        amount = intent["amount_capturable"]
        if "amount_to_capture" in form:
            amount = _amount(form, "amount_to_capture")
            if amount > intent["amount_capturable"]:
                raise StripeFault(400, "invalid_request_error", "amount_to_capture is more "
                                  "than the capturable amount", "amount_too_large",
                                  param="amount_to_capture")
        intent.update(amount_received=amount, amount_capturable=0)  # the rest is released
        self._become(intent, "succeeded", "payment_intent.succeeded")
        return dict(intent)

    def _cancel(self, form: dict[str, str], intent_id: str) -> dict[str, Any]:
        _known(form, {"cancellation_reason"})
        intent = self._intent(intent_id)
        if intent["status"] not in CANCELLABLE:
            raise _unexpected(intent, "cancel")
        intent.update(amount_capturable=0, canceled_at=int(self.clock()), next_action=None,
                      cancellation_reason=form.get("cancellation_reason"))
        self._become(intent, "canceled", "payment_intent.canceled")
        return dict(intent)

    def _retrieve_intent(self, form: dict[str, str], intent_id: str) -> dict[str, Any]:
        return dict(self._intent(intent_id))

    def _intent(self, intent_id: str) -> dict[str, Any]:
        if intent_id not in self.intents:
            raise StripeFault(404, "invalid_request_error", "No such payment_intent",
                              "resource_missing", param="intent")
        return self.intents[intent_id]

    def _payment_method(self, form: dict[str, str]) -> str | None:
        method = form.get("payment_method")
        if method is not None and method not in PAYMENT_METHODS:
            raise StripeFault(400, "invalid_request_error", "No such PaymentMethod",
                              "resource_missing", param="payment_method")
        return method

    def _become(self, intent: dict[str, Any], status: str, event: str | None = None) -> None:
        intent["status"] = status
        self.history[intent["id"]].append(status)
        if event is not None:
            self._emit(event, dict(intent))

    # ---- Payouts -----------------------------------------------------------------------

    def _create_payout(self, form: dict[str, str]) -> dict[str, Any]:
        _known(form, {"amount", "currency", "destination", "description", "method"},
               ("metadata[",))
        currency = _currency(form)
        amount = _amount(form, "amount", currency)
        destination = form.get("destination")
        if destination is not None and not destination.startswith(("ba_", "card_")):
            raise StripeFault(400, "invalid_request_error", "No such external account",
                              "resource_missing", param="destination")
        payout_id = stripe_id("po_")
        payout = {"id": payout_id, "object": "payout", "amount": amount, "currency": currency,
                  "status": "pending", "destination": destination, "failure_code": None,
                  "failure_message": None, "metadata": _metadata(form), "livemode": False,
                  "method": form.get("method", "standard"), "created": int(self.clock())}
        self.payouts[payout_id] = payout
        self._enqueue(lambda: self._settle_payout(payout_id))
        return dict(payout)

    def _settle_payout(self, payout_id: str) -> list[dict[str, Any]]:
        with self._lock:
            payout = self.payouts[payout_id]
            if self.fail_payouts:
                payout.update(status="failed", failure_code="account_closed",
                              failure_message="The bank account has been closed.")
            else:
                payout["status"] = "paid"
            return [self._event(f"payout.{payout['status']}", dict(payout))]

    def _retrieve_payout(self, form: dict[str, str], payout_id: str) -> dict[str, Any]:
        if payout_id not in self.payouts:
            raise StripeFault(404, "invalid_request_error", "No such payout",
                              "resource_missing", param="id")
        return dict(self.payouts[payout_id])

    # ---- webhooks ----------------------------------------------------------------------

    def _event(self, kind: str, snapshot: dict[str, Any]) -> dict[str, Any]:
        return {"id": stripe_id("evt_"), "object": "event", "type": kind,
                "created": int(self.clock()), "api_version": "2024-06-20", "livemode": False,
                "pending_webhooks": 1, "data": {"object": snapshot}}

    def _emit(self, kind: str, snapshot: dict[str, Any]) -> None:
        event = self._event(kind, snapshot)
        self._enqueue(lambda: [event])

    def _enqueue(self, job: Job, *, may_hold: bool = True) -> None:
        with self._lock:
            self._unfinished += 1
            if self._worker is None:
                self._worker = threading.Thread(target=self._work, name="stripe-webhooks",
                                                daemon=True)
                self._worker.start()
        self._jobs.put((job, may_hold))

    def _work(self) -> None:
        while (item := self._jobs.get()) is not None:
            job, may_hold = item
            try:
                if self.webhook_delay:
                    time.sleep(self.webhook_delay)
                for event in job():
                    if may_hold and self.reorder_webhooks:
                        with self._lock:
                            self._held.append(event)
                    else:
                        for _ in range(2 if self.duplicate_webhooks else 1):
                            self._deliver(event)
            finally:
                with self._idle:
                    self._unfinished -= 1
                    self._idle.notify_all()

    def _deliver(self, event: dict[str, Any]) -> None:
        body = json.dumps(event, separators=(",", ":")).encode()
        timestamp = int(self.clock())
        signed = [s for s in (self.webhook_secret, self.previous_webhook_secret) if s]
        header = ",".join([f"t={timestamp}", *(
            f"v1={stripe_signature(body, secret, timestamp)}" for secret in signed)])
        status: int | None = None
        if self.webhook_url is not None:
            try:
                status = httpx.post(self.webhook_url, content=body, timeout=5.0, headers={
                    "content-type": "application/json; charset=utf-8",
                    "stripe-signature": header,
                    "user-agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)"}).status_code
            except httpx.HTTPError:
                status = None
        with self._lock:
            self.webhooks.append(SentWebhook(event, body, header, status))


def _answer(status: int, body: dict[str, Any], *, replayed: bool = False) -> Response:
    headers = {"idempotent-replayed": "true"} if replayed else {}
    return JSONResponse(body, status_code=status, headers=headers)


def _unexpected(intent: dict[str, Any], action: str) -> StripeFault:
    return StripeFault(400, "invalid_request_error", f"You cannot {action} this PaymentIntent "
                       f"because it has a status of {intent['status']}.",
                       "payment_intent_unexpected_state", kept=True,
                       payment_intent=dict(intent))


def _known(form: Mapping[str, str], names: set[str], prefixes: tuple[str, ...] = ()) -> None:
    for name in form:
        if name not in names and not name.startswith(prefixes or ("\0",)):
            raise StripeFault(400, "invalid_request_error", f"Received unknown parameter: "
                              f"{name}", "parameter_unknown", param=name)


def _metadata(form: Mapping[str, str]) -> dict[str, str]:
    return {name[len("metadata["):-1]: value for name, value in form.items()
            if name.startswith("metadata[") and name.endswith("]")}


def _currency(form: Mapping[str, str]) -> str:
    currency = form.get("currency")
    if currency is None:
        raise StripeFault(400, "invalid_request_error", "Missing required param: currency.",
                          "parameter_missing", param="currency")
    if not re.fullmatch(r"[a-z]{3}", currency):
        raise StripeFault(400, "invalid_request_error", "Invalid currency: use a lower-case "
                          "three-letter ISO code", "parameter_invalid_string", param="currency")
    return currency


def _amount(form: Mapping[str, str], name: str, currency: str | None = None) -> int:
    value = form.get(name)
    if value is None:
        raise StripeFault(400, "invalid_request_error", f"Missing required param: {name}.",
                          "parameter_missing", param=name)
    if not re.fullmatch(r"[0-9]{1,12}", value):
        raise StripeFault(400, "invalid_request_error", f"Invalid integer: {value}",
                          "parameter_invalid_integer", param=name)
    amount = int(value)
    if currency is not None and amount < MINIMUM_CHARGE.get(currency, 1):
        raise StripeFault(400, "invalid_request_error", "Amount must be at least the minimum "
                          "charge for the currency", "amount_too_small", param=name)
    if amount > MAXIMUM_AMOUNT:
        raise StripeFault(400, "invalid_request_error", "Amount must be no more than "
                          f"{MAXIMUM_AMOUNT}", "amount_too_large", param=name)
    if currency in THREE_DECIMAL and amount % 10:
        raise StripeFault(400, "invalid_request_error", "Three-decimal currencies take "
                          "amounts whose last digit is 0", "parameter_invalid_integer",
                          param=name)
    return amount
