"""Payment limits: how much a user may send, per payment and over rolling windows, by tier.

For each tier (`unverified`, `verified`) and currency: the most one payment may be, the most
sent in any 24 hours and the most in any 30 days, in minor units. The windows roll: "today"
is the 24 hours up to now (a send exactly 24 hours ago still counts), not since midnight in
some time zone. A payment counts from `record_send` until a compensation releases it
(PaymentActivity.release_send), so a payment still held counts and a declined one does not.
A tier or currency without limits allows nothing (a zero allowance): a currency is opened to
a tier by configuration, never by default.

The settings string (PARLEY_PAYMENT_LIMITS), in ABNF:

    limits   = tier *( ";" tier )
    tier     = name ":" currency *( "," currency )
    currency = code "=" amount "/" amount "/" amount   ; per payment / per day / per month
    name     = "unverified" / "verified"
    code     = 3( %x41-5A )                             ; upper-case ISO 4217 code
    amount   = 1*16DIGIT                                ; minor units, at most MAX_AMOUNT

Spaces around separators are ignored. Both tiers are named, each once; a currency at most
once per tier; per payment <= per day <= per month. For example
`unverified:USD=50000/100000/300000,JPY=50000/100000/300000;verified:USD=500000/...`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Final

from domain.payments.activity import PaymentActivity
from domain.payments.errors import LimitExceeded
from domain.payments.money import MAX_AMOUNT

UNVERIFIED: Final = "unverified"
VERIFIED: Final = "verified"
TIERS: Final = (UNVERIFIED, VERIFIED)
DAY: Final = timedelta(hours=24)
MONTH: Final = timedelta(days=30)
_CODE = re.compile(r"[A-Z]{3}")
_AMOUNT = re.compile(r"[0-9]{1,16}")


@dataclass(frozen=True)
class TierLimits:
    """One tier's limits in one currency, in its minor units."""

    per_transaction: int
    per_day: int
    per_month: int

    def __post_init__(self) -> None:
        amounts = (self.per_transaction, self.per_day, self.per_month)
        if any(isinstance(a, bool) or not isinstance(a, int) or not 0 <= a <= MAX_AMOUNT
               for a in amounts):
            raise ValueError(f"a limit is a whole number of minor units from 0 to {MAX_AMOUNT}")
        if not self.per_transaction <= self.per_day <= self.per_month:
            raise ValueError("limits are per payment <= per day <= per month")

    def scaled(self, factor: int) -> TierLimits:
        return TierLimits(self.per_transaction * factor, self.per_day * factor,
                          self.per_month * factor)


Limits = Mapping[str, Mapping[str, TierLimits]]  # tier -> currency -> its limits


def _defaults() -> Limits:
    """Unverified: 500 / 1,000 / 3,000 of USD, EUR, GBP, CHF, CAD and AUD (per payment / 24 h
    / 30 days); JPY the same numbers of minor units (exponent 0: 50,000 yen per payment,
    about the same value); KWD 150 / 300 / 900 dinars (exponent 3: three times the numbers,
    about USD 490 / 980 / 2,940); INR 40,000 rupees per payment (80 times), BRL 2,500 reais
    (5 times). Verified: ten times each."""
    base = TierLimits(50_000, 100_000, 300_000)
    unverified = {code: base for code in ("USD", "EUR", "GBP", "CHF", "CAD", "AUD", "JPY")}
    unverified |= {"KWD": base.scaled(3), "INR": base.scaled(80), "BRL": base.scaled(5)}
    return MappingProxyType({
        UNVERIFIED: MappingProxyType(unverified),
        VERIFIED: MappingProxyType({c: t.scaled(10) for c, t in unverified.items()}),
    })


DEFAULT_LIMITS: Final = _defaults()


