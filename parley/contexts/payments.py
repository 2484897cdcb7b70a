"""Payments: person-to-person money in conversations, on an event-sourced double-entry ledger
(wallets and system accounts, two-phase holds, linked transfers), with a saga per payment,
limits by tier, fraud rules as data and a review queue; funding and payouts through a card
processor."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from commands.payments.admin import ADMIN_HANDLERS
from commands.payments.funding_steps import FundingProcess, PayoutProcess
from commands.payments.fundings import FUNDING_HANDLERS
from commands.payments.payments import PAYMENT_HANDLERS
from commands.payments.request_timers import RequestExpiry
from commands.payments.requests import REQUEST_HANDLERS
from commands.payments.reviews import REVIEW_HANDLERS
from commands.payments.saga import PaymentSaga, step_effects
from commands.payments.steps import STEP_HANDLERS
from commands.payments.timers import HoldExpiry
from commands.payments.transfers import TRANSFER_HANDLERS
from commands.processes.issuing import Effect
from commands.processes.schedules import Schedule
from domain.payments.risk import DEFAULT_RULES, RuleSet, rule_set_from_document
from parley.contexts.manifest import BoundedContext, EffectParts, PlacedRouter, ScheduleParts
from parley.contexts.payment_processor import processor_effects, processor_schedules
from parley.settings import Settings
from projections.payments import balances, fundings, payments, requests, statements
from projections.read_model.runner import Projector

if TYPE_CHECKING:
    from api.http.problems import ProblemRefinement


def default_rules(settings: Settings) -> RuleSet:
    """The operator's rule set from settings, until an admin publishes one."""
    if not settings.payment_rules.strip():
        return DEFAULT_RULES
    return rule_set_from_document(json.loads(settings.payment_rules))


def projectors() -> Sequence[Projector]:
    return [*balances.projectors(), *statements.projectors(), *payments.projectors(),
            *requests.projectors(), *fundings.projectors()]


def effects(parts: EffectParts) -> Mapping[type, Effect]:
    rules = default_rules(parts.settings)
    return {**step_effects(parts.submit, parts.clock, lambda: rules),
            **processor_effects(parts)}


def schedules(parts: ScheduleParts) -> Sequence[Schedule]:
    """A process holding the writer ends holds and requests past their end, and reconciles
    what the card processor left unanswered."""
    if parts.execute is None or parts.store is None:
        return ()
    every = parts.settings.payment_timer_every_seconds
    timers = (HoldExpiry(payments.PaymentQueries(parts.store), parts.execute, parts.clock),
              RequestExpiry(requests.RequestQueries(parts.store), parts.execute, parts.clock))
    declared = [s for s in (timer.schedule(every) for timer in timers) if s is not None]
    return (*declared, *processor_schedules(parts))


def routers() -> Sequence[PlacedRouter]:
    # places 300 and on: after every route of the contexts before it
    from api.payments import admin, review, wallets
    from api.payments import fundings as funding_routes
    from api.payments import payments as payment_routes
    from api.payments import requests as request_routes

    return (PlacedRouter(300, wallets.router), PlacedRouter(310, payment_routes.router),
            PlacedRouter(320, request_routes.router), PlacedRouter(330, funding_routes.router),
            PlacedRouter(340, review.router), PlacedRouter(350, admin.router))


def problems() -> Sequence[ProblemRefinement[Any]]:
    from api.payments.problems import PROBLEMS

    return PROBLEMS


CONTEXT = BoundedContext(
    name="payments",
    handlers={**PAYMENT_HANDLERS, **STEP_HANDLERS, **REVIEW_HANDLERS, **TRANSFER_HANDLERS,
              **REQUEST_HANDLERS, **FUNDING_HANDLERS, **ADMIN_HANDLERS},
    projectors=projectors,
    relayed_event_modules=(
        "domain.payments.payments",  # the payments read model, the review queue, holds' ends
        "domain.payments.transfers",  # balances and statements (both legs in each event)
        "domain.payments.fundings",  # fundings and payouts through the card processor
    ),
    log_only_event_modules=(
        "domain.payments.accounts",  # each account's totals: the write side's bound checks
        "domain.payments.activity",  # who sent and received what lately: limits and rules
        "domain.payments.rule_sets",  # published rule sets (read from the log)
    ),
    store_queries=(balances.BalanceQueries, statements.StatementQueries,
                   payments.PaymentQueries, requests.RequestQueries, fundings.FundingQueries),
    routers=routers,
    problems=problems,
    process_managers=(PaymentSaga(), FundingProcess(), PayoutProcess()),
    effects=effects,
    schedules=schedules,
    settings=("payment_currencies", "payment_limits", "payment_hold_seconds",
              "payment_fee_basis_points", "payment_request_ttl_seconds", "payment_rules",
              "payment_timer_every_seconds", "payment_processor_url",
              "payment_processor_secret_key", "payment_webhook_secrets",
              "payment_processor_timeout_seconds"),
)
