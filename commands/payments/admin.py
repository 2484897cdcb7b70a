"""Payments housekeeping: admins publish fraud rules and set users' tiers; either party of a
payment reports the other.

Who may publish or set a tier (the `admin` role) is checked at the API's door, once (the
routes under /v1/admin/payments); the commands record who did it and why. A report counts
against the reported user's activity (the `counterparty_reported` rule reads it), once per
reporter and payment; the reporter's reason is checked but not recorded (the `Reported`
event has no field for it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from uuid import UUID

from commands.payments.activities import activity_of
from commands.payments.payments import find_payment
from domain.errors import InvalidCommand
from domain.identity.errors import UserNotFound
from domain.identity.users import User
from domain.payments.limits import TIERS
from domain.payments.risk import DEFAULT_RULES, RuleSet
from domain.payments.rule_sets import RISK_RULES_ID, RiskRules
from event_log.aggregate import Cause
from event_log.batch import Batch
from event_log.outcomes import Handler

MAX_REASON_CHARS: Final = 500


class UnknownTier(InvalidCommand):
    """A tier is one of domain/payments/limits.py's TIERS."""


@dataclass(frozen=True)
class PublishRiskRules:
    """Put a rule set document in force as the next version (RiskRules.publish)."""

    document: Mapping[str, Any]
    reason: str
    operator: UUID  # the admin who publishes it
    defaults: RuleSet = DEFAULT_RULES  # the deployment's rules before the first publish


@dataclass(frozen=True)
class ChangePaymentTier:
    user_id: UUID
    tier: str
    reason: str


@dataclass(frozen=True)
class ReportPayment:
    """`reporter_id`, a party of the payment, reports the other party."""

    payment_id: UUID
    reporter_id: UUID
    reason: str
    at: datetime


@dataclass(frozen=True)
class RulesPublished:
    """The rule set in force after the command; `changed`: a new version was published."""

    version: int
    document: dict[str, Any]
    changed: bool


@dataclass(frozen=True)
class TierSet:
    user_id: UUID
    tier: str
    changed: bool


@dataclass(frozen=True)
class PaymentReported:
    payment_id: UUID
    reported_id: UUID
    recorded: bool  # False: this reporter had reported this payment already


def _reason(reason: str) -> str:
    stripped = reason.strip() if isinstance(reason, str) else ""
    if not 1 <= len(stripped) <= MAX_REASON_CHARS:
        raise InvalidCommand("reason", f"say why, in 1 to {MAX_REASON_CHARS} characters")
    return stripped


def publish_risk_rules(batch: Batch, command: PublishRiskRules, cause: Cause) -> RulesPublished:
    rules = batch.find(RiskRules, RISK_RULES_ID)
    started = rules is None
    if rules is None:
        rules = RiskRules.start(cause)
    changed = rules.publish(command.document, command.reason, command.operator, cause,
                            defaults=command.defaults)
    if changed or not started:  # nothing to keep of a first publish that changed nothing
        batch.add(rules)
    current = rules.current(command.defaults)
    return RulesPublished(current.version, current.as_document(), changed)


def change_payment_tier(batch: Batch, command: ChangePaymentTier, cause: Cause) -> TierSet:
    if command.tier not in TIERS:
        raise UnknownTier("tier", f"a tier is one of: {', '.join(TIERS)}")
    reason = _reason(command.reason)
    if batch.find(User, command.user_id) is None:
        raise UserNotFound("user_id", "no such user")
    activity = activity_of(batch, command.user_id, cause)
    changed = activity.change_tier(command.tier, reason, cause)
    return TierSet(command.user_id, activity.tier, changed)


def report_payment(batch: Batch, command: ReportPayment, cause: Cause) -> PaymentReported:
    _reason(command.reason)
    payment = find_payment(batch, command.payment_id, command.reporter_id)
    reported = (payment.recipient_id if command.reporter_id == payment.sender_id
                else payment.sender_id)
    recorded = activity_of(batch, reported, cause).record_report(
        command.reporter_id, command.at, cause, payment_id=payment.id)
    return PaymentReported(payment.id, reported, recorded)


ADMIN_HANDLERS: Mapping[type, Handler] = {
    PublishRiskRules: publish_risk_rules,
    ChangePaymentTier: change_payment_tier,
    ReportPayment: report_payment,
}
