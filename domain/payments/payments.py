"""A payment's saga as one aggregate: each step it took, and why, in the order it took them.

    initiated -> assessed -> authorised (funds held) -> settled
                    |             |-> in_review -> settled | reversed (rejected)
                    |             |-> reversed (cancelled) | failed (the hold expired)
                    |-> declined (risk)     failed (not enough money when held)

A settled payment may be refunded, in full or in parts, up to what was settled. Every step is
an event; the process manager (commands/payments/saga.py) reacts to each and issues the next
step's command keyed by the event, so a step redone after a crash does nothing twice. A
command that finds the payment already past its step answers without recording anything.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final
from uuid import UUID, uuid5

from domain.payments.errors import InvalidAmount, PaymentStateConflict
from domain.payments.risk import DECLINE, REVIEW
from event_log.aggregate import Cause, ParleyAggregate, copied, values

PAYMENT_NAMESPACE: Final = UUID("7d3f0b6e-4a1c-4e92-b8d5-19c2e7a05f64")
INITIATED, ASSESSED, AUTHORISED, IN_REVIEW = "initiated", "assessed", "authorised", "in_review"
SETTLED, DECLINED, FAILED, REVERSED = "settled", "declined", "failed", "reversed"
HELD: Final = (AUTHORISED, IN_REVIEW)
UNSETTLED: Final = (INITIATED, ASSESSED, AUTHORISED, IN_REVIEW)
ENDED: Final = (SETTLED, DECLINED, FAILED, REVERSED)
MAX_NOTE_CHARS: Final = 280


def hold_transfer_id(payment_id: UUID) -> UUID:
    """The pending transfer that holds a payment's money (one per payment: unique by id)."""
    return uuid5(PAYMENT_NAMESPACE, f"hold/{payment_id}")


def fee_transfer_id(payment_id: UUID) -> UUID:
    return uuid5(PAYMENT_NAMESPACE, f"fee/{payment_id}")


def refund_transfer_id(payment_id: UUID, refund_id: UUID) -> UUID:
    return uuid5(PAYMENT_NAMESPACE, f"refund/{payment_id}/{refund_id}")


def payment_message_id(payment_id: UUID) -> UUID:
    """The conversation message that shows the payment."""
    return uuid5(PAYMENT_NAMESPACE, f"message/{payment_id}")


