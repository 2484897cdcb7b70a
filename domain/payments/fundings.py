"""Money in from a card (a `Funding`) and out to a bank account (a `Payout`), through the
card processor, as two aggregates that only ever move forwards.

    funding:  requested -> processing <-> action_required -> succeeded (wallet credited)
                                                          \\-> failed (declined, canceled)
    payout:   requested (money held) -> sent -> paid (hold posted) | failed (hold voided)

The processor tells Parley what happened twice over: in the answers of the calls Parley makes
and in webhooks, which may come late, twice, or out of order (`payment_intent.succeeded`
before `amount_capturable_updated`). So each aggregate keeps how far the processor's object
has gone (`progress`) and an observation that is not further than that is answered as
nothing new: a stale or repeated report never moves a funding backwards, and an ended one
never changes again. The credit is a transfer whose id derives from the funding's
(`funding_transfer_id`), so even two commands racing to record success credit once.

Ids derive from the caller and the request's idempotency key, so a retried request finds the
funding it created. Nothing here keeps a card number: a payment method is a processor token
(`pm_...`), checked before a command is built.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final
from uuid import UUID, uuid5

from domain.errors import NotFound
from domain.payments.errors import InvalidAmount
from domain.payments.money import MAX_AMOUNT
from event_log.aggregate import Cause, ParleyAggregate, copied, values

FUNDING_NAMESPACE: Final = UUID("3b8e6d14-5f2a-4c07-9e61-d4a7b2c9f015")
REQUESTED, PROCESSING, ACTION_REQUIRED = "requested", "processing", "action_required"
SUCCEEDED, FAILED, SENT, PAID = "succeeded", "failed", "sent", "paid"
DECLINED: Final = "declined"
FUNDING_ENDED: Final = (SUCCEEDED, FAILED)
PAYOUT_ENDED: Final = (PAID, FAILED)

# How far a PaymentIntent has gone, by its status (Stripe's names): a report is applied only
# if it goes further than the last one. The ends rank highest and equal, so nothing follows.
INTENT_PROGRESS: Final = {
    "requires_payment_method": 1, "requires_confirmation": 1, "requires_action": 2,
    "processing": 3, "requires_capture": 4, "succeeded": 9, "canceled": 9,
    DECLINED: 9,  # Parley's name for requires_payment_method with an error: a decline
}
PAYOUT_PROGRESS: Final = {"pending": 1, "in_transit": 2, "paid": 9, "failed": 9,
                          "canceled": 9}


class FundingNotFound(NotFound):
    """No such funding, or it is not the caller's (told apart from nothing, on purpose)."""


class PayoutNotFound(NotFound):
    """No such payout, or it is not the caller's."""


def funding_id(user_id: UUID, idempotency_key: str) -> UUID:
    """The funding a user's request with this key creates (the same on every retry)."""
    return uuid5(FUNDING_NAMESPACE, f"funding/{user_id}/{idempotency_key}")


def payout_id(user_id: UUID, idempotency_key: str) -> UUID:
    return uuid5(FUNDING_NAMESPACE, f"payout/{user_id}/{idempotency_key}")


def funding_transfer_id(funding: UUID) -> UUID:
    """The single transfer that credits a funding (unique by id: credited once, ever)."""
    return uuid5(funding, "credit")


def payout_transfer_id(payout: UUID) -> UUID:
    """The pending transfer that holds a payout's money until the processor says paid."""
    return uuid5(payout, "hold")


def processor_key(object_id: UUID, step: str) -> str:
    """The idempotency key of one processor call (`create`, `confirm`, `capture`, `payout`):
    a retry of the step, after a timeout or a crash, is the same call, never a second one."""
    return f"{object_id}/{step}"


def require_amount(amount: int) -> int:
    if isinstance(amount, bool) or not isinstance(amount, int) or not 0 < amount <= MAX_AMOUNT:
        raise InvalidAmount("amount", f"a whole number of minor units, 1 to {MAX_AMOUNT}")
    return amount


