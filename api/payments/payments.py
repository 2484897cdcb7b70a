"""Payments: send one in a conversation, list and read one's own, cancel, refund, report.

Every command here takes an `Idempotency-Key` (`KeyedCommands`: 422 without one); the same
key with the same body answers the first answer again, with another body 409. A payment's
id derives from its sender's key (as a refund's from the recipient's), so even a retry whose
receipt was lost cannot make a second one. To anyone who is neither its sender nor its
recipient a payment answers exactly as one that does not exist (404, one body).

Parties never see a payment's risk assessment (its score and rules): reviewers do
(api/payments/review.py).
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from api.http.dependencies import ConsistencyPosition, CurrentSession, Gate, UserId, wait_for
from api.http.pagination import Cursor, Limit, decode_cursor, encode_cursor
from api.http.problems import COMMAND_PROBLEMS, QUERY_PROBLEMS, problem_responses
from api.http.rate_limits import enforce
from api.messaging.dependencies import SendLimiter
from api.payments.answers import Amount, amount, reply
from api.payments.dependencies import (
    CARD_NUMBERS_REFUSED,
    KeyedCommands,
    PaymentRecords,
    Payments,
    Policy,
    Records,
    keyed_id,
    now,
)
from api.payments.problems import NO_SUCH_PAYMENT
from commands.payments.admin import MAX_REASON_CHARS, ReportPayment
from commands.payments.payments import CancelPayment, RefundPayment, SendPayment
from domain.payments.errors import PaymentNotFound
from domain.payments.money import minor_units
from domain.payments.payments import MAX_NOTE_CHARS
from projections.payments.payments import PaymentProjector

router = APIRouter(tags=["payments"], dependencies=[CARD_NUMBERS_REFUSED])
PAYMENTS = [PaymentProjector.name]
PaymentId = Annotated[uuid.UUID, Path(description="The payment's id")]
# an amount: an integer of minor units, or a decimal string of major units ("12.34")
AmountInput = StrictInt | Annotated[str, Field(min_length=1, max_length=32)]
Reason = Annotated[str, Field(min_length=1, max_length=MAX_REASON_CHARS)]
SEND_PROBLEMS = problem_responses(*COMMAND_PROBLEMS, 429, described={
    404: "no such conversation, or the caller is not a member",
    422: "a field is invalid, the currency is not accepted, or the amount is over a limit "
         "(`remaining` then says what the caller may still send, in minor units)"})
CHANGE_PROBLEMS = problem_responses(*COMMAND_PROBLEMS, described={
    404: NO_SUCH_PAYMENT, 409: "the payment is not in a state that allows this, or the "
                               "Idempotency-Key was used for a different request"})
READ_PROBLEMS = problem_responses(*QUERY_PROBLEMS, described={404: NO_SUCH_PAYMENT})
AMOUNT_EXAMPLE: dict[str, Any] = {"minor_units": 1250, "decimal": "12.50"}


class SendPaymentRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"recipient_id": "6f015539-d6dd-56d1-8b06-085951fe835a", "amount": "12.50",
         "currency": "USD", "note": "lunch"},
        {"recipient_id": "6f015539-d6dd-56d1-8b06-085951fe835a", "amount": 1250,
         "currency": "USD"}]})

    recipient_id: uuid.UUID = Field(description="Another member of the conversation")
    amount: AmountInput = Field(description="An integer of minor units (1250), or a decimal "
                                            "string of major units (\"12.50\")")
    currency: str = Field(min_length=3, max_length=3, description="ISO 4217, e.g. USD")
    note: str = Field("", max_length=MAX_NOTE_CHARS)


class RefundRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"amount": "5.00", "reason": "one item was out of stock"}]})

    amount: AmountInput = Field(description="Minor units, or a decimal string; at most what "
                                            "is still refundable")
    reason: Reason


class ReportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"reason": "I never agreed to this"}]})

    reason: Reason


class PaymentAcceptedView(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "payment_id": "0b8e9c4e-3f1d-4f5e-9a51-7f4a2d6c8e10",
        "conversation_id": "82fa4e3d-4c47-4bbd-b2ec-79c134d82cad", "status": "initiated",
        "currency": "USD", "amount": AMOUNT_EXAMPLE,
        "fee": {"minor_units": 0, "decimal": "0.00"}, "position": 1204}]})

    payment_id: uuid.UUID
    conversation_id: uuid.UUID
    status: str = Field(description="initiated: the saga takes it on; read it for its end")
    currency: str
    amount: Amount
    fee: Amount = Field(description="What the sender pays on top")
    position: int


class PaymentChangedView(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"payment_id": "0b8e9c4e-3f1d-4f5e-9a51-7f4a2d6c8e10", "status": "partially_refunded",
         "refunded_minor_units": 400, "position": 1311}]})

    payment_id: uuid.UUID
    status: str
    refunded_minor_units: int = Field(0, description="Refunded so far, in minor units")
    position: int


class ReportedView(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"payment_id": "0b8e9c4e-3f1d-4f5e-9a51-7f4a2d6c8e10", "recorded": True,
         "position": 1312}]})

    payment_id: uuid.UUID
    recorded: bool = Field(description="False: the caller had reported this payment already")
    position: int


class RefundView(BaseModel):
    refund_id: uuid.UUID
    amount: Amount
    reason: str
    at: datetime | None = None


PAYMENT_EXAMPLE: dict[str, Any] = {
    "payment_id": "0b8e9c4e-3f1d-4f5e-9a51-7f4a2d6c8e10",
    "conversation_id": "82fa4e3d-4c47-4bbd-b2ec-79c134d82cad",
    "sender_id": "a43240e6-dc52-5a92-a031-6851e4c908ef",
    "recipient_id": "6f015539-d6dd-56d1-8b06-085951fe835a", "direction": "sent",
    "currency": "USD", "amount": AMOUNT_EXAMPLE, "fee": {"minor_units": 0, "decimal": "0.00"},
    "refunded": {"minor_units": 0, "decimal": "0.00"}, "note": "lunch", "status": "settled",
    "initiated_at": "2026-11-26T09:30:12.481Z", "settled_at": "2026-11-26T09:30:12.912Z",
    "ended_reason": None, "refunds": [], "request_id": None}


class PaymentView(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [PAYMENT_EXAMPLE]})

    payment_id: uuid.UUID
    conversation_id: uuid.UUID
    sender_id: uuid.UUID
    recipient_id: uuid.UUID
    direction: str = Field(description="sent or received, from the caller's view")
    currency: str
    amount: Amount
    fee: Amount
    refunded: Amount
    note: str
    status: str = Field(description="initiated, assessed, authorised, in_review, settled, "
                                    "partially_refunded, refunded, declined, failed, reversed")
    initiated_at: datetime | None = None
    settled_at: datetime | None = None
    ended_reason: str | None = Field(None, description="Why it failed or was reversed")
    refunds: list[RefundView] = []
    request_id: uuid.UUID | None = Field(None, description="The money request it answers")


class PaymentPage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"payments": [PAYMENT_EXAMPLE], "next_cursor": "WzE3NjQxNDk0MTI0ODEsICIwYjhlIl0"}]})

    payments: list[PaymentView]
    next_cursor: str | None


def _moment(value: Any) -> datetime | None:
    """A time as the read model keeps it: ms since the epoch, or ISO 8601."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value / 1000, UTC)
    return datetime.fromisoformat(str(value))


