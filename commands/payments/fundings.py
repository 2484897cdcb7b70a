"""Funding wallets by card and paying out to bank accounts: the write side.

A request records only Parley's side (`FundWallet`: the funding is requested; `RequestPayout`:
the money is held at once, so a short wallet is refused before anything is sent). The
processor is reached by the process managers' effects (commands/payments/funding_steps.py),
which submit what the processor answered as `RecordFundingOutcome` / `RecordPayoutOutcome`;
a webhook or a reconciling `retrieve()` submits the same commands, keyed by the webhook's
event id, so whichever comes first moves the funding and the others find nothing new.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from commands.payments import ledger
from domain.payments.accounts import FUNDING_CLEARING, PAYOUTS_CLEARING, system_account, wallet
from domain.payments.errors import TransferExists
from domain.payments.fundings import (
    DECLINED,
    Funding,
    FundingNotFound,
    Payout,
    PayoutNotFound,
    funding_transfer_id,
)
from domain.payments.transfers import CreateTransfer, PostPending, VoidPending
from event_log.aggregate import Cause
from event_log.batch import Batch
from event_log.outcomes import Handler


@dataclass(frozen=True)
class FundWallet:
    funding_id: UUID
    user_id: UUID
    amount: int
    currency: str
    payment_method: str  # a processor token, checked by the caller (processor_token)
    at: datetime


@dataclass(frozen=True)
class RecordFundingOutcome:
    """What the processor says of a funding's PaymentIntent (an answer, a webhook, a
    retrieve): `error_code` set with `requires_payment_method` is a decline."""

    funding_id: UUID
    intent_id: str
    intent_status: str
    amount_received: int
    at: datetime
    error_code: str | None = None


@dataclass(frozen=True)
class RequestPayout:
    payout_id: UUID
    user_id: UUID
    amount: int
    currency: str
    destination: str  # a processor token (ba_..., card_...)
    at: datetime


@dataclass(frozen=True)
class RecordPayoutOutcome:
    payout_id: UUID
    processor_payout_id: str
    status: str
    at: datetime
    failure_code: str | None = None


@dataclass(frozen=True)
class FundingChanged:
    """Where the funding stands, and whether this command moved it (False: nothing new)."""

    funding_id: UUID
    state: str
    moved: bool


@dataclass(frozen=True)
class PayoutChanged:
    payout_id: UUID
    state: str
    moved: bool


def find_funding(batch: Batch, funding_id: UUID) -> Funding:
    found = batch.find(Funding, funding_id)
    if found is None:
        raise FundingNotFound("funding_id", "no such funding")
    return found


def find_payout(batch: Batch, payout_id: UUID) -> Payout:
    found = batch.find(Payout, payout_id)
    if found is None:
        raise PayoutNotFound("payout_id", "no such payout")
    return found


def fund_wallet(batch: Batch, command: FundWallet, cause: Cause) -> FundingChanged:
    """Requests the funding; the same request again (same id) answers the one it made."""
    found = batch.find(Funding, command.funding_id)
    if found is not None:
        return FundingChanged(found.id, found.state, False)
    funding = Funding.request(command.funding_id, command.user_id, command.amount,
                              command.currency, command.payment_method, command.at, cause)
    batch.add(funding)
    return FundingChanged(funding.id, funding.state, True)


def _credit(batch: Batch, funding: Funding, at: datetime, cause: Cause) -> None:
    """The one transfer funding clearing -> wallet; one recorded before is success already."""
    # TransferExists: credited by an earlier command, the funding only records its end
    with suppress(TransferExists):
        ledger.record(batch, [CreateTransfer(
            funding_transfer_id(funding.id), system_account(FUNDING_CLEARING, funding.currency),
            wallet(funding.user_id, funding.currency), funding.amount, "funding",
            funding.id)], at, cause)


def record_funding_outcome(batch: Batch, command: RecordFundingOutcome,
                           cause: Cause) -> FundingChanged:
    funding = find_funding(batch, command.funding_id)
    status = command.intent_status
    if status == "requires_payment_method" and command.error_code:
        status = DECLINED  # ends the funding, even after a 3-D Secure step ranked higher
    if not funding.is_news(status):
        return FundingChanged(funding.id, funding.state, False)
    if status == "succeeded":
        _credit(batch, funding, command.at, cause)
        moved = funding.succeed(command.intent_id, command.amount_received, command.at, cause)
    elif status in ("canceled", DECLINED):
        moved = funding.fail(command.error_code or status, command.at, cause)
    else:
        moved = funding.progressed(command.intent_id, status, command.at, cause)
    batch.add(funding)
    return FundingChanged(funding.id, funding.state, moved)


def request_payout(batch: Batch, command: RequestPayout, cause: Cause) -> PayoutChanged:
    """Holds the money (InsufficientFunds, before anything is recorded, if the wallet is
    short) and requests the payout; the same request again answers the one it made."""
    found = batch.find(Payout, command.payout_id)
    if found is not None:
        return PayoutChanged(found.id, found.state, False)
    payout = Payout.request(command.payout_id, command.user_id, command.amount,
                            command.currency, command.destination, command.at, cause)
    ledger.record(batch, [CreateTransfer(
        payout.transfer_id, wallet(command.user_id, command.currency),
        system_account(PAYOUTS_CLEARING, command.currency), payout.amount, "payout",
        payout.id, pending=True)], command.at, cause)
    batch.add(payout)
    return PayoutChanged(payout.id, payout.state, True)


def record_payout_outcome(batch: Batch, command: RecordPayoutOutcome,
                          cause: Cause) -> PayoutChanged:
    """Paid posts the hold; failed or canceled voids it (the money back in the wallet)."""
    payout = find_payout(batch, command.payout_id)
    if payout.ended:
        return PayoutChanged(payout.id, payout.state, False)
    if command.status == "paid":
        ledger.record(batch, [PostPending(payout.transfer_id)], command.at, cause)
        moved = payout.paid(command.at, cause)
    elif command.status in ("failed", "canceled"):
        code = command.failure_code or command.status
        ledger.record(batch, [VoidPending(payout.transfer_id, code)], command.at, cause)
        moved = payout.fail(code, command.at, cause)
    else:
        moved = payout.sent(command.processor_payout_id, command.status, command.at, cause)
    batch.add(payout)
    return PayoutChanged(payout.id, payout.state, moved)


FUNDING_HANDLERS: Mapping[type, Handler] = {
    FundWallet: fund_wallet,
    RecordFundingOutcome: record_funding_outcome,
    RequestPayout: request_payout,
    RecordPayoutOutcome: record_payout_outcome,
}