class Funding(ParleyAggregate):
    """Money charged to a card and credited to the user's wallet once the charge succeeds."""

    def __init__(self, user_id: UUID, amount: int, currency: str, payment_method: str,
                 requested_at: datetime) -> None:
        self.user_id = user_id
        self.amount = amount
        self.currency = currency
        self.payment_method = payment_method
        self.requested_at = requested_at
        self.state = REQUESTED
        self.intent_id = ""
        self.intent_status = ""
        self.progress = 0
        self.failure_code = ""
        self.updated_at = requested_at

    class Requested(ParleyAggregate.Created):
        user_id: UUID
        amount: int
        currency: str
        payment_method: str  # a processor token (pm_...), never a card number
        requested_at: datetime

    class Progressed(ParleyAggregate.Event):
        """The processor's intent went further without ending (created, waiting for the
        customer's 3-D Secure, authorised and waiting for capture)."""

        intent_id: str
        intent_status: str
        progress: int
        at: datetime

        def apply(self, aggregate: ParleyAggregate) -> None:
            assert isinstance(aggregate, Funding)
            aggregate.intent_id = self.intent_id
            aggregate.intent_status = self.intent_status
            aggregate.progress = self.progress
            aggregate.updated_at = self.at
            aggregate.state = (ACTION_REQUIRED if self.intent_status == "requires_action"
                               else PROCESSING)

    class Succeeded(ParleyAggregate.Event):
        """The card was charged and the wallet credited by `transfer_id`."""

        intent_id: str
        amount_received: int
        transfer_id: UUID
        at: datetime
        copies = copied("intent_id", updated_at="at")
        sets = values(state=SUCCEEDED, intent_status="succeeded", progress=9)

    class Failed(ParleyAggregate.Event):
        code: str  # the decline code (insufficient_funds...), or canceled
        at: datetime
        copies = copied(failure_code="code", updated_at="at")
        sets = values(state=FAILED, progress=9)

    @classmethod
    def request(cls, funding: UUID, user_id: UUID, amount: int, currency: str,
                payment_method: str, at: datetime, cause: Cause) -> Funding:
        return cls._create(cls.Requested, id=funding, user_id=user_id,
                           amount=require_amount(amount), currency=currency,
                           payment_method=payment_method, requested_at=at,
                           **cause.as_event_fields())

    @property
    def ended(self) -> bool:
        return self.state in FUNDING_ENDED

    def is_news(self, intent_status: str) -> bool:
        """Whether a report of the intent at this status goes further than what is known."""
        return not self.ended and INTENT_PROGRESS.get(intent_status, 0) > self.progress

    def progressed(self, intent_id: str, intent_status: str, at: datetime,
                   cause: Cause) -> bool:
        """Records a step short of the end; False (nothing recorded) if it is not news."""
        if not self.is_news(intent_status) or INTENT_PROGRESS[intent_status] >= 9:
            return False
        self.trigger_event(self.Progressed, intent_id=intent_id, intent_status=intent_status,
                           progress=INTENT_PROGRESS[intent_status], at=at,
                           **cause.as_event_fields())
        return True

    def succeed(self, intent_id: str, amount_received: int, at: datetime,
                cause: Cause) -> bool:
        """Records the charge (the caller records the credit transfer beside it); False if
        the funding had ended already."""
        if self.ended:
            return False
        self.trigger_event(self.Succeeded, intent_id=intent_id,
                           amount_received=amount_received,
                           transfer_id=funding_transfer_id(self.id), at=at,
                           **cause.as_event_fields())
        return True

    def fail(self, code: str, at: datetime, cause: Cause) -> bool:
        if self.ended:
            return False
        self.trigger_event(self.Failed, code=code, at=at, **cause.as_event_fields())
        return True


class Payout(ParleyAggregate):
    """Money held in a wallet and sent to a bank account; posted once paid, voided (the money
    back in the wallet) if the payout failed."""

    def __init__(self, user_id: UUID, amount: int, currency: str, destination: str,
                 transfer_id: UUID, requested_at: datetime) -> None:
        self.user_id = user_id
        self.amount = amount
        self.currency = currency
        self.destination = destination
        self.transfer_id = transfer_id
        self.requested_at = requested_at
        self.state = REQUESTED
        self.processor_payout_id = ""
        self.progress = 0
        self.failure_code = ""
        self.updated_at = requested_at

    class Requested(ParleyAggregate.Created):
        user_id: UUID
        amount: int
        currency: str
        destination: str  # a processor token (ba_..., card_...)
        transfer_id: UUID  # the pending transfer wallet -> payouts clearing
        requested_at: datetime

    class Sent(ParleyAggregate.Event):
        processor_payout_id: str
        status: str
        progress: int
        at: datetime
        copies = copied("processor_payout_id", "progress", updated_at="at")
        sets = values(state=SENT)

    class Paid(ParleyAggregate.Event):
        at: datetime
        copies = copied(updated_at="at")
        sets = values(state=PAID, progress=9)

    class Failed(ParleyAggregate.Event):
        code: str
        at: datetime
        copies = copied(failure_code="code", updated_at="at")
        sets = values(state=FAILED, progress=9)

    @classmethod
    def request(cls, payout: UUID, user_id: UUID, amount: int, currency: str,
                destination: str, at: datetime, cause: Cause) -> Payout:
        return cls._create(cls.Requested, id=payout, user_id=user_id,
                           amount=require_amount(amount), currency=currency,
                           destination=destination, transfer_id=payout_transfer_id(payout),
                           requested_at=at, **cause.as_event_fields())

    @property
    def ended(self) -> bool:
        return self.state in PAYOUT_ENDED

    def sent(self, processor_payout_id: str, status: str, at: datetime, cause: Cause) -> bool:
        """Records the processor's payout short of its end; False if it is not news."""
        progress = PAYOUT_PROGRESS.get(status, 0)
        if self.ended or not self.progress < progress < 9:
            return False
        self.trigger_event(self.Sent, processor_payout_id=processor_payout_id, status=status,
                           progress=progress, at=at, **cause.as_event_fields())
        return True

    def paid(self, at: datetime, cause: Cause) -> bool:
        """Records the end (the caller posts the hold beside it); False if it had ended."""
        if self.ended:
            return False
        self.trigger_event(self.Paid, at=at, **cause.as_event_fields())
        return True

    def fail(self, code: str, at: datetime, cause: Cause) -> bool:
        """Records the failure (the caller voids the hold beside it); False if it had ended."""
        if self.ended:
            return False
        self.trigger_event(self.Failed, code=code, at=at, **cause.as_event_fields())
        return True
