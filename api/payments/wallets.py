"""Wallets: the caller's balances and what they may still send, and each wallet's statement.

Balances and postings come from the ledger's read models (projections/payments/balances.py,
statements.py); what the caller may still send is worked out from their payment activity on
the write side (exact: a payment just sent counts at once), by the same rule that decides a
send (domain/payments/limits.py `allowance`).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from api.http.dependencies import ConsistencyPosition, Gate, UserId, wait_for
from api.http.pagination import Limit
from api.http.problems import QUERY_PROBLEMS, problem_responses
from api.payments.answers import Amount, amount
from api.payments.dependencies import (
    CARD_NUMBERS_REFUSED,
    Balances,
    Policy,
    Records,
    Statements,
    now,
)
from domain.payments.accounts import wallet
from domain.payments.limits import allowance
from domain.payments.money import accepted_currency
from projections.payments.balances import BalanceProjector
from projections.payments.statements import StatementProjector

router = APIRouter(tags=["payments"], dependencies=[CARD_NUMBERS_REFUSED])
BALANCES = [BalanceProjector.name]
STATEMENTS = [StatementProjector.name]
Currency = Annotated[str, Path(min_length=3, max_length=3, examples=["USD"],
                               description="An ISO 4217 code this deployment accepts")]
MONEY_EXAMPLE: dict[str, Any] = {"minor_units": 1234, "decimal": "12.34"}


class WalletView(BaseModel):
    currency: str
    available: Amount = Field(description="What can be sent now: posted, less what is held")
    posted: Amount = Field(description="Credits less debits, settled ones only")
    incoming_pending: Amount = Field(description="Held for this wallet, not settled yet")
    outgoing_pending: Amount = Field(description="Held from this wallet, not settled yet")


class AllowanceView(BaseModel):
    """What the caller may still send in a currency, now (the rolling windows' remainders)."""

    currency: str
    per_transaction: Amount = Field(description="The most one payment may be now")
    today: Amount = Field(description="What is left of the rolling 24-hour limit")
    this_month: Amount = Field(description="What is left of the rolling 30-day limit")


class WalletsView(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "tier": "unverified",
        "wallets": [{"currency": "USD", "available": MONEY_EXAMPLE, "posted": MONEY_EXAMPLE,
                     "incoming_pending": {"minor_units": 0, "decimal": "0.00"},
                     "outgoing_pending": {"minor_units": 0, "decimal": "0.00"}}],
        "limits": [{"currency": "USD",
                    "per_transaction": {"minor_units": 50000, "decimal": "500.00"},
                    "today": {"minor_units": 98766, "decimal": "987.66"},
                    "this_month": {"minor_units": 298766, "decimal": "2987.66"}}]}]})

    tier: str = Field(description="Whose limits apply: unverified or verified")
    wallets: list[WalletView] = Field(description="Wallets that ever moved, by currency")
    limits: list[AllowanceView] = Field(description="Per currency this deployment accepts")


class PostingView(BaseModel):
    transfer_id: uuid.UUID
    position: int = Field(description="Log position: pass as `before` for older postings")
    at: datetime
    code: str = Field(description="What the money was for: payment, fee, refund, funding...")
    payment_id: uuid.UUID | None = Field(description="The payment (or funding) it belongs to")
    phase: str = Field(description="created, posted, voided or expired")
    pending: bool = Field(description="A hold, not settled (yet)")
    amount: Amount = Field(description="Signed from this wallet's view: credits +, debits -")


class StatementView(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"currency": "USD", "postings": [
        {"transfer_id": "5d1e7c1a-8b4f-4f0e-9c2d-3a6b7e8f9012", "position": 1204,
         "at": "2026-11-26T09:30:12.912Z", "code": "payment",
         "payment_id": "0b8e9c4e-3f1d-4f5e-9a51-7f4a2d6c8e10", "phase": "posted",
         "pending": False, "amount": {"minor_units": -1250, "decimal": "-12.50"}}],
        "next_before": 1204}]})

    currency: str
    postings: list[PostingView] = Field(description="Newest first")
    next_before: int | None = Field(description="Pass as `before` for the next page; null: "
                                                "no more")


def _balance(document: dict[str, Any], currency: str, name: str) -> dict[str, Any]:
    return amount(int(document.get(name, 0)), currency)


def _wallet(document: dict[str, Any]) -> WalletView:
    currency = str(document["currency"])
    return WalletView.model_validate({"currency": currency, **{
        name: _balance(document, currency, name)
        for name in ("available", "posted", "incoming_pending", "outgoing_pending")}})


@router.get("/v1/wallets", response_model=WalletsView, summary="My wallets and limits",
            responses=problem_responses(*QUERY_PROBLEMS))
def wallets(caller: UserId, gate: Gate, balances: Balances, records: Records, policy: Policy,
            position: ConsistencyPosition = None) -> WalletsView:
    """The caller's wallets (amounts as integers of minor units and as decimal strings), and
    what their tier lets them still send in each accepted currency now."""
    wait_for(gate, position, BALANCES)
    documents = balances.wallets_of(caller, policy.currencies)
    activity = records.activity(caller)
    at = now()
    left = [allowance(policy.limits, activity.tier, activity, currency, at)
            for currency in policy.currencies]
    return WalletsView(tier=activity.tier, wallets=[_wallet(d) for d in documents], limits=[
        AllowanceView.model_validate({
            "currency": a.currency, "per_transaction": amount(a.per_transaction, a.currency),
            "today": amount(a.today, a.currency),
            "this_month": amount(a.this_month, a.currency)}) for a in left])


def _posting(document: dict[str, Any], currency: str) -> PostingView:
    reference = document.get("reference")
    return PostingView(
        transfer_id=document["transfer_id"], position=int(document["position"]),
        at=datetime.fromtimestamp(int(document["at"]) / 1000, UTC), code=document["code"],
        payment_id=reference or None, phase=document["phase"],
        pending=bool(document.get("pending")),
        amount=Amount.model_validate(amount(int(document["amount"]), currency)))


@router.get("/v1/wallets/{currency}/statement", response_model=StatementView,
            summary="A wallet's statement",
            responses=problem_responses(*QUERY_PROBLEMS))
def statement(currency: Currency, caller: UserId, gate: Gate, statements: Statements,
              policy: Policy, limit: Limit = 50,
              before: Annotated[int | None, Query(ge=1, le=2**62, description=(
                  "Postings before this log position (the `next_before` of a page)"))] = None,
              position: ConsistencyPosition = None) -> StatementView:
    """The postings of the caller's wallet in `currency`, newest first, a page at a time."""
    accepted_currency(currency, policy.currencies)
    wait_for(gate, position, STATEMENTS)
    documents = statements.postings(wallet(caller, currency).id, before, limit)
    postings = [_posting(d, currency) for d in documents]
    more = len(postings) == limit and postings
    return StatementView(currency=currency, postings=postings,
                         next_before=postings[-1].position if more else None)
