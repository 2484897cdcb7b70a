"""The review queue's decisions: a reviewer approves or rejects a held payment, with a reason.

Only a holder of the `reviewer` (or `admin`) role decides; the API checks it at its door and
the handler again on the log's own record of roles, so the CLI and the API obey one rule.
The decision is an event on the payment (`ReviewDecided`, with the reviewer and the reason),
which the saga turns into settling or reversing, and which `parley audit` shows like any.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Final
from uuid import UUID

from commands.payments.payments import PaymentChanged, find_payment
from domain.errors import InvalidCommand
from domain.identity.roles import REVIEW_ROLES, UserRoles, user_roles_id
from domain.payments.errors import NotAReviewer
from event_log.aggregate import Cause
from event_log.batch import Batch
from event_log.outcomes import Handler

MAX_REASON_CHARS: Final = 500


@dataclass(frozen=True)
class ReviewPayment:
    payment_id: UUID
    reviewer_id: UUID
    approved: bool
    reason: str
    at: datetime


def require_reviewer(batch: Batch, user_id: UUID) -> None:
    roles = batch.find(UserRoles, user_roles_id(user_id))
    if roles is None or not roles.roles & REVIEW_ROLES:
        raise NotAReviewer("reviewer_id", "only reviewers decide held payments")


def review_payment(batch: Batch, command: ReviewPayment, cause: Cause) -> PaymentChanged:
    require_reviewer(batch, command.reviewer_id)
    reason = command.reason.strip()
    if not 1 <= len(reason) <= MAX_REASON_CHARS:
        raise InvalidCommand("reason", f"a decision gives its reason, at most "
                                       f"{MAX_REASON_CHARS} characters")
    payment = find_payment(batch, command.payment_id)
    payment.decide_review(command.reviewer_id, command.approved, reason, command.at, cause)
    return PaymentChanged(payment.id, "approved" if command.approved else "rejected")


REVIEW_HANDLERS: Mapping[type, Handler] = {ReviewPayment: review_payment}