def payment_fields(document: dict[str, Any]) -> dict[str, Any]:
    """What a party (or a reviewer) sees of a payment document, money in both forms."""
    currency = str(document["currency"])
    return {
        "payment_id": document["payment_id"], "conversation_id": document["conversation_id"],
        "sender_id": document["sender_id"], "recipient_id": document["recipient_id"],
        "currency": currency, "amount": amount(int(document["amount"]), currency),
        "fee": amount(int(document.get("fee") or 0), currency),
        "refunded": amount(int(document.get("refunded") or 0), currency),
        "note": document.get("note") or "", "status": document["status"],
        "initiated_at": _moment(document.get("initiated_at")),
        "settled_at": _moment(document.get("settled_at")),
        "ended_reason": document.get("ended_reason") or None,
        "request_id": document.get("request_id") or None,
        "refunds": [{"refund_id": r["refund_id"], "reason": r.get("reason", ""),
                     "amount": amount(int(r["amount"]), currency), "at": _moment(r.get("at"))}
                    for r in document.get("refunds") or []]}


def payment_view(document: dict[str, Any], viewer: uuid.UUID) -> PaymentView:
    direction = "sent" if str(document["sender_id"]) == str(viewer) else "received"
    return PaymentView.model_validate(payment_fields(document) | {"direction": direction})


def party_payment_currency(records: PaymentRecords, payment_id: uuid.UUID,
                           party: uuid.UUID | None) -> str:
    """The payment's currency (to read an amount in), if `party` (when given) is one of its
    two people: to anyone else it does not exist."""
    payment = records.payment(payment_id)
    if payment is None or (party is not None
                           and party not in (payment.sender_id, payment.recipient_id)):
        raise PaymentNotFound("payment_id", NO_SUCH_PAYMENT)
    return payment.currency


