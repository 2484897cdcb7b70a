"""The port to a card processor (adapters/payments/stripe_processor.py is its Stripe adapter).

The saga moves card money in two steps, as Stripe's manual capture does: an authorisation
(a PaymentIntent confirmed to `requires_capture`, a hold on the card) and then a capture (all
or part of it) or a cancel. Payouts send money from the processor's balance to a bank account.

Every call that changes something takes an idempotency key, which the processor de-duplicates
on: the same key and the same parameters answer the first answer again, so the caller derives
the key from the step that caused the call (the event id), and a retry after a crash or a
timeout is the same call, never a second charge.

What went wrong is an exception, each saying what the caller can know:
- `ProcessorDeclined`: the card (or its issuer) refused; the intent is back to needing a
  payment method. The payment has failed, nothing was held.
- `ProcessorUnavailable`: the processor could not be reached or answered 5xx or 429: the call
  may be tried again, with the same key.
- `ProcessorTimedOut`: the request went out and no readable answer came back (a read
  timeout, the connection lost mid-answer, a body that is not Stripe's). The call may have
  taken effect: the caller reconciles by
  `retrieve()` or by the webhook, or repeats the call with the same key.
- `ProcessorRefused`: any other refusal (bad parameters, an intent in the wrong state, a key
  reused with other parameters, a wrong secret key): repeating it will not help.

Amounts are integers of minor units, as Stripe's are; currencies are ISO 4217 codes in upper
case here (the adapter speaks Stripe's lower case). No view carries a payment method token.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Protocol

from domain.errors import InvalidCommand

# PaymentIntent statuses (Stripe's names)
REQUIRES_PAYMENT_METHOD: Final = "requires_payment_method"
REQUIRES_CONFIRMATION: Final = "requires_confirmation"
REQUIRES_ACTION: Final = "requires_action"
PROCESSING: Final = "processing"
REQUIRES_CAPTURE: Final = "requires_capture"
SUCCEEDED: Final = "succeeded"
CANCELED: Final = "canceled"
# Payout statuses
PAYOUT_PENDING: Final = "pending"
PAYOUT_IN_TRANSIT: Final = "in_transit"
PAYOUT_PAID: Final = "paid"
PAYOUT_FAILED: Final = "failed"
PAYOUT_CANCELED: Final = "canceled"

# Processor tokens: a payment method (pm_...), a bank account or card to pay out to (ba_...,
# card_...), an intent (pi_...), a payout (po_...). Anything else (a card number above all)
# never leaves Parley.
_TOKEN = re.compile(r"[A-Za-z0-9_]{1,250}")
PAYMENT_METHOD_PREFIXES: Final = ("pm_",)
DESTINATION_PREFIXES: Final = ("ba_", "card_")
INTENT_PREFIXES: Final = ("pi_",)
PAYOUT_PREFIXES: Final = ("po_",)


@dataclass(frozen=True)
class PaymentIntentView:
    """What the processor says of one PaymentIntent. `last_error_code` is the most specific
    reason of its last failed attempt (a decline code such as `insufficient_funds`, else the
    error code), or None."""

    id: str
    status: str
    amount: int
    amount_capturable: int
    amount_received: int
    currency: str
    reference: str
    last_error_code: str | None = None


@dataclass(frozen=True)
class PayoutView:
    """What the processor says of one payout (`failure_code` once it failed)."""

    id: str
    status: str
    amount: int
    currency: str
    reference: str
    failure_code: str | None = None


class CardProcessorError(Exception):
    """Something the card processor did or did not do (the bases below say which)."""


class ProcessorDeclined(CardProcessorError):
    """The card was declined (Stripe's 402 `card_error`); `code` is the decline code when the
    processor gives one (`generic_decline`, `insufficient_funds`), else its error code, and
    `intent` the intent as it stands after the decline, when the answer carried it."""

    def __init__(self, code: str, intent: PaymentIntentView | None) -> None:
        super().__init__(f"the card processor declined the payment ({code})")
        self.code = code
        self.intent = intent


class ProcessorUnavailable(CardProcessorError):
    """The processor could not be reached, or answered 5xx or 429: try again later, with the
    same idempotency key."""


class ProcessorTimedOut(CardProcessorError):
    """The request was sent and no readable answer came: it may have taken effect. Reconcile
    by `retrieve()` or the webhook, or repeat it with the same idempotency key."""


class ProcessorRefused(CardProcessorError):
    """The processor refused the request (`status` its HTTP status, `code` its error code or
    else its error type, such as `payment_intent_unexpected_state` or `idempotency_error`)."""

    def __init__(self, status: int, code: str) -> None:
        super().__init__(f"the card processor refused the request (HTTP {status}, {code})")
        self.status = status
        self.code = code


class NotAProcessorToken(InvalidCommand):
    """A payment method, payout destination, intent or payout id that is not a processor
    token of its kind: it is not sent (it could be a card number)."""


class WebhookSignatureInvalid(Exception):
    """A webhook whose signature header does not prove it came from the processor, recently.
    `reason` is one of: missing_header, malformed_header, no_v1_signature,
    timestamp_outside_tolerance, no_matching_signature."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"the webhook signature is not valid ({reason})")
        self.reason = reason


def processor_token(value: str, prefixes: tuple[str, ...], field: str) -> str:
    """`value` if it is a token starting with one of `prefixes` (`NotAProcessorToken` else;
    the message never quotes the value)."""
    if not (isinstance(value, str) and value.startswith(prefixes) and _TOKEN.fullmatch(value)):
        raise NotAProcessorToken(field, f"{field} must be a processor token "
                                        f"({' or '.join(p + '...' for p in prefixes)})")
    return value


class CardProcessor(Protocol):
    """A card processor account: PaymentIntents with manual capture, and payouts."""

    def create_payment_intent(self, amount: int, currency: str, payment_method: str,
                              reference: str, idempotency_key: str,
                              capture_method: str = "manual") -> PaymentIntentView:
        """A new intent for `amount` on `payment_method`, not yet confirmed
        (`requires_confirmation`); `reference` is Parley's (the payment id)."""
        ...

    def confirm(self, intent_id: str, idempotency_key: str) -> PaymentIntentView:
        """Authorise: `requires_capture` (a hold), `requires_action` (3-D Secure), or
        `ProcessorDeclined`."""
        ...

    def capture(self, intent_id: str, idempotency_key: str,
                amount_to_capture: int | None = None) -> PaymentIntentView:
        """Take the held money (all, or `amount_to_capture` and release the rest)."""
        ...

    def cancel(self, intent_id: str, idempotency_key: str) -> PaymentIntentView:
        """Release the hold (or give up an intent not yet authorised)."""
        ...

    def retrieve(self, intent_id: str) -> PaymentIntentView:
        """The intent as the processor has it now."""
        ...

    def create_payout(self, amount: int, currency: str, destination: str, reference: str,
                      idempotency_key: str) -> PayoutView:
        """Send `amount` from the processor balance to `destination` (a bank account token);
        it starts `pending` and later becomes `paid` or `failed` (the webhook says when)."""
        ...

    def retrieve_payout(self, payout_id: str) -> PayoutView:
        """The payout as the processor has it now."""
        ...
