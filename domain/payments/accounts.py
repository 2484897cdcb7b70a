"""Ledger accounts, in TigerBeetle's model: four balances and flags that bound them.

An account never holds "a balance" that code edits: its four totals (debits and credits,
pending and posted) move only as transfers are recorded (domain/payments/transfers.py), and
each move is an event on the account, so two processes debiting one wallet at once meet on
its version and one of them is decided again. A wallet may not be debited beyond its posted
credits (`debits_must_not_exceed_credits`): it can never go negative. System accounts are
where money enters and leaves the ledger (funding clearing, payouts clearing) and where fees
collect; they carry no bound.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Final
from uuid import UUID, uuid5

from event_log.aggregate import SNAPSHOT_EVERY, Cause, ParleyAggregate

LEDGER_NAMESPACE: Final = UUID("0c6a1f2e-93d4-4b7a-8e5f-2a61c0d9b347")
WALLET: Final = "wallet"
FUNDING_CLEARING: Final = "funding_clearing"  # debited as card money comes in
PAYOUTS_CLEARING: Final = "payouts_clearing"  # credited as money leaves to a bank account
FEES: Final = "fees"
SYSTEM_KINDS: Final = (FUNDING_CLEARING, PAYOUTS_CLEARING, FEES)
ACCOUNT_KINDS: Final = (WALLET, *SYSTEM_KINDS)


@dataclass(frozen=True)
class Balances:
    """An account's four totals, in minor units."""

    debits_pending: int = 0
    debits_posted: int = 0
    credits_pending: int = 0
    credits_posted: int = 0

    @property
    def available(self) -> int:
        """What a debit-bounded account can still be debited: posted credits less every
        debit, pending ones included (a hold reserves its amount)."""
        return self.credits_posted - self.debits_posted - self.debits_pending

    @property
    def posted(self) -> int:
        """Credits less debits, posted only (a wallet's balance)."""
        return self.credits_posted - self.debits_posted

    def moved(self, **deltas: int) -> Balances:
        return replace(self, **{name: getattr(self, name) + delta
                                for name, delta in deltas.items()})

    def as_document(self) -> dict[str, int]:
        return {"debits_pending": self.debits_pending, "debits_posted": self.debits_posted,
                "credits_pending": self.credits_pending, "credits_posted": self.credits_posted}

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> Balances:
        return cls(**{name: int(document.get(name, 0)) for name in
                      ("debits_pending", "debits_posted", "credits_pending", "credits_posted")})


@dataclass(frozen=True)
class AccountRef:
    """Which account: a user's wallet in a currency, or a system account in a currency."""

    kind: str
    currency: str
    owner_id: UUID | None = None

    @property
    def id(self) -> UUID:
        return account_id(self.kind, self.currency, self.owner_id)

    @property
    def bounded(self) -> bool:
        return self.kind == WALLET


def account_id(kind: str, currency: str, owner_id: UUID | None = None) -> UUID:
    if (kind == WALLET) != (owner_id is not None):
        raise ValueError("a wallet has an owner and a system account has none")
    return uuid5(LEDGER_NAMESPACE, f"account/{kind}/{currency}/{owner_id or ''}")


def wallet(owner_id: UUID, currency: str) -> AccountRef:
    return AccountRef(WALLET, currency, owner_id)


def system_account(kind: str, currency: str) -> AccountRef:
    if kind not in SYSTEM_KINDS:
        raise ValueError(f"not a system account kind: {kind}")
    return AccountRef(kind, currency)


class LedgerAccount(ParleyAggregate):
    """One account of the ledger: what it is, its flags, and its four totals."""

    snapshot_every = SNAPSHOT_EVERY  # a busy wallet moves without end

    def __init__(self, kind: str, currency: str, owner_id: UUID | None,
                 debits_must_not_exceed_credits: bool,
                 credits_must_not_exceed_debits: bool) -> None:
        self.kind = kind
        self.currency = currency
        self.owner_id = owner_id
        self.debits_must_not_exceed_credits = debits_must_not_exceed_credits
        self.credits_must_not_exceed_debits = credits_must_not_exceed_debits
        # the four totals as plain ints (a snapshot stores the aggregate's state as JSON)
        self.totals: dict[str, int] = Balances().as_document()

    class Opened(ParleyAggregate.Created):
        kind: str
        currency: str
        owner_id: UUID | None
        debits_must_not_exceed_credits: bool
        credits_must_not_exceed_debits: bool

    class BalancesChanged(ParleyAggregate.Event):
        """The totals after a transfer (or its posting, voiding or expiry) moved them."""

        transfer_id: UUID
        balances: dict[str, int]

        def apply(self, aggregate: ParleyAggregate) -> None:
            assert isinstance(aggregate, LedgerAccount)
            aggregate.totals = dict(self.balances)

    @classmethod
    def open(cls, ref: AccountRef, cause: Cause) -> LedgerAccount:
        return cls._create(cls.Opened, id=ref.id, kind=ref.kind, currency=ref.currency,
                           owner_id=ref.owner_id, debits_must_not_exceed_credits=ref.bounded,
                           credits_must_not_exceed_debits=False, **cause.as_event_fields())

    @property
    def balances(self) -> Balances:
        return Balances.from_document(self.totals)

    @property
    def ref(self) -> AccountRef:
        return AccountRef(self.kind, self.currency, self.owner_id)

    def admits(self, balances: Balances) -> bool:
        """Whether these totals keep within the account's flags."""
        if self.debits_must_not_exceed_credits and (
                balances.debits_pending + balances.debits_posted > balances.credits_posted):
            return False
        return not (self.credits_must_not_exceed_debits and (
            balances.credits_pending + balances.credits_posted > balances.debits_posted))

    def move_to(self, balances: Balances, transfer_id: UUID, cause: Cause) -> None:
        self.trigger_event(self.BalancesChanged, transfer_id=transfer_id,
                           balances=balances.as_document(), **cause.as_event_fields())
