"""What the payments routes are given, typed and never None: the operator's payment policy,
the read models, keyed commands, the role gates and the card-number refusal.

Every payments router depends on `refuse_card_numbers` first, so a request carrying a card
number is refused before anything else reads it: before the role gates (whose refusals log
and record the path), before the body becomes a command. Every payment command takes an
`Idempotency-Key` (`KeyedCommands`): payments are money, and a retry must never pay twice.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Annotated, Final
from urllib.parse import unquote_plus

from fastapi import Depends, Header, Request, Response

from api.audit.dependencies import Access
from api.audit.log import record_denial
from api.http.dependencies import (
    IDEMPOTENCY_KEY_PATTERN,
    CommandContext,
    CorrelationId,
    CurrentSession,
    ParleyDep,
    Session,
    UserId,
    Writer,
    read_model,
)
from api.http.problems import Problem
from commands.payments.payments import PaymentPolicy
from domain.identity.roles import REVIEW_ROLES
from domain.payments.activity import PaymentActivity, activity_id
from domain.payments.card_numbers import refuse_card_numbers as refuse_in
from domain.payments.card_numbers import texts_of
from domain.payments.limits import DEFAULT_LIMITS, parse_limits
from domain.payments.payments import Payment
from domain.payments.risk import DEFAULT_RULES, RuleSet, rule_set_from_document
from domain.payments.rule_sets import RISK_RULES_ID, RiskRules
from event_log.aggregate import Cause
from event_log.batch import Batch
from projections.payments.balances import BalanceQueries
from projections.payments.payments import PaymentQueries
from projections.payments.statements import StatementQueries

log = logging.getLogger(__name__)
KEYED_NAMESPACE: Final = uuid.UUID("9a4c2e71-5b3d-4f08-8e16-d2c7a0b94f35")
BODY_METHODS: Final = ("POST", "PUT", "PATCH")
NOT_A_REVIEWER: Final = "only reviewers and admins may see or decide held payments"


# The card-number refusal (domain/payments/card_numbers.py)


async def refuse_card_numbers(request: Request) -> None:
    """Refuses (422 CardNumberRefused) a request whose path, query or body holds a card
    number, before any other dependency or the route reads it; the body is read once (the
    route's own parsing reuses it)."""
    refuse_in("path", request.url.path)
    if request.url.query:
        refuse_in("query", unquote_plus(request.url.query))
    if request.method in BODY_METHODS:
        body = (await request.body()).decode("utf-8", errors="replace")
        refuse_in("body", body)
        try:
            parsed = json.loads(body) if body.strip() else None
        except ValueError:
            return  # not JSON: the raw text was looked at; the route answers 400
        refuse_in("body", *texts_of(parsed))


CARD_NUMBERS_REFUSED = Depends(refuse_card_numbers)


# The operator's policy (parley/settings.py)


@lru_cache(maxsize=8)
def _policy(currencies: tuple[str, ...], limits: str, hold_seconds: int,
            fee_basis_points: int) -> PaymentPolicy:
    return PaymentPolicy(currencies, parse_limits(limits) if limits.strip() else DEFAULT_LIMITS,
                         hold_seconds, fee_basis_points)


async def get_payment_policy(parley: ParleyDep) -> PaymentPolicy:
    settings = parley.settings
    return _policy(tuple(settings.payment_currencies), settings.payment_limits,
                   settings.payment_hold_seconds, settings.payment_fee_basis_points)


@lru_cache(maxsize=8)
def _rules(text: str) -> RuleSet:
    return rule_set_from_document(json.loads(text)) if text.strip() else DEFAULT_RULES


async def get_default_rules(parley: ParleyDep) -> RuleSet:
    """The deployment's rules until an admin publishes some (PARLEY_PAYMENT_RULES), as the
    saga assesses with (parley/contexts/payments.py's default_rules)."""
    return _rules(parley.settings.payment_rules)


Policy = Annotated[PaymentPolicy, Depends(get_payment_policy)]
DefaultRules = Annotated[RuleSet, Depends(get_default_rules)]


# Read models (projections/payments/), built by the composition root


Balances = Annotated[BalanceQueries, Depends(read_model(BalanceQueries))]
Statements = Annotated[StatementQueries, Depends(read_model(StatementQueries))]
Payments = Annotated[PaymentQueries, Depends(read_model(PaymentQueries))]


@dataclass(frozen=True)
class PaymentRecords:
    """What routes read of the write side itself (exact, never behind): a user's activity
    (tier, what they sent lately), a payment, the published rules."""

    new_batch: Callable[[], Batch]

    def activity(self, user_id: uuid.UUID) -> PaymentActivity:
        """The user's activity; one that never paid or was paid is a new one (not saved)."""
        found = self.new_batch().find(PaymentActivity, activity_id(user_id))
        if found is None:
            return PaymentActivity.start(user_id, Cause(user_id, uuid.uuid4()))
        return found

    def payment(self, payment_id: uuid.UUID) -> Payment | None:
        return self.new_batch().find(Payment, payment_id)

    def rules_in_force(self, defaults: RuleSet) -> RuleSet:
        published = self.new_batch().find(RiskRules, RISK_RULES_ID)
        return defaults if published is None else published.current(defaults)


async def get_payment_records(parley: ParleyDep) -> PaymentRecords:
    repository = parley.event_log.repository
    return PaymentRecords(lambda: Batch(repository))


Records = Annotated[PaymentRecords, Depends(get_payment_records)]


# Keyed commands


def keyed_id(kind: str, caller: uuid.UUID, key: str) -> uuid.UUID:
    """The id of what a keyed command makes (a payment, a refund): the same caller and key
    make the same id, so even a retry that missed its receipt cannot make a second one."""
    return uuid.uuid5(KEYED_NAMESPACE, f"{kind}/{caller}/{key}")


RequiredIdempotencyKey = Annotated[str, Header(
    alias="Idempotency-Key", pattern=IDEMPOTENCY_KEY_PATTERN,
    description="Required: a retry with the same key and body answers the first answer; "
                "the same key with another body is 409")]


async def keyed_command_context(
    request: Request, response: Response, writer: Writer, caller: UserId,
    correlation: CorrelationId, idempotency_key: RequiredIdempotencyKey,
) -> CommandContext:
    """For payment commands, which all take an Idempotency-Key (422 without one)."""
    return CommandContext(writer, request, response, caller, correlation, idempotency_key)


KeyedCommands = Annotated[CommandContext, Depends(keyed_command_context)]


def now() -> datetime:
    return datetime.now(UTC)


# The reviewers' gate: refusals are logged and recorded, as the audit routes' are (the admin
# routes share the operators' gate, api/operations/maintenance.py `admin`, so every admin
# route refuses alike)


async def reviewer(access: Access, session: CurrentSession, request: Request,
                   correlation: CorrelationId) -> Session:
    """Reviewers and admins through; anyone else 403, the same answer whatever the id (the
    refusal logged and recorded)."""
    roles = await asyncio.to_thread(access.roles_of, session.user_id)
    if roles & REVIEW_ROLES:
        return session
    log.warning("review access denied", extra={
        "user_id": str(session.user_id), "method": request.method, "path": request.url.path})
    await record_denial(access, session, request, correlation)
    raise Problem(403, "Forbidden", NOT_A_REVIEWER)
