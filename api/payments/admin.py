"""Admins: the fraud rules in force (read and publish a new version), users' tiers, and the
ledger's conservation check.

Behind the operators' gate every admin route shares (api/operations/maintenance.py `admin`:
one 403 for anyone else, logged and recorded). The rules are read from the write side, so a
publish shows at once; a published version is the whole document, with the admin and their
reason, on the log (domain/payments/rule_sets.py).
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, ConfigDict, Field

from api.http.dependencies import Commands, ConsistencyPosition, Gate, wait_for
from api.http.problems import COMMAND_PROBLEMS, problem_responses
from api.operations.maintenance import admin
from api.payments.answers import reply
from api.payments.dependencies import (
    CARD_NUMBERS_REFUSED,
    Balances,
    DefaultRules,
    Records,
)
from api.payments.wallets import BALANCES
from commands.payments.admin import MAX_REASON_CHARS, ChangePaymentTier, PublishRiskRules
from domain.payments.limits import TIERS

router = APIRouter(prefix="/v1/admin/payments", tags=["payments"],
                   dependencies=[CARD_NUMBERS_REFUSED, Depends(admin)])
ADMIN_PROBLEMS = (401, 403, 422, 503)
Reason = Annotated[str, Field(min_length=1, max_length=MAX_REASON_CHARS)]
RULES_EXAMPLE: dict[str, Any] = {
    "version": 3, "review_at": 50, "decline_at": 100, "rules": [
        {"kind": "sender_velocity_count", "enabled": True, "score": 30,
         "params": {"window_seconds": 3600, "max_count": 10}},
        {"kind": "counterparty_blocked", "enabled": True, "score": 100, "params": {}}]}


class RuleSetView(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [RULES_EXAMPLE]})

    version: int = Field(description="0: the deployment's defaults, none published yet")
    review_at: int = Field(description="A score from here on is held for review")
    decline_at: int = Field(description="A score from here on is declined")
    rules: list[dict[str, Any]] = Field(description="kind, enabled, score, params (whole "
                                                    "numbers); domain/payments/risk.py KINDS")


class PublishRulesRequest(BaseModel):
    """A whole rule set document (as GET answers it; its `version` is ignored: a publish is
    the next one) and why."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {**RULES_EXAMPLE, "reason": "more velocity checks after the March incident"}]})

    reason: Reason
    review_at: int
    decline_at: int
    rules: list[dict[str, Any]] = Field(max_length=100)
    version: int | None = Field(None, description="Ignored")


class PublishedView(RuleSetView):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {**RULES_EXAMPLE, "changed": True, "position": 1314}]})

    changed: bool = Field(description="False: the document says what the rules in force say")
    position: int


class TierRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"tier": "verified", "reason": "identity documents checked, case 4417"}]})

    tier: str = Field(description=" or ".join(TIERS))
    reason: Reason


class TierView(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"user_id": "6f015539-d6dd-56d1-8b06-085951fe835a", "tier": "verified",
         "changed": True, "position": 1315}]})

    user_id: uuid.UUID
    tier: str
    changed: bool
    position: int


class CurrencyTotals(BaseModel):
    currency: str
    debits_pending: int = Field(description="Minor units, summed over every account")
    debits_posted: int
    credits_pending: int
    credits_posted: int
    balanced: bool = Field(description="Debits equal credits, pending and posted each")


class LedgerTotals(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"balanced": True, "currencies": [
        {"currency": "USD", "debits_pending": 5000, "debits_posted": 1250000,
         "credits_pending": 5000, "credits_posted": 1250000, "balanced": True}]}]})

    balanced: bool = Field(description="Every currency balances: no money made or lost")
    currencies: list[CurrencyTotals]


@router.get("/rules", response_model=RuleSetView, summary="The fraud rules in force",
            responses=problem_responses(*ADMIN_PROBLEMS))
async def rules_in_force(records: Records, defaults: DefaultRules) -> RuleSetView:
    """The rule set payments are assessed by now, and its version."""
    rules = await asyncio.to_thread(records.rules_in_force, defaults)
    return RuleSetView.model_validate(rules.as_document())


@router.put("/rules", response_model=PublishedView, summary="Publish fraud rules",
            responses=problem_responses(*COMMAND_PROBLEMS, 403))
async def publish_rules(body: PublishRulesRequest, commands: Commands,
                        defaults: DefaultRules) -> PublishedView:
    """Put a rule set in force as the next version (a document identical to the one in
    force publishes nothing); an invalid one is refused (422, naming the field)."""
    document = body.model_dump(exclude={"reason", "version"})
    outcome = await commands.run(
        PublishRiskRules(document, body.reason, commands.caller, defaults), body)
    return reply(commands.response, outcome, PublishedView)


@router.put("/users/{user_id}/tier", response_model=TierView, summary="Set a user's tier",
            responses=problem_responses(*COMMAND_PROBLEMS, 403, described={
                404: "no such user"}))
async def set_tier(user_id: Annotated[uuid.UUID, Path(description="The user's id")],
                   body: TierRequest, commands: Commands) -> TierView:
    """Verify a user (or take it back): their payment limits are the tier's from now on."""
    outcome = await commands.run(ChangePaymentTier(user_id, body.tier, body.reason), body)
    return reply(commands.response, outcome, TierView)


@router.get("/ledger", response_model=LedgerTotals, summary="The ledger's totals",
            responses=problem_responses(*ADMIN_PROBLEMS))
def ledger_totals(gate: Gate, balances: Balances,
                  position: ConsistencyPosition = None) -> LedgerTotals:
    """Per currency, the four totals summed over every account: a double-entry ledger's
    debits equal its credits, pending and posted each, at every position."""
    wait_for(gate, position, BALANCES)
    currencies = []
    for currency, totals in sorted(balances.ledger_totals().items()):
        sums = {name: int(totals.get(name, 0)) for name in (
            "debits_pending", "debits_posted", "credits_pending", "credits_posted")}
        currencies.append(CurrencyTotals(
            currency=currency, **sums,
            balanced=(sums["debits_pending"] == sums["credits_pending"]
                      and sums["debits_posted"] == sums["credits_posted"])))
    return LedgerTotals(balanced=all(c.balanced for c in currencies), currencies=currencies)
