"""The saga's steps, one command each (commands/payments/saga.py issues them).

Each step acts only if the payment is where the step expects it (assessed before it is held,
held before it is settled...) and otherwise answers the payment's status and records
nothing: a step issued twice, or after the sender cancelled, is harmless. Every failure path
compensates: a declined, failed or reversed payment gives back the sender's limits
(`release_send`) and voids or expires whatever hold it had.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from commands.payments.activities import activity_of
from commands.payments.holds import expire_hold, hold, post_hold, void_hold
from commands.payments.payments import PaymentChanged, find_payment
from domain.payments.errors import InsufficientFunds
from domain.payments.payments import (
    ASSESSED,
    HELD,
    IN_REVIEW,
    INITIATED,
    Payment,
    hold_transfer_id,
)
from domain.payments.risk import DECLINE, PaymentFacts, RuleSet, assess
from domain.payments.rule_sets import RISK_RULES_ID, RiskRules
from event_log.aggregate import Cause
from event_log.batch import Batch
from event_log.outcomes import Handler


@dataclass(frozen=True)
class AssessPayment:
    payment_id: UUID
    at: datetime
    default_rules: RuleSet  # until an operator publishes a rule set (domain/payments/rule_sets.py)


@dataclass(frozen=True)
class AuthorisePayment:
    payment_id: UUID
    at: datetime


@dataclass(frozen=True)
class SettlePayment:
    payment_id: UUID
    at: datetime


@dataclass(frozen=True)
class ReversePayment:
    """A reviewer rejected the held payment: its hold is voided."""

    payment_id: UUID
    reason: str
    by: UUID
    at: datetime


@dataclass(frozen=True)
class ExpireHolds:
    """Holds not settled by their end (the durable timer found them due)."""

    payment_ids: tuple[UUID, ...]
    at: datetime


@dataclass(frozen=True)
class HoldsExpired:
    payment_ids: tuple[UUID, ...]


def facts_of(payment: Payment) -> PaymentFacts:
    device_added_at = payment.facts.get("sender_device_added_at")
    return PaymentFacts(
        payment_id=payment.id, sender_id=payment.sender_id, recipient_id=payment.recipient_id,
        amount=payment.amount, currency=payment.currency, at=payment.initiated_at,
        sender_account_created_at=datetime.fromisoformat(
            payment.facts["sender_account_created_at"]),
        sender_device_added_at=(datetime.fromisoformat(device_added_at)
                                if device_added_at else None),
        blocked=bool(payment.facts.get("blocked")))


def assess_payment(batch: Batch, command: AssessPayment, cause: Cause) -> PaymentChanged:
    payment = find_payment(batch, command.payment_id)
    if payment.state != INITIATED:
        return PaymentChanged(payment.id, payment.status)
    published = batch.find(RiskRules, RISK_RULES_ID)
    rules = (published.current(defaults=command.default_rules) if published is not None
             else command.default_rules)
    sender = activity_of(batch, payment.sender_id, cause)
    recipient = activity_of(batch, payment.recipient_id, cause)
    assessment = assess(rules, facts_of(payment), sender, recipient)
    payment.assessed(assessment.outcome, assessment.score,
                     [r.as_document() for r in assessment.results],
                     assessment.rule_set_version, command.at, cause)
    if assessment.outcome == DECLINE:
        sender.release_send(payment.id, command.at, cause)
    return PaymentChanged(payment.id, payment.status)


def authorise_payment(batch: Batch, command: AuthorisePayment, cause: Cause) -> PaymentChanged:
    payment = find_payment(batch, command.payment_id)
    if payment.state != ASSESSED or payment.outcome == DECLINE:
        return PaymentChanged(payment.id, payment.status)
    try:
        expires_at = hold(batch, payment, command.at, cause)
    except InsufficientFunds:
        payment.fail("insufficient_funds", command.at, cause)
        activity_of(batch, payment.sender_id, cause).release_send(payment.id, command.at, cause)
        return PaymentChanged(payment.id, payment.status)
    payment.authorised(hold_transfer_id(payment.id), expires_at, command.at, cause)
    return PaymentChanged(payment.id, payment.status)


def settle_payment(batch: Batch, command: SettlePayment, cause: Cause) -> PaymentChanged:
    payment = find_payment(batch, command.payment_id)
    if not payment.settleable:
        return PaymentChanged(payment.id, payment.status)
    post_hold(batch, payment, command.at, cause)
    payment.settle(hold_transfer_id(payment.id), payment.fee, command.at, cause)
    activity_of(batch, payment.sender_id, cause).record_settled(payment.id, command.at, cause)
    activity_of(batch, payment.recipient_id, cause).record_receive(
        payment.id, payment.sender_id, payment.amount, payment.currency, command.at, cause)
    return PaymentChanged(payment.id, payment.status)


def reverse_payment(batch: Batch, command: ReversePayment, cause: Cause) -> PaymentChanged:
    payment = find_payment(batch, command.payment_id)
    if payment.state != IN_REVIEW:
        return PaymentChanged(payment.id, payment.status)
    void_hold(batch, payment, command.reason, command.at, cause)
    payment.reverse(command.reason, command.by, command.at, cause)
    activity_of(batch, payment.sender_id, cause).release_send(payment.id, command.at, cause)
    return PaymentChanged(payment.id, payment.status)


def expire_holds(batch: Batch, command: ExpireHolds, cause: Cause) -> HoldsExpired:
    expired: list[UUID] = []
    for payment_id in command.payment_ids:
        payment = batch.find(Payment, payment_id)
        if (payment is None or payment.state not in HELD or payment.hold_expires_at is None
                or payment.hold_expires_at > command.at):
            continue
        expire_hold(batch, payment, command.at, cause)
        payment.fail("hold_expired", command.at, cause)
        activity_of(batch, payment.sender_id, cause).release_send(payment.id, command.at, cause)
        expired.append(payment.id)
    return HoldsExpired(tuple(expired))


STEP_HANDLERS: Mapping[type, Handler] = {
    AssessPayment: assess_payment,
    AuthorisePayment: authorise_payment,
    SettlePayment: settle_payment,
    ReversePayment: reverse_payment,
    ExpireHolds: expire_holds,
}
