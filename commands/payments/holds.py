"""A payment's hold in the ledger: a pending transfer to the recipient, and its fee's beside
it, created, posted, voided or expired together (a linked chain)."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

from commands.payments import ledger
from domain.payments.accounts import FEES, system_account, wallet
from domain.payments.payments import Payment, fee_transfer_id, hold_transfer_id
from domain.payments.transfers import (
    CreateTransfer,
    ExpirePending,
    Operation,
    PostPending,
    VoidPending,
)
from event_log.aggregate import Cause
from event_log.batch import Batch


def _held_ids(payment: Payment) -> list[UUID]:
    ids = [hold_transfer_id(payment.id)]
    if payment.fee:
        ids.append(fee_transfer_id(payment.id))
    return ids


def hold(batch: Batch, payment: Payment, at: datetime, cause: Cause) -> datetime:
    """Holds the amount (and fee) in the sender's wallet; raises InsufficientFunds, before
    recording anything, if the wallet's available balance is short. Returns the hold's end."""
    expires_at = at + timedelta(seconds=payment.hold_seconds)
    sender = wallet(payment.sender_id, payment.currency)
    chain: list[Operation] = [CreateTransfer(
        hold_transfer_id(payment.id), sender, wallet(payment.recipient_id, payment.currency),
        payment.amount, "payment", payment.id, pending=True, timeout_at=expires_at)]
    if payment.fee:
        chain.append(CreateTransfer(
            fee_transfer_id(payment.id), sender, system_account(FEES, payment.currency),
            payment.fee, "fee", payment.id, pending=True, timeout_at=expires_at))
    ledger.record(batch, chain, at, cause)
    return expires_at


def post_hold(batch: Batch, payment: Payment, at: datetime, cause: Cause) -> None:
    ledger.record(batch, [PostPending(i) for i in _held_ids(payment)], at, cause)


def void_hold(batch: Batch, payment: Payment, reason: str, at: datetime, cause: Cause) -> None:
    ledger.record(batch, [VoidPending(i, reason) for i in _held_ids(payment)], at, cause)


def expire_hold(batch: Batch, payment: Payment, at: datetime, cause: Cause) -> None:
    ledger.record(batch, [ExpirePending(i) for i in _held_ids(payment)], at, cause)
