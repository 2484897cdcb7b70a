"""Funding a wallet by card, paying out to a bank account, and the card processor's webhooks.

Funding and payouts take an `Idempotency-Key` (`KeyedCommands`); the funding's (payout's) id
derives from the caller and the key, so a retry finds what the first request made. A funding
is accepted (202) as requested: the charge happens in the funding process, and the funding's
state (processing, action_required, succeeded, failed) is read with GET. A payout holds the
money at once: a short wallet is 409 before anything is sent. Someone else's funding or
payout answers 404, as an unknown one does.

Without a configured processor (`PARLEY_PAYMENT_PROCESSOR_URL` unset) these routes answer 404
"funding is not configured": the routes exist (the API's shape does not depend on settings)
but nothing would ever charge, and a server error (5xx) would say the server failed, which
it did not.

The webhook route has no bearer authentication: the `Stripe-Signature` over the raw body is
the authentication. A missing, forged or stale signature is 400 and nothing is recorded. Its
event id is the command's idempotency key, so a redelivered event is answered from the
first one's receipt; an event for no funding or payout of ours, or of a type Parley does not
follow, is 200 and ignored. Payment method tokens are never logged.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from api.http.answers import Answer, Answers
from api.http.dependencies import (
    ConsistencyPosition,
    Gate,
    ParleyDep,
    UserId,
    Writer,
    read_model,
    wait_for,
)
from api.http.problem_json import problem_response
from api.http.problems import COMMAND_PROBLEMS, QUERY_PROBLEMS, problem_responses
from api.payments.dependencies import CARD_NUMBERS_REFUSED, KeyedCommands, now
from commands.payments.card_processor import (
    DESTINATION_PREFIXES,
    PAYMENT_METHOD_PREFIXES,
    WebhookSignatureInvalid,
    processor_token,
)
from commands.payments.funding_steps import FUNDING_ACTOR
from commands.payments.fundings import (
    FundingChanged,
    FundWallet,
    PayoutChanged,
    RecordFundingOutcome,
    RecordPayoutOutcome,
    RequestPayout,
)
from commands.payments.webhook_signatures import verify
from domain.payments.fundings import FundingNotFound, PayoutNotFound, funding_id, payout_id
from domain.payments.money import currency_exponent, minor_units
from event_log.aggregate import Cause
from projections.payments.fundings import FundingProjector, FundingQueries

log = logging.getLogger(__name__)
router = APIRouter(tags=["payments"])
FUNDINGS = [FundingProjector.name]
WEBHOOK_NAMESPACE: Final = uuid.UUID("5c1e8a3f-2d47-4b96-a0e5-7f3b9c2d6e18")
NOT_CONFIGURED: Final = "funding is not configured"
AmountInput = StrictInt | Annotated[str, Field(min_length=1, max_length=32)]


def _changed(result: FundingChanged | PayoutChanged) -> Answer:
    key = "funding_id" if isinstance(result, FundingChanged) else "payout_id"
    ident = result.funding_id if isinstance(result, FundingChanged) else result.payout_id
    return Answer(202, {key: str(ident), "state": result.state})


FUNDING_ANSWERS = Answers({FundingChanged: _changed, PayoutChanged: _changed})


def _not_configured() -> JSONResponse:
    return problem_response(404, "Not found", NOT_CONFIGURED)


Fundings = Annotated[FundingQueries, Depends(read_model(FundingQueries))]


class FundingRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"amount": "25.00", "payment_method": "pm_card_visa"}]})

    amount: AmountInput = Field(description="Minor units (2500) or a decimal string")
    payment_method: str = Field(max_length=255, description="A processor token, pm_...")


class PayoutRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"amount": "25.00", "destination": "ba_1Nx"}]})

    amount: AmountInput
    destination: str = Field(max_length=255, description="A processor token, ba_... or card_...")


class ChangedView(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"funding_id": "0b8e9c4e-3f1d-4f5e-9a51-7f4a2d6c8e10", "state": "requested",
         "position": 1204}]})

    funding_id: uuid.UUID | None = None
    payout_id: uuid.UUID | None = None
    state: str
    position: int


class FundingView(BaseModel):
    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [{
        "funding_id": "0b8e9c4e-3f1d-4f5e-9a51-7f4a2d6c8e10", "user_id":
        "a43240e6-dc52-5a92-a031-6851e4c908ef", "amount": 2500, "currency": "USD",
        "state": "succeeded", "intent_id": "pi_3Nx", "requested_at":
        "2026-12-03T11:00:00+00:00", "updated_at": "2026-12-03T11:00:02+00:00"}]})

    funding_id: uuid.UUID
    user_id: uuid.UUID
    amount: int = Field(description="Minor units")
    currency: str
    state: str = Field(description="requested, processing, action_required, succeeded, "
                                   "failed")
    failure_code: str | None = None


class PayoutView(BaseModel):
    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [{
        "payout_id": "0b8e9c4e-3f1d-4f5e-9a51-7f4a2d6c8e10", "user_id":
        "a43240e6-dc52-5a92-a031-6851e4c908ef", "amount": 600, "currency": "USD",
        "destination": "ba_1Nx", "state": "paid", "requested_at":
        "2026-12-03T11:00:00+00:00", "updated_at": "2026-12-03T11:00:05+00:00"}]})

    payout_id: uuid.UUID
    user_id: uuid.UUID
    amount: int = Field(description="Minor units")
    currency: str
    destination: str
    state: str = Field(description="requested (money held), sent, paid, failed (money back)")
    failure_code: str | None = None


class WebhookAnswer(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"received": True, "applied": True}]})

    received: bool
    applied: bool = Field(description="False: a duplicate, stale, unknown or foreign event")


PROBLEMS = problem_responses(*COMMAND_PROBLEMS, described={
    404: NOT_CONFIGURED,
    409: "the wallet holds too little (payouts), or the key was used for another request"})


def _configured(parley: Any) -> bool:
    return bool(parley.settings.payment_processor_url)


@router.post("/v1/wallets/{currency}/fundings", status_code=202, response_model=ChangedView,
             summary="Fund my wallet by card", responses=PROBLEMS,
             dependencies=[CARD_NUMBERS_REFUSED])
async def fund_wallet(currency: Annotated[str, Path(min_length=3, max_length=3)],
                      body: FundingRequest, commands: KeyedCommands,
                      parley: ParleyDep) -> Any:
    """Charge a card (a processor token) into the caller's wallet; read the funding for its
    end (a 3-D Secure step shows as action_required)."""
    if not _configured(parley):
        return _not_configured()
    currency = currency.upper()
    currency_exponent(currency)
    method = processor_token(body.payment_method, PAYMENT_METHOD_PREFIXES, "payment_method")
    command = FundWallet(funding_id(commands.caller, str(commands.idempotency_key)),
                         commands.caller, minor_units(body.amount, currency), currency,
                         method, now())
    outcome = await commands.run(command, body)
    return FUNDING_ANSWERS.reply(commands.response, outcome, ChangedView)


@router.post("/v1/wallets/{currency}/payouts", status_code=202, response_model=ChangedView,
             summary="Pay out from my wallet", responses=PROBLEMS,
             dependencies=[CARD_NUMBERS_REFUSED])
async def request_payout(currency: Annotated[str, Path(min_length=3, max_length=3)],
                         body: PayoutRequest, commands: KeyedCommands,
                         parley: ParleyDep) -> Any:
    """Hold the amount in the caller's wallet and send it to a bank account."""
    if not _configured(parley):
        return _not_configured()
    currency = currency.upper()
    currency_exponent(currency)
    destination = processor_token(body.destination, DESTINATION_PREFIXES, "destination")
    command = RequestPayout(payout_id(commands.caller, str(commands.idempotency_key)),
                            commands.caller, minor_units(body.amount, currency), currency,
                            destination, now())
    outcome = await commands.run(command, body)
    return FUNDING_ANSWERS.reply(commands.response, outcome, ChangedView)


