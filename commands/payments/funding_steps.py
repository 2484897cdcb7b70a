"""The process managers that take fundings and payouts to the processor, and the steps their
effects take there.

`FundingProcess` answers a requested funding (and one whose authorisation came back from 3-D
Secure) with `ChargeCard`; `PayoutProcess` answers a requested payout with `SendPayout`. Both
are effects (commands/processes/issuing.py): the port built in
parley/contexts/payment_processor.py calls `charge_card` / `send_payout` with the processor
and submits the outcome command under the runner's key. Every processor call's idempotency
key derives from the funding (or payout) and the step, never from the event: a retry, a
redelivery or a reconciling run repeats the same call, and the processor answers it again
instead of charging twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from uuid import UUID, uuid5

from commands.payments.card_processor import (
    REQUIRES_CAPTURE,
    CardProcessor,
    PaymentIntentView,
    PayoutView,
    ProcessorDeclined,
)
from commands.payments.fundings import RecordFundingOutcome, RecordPayoutOutcome
from commands.processes.reactions import cause_of
from domain.payments.fundings import Funding, Payout, processor_key
from event_log.aggregate import Cause

FUNDING_ACTOR: Final = uuid5(UUID("a4f2c9e1-6b3d-4e8a-9c07-1d5e2f8b3a96"), "funding-process")


@dataclass(frozen=True)
class ChargeCard:
    """Take a funding's intent as far as it goes: create, confirm, capture."""

    funding_id: UUID
    amount: int
    currency: str
    payment_method: str
    intent_id: str  # "" before the intent exists
    cause: Cause


@dataclass(frozen=True)
class SendPayout:
    payout_id: UUID
    amount: int
    currency: str
    destination: str
    cause: Cause


class FundingProcess:
    """Charges a requested funding; captures one whose 3-D Secure the customer completed."""

    name = "funding-process"
    actor_id = FUNDING_ACTOR
    reacts_to = (Funding.Requested, Funding.Progressed)

    def react(self, event: Any) -> Sequence[ChargeCard]:
        cause = cause_of(self, event)
        if isinstance(event, Funding.Requested):
            return [ChargeCard(event.originator_id, event.amount, event.currency,
                               event.payment_method, "", cause)]
        if isinstance(event, Funding.Progressed) and event.intent_status == REQUIRES_CAPTURE:
            # authorised after a 3-D Secure (the webhook said so): capture it. The amount and
            # payment method are not needed to capture an intent that exists.
            return [ChargeCard(event.originator_id, 0, "", "", event.intent_id, cause)]
        return []


class PayoutProcess:
    name = "payout-process"
    actor_id = FUNDING_ACTOR
    reacts_to = (Payout.Requested,)

    def react(self, event: Any) -> Sequence[SendPayout]:
        if not isinstance(event, Payout.Requested):
            return []
        return [SendPayout(event.originator_id, event.amount, event.currency,
                           event.destination, cause_of(self, event))]


def _outcome(funding_id: UUID, intent: PaymentIntentView, at: datetime,
             error_code: str | None = None) -> RecordFundingOutcome:
    return RecordFundingOutcome(funding_id, intent.id, intent.status, intent.amount_received,
                                at, error_code or intent.last_error_code)


def charge_card(processor: CardProcessor, step: ChargeCard, at: datetime) -> RecordFundingOutcome:
    """Creates, confirms and captures (each under its own key); a decline is an outcome.
    ProcessorTimedOut and ProcessorUnavailable propagate: the funding stays where it was and
    the webhook or the reconciling schedule carries it on."""
    try:
        if step.intent_id:
            intent = processor.retrieve(step.intent_id)
        else:
            intent = processor.create_payment_intent(
                step.amount, step.currency, step.payment_method, str(step.funding_id),
                processor_key(step.funding_id, "create"))
            intent = processor.confirm(intent.id, processor_key(step.funding_id, "confirm"))
        if intent.status == REQUIRES_CAPTURE:
            intent = processor.capture(intent.id, processor_key(step.funding_id, "capture"))
    except ProcessorDeclined as declined:
        if declined.intent is None:
            return RecordFundingOutcome(step.funding_id, step.intent_id,
                                        "requires_payment_method", 0, at, declined.code)
        return _outcome(step.funding_id, declined.intent, at, declined.code)
    return _outcome(step.funding_id, intent, at)


def reconcile_funding(processor: CardProcessor, funding_id: UUID, intent_id: str,
                      at: datetime) -> RecordFundingOutcome:
    """What the processor has of a funding stuck in processing (the schedule's step)."""
    return _outcome(funding_id, processor.retrieve(intent_id), at)


def _payout_outcome(payout_id: UUID, payout: PayoutView, at: datetime) -> RecordPayoutOutcome:
    return RecordPayoutOutcome(payout_id, payout.id, payout.status, at, payout.failure_code)


def send_payout(processor: CardProcessor, step: SendPayout, at: datetime) -> RecordPayoutOutcome:
    payout = processor.create_payout(step.amount, step.currency, step.destination,
                                     str(step.payout_id), processor_key(step.payout_id, "payout"))
    return _payout_outcome(step.payout_id, payout, at)


def reconcile_payout(processor: CardProcessor, payout_id: UUID, processor_payout_id: str,
                     at: datetime) -> RecordPayoutOutcome:
    return _payout_outcome(payout_id, processor.retrieve_payout(processor_payout_id), at)
