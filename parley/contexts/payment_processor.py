"""The card processor as the payments context's process managers and schedules reach it:
built from settings, once per process that holds the writer.

Without `payment_processor_url` there is no processor: no effect is wired (the funding
process managers' `ChargeCard` / `SendPayout` have no port, so the manifest lists them only
when one is configured) and the funding routes answer 503.

A call that times out or finds the processor away raises out of the effect: the runner stops
the round before recording its position and retries the event next round, and every retried
call carries the same idempotency key (domain/payments/fundings.py `processor_key`), so the
processor answers the first call again rather than charging twice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any, Final
from uuid import UUID

from adapters.payments.stripe_processor import StripeProcessor
from commands.payments.card_processor import CardProcessor
from commands.payments.funding_steps import (
    FUNDING_ACTOR,
    ChargeCard,
    SendPayout,
    charge_card,
    reconcile_funding,
    reconcile_payout,
    send_payout,
)
from commands.processes.issuing import Effect
from commands.processes.schedules import Schedule
from event_log.aggregate import Cause
from parley.contexts.manifest import EffectParts, ScheduleParts
from parley.settings import Settings
from projections.payments.fundings import FundingQueries

STUCK_SECONDS: Final = 60  # a funding's intent unmoved this long is asked after


def card_processor(settings: Settings) -> CardProcessor | None:
    """The configured processor (connect timeout at most 3 s, read timeout the setting's),
    or None when funding is not configured."""
    if not settings.payment_processor_url or settings.payment_processor_secret_key is None:
        return None
    timeout = settings.payment_processor_timeout_seconds
    return StripeProcessor(settings.payment_processor_secret_key.get_secret_value(),
                           base_url=settings.payment_processor_url,
                           connect_timeout=min(3.0, timeout), read_timeout=timeout)


def processor_effects(parts: EffectParts) -> Mapping[type, Effect]:
    """The ports behind `ChargeCard` and `SendPayout`: the processor's calls, then the
    outcome command, submitted under the runner's key (its future is the answer)."""
    processor = card_processor(parts.settings)
    if processor is None:
        return {}

    def charge(step: Any, key: str) -> object:
        assert isinstance(step, ChargeCard)
        return parts.submit(charge_card(processor, step, parts.clock()), step.cause, key)

    def pay_out(step: Any, key: str) -> object:
        assert isinstance(step, SendPayout)
        return parts.submit(send_payout(processor, step, parts.clock()), step.cause, key)

    return {ChargeCard: charge, SendPayout: pay_out}


def processor_schedules(parts: ScheduleParts) -> Sequence[Schedule]:
    """Reconciles what the processor left unanswered (a timeout, a lost webhook): fundings
    whose intent has not moved for `STUCK_SECONDS` and payouts sent but not ended are
    retrieved, and what the processor has now is recorded like a webhook would be."""
    processor = card_processor(parts.settings)
    execute, store = parts.execute, parts.store
    if processor is None or execute is None or store is None:
        return ()
    queries = FundingQueries(store)

    def reconcile(bound: int) -> int:
        since = parts.clock() - timedelta(seconds=STUCK_SECONDS)
        handled = 0
        for funding in queries.stuck_fundings(since, bound):
            if funding.get("intent_id"):  # none yet: the charge's own retries carry it on
                funding_id = UUID(str(funding["funding_id"]))
                execute(reconcile_funding(processor, funding_id, str(funding["intent_id"]),
                                          parts.clock()), _cause(funding_id))
                handled += 1
        for payout in queries.unended_payouts(since, bound):
            payout_id = UUID(str(payout["payout_id"]))
            execute(reconcile_payout(processor, payout_id, str(payout["processor_payout_id"]),
                                     parts.clock()), _cause(payout_id))
            handled += 1
        return handled

    return (Schedule("payments-processor-reconcile", parts.settings.payment_timer_every_seconds,
                     reconcile, doing="reconciling fundings and payouts with the processor"),)


def _cause(object_id: UUID) -> Cause:
    return Cause(actor_id=FUNDING_ACTOR, correlation_id=object_id)