@router.post("/v1/conversations/{conversation_id}/payments", status_code=202,
             response_model=PaymentAcceptedView, summary="Send a payment",
             responses=SEND_PROBLEMS)
async def send_payment(conversation_id: uuid.UUID, body: SendPaymentRequest,
                       commands: KeyedCommands, session: CurrentSession, policy: Policy,
                       limiter: SendLimiter) -> PaymentAcceptedView:
    """Pay another member of the conversation from the caller's wallet (rate-limited per
    user). Accepted (202) once initiated: the risk check, the hold and the settlement follow
    (read the payment, or its message in the conversation, for its end)."""
    await asyncio.to_thread(enforce, limiter, f"payment:{commands.caller}")
    command = SendPayment(
        keyed_id("payment", commands.caller, str(commands.idempotency_key)), commands.caller,
        body.recipient_id, conversation_id, minor_units(body.amount, body.currency),
        body.currency, body.note, now(), device_id=session.device_id, policy=policy)
    outcome = await commands.run(command, body)
    return reply(commands.response, outcome, PaymentAcceptedView)


@router.get("/v1/payments", response_model=PaymentPage, summary="My payments",
            responses=problem_responses(*QUERY_PROBLEMS, 400))
def list_payments(caller: UserId, gate: Gate, payments: Payments, limit: Limit = 50,
                  before: Cursor = None, position: ConsistencyPosition = None) -> PaymentPage:
    """Payments the caller sent or received, most recently changed first."""
    wait_for(gate, position, PAYMENTS)
    after = decode_cursor(before)
    documents = payments.payments_of(caller, (after[0], after[1]) if after else None, limit)
    last = documents[-1] if len(documents) == limit and documents else None
    return PaymentPage(payments=[payment_view(d, caller) for d in documents],
                       next_cursor=encode_cursor([last["updated_ms"], str(last["payment_id"])])
                       if last else None)


@router.get("/v1/payments/{payment_id}", response_model=PaymentView, summary="Read a payment",
            responses=READ_PROBLEMS)
def get_payment(payment_id: PaymentId, caller: UserId, gate: Gate, payments: Payments,
                position: ConsistencyPosition = None) -> PaymentView:
    """One payment the caller sent or received."""
    wait_for(gate, position, PAYMENTS)
    document = payments.payment(payment_id, caller)
    if document is None:
        raise PaymentNotFound("payment_id", NO_SUCH_PAYMENT)
    return payment_view(document, caller)


@router.post("/v1/payments/{payment_id}/cancel", response_model=PaymentChangedView,
             summary="Cancel a payment", responses=CHANGE_PROBLEMS)
async def cancel_payment(payment_id: PaymentId, commands: KeyedCommands) -> PaymentChangedView:
    """The sender takes back a payment that has not settled: its hold is released."""
    outcome = await commands.submit(CancelPayment(payment_id, commands.caller, now()), {})
    return reply(commands.response, outcome, PaymentChangedView)


@router.post("/v1/payments/{payment_id}/refunds", response_model=PaymentChangedView,
             summary="Refund a payment", responses=CHANGE_PROBLEMS)
async def refund_payment(payment_id: PaymentId, body: RefundRequest, commands: KeyedCommands,
                         records: Records) -> PaymentChangedView:
    """The recipient gives back all or part of a settled payment (several parts may follow,
    up to what was paid); the refund's id derives from the Idempotency-Key."""
    caller = commands.caller
    currency = await asyncio.to_thread(party_payment_currency, records, payment_id, caller)
    command = RefundPayment(payment_id, keyed_id("refund", caller, str(commands.idempotency_key)),
                            minor_units(body.amount, currency), caller, body.reason, now())
    outcome = await commands.run(command, body)
    return reply(commands.response, outcome, PaymentChangedView)


@router.post("/v1/payments/{payment_id}/report", status_code=202, response_model=ReportedView,
             summary="Report the other party", responses=CHANGE_PROBLEMS)
async def report_payment(payment_id: PaymentId, body: ReportRequest,
                         commands: KeyedCommands) -> ReportedView:
    """Either party reports the other over this payment: the fraud rules count reports."""
    outcome = await commands.run(ReportPayment(payment_id, commands.caller, body.reason, now()),
                                 body)
    return reply(commands.response, outcome, ReportedView)
