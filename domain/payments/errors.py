"""The payments context's errors, each a refinement of a shared base (domain/errors.py)."""

from __future__ import annotations

from typing import Any

from domain.errors import Conflict, InvalidCommand, NotAllowed, NotFound


class UnknownCurrency(InvalidCommand):
    """Not an ISO 4217 currency with minor units, or not one this deployment accepts."""


class InvalidAmount(InvalidCommand):
    """Not a positive whole number of minor units (or a decimal string of major units with
    no more places than the currency has), or beyond the largest amount Parley moves."""


class MixedCurrencies(InvalidCommand):
    """A transfer between accounts of different currencies."""


class CardNumberRefused(InvalidCommand):
    """A request carried something shaped like a card number: Parley takes processor tokens
    only, and keeps no card number anywhere (it is refused before it reaches the log)."""


class InsufficientFunds(Conflict):
    """The debit would take an account below what its flags allow."""


class TransferExists(Conflict):
    """A transfer with this id was already created (transfers are unique by id)."""


class TransferAlreadyResolved(Conflict):
    """A pending transfer is resolved once: posted, voided or expired, never twice."""


class TransferNotPending(Conflict):
    """Only a pending transfer can be posted, voided or expired."""


class TransferNotFound(NotFound):
    """No such transfer (or pending transfer to resolve)."""


class AccountNotFound(NotFound):
    """No such ledger account."""


class PaymentNotFound(NotFound):
    """No such payment, or the caller is neither its sender nor its recipient."""


class PaymentStateConflict(Conflict):
    """The payment is not in a state that allows this (a refund before settlement, a
    cancel after it, a second review decision...)."""


class NotAReviewer(NotAllowed):
    """Only a holder of the `reviewer` role decides held payments."""


class RecipientNotInConversation(InvalidCommand):
    """Money goes to another member of the conversation it is sent in."""


class LimitExceeded(InvalidCommand):
    """A payment beyond what the sender's tier may send (now, in its currency); `remaining`
    says what they still may (domain/payments/limits.py)."""

    # an Allowance (domain/payments/limits.py, which imports this module)
    def __init__(self, field: str, message: str, remaining: Any) -> None:
        super().__init__(field, message)
        self.remaining = remaining