class Payment(ParleyAggregate):
    """One person-to-person payment, from initiation to its end (and refunds after)."""

    def __init__(self, sender_id: UUID, recipient_id: UUID, conversation_id: UUID,
                 amount: int, currency: str, note: str, initiated_at: datetime,
                 request_id: UUID | None, facts: dict[str, Any], fee: int,
                 hold_seconds: int) -> None:
        self.sender_id = sender_id
        self.recipient_id = recipient_id
        self.conversation_id = conversation_id
        self.amount = amount
        self.currency = currency
        self.note = note
        self.initiated_at = initiated_at
        self.request_id = request_id
        self.facts = dict(facts)
        self.state = INITIATED
        self.outcome = ""  # the risk outcome: allow, review or decline
        self.hold_expires_at: datetime | None = None
        self.fee = fee
        self.hold_seconds = hold_seconds
        self.refunded = 0
        self.refund_ids: list[str] = []
        self.reason = ""
        self.approved: bool | None = None  # a reviewer's decision on a held payment

    class Initiated(ParleyAggregate.Created):
        sender_id: UUID
        recipient_id: UUID
        conversation_id: UUID
        amount: int
        currency: str
        note: str
        initiated_at: datetime
        request_id: UUID | None
        fee: int  # what the sender pays on top, to the fees account, as shown when sending
        hold_seconds: int  # how long the money may be held before the hold is voided
        # what the risk rules are told of the sender at the time (account and device ages,
        # blocks between the two), recorded so an assessment can be explained later
        facts: dict[str, Any]

    class RiskAssessed(ParleyAggregate.Event):
        outcome: str
        score: int
        results: list[dict[str, Any]]
        rule_set_version: int
        at: datetime
        copies = copied("outcome")
        sets = values(state=ASSESSED)

    class Declined(ParleyAggregate.Event):
        reason: str
        at: datetime
        copies = copied("reason")
        sets = values(state=DECLINED)

    class Authorised(ParleyAggregate.Event):
        """The money is held: a pending transfer from the sender's wallet to the
        recipient's, voided if not settled by `expires_at`."""

        transfer_id: UUID
        expires_at: datetime
        review: bool
        at: datetime

        def apply(self, aggregate: ParleyAggregate) -> None:
            assert isinstance(aggregate, Payment)
            aggregate.state = IN_REVIEW if self.review else AUTHORISED
            aggregate.hold_expires_at = self.expires_at

    class ReviewDecided(ParleyAggregate.Event):
        reviewer_id: UUID
        approved: bool
        reason: str
        at: datetime
        copies = copied("approved")

    class Settled(ParleyAggregate.Event):
        transfer_id: UUID
        amount: int
        fee: int
        at: datetime
        sets = values(state=SETTLED, hold_expires_at=None)

    class Failed(ParleyAggregate.Event):
        reason: str  # insufficient_funds, hold_expired
        at: datetime
        copies = copied("reason")
        sets = values(state=FAILED, hold_expires_at=None)

    class Reversed(ParleyAggregate.Event):
        """The hold was voided: the reviewer rejected the payment, or its sender cancelled."""

        reason: str
        by: UUID
        at: datetime
        copies = copied("reason")
        sets = values(state=REVERSED, hold_expires_at=None)

    class Refunded(ParleyAggregate.Event):
        refund_id: UUID
        transfer_id: UUID
        amount: int
        reason: str
        by: UUID
        at: datetime

        def apply(self, aggregate: ParleyAggregate) -> None:
            assert isinstance(aggregate, Payment)
            aggregate.refunded += self.amount
            aggregate.refund_ids.append(str(self.refund_id))

    @classmethod
    def initiate(cls, payment_id: UUID, sender_id: UUID, recipient_id: UUID,
                 conversation_id: UUID, amount: int, currency: str, note: str, at: datetime,
                 facts: dict[str, Any], fee: int, hold_seconds: int, cause: Cause,
                 request_id: UUID | None = None) -> Payment:
        if sender_id == recipient_id:
            raise InvalidAmount("recipient_id", "a payment goes to someone else")
        return cls._create(cls.Initiated, id=payment_id, sender_id=sender_id,
                           recipient_id=recipient_id, conversation_id=conversation_id,
                           amount=amount, currency=currency, note=note[:MAX_NOTE_CHARS],
                           initiated_at=at, request_id=request_id, facts=dict(facts),
                           fee=fee, hold_seconds=hold_seconds,
                           **cause.as_event_fields())

    @property
    def status(self) -> str:
        """What people see: the state, with refunds told apart."""
        if self.state == SETTLED and self.refunded:
            return "refunded" if self.refunded >= self.amount else "partially_refunded"
        return self.state

    def assessed(self, outcome: str, score: int, results: list[dict[str, Any]],
                 rule_set_version: int, at: datetime, cause: Cause) -> bool:
        if self.state != INITIATED:
            return False
        self.trigger_event(self.RiskAssessed, outcome=outcome, score=score, results=results,
                           rule_set_version=rule_set_version, at=at, **cause.as_event_fields())
        if outcome == DECLINE:
            self.trigger_event(self.Declined, reason="risk", at=at, **cause.as_event_fields())
        return True

    def authorised(self, transfer_id: UUID, expires_at: datetime, at: datetime,
                   cause: Cause) -> None:
        self.trigger_event(self.Authorised, transfer_id=transfer_id, expires_at=expires_at,
                           review=self.outcome == REVIEW, at=at, **cause.as_event_fields())

    def fail(self, reason: str, at: datetime, cause: Cause) -> None:
        self.trigger_event(self.Failed, reason=reason, at=at, **cause.as_event_fields())

    def decide_review(self, reviewer_id: UUID, approved: bool, reason: str, at: datetime,
                      cause: Cause) -> None:
        if self.state != IN_REVIEW or self.approved is not None:
            raise PaymentStateConflict("payment_id", f"the payment is {self.status}, not "
                                                     "waiting for review")
        self.trigger_event(self.ReviewDecided, reviewer_id=reviewer_id, approved=approved,
                           reason=reason, at=at, **cause.as_event_fields())

    @property
    def settleable(self) -> bool:
        """Held and cleared: risk allowed it, or a reviewer approved it."""
        return self.state == AUTHORISED or (self.state == IN_REVIEW and self.approved is True)

    def settle(self, transfer_id: UUID, fee: int, at: datetime, cause: Cause) -> None:
        self.trigger_event(self.Settled, transfer_id=transfer_id, amount=self.amount, fee=fee,
                           at=at, **cause.as_event_fields())

    def reverse(self, reason: str, by: UUID, at: datetime, cause: Cause) -> None:
        self.trigger_event(self.Reversed, reason=reason, by=by, at=at,
                           **cause.as_event_fields())

    def refundable(self) -> int:
        return self.amount - self.refunded if self.state == SETTLED else 0

    def require_refundable(self, amount: int) -> None:
        if self.state != SETTLED:
            raise PaymentStateConflict("payment_id", f"only a settled payment is refunded; "
                                                     f"this one is {self.status}")
        if not 0 < amount <= self.refundable():
            raise InvalidAmount("amount", f"at most {self.refundable()} can still be refunded")

    def refund(self, refund_id: UUID, transfer_id: UUID, amount: int, reason: str, by: UUID,
               at: datetime, cause: Cause) -> None:
        if str(refund_id) in self.refund_ids:
            return
        self.require_refundable(amount)
        self.trigger_event(self.Refunded, refund_id=refund_id, transfer_id=transfer_id,
                           amount=amount, reason=reason, by=by, at=at,
                           **cause.as_event_fields())

    def cancel(self, by: UUID, at: datetime, cause: Cause) -> bool:
        """The sender takes an unsettled payment back; returns whether it was held (so its
        hold is to be voided). A payment that ended already cannot be cancelled."""
        if self.state not in UNSETTLED:
            raise PaymentStateConflict("payment_id", f"the payment is {self.status} already")
        held = self.state in HELD
        self.reverse("cancelled", by, at, cause)
        return held
