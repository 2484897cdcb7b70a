"""The payment saga: a process manager on the log that takes each payment to its next step.

    Initiated                       -> assess
    RiskAssessed (allow or review)  -> authorise (hold the money)
    Authorised, cleared by risk     -> settle
    ReviewDecided, approved         -> settle
    ReviewDecided, rejected         -> reverse (void the hold)

The manager is pure (event in, steps out). A step needs the time it is taken at and, to
assess, the rule set the operator configured, which no event holds: so it answers a
`TakeStep`, an effect, and the port the composition root builds (`step_effects`) turns it
into the step's command with the time and the defaults, and submits it under the key the
runner gave (commands/processes/issuing.py). A hold never settled is ended by the durable
timer (commands/payments/timers.py), not here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from uuid import UUID, uuid5

from commands.payments.steps import (
    AssessPayment,
    AuthorisePayment,
    ReversePayment,
    SettlePayment,
)
from commands.processes.issuing import Effect, KeyedSubmit
from commands.processes.reactions import cause_of
from domain.payments.payments import Payment
from domain.payments.risk import DECLINE, RuleSet
from event_log.aggregate import Cause

SAGA_ACTOR: Final = uuid5(UUID("3e9b1c47-0d2a-4f6e-a8c3-5b7d9e1f2a60"), "payment-saga")
ASSESS, AUTHORISE, SETTLE, REVERSE = "assess", "authorise", "settle", "reverse"


@dataclass(frozen=True)
class TakeStep:
    """The saga's answer: take `step` for the payment, on behalf of the event's cause."""

    step: str
    payment_id: UUID
    cause: Cause
    reason: str = ""
    by: UUID | None = None


class PaymentSaga:
    name = "payment-saga"
    actor_id = SAGA_ACTOR
    pipelined = True  # a batch of payments' steps goes to the writer at once
    reacts_to = (Payment.Initiated, Payment.RiskAssessed, Payment.Authorised,
                 Payment.ReviewDecided)

    def react(self, event: Any) -> Sequence[TakeStep]:
        cause = cause_of(self, event)
        payment_id = event.originator_id
        if isinstance(event, Payment.Initiated):
            return [TakeStep(ASSESS, payment_id, cause)]
        if isinstance(event, Payment.RiskAssessed):
            return [] if event.outcome == DECLINE else [TakeStep(AUTHORISE, payment_id, cause)]
        if isinstance(event, Payment.Authorised):
            return [] if event.review else [TakeStep(SETTLE, payment_id, cause)]
        if isinstance(event, Payment.ReviewDecided):
            if event.approved:
                return [TakeStep(SETTLE, payment_id, cause)]
            return [TakeStep(REVERSE, payment_id, cause, f"rejected: {event.reason}",
                             event.reviewer_id)]
        return []


def step_command(step: TakeStep, at: datetime, default_rules: RuleSet) -> object:
    if step.step == ASSESS:
        return AssessPayment(step.payment_id, at, default_rules)
    if step.step == AUTHORISE:
        return AuthorisePayment(step.payment_id, at)
    if step.step == SETTLE:
        return SettlePayment(step.payment_id, at)
    if step.step == REVERSE:
        return ReversePayment(step.payment_id, step.reason, step.by or step.cause.actor_id, at)
    raise ValueError(f"no such saga step: {step.step}")


def step_effects(submit: KeyedSubmit, clock: Callable[[], datetime],
                 default_rules: Callable[[], RuleSet]) -> Mapping[type, Effect]:
    """The port behind `TakeStep`: the step's command, submitted under the runner's key; the
    answer is the writer's future (the runner awaits it, with a batch's others)."""

    def take(step: Any, key: str) -> object:
        assert isinstance(step, TakeStep)
        command = step_command(step, clock(), default_rules())
        return submit(command, step.cause, key)

    return {TakeStep: take}