def parse_limits(text: str) -> Limits:
    """The limits a settings string says (the grammar is in the module's docstring); a
    ValueError says what is wrong with it."""
    tiers: dict[str, Mapping[str, TierLimits]] = {}
    for tier_text in text.split(";"):
        name, colon, currencies_text = (part.strip() for part in tier_text.partition(":"))
        if not colon or name not in TIERS:
            raise ValueError(f"payment limits: {tier_text.strip()!r} does not start with a "
                             f"tier ({' or '.join(TIERS)}) and a colon")
        if name in tiers:
            raise ValueError(f"payment limits: the {name} tier is named twice")
        tiers[name] = MappingProxyType(_parse_currencies(name, currencies_text))
    missing = [t for t in TIERS if t not in tiers]
    if missing:
        raise ValueError(f"payment limits: no limits for the {', '.join(missing)} tier")
    return MappingProxyType(tiers)


def _parse_currencies(tier: str, text: str) -> dict[str, TierLimits]:
    currencies: dict[str, TierLimits] = {}
    for item in text.split(","):
        code, equals, amounts_text = (part.strip() for part in item.partition("="))
        amounts = [a.strip() for a in amounts_text.split("/")]
        if not (equals and _CODE.fullmatch(code) and len(amounts) == 3
                and all(_AMOUNT.fullmatch(a) for a in amounts)):
            raise ValueError(f"payment limits: {item.strip()!r} in the {tier} tier is not "
                             "CODE=per_payment/per_day/per_month in minor units")
        if code in currencies:
            raise ValueError(f"payment limits: {code} is named twice in the {tier} tier")
        try:
            currencies[code] = TierLimits(*(int(a) for a in amounts))
        except ValueError as error:
            raise ValueError(f"payment limits: {code} in the {tier} tier: {error}") from None
    return currencies


def format_limits(limits: Limits) -> str:
    """The settings string of `limits` (parse_limits reads it back)."""
    return ";".join(
        f"{tier}:" + ",".join(f"{code}={t.per_transaction}/{t.per_day}/{t.per_month}"
                              for code, t in currencies.items())
        for tier, currencies in limits.items())


@dataclass(frozen=True)
class Allowance:
    """What a user may still send in a currency now, in its minor units. `per_transaction`
    is the most one payment may be now: the least of the per-payment limit and what is left
    of the 24-hour and 30-day ones."""

    per_transaction: int
    today: int
    this_month: int
    currency: str

    def as_document(self) -> dict[str, int | str]:
        return {"per_transaction": self.per_transaction, "today": self.today,
                "this_month": self.this_month, "currency": self.currency}


def allowance(limits: Limits, tier: str, activity: PaymentActivity, currency: str,
              now: datetime) -> Allowance:
    """What `activity`'s user, of `tier`, may still send in `currency` at `now`."""
    tier_limits = limits.get(tier, {}).get(currency)
    if tier_limits is None:
        return Allowance(0, 0, 0, currency)
    _, sent_today = activity.sent_in(now - DAY, currency)
    _, sent_this_month = activity.sent_in(now - MONTH, currency)
    today = max(0, tier_limits.per_day - sent_today)
    this_month = max(0, tier_limits.per_month - sent_this_month)
    return Allowance(min(tier_limits.per_transaction, today, this_month), today, this_month,
                     currency)


def check(limits: Limits, tier: str, activity: PaymentActivity, amount: int, currency: str,
          now: datetime) -> Allowance:
    """The allowance before a payment of `amount`, if it fits in it; else `LimitExceeded`
    naming the limit it is over (never the amounts: an error may be logged)."""
    remaining = allowance(limits, tier, activity, currency, now)
    if amount <= remaining.per_transaction:
        return remaining
    tier_limits = limits.get(tier, {}).get(currency)
    if tier_limits is None:
        reason = f"payments in {currency} are not open to {tier} accounts"
    elif amount > tier_limits.per_transaction:
        reason = f"the amount is over the most one payment in {currency} may be"
    elif amount > remaining.today:
        reason = f"the amount is over what is left of the 24-hour limit in {currency}"
    else:
        reason = f"the amount is over what is left of the 30-day limit in {currency}"
    raise LimitExceeded("amount", reason, remaining)
