"""The review queue, for reviewers (and admins): payments the risk rules held, with the
evidence (each rule's result, the score, the rule set's version), and the decision on each.

Anyone without the role is refused 403 with one body, whatever the id, before the id is
looked at (and the refusal is logged and recorded, as the audit routes'). A decision goes to
the payment's saga: approved, it settles; rejected, its hold is voided and the sender's
limits are given back. A reviewer may also refund a settled payment on the recipient's
behalf (a chargeback they upheld, say).
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, ConfigDict, Field

from api.http.dependencies import ConsistencyPosition, Gate, wait_for
from api.http.pagination import Cursor, Limit, decode_cursor, encode_cursor
from api.http.problems import COMMAND_PROBLEMS, problem_responses
from api.payments.answers import reply
from api.payments.dependencies import (
    CARD_NUMBERS_REFUSED,
    KeyedCommands,
    Payments,
    Records,
    keyed_id,
    now,
    reviewer,
)
from api.payments.payments import (
    PAYMENTS,
    PaymentChangedView,
    Reason,
    RefundRequest,
    party_payment_currency,
    payment_fields,
)
from api.payments.problems import NO_SUCH_PAYMENT
from commands.payments.payments import RefundPayment
from commands.payments.reviews import ReviewPayment
from domain.payments.errors import PaymentNotFound
from domain.payments.money import minor_units

router = APIRouter(prefix="/v1/review", tags=["payments"],
                   dependencies=[CARD_NUMBERS_REFUSED, Depends(reviewer)])
PaymentId = Annotated[uuid.UUID, Path(description="The payment's id")]
REVIEW_PROBLEMS = (401, 403, 422, 503)
DECIDE_PROBLEMS = problem_responses(*COMMAND_PROBLEMS, 403, described={
    404: NO_SUCH_PAYMENT, 409: "the payment is not waiting for review (decided already, or "
                               "ended), or the Idempotency-Key was used for another request"})


class DecisionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"approve": False, "reason": "the recipient received from 14 new senders today"}]})

    approve: bool = Field(description="true: it settles; false: its hold is voided")
    reason: Reason


class Assessment(BaseModel):
    outcome: str = Field(description="allow, review or decline")
    score: int
    rule_set_version: int
    results: list[dict[str, Any]] = Field(description="Each rule's kind, whether it "
                                                      "triggered, its score and detail")


class Decision(BaseModel):
    reviewer_id: uuid.UUID
    approved: bool
    reason: str


REVIEW_ITEM_EXAMPLE: dict[str, Any] = {
    "payment_id": "0b8e9c4e-3f1d-4f5e-9a51-7f4a2d6c8e10",
    "conversation_id": "82fa4e3d-4c47-4bbd-b2ec-79c134d82cad",
    "sender_id": "a43240e6-dc52-5a92-a031-6851e4c908ef",
    "recipient_id": "6f015539-d6dd-56d1-8b06-085951fe835a", "currency": "USD",
    "amount": {"minor_units": 25000, "decimal": "250.00"},
    "fee": {"minor_units": 0, "decimal": "0.00"},
    "refunded": {"minor_units": 0, "decimal": "0.00"}, "note": "rent", "status": "in_review",
    "assessment": {"outcome": "review", "score": 60, "rule_set_version": 2, "results": [
        {"kind": "sender_velocity_amount", "triggered": True, "score": 60,
         "detail": {"amount": 25000, "max_amount": 5000}}]},
    "review": None}


class ReviewItem(BaseModel):
    """A held payment and the evidence it was held on."""

    model_config = ConfigDict(json_schema_extra={"examples": [REVIEW_ITEM_EXAMPLE]})

    payment_id: uuid.UUID
    conversation_id: uuid.UUID
    sender_id: uuid.UUID
    recipient_id: uuid.UUID
    currency: str
    amount: dict[str, Any] = Field(description="minor_units (integer) and decimal (string)")
    fee: dict[str, Any]
    refunded: dict[str, Any]
    note: str
    status: str
    assessment: Assessment | None
    review: Decision | None = Field(None, description="The decision, once taken")


class ReviewQueue(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"payments": [REVIEW_ITEM_EXAMPLE], "next_cursor": None}]})

    payments: list[ReviewItem] = Field(description="Waiting for a decision, oldest first")
    next_cursor: str | None


class DecidedView(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"payment_id": "0b8e9c4e-3f1d-4f5e-9a51-7f4a2d6c8e10", "status": "approved",
         "refunded_minor_units": 0, "position": 1313}]})

    payment_id: uuid.UUID
    status: str = Field(description="approved or rejected (the saga settles or reverses it)")
    refunded_minor_units: int = 0
    position: int


def review_item(document: dict[str, Any]) -> ReviewItem:
    fields = payment_fields(document)
    assessed, decided = document.get("assessed"), document.get("review")
    return ReviewItem.model_validate({
        **{k: fields[k] for k in ("payment_id", "conversation_id", "sender_id", "recipient_id",
                                   "currency", "amount", "fee", "refunded", "note", "status")},
        "assessment": assessed or None, "review": decided or None})


@router.get("/payments", response_model=ReviewQueue, summary="The review queue",
            responses=problem_responses(*REVIEW_PROBLEMS, 400))
def review_queue(gate: Gate, payments: Payments, limit: Limit = 50, after: Cursor = None,
                 position: ConsistencyPosition = None) -> ReviewQueue:
    """Payments held for review and not yet decided, oldest first, with their evidence."""
    wait_for(gate, position, PAYMENTS)
    cursor = decode_cursor(after)
    documents = payments.review_queue(limit, (cursor[0], cursor[1]) if cursor else None)
    last = documents[-1] if len(documents) == limit and documents else None
    return ReviewQueue(payments=[review_item(d) for d in documents], next_cursor=encode_cursor(
        [last["initiated_ms"], str(last["payment_id"])]) if last else None)


@router.get("/payments/{payment_id}", response_model=ReviewItem, summary="A payment, for review",
            responses=problem_responses(*REVIEW_PROBLEMS, described={404: NO_SUCH_PAYMENT}))
def payment_for_review(payment_id: PaymentId, gate: Gate, payments: Payments,
                       position: ConsistencyPosition = None) -> ReviewItem:
    """Any payment with its evidence and its decision, if any."""
    wait_for(gate, position, PAYMENTS)
    document = payments.for_review(payment_id)
    if document is None:
        raise PaymentNotFound("payment_id", NO_SUCH_PAYMENT)
    return review_item(document)


@router.post("/payments/{payment_id}/decision", response_model=DecidedView,
             summary="Approve or reject a held payment", responses=DECIDE_PROBLEMS)
async def decide(payment_id: PaymentId, body: DecisionRequest,
                 commands: KeyedCommands) -> DecidedView:
    """The reviewer's decision, with their reason (recorded on the payment)."""
    outcome = await commands.run(
        ReviewPayment(payment_id, commands.caller, body.approve, body.reason, now()), body)
    return reply(commands.response, outcome, DecidedView)


@router.post("/payments/{payment_id}/refunds", response_model=PaymentChangedView,
             summary="Refund a settled payment on review", responses=DECIDE_PROBLEMS)
async def refund_on_review(payment_id: PaymentId, body: RefundRequest, commands: KeyedCommands,
                           records: Records) -> PaymentChangedView:
    """Give back all or part of a settled payment from the recipient's wallet to the
    sender's, on the reviewer's decision."""
    caller = commands.caller
    currency = await asyncio.to_thread(party_payment_currency, records, payment_id, None)
    command = RefundPayment(payment_id, keyed_id("refund", caller, str(commands.idempotency_key)),
                            minor_units(body.amount, currency), caller, body.reason, now(),
                            by_review=True)
    outcome = await commands.run(command, body)
    return reply(commands.response, outcome, PaymentChangedView)
