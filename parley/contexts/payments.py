"""Payments: person-to-person money in conversations, on an event-sourced double-entry ledger
(wallets and system accounts, two-phase holds, linked transfers), with a saga per payment,
limits by tier, fraud rules as data and a review queue; funding and payouts through a card
processor."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from commands.payments.payments import PAYMENT_HANDLERS
from commands.payments.reviews import REVIEW_HANDLERS
from commands.payments.saga import PaymentSaga, step_effects
from commands.payments.steps import STEP_HANDLERS
from commands.payments.transfers import TRANSFER_HANDLERS
from commands.processes.issuing import Effect
from domain.payments.risk import DEFAULT_RULES, RuleSet, rule_set_from_document
from parley.contexts.manifest import BoundedContext, EffectParts
from parley.settings import Settings

if TYPE_CHECKING:
    from api.http.problems import ProblemRefinement


def default_rules(settings: Settings) -> RuleSet:
    """The operator's rule set from settings, until an admin publishes one."""
    if not settings.payment_rules.strip():
        return DEFAULT_RULES
    import json

    return rule_set_from_document(json.loads(settings.payment_rules))


def effects(parts: EffectParts) -> Mapping[type, Effect]:
    rules = default_rules(parts.settings)
    return step_effects(parts.submit, parts.clock, lambda: rules, parts.timeout)


def problems() -> Sequence[ProblemRefinement[Any]]:
    return ()


CONTEXT = BoundedContext(
    name="payments",
    handlers={**PAYMENT_HANDLERS, **STEP_HANDLERS, **REVIEW_HANDLERS, **TRANSFER_HANDLERS},
    relayed_event_modules=(
        "domain.payments.payments",  # the payments read model, the review queue, holds' ends
        "domain.payments.transfers",  # balances and statements (both legs in each event)
    ),
    log_only_event_modules=(
        "domain.payments.accounts",  # each account's totals: the write side's bound checks
        "domain.payments.activity",  # who sent and received what lately: limits and rules
        "domain.payments.rule_sets",  # published rule sets (read from the log)
    ),
    problems=problems,
    process_managers=(PaymentSaga(),),
    effects=effects,
    settings=("payment_currencies", "payment_limits", "payment_hold_seconds",
              "payment_fee_basis_points", "payment_request_ttl_seconds", "payment_rules",
              "payment_timer_every_seconds", "payment_processor_url",
              "payment_processor_secret_key", "payment_webhook_secrets",
              "payment_processor_timeout_seconds"),
)
