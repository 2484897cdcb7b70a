"""What people do with payments: send one in a conversation, cancel it before it settles,
refund one they received.

Sending checks what must hold at once (the currency, both people in the conversation, the
sender's limits, which it reserves in the sender's activity) and records the payment as
initiated; the saga (commands/payments/saga.py) takes it from there. The money itself moves
in the saga's steps (commands/payments/steps.py), never here, except a refund, which is one
transfer back from the recipient's wallet.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from commands.messaging.conversations import find_conversation
from commands.payments import ledger
from commands.payments.activities import activity_of
from commands.payments.holds import void_hold
from domain.identity.contacts import Blocklist, blocklist_id
from domain.identity.devices import Device
from domain.identity.users import User
from domain.payments import limits
from domain.payments.accounts import wallet
from domain.payments.errors import PaymentNotFound, RecipientNotInConversation
from domain.payments.money import accepted_currency, minor_units
from domain.payments.payments import HELD, Payment, refund_transfer_id
from domain.payments.transfers import CreateTransfer
from event_log.aggregate import Cause
from event_log.batch import Batch
from event_log.outcomes import Handler


@dataclass(frozen=True)
class PaymentPolicy:
    """What the operator set (parley/settings.py), carried by the commands that need it."""

    currencies: tuple[str, ...] = ("USD",)
    limits: limits.Limits = field(default_factory=lambda: limits.DEFAULT_LIMITS)
    hold_seconds: int = 600
    fee_basis_points: int = 0  # of the amount, rounded down, paid by the sender

    def fee_of(self, amount: int) -> int:
        return amount * self.fee_basis_points // 10_000


@dataclass(frozen=True)
class SendPayment:
    payment_id: UUID
    sender_id: UUID
    recipient_id: UUID
    conversation_id: UUID
    amount: int
    currency: str
    note: str
    at: datetime
    device_id: UUID | None = None  # the device the sender sent from (a risk fact)
    policy: PaymentPolicy = field(default_factory=PaymentPolicy)
    request_id: UUID | None = None


@dataclass(frozen=True)
class CancelPayment:
    payment_id: UUID
    by: UUID
    at: datetime


@dataclass(frozen=True)
class RefundPayment:
    payment_id: UUID
    refund_id: UUID
    amount: int
    by: UUID
    reason: str
    at: datetime
    by_review: bool = False  # a reviewer refunds on the recipient's behalf


@dataclass(frozen=True)
class PaymentAccepted:
    payment_id: UUID
    conversation_id: UUID
    status: str
    amount: int
    fee: int
    currency: str


@dataclass(frozen=True)
class PaymentChanged:
    payment_id: UUID
    status: str
    refunded: int = 0


def find_payment(batch: Batch, payment_id: UUID, party: UUID | None = None) -> Payment:
    """The payment, if `party` (when given) is its sender or recipient: to anyone else it does
    not exist."""
    payment = batch.find(Payment, payment_id)
    if payment is None or (party is not None
                           and party not in (payment.sender_id, payment.recipient_id)):
        raise PaymentNotFound("payment_id", "no such payment")
    return payment


def risk_facts(batch: Batch, command: SendPayment) -> dict[str, Any]:
    """What the rules are told of the sender now, recorded with the payment."""
    user = batch.find(User, command.sender_id)
    device = batch.find(Device, command.device_id) if command.device_id is not None else None
    blocked = any(
        (blocklist := batch.find(Blocklist, blocklist_id(owner))) is not None
        and blocklist.has_blocked(other)
        for owner, other in ((command.sender_id, command.recipient_id),
                             (command.recipient_id, command.sender_id)))
    return {
        "sender_account_created_at": (user.created_on.isoformat() if user is not None
                                      else command.at.isoformat()),
        "sender_device_added_at": (device.signed_in_at.isoformat() if device is not None
                                   else None),
        "blocked": blocked,
    }


def send_payment(batch: Batch, command: SendPayment, cause: Cause) -> PaymentAccepted:
    policy = command.policy
    currency = accepted_currency(command.currency, policy.currencies)
    amount = minor_units(command.amount, currency)
    conversation = find_conversation(batch, command.conversation_id, command.sender_id)
    if command.recipient_id == command.sender_id or not conversation.is_member(
            command.recipient_id):
        raise RecipientNotInConversation("recipient_id", "the recipient is not another member "
                                                         "of this conversation")
    sender = activity_of(batch, command.sender_id, cause)
    tier = sender.tier
    limits.check(policy.limits, tier, sender, amount, currency, command.at)
    fee = policy.fee_of(amount)
    payment = Payment.initiate(
        command.payment_id, command.sender_id, command.recipient_id, conversation.id, amount,
        currency, command.note, command.at, risk_facts(batch, command) | {"tier": tier},
        fee, policy.hold_seconds, cause, request_id=command.request_id)
    sender.record_send(payment.id, command.recipient_id, amount, currency, command.at, cause)
    batch.add(payment)
    return PaymentAccepted(payment.id, conversation.id, payment.status, amount, fee, currency)


def cancel_payment(batch: Batch, command: CancelPayment, cause: Cause) -> PaymentChanged:
    payment = find_payment(batch, command.payment_id, command.by)
    if command.by != payment.sender_id:
        raise PaymentNotFound("payment_id", "no such payment you sent")
    was_held = payment.state in HELD
    payment.cancel(command.by, command.at, cause)
    if was_held:
        void_hold(batch, payment, "cancelled", command.at, cause)
    activity_of(batch, payment.sender_id, cause).release_send(payment.id, command.at, cause)
    return PaymentChanged(payment.id, payment.status)


def refund_payment(batch: Batch, command: RefundPayment, cause: Cause) -> PaymentChanged:
    payment = find_payment(batch, command.payment_id, None if command.by_review else command.by)
    if not command.by_review and command.by != payment.recipient_id:
        raise PaymentNotFound("payment_id", "no such payment you received")
    if str(command.refund_id) in payment.refund_ids:
        return PaymentChanged(payment.id, payment.status, payment.refunded)
    amount = minor_units(command.amount, payment.currency)
    payment.require_refundable(amount)
    transfer_id = refund_transfer_id(payment.id, command.refund_id)
    ledger.record(batch, [CreateTransfer(
        transfer_id, wallet(payment.recipient_id, payment.currency),
        wallet(payment.sender_id, payment.currency), amount, "refund", payment.id)],
        command.at, cause)
    payment.refund(command.refund_id, transfer_id, amount, command.reason, command.by,
                   command.at, cause)
    return PaymentChanged(payment.id, payment.status, payment.refunded)


PAYMENT_HANDLERS: Mapping[type, Handler] = {
    SendPayment: send_payment,
    CancelPayment: cancel_payment,
    RefundPayment: refund_payment,
}