@router.get("/v1/fundings/{funding_id}", response_model=FundingView,
            summary="Read my funding", responses=problem_responses(
                *QUERY_PROBLEMS, described={404: "no such funding of yours"}))
def get_funding(funding_id: uuid.UUID, caller: UserId, gate: Gate, fundings: Fundings,
                position: ConsistencyPosition = None) -> dict[str, Any]:
    """One of the caller's fundings (anyone else's answers 404, as an unknown one)."""
    wait_for(gate, position, FUNDINGS)
    return fundings.funding(caller, funding_id)


@router.get("/v1/payouts/{payout_id}", response_model=PayoutView, summary="Read my payout",
            responses=problem_responses(*QUERY_PROBLEMS,
                                        described={404: "no such payout of yours"}))
def get_payout(payout_id: uuid.UUID, caller: UserId, gate: Gate, fundings: Fundings,
               position: ConsistencyPosition = None) -> dict[str, Any]:
    """One of the caller's payouts (anyone else's answers 404, as an unknown one)."""
    wait_for(gate, position, FUNDINGS)
    return fundings.payout(caller, payout_id)


# Reading Stripe's webhooks: the signature (commands/payments/webhook_signatures.py), then
# the event's shape, over the raw request.


def _reference(snapshot: dict[str, Any]) -> uuid.UUID:
    return uuid.UUID(str((snapshot.get("metadata") or {}).get("reference", "")))


