"""How payments' command results are answered over HTTP, and how money is written in answers.

Money in every payments answer is an object with both forms, named so nobody guesses:
`minor_units`, the integer of the currency's minor units (what Parley computes with), and
`decimal`, the same amount as a string of major units ("12.34" USD, "1200" JPY, "1.250"
KWD), never a JSON number with a fraction.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from api.http.answers import Answer, Answers
from commands.payments.admin import PaymentReported, RulesPublished, TierSet
from commands.payments.payments import PaymentAccepted, PaymentChanged
from domain.payments.money import major_units


class Amount(BaseModel):
    """An amount in both forms: `minor_units` (integer) and `decimal` (string, major units)."""

    minor_units: int = Field(description="Integer of the currency's minor units (cents)")
    decimal: str = Field(description="The same amount in major units, as a decimal string")


def amount(minor: int, currency: str) -> dict[str, Any]:
    """The `Amount` document of `minor` units of `currency`."""
    return {"minor_units": minor, "decimal": major_units(minor, currency)}


def _accepted(result: PaymentAccepted) -> Answer:
    return Answer(202, {"payment_id": str(result.payment_id),
                        "conversation_id": str(result.conversation_id),
                        "status": result.status, "currency": result.currency,
                        "amount": amount(result.amount, result.currency),
                        "fee": amount(result.fee, result.currency)})


def _changed(result: PaymentChanged) -> Answer:
    return Answer(200, {"payment_id": str(result.payment_id), "status": result.status,
                        "refunded_minor_units": result.refunded})


def _published(result: RulesPublished) -> Answer:
    return Answer(200, {"changed": result.changed, **result.document,
                        "version": result.version})


def _tier(result: TierSet) -> Answer:
    return Answer(200, {"user_id": str(result.user_id), "tier": result.tier,
                        "changed": result.changed})


def _reported(result: PaymentReported) -> Answer:
    return Answer(202, {"payment_id": str(result.payment_id), "recorded": result.recorded})


PAYMENT_ANSWERS = Answers({
    PaymentAccepted: _accepted,
    PaymentChanged: _changed,
    RulesPublished: _published,
    TierSet: _tier,
    PaymentReported: _reported,
})
reply = PAYMENT_ANSWERS.reply
