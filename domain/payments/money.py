"""Amounts of money: whole numbers of a currency's minor units, never floats.

A currency's exponent (its number of minor-unit places) is ISO 4217's, from the `iso4217`
data package: JPY 0, USD 2, KWD 3. Amounts travel as integers of minor units or as decimal
strings of major units ("12.34"), which are parsed exactly, never through a float.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from iso4217 import Currency

from domain.payments.errors import InvalidAmount, UnknownCurrency

MAX_AMOUNT = 10**15  # minor units: within a signed 64-bit integer with room for sums
DEFAULT_CURRENCIES = ("USD", "EUR", "GBP", "JPY", "KWD")  # those with default limits
_DECIMAL = re.compile(r"^(0|[1-9][0-9]{0,17})(?:\.([0-9]{1,4}))?$")


@cache
def currency_exponent(code: str) -> int:
    """The number of minor-unit places of an ISO 4217 currency (`UnknownCurrency` if it is
    not one, or has no minor units, as gold or SDRs)."""
    if not (len(code) == 3 and code.isascii() and code.isupper()):
        raise UnknownCurrency("currency", "a currency is an ISO 4217 code such as USD")
    try:
        exponent = Currency(code).exponent
    except ValueError:
        raise UnknownCurrency("currency", f"{code} is not an ISO 4217 currency") from None
    if exponent is None:
        raise UnknownCurrency("currency", f"{code} has no minor units")
    return int(exponent)


def accepted_currency(code: str, accepted: tuple[str, ...]) -> str:
    """`code` if this deployment moves money in it."""
    currency_exponent(code)
    if code not in accepted:
        raise UnknownCurrency("currency", f"{code} is not accepted here; one of "
                                          f"{', '.join(accepted)}")
    return code


def minor_units(value: int | str, currency: str) -> int:
    """An amount in minor units: an int is taken as minor units, a string as a decimal of
    major units with at most the currency's places ("12.30" USD is 1230; "12.345" is
    refused). Zero, negatives, floats, exponents and anything beyond MAX_AMOUNT are refused."""
    exponent = currency_exponent(currency)
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InvalidAmount("amount", "an amount is an integer of minor units or a decimal "
                                      "string such as \"12.34\"")
    if isinstance(value, int):
        amount = value
    else:
        match = _DECIMAL.match(value)
        if match is None:
            raise InvalidAmount("amount", "a decimal amount is digits with an optional "
                                          "fraction, such as \"12.34\"")
        whole, fraction = match.group(1), match.group(2) or ""
        if len(fraction) > exponent:
            raise InvalidAmount("amount", f"{currency} has {exponent} decimal places")
        amount = int(whole) * 10**exponent + int(fraction.ljust(exponent, "0") or "0")
    if amount <= 0:
        raise InvalidAmount("amount", "an amount is more than zero")
    if amount > MAX_AMOUNT:
        raise InvalidAmount("amount", "the amount is larger than Parley moves")
    return amount


def major_units(amount: int, currency: str) -> str:
    """The decimal string of `amount` minor units: 1234 USD is "12.34", 5 JPY is "5"."""
    exponent = currency_exponent(currency)
    sign, digits = ("-", str(-amount)) if amount < 0 else ("", str(amount))
    if exponent == 0:
        return sign + digits
    digits = digits.rjust(exponent + 1, "0")
    return f"{sign}{digits[:-exponent]}.{digits[-exponent:]}"


@dataclass(frozen=True)
class Money:
    """An amount of one currency."""

    amount: int
    currency: str

    def __str__(self) -> str:
        return f"{major_units(self.amount, self.currency)} {self.currency}"