def _error_code(snapshot: dict[str, Any]) -> str | None:
    error = snapshot.get("last_payment_error") or {}
    for key in ("decline_code", "code", "type"):
        if isinstance(error.get(key), str) and error[key]:
            return str(error[key])
    return None


def outcome_of(event: dict[str, Any]) -> RecordFundingOutcome | RecordPayoutOutcome | None:
    """The command a processor event asks for, or None (a type Parley does not follow, or
    an object that is none of ours)."""
    kind = str(event.get("type", ""))
    snapshot = (event.get("data") or {}).get("object") or {}
    try:
        if kind.startswith("payment_intent.") and snapshot.get("object") == "payment_intent":
            received = snapshot.get("amount_received", 0)
            if isinstance(received, bool) or not isinstance(received, int):
                return None
            return RecordFundingOutcome(_reference(snapshot), str(snapshot["id"]),
                                        str(snapshot["status"]), received, now(),
                                        _error_code(snapshot))
        if kind.startswith("payout.") and snapshot.get("object") == "payout":
            failure = snapshot.get("failure_code")
            return RecordPayoutOutcome(_reference(snapshot), str(snapshot["id"]),
                                       str(snapshot["status"]), now(),
                                       failure if isinstance(failure, str) else None)
    except (ValueError, KeyError, TypeError, AttributeError):
        return None  # not shaped as ours (no reference of ours): not for funding
    return None


@router.post("/v1/payments/processor/webhooks", response_model=WebhookAnswer,
             summary="The card processor's webhooks",
             responses=problem_responses(400, described={404: NOT_CONFIGURED}))
async def processor_webhook(request: Request, parley: ParleyDep, writer: Writer) -> Any:
    """Verified by its signature over the raw body; applied once per event id."""
    payload = await request.body()
    secrets_setting = parley.settings.payment_webhook_secrets
    secrets = ([s.strip() for s in secrets_setting.get_secret_value().split(",") if s.strip()]
               if secrets_setting is not None else [])
    if not secrets:
        return _not_configured()
    try:
        verify(payload, request.headers.get("Stripe-Signature"), secrets,
                         int(time.time()))
    except WebhookSignatureInvalid as invalid:
        log.info("processor webhook refused: %s", invalid.reason)
        return problem_response(400, "Bad request", "the webhook signature is not valid")
    try:
        event = json.loads(payload)
    except ValueError:
        return problem_response(400, "Bad request", "the webhook body is not JSON")
    event_id = str(event.get("id", "")) if isinstance(event, dict) else ""
    command = outcome_of(event) if event_id else None
    if command is None:
        return {"received": True, "applied": False}
    cause = Cause(actor_id=FUNDING_ACTOR, correlation_id=uuid.uuid5(WEBHOOK_NAMESPACE, event_id))
    submitted = writer.submit(command, cause, f"processor-webhook/{event_id}", event_id)
    try:
        outcome = await asyncio.wait_for(asyncio.wrap_future(submitted),
                                         writer.longest_answer_seconds)
    except (FundingNotFound, PayoutNotFound):
        return {"received": True, "applied": False}
    moved = bool(getattr(outcome.result, "moved", False))
    return {"received": True, "applied": moved}
