"""Card numbers in what people send: found, and refused before anything keeps them.

Parley moves card money through processor tokens (`pm_...`) only; a card number (a PAN)
must never reach the log, a read model or a log line, so a payments request carrying one is
refused whole, before it becomes a command. PAN-shaped: 13 to 19 digits, as one number or
in groups split by spaces or dashes (up to three of them between two groups, as people type
"4111 1111 1111 1111" or "4111 - 1111 ..."), that pass the Luhn check. Within a longer run
of groups ("4111 1111 1111 1111 12 26", a card and its expiry) every span of whole groups is
tried, so a PAN followed or preceded by other digits is still found; a single unbroken run
of more than 19 digits is not a card number.

Digits of any script count as digits (a card number in full-width or Arabic-Indic digits is
still one), and any dash punctuation as a dash. UUIDs are Parley's own ids (payment,
conversation, user ids): they are set aside before looking, as their all-digit groups would
otherwise now and then pass the check. Nothing here says which digits it found: the caller
only learns that something was refused, and where.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Mapping
from typing import Final

from domain.payments.errors import CardNumberRefused

MIN_DIGITS: Final = 13
MAX_DIGITS: Final = 19
_RUN = re.compile(r"[0-9]+(?:[ -]{1,3}[0-9]+)*")
_GAP = re.compile(r"[ -]+")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                   r"[0-9a-fA-F]{12}")
REFUSAL: Final = ("this looks like a card number: Parley takes payment methods as processor "
                  "tokens (pm_...), never card numbers; nothing of the request was kept")


def luhn_valid(digits: str) -> bool:
    """Whether a string of ASCII digits passes the Luhn (mod 10) check."""
    total = 0
    for place, character in enumerate(reversed(digits)):
        value = ord(character) - 48
        if place % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _plain(text: str) -> str:
    """`text` with every decimal digit in ASCII, every dash a '-', every space a ' ', and
    UUIDs replaced by a character that is neither."""
    folded = []
    for character in unicodedata.normalize("NFKC", text):
        if character.isdecimal() and not character.isascii():
            folded.append(str(unicodedata.decimal(character)))
        elif character != "-" and unicodedata.category(character) == "Pd":
            folded.append("-")
        elif character != " " and unicodedata.category(character) == "Zs":
            folded.append(" ")
        else:
            folded.append(character)
    return _UUID.sub("\x00", "".join(folded))


def _spans(groups: list[str]) -> Iterator[str]:
    """The digits of every span of whole consecutive groups that is long enough to be a PAN."""
    for start in range(len(groups)):
        digits = ""
        for group in groups[start:]:
            digits += group
            if len(digits) > MAX_DIGITS:
                break
            if len(digits) >= MIN_DIGITS:
                yield digits


def has_card_number(text: str) -> bool:
    """Whether `text` holds anything PAN-shaped (see the module's docstring)."""
    if sum(c.isdigit() for c in text) < MIN_DIGITS:
        return False
    for run in _RUN.finditer(_plain(text)):
        if any(luhn_valid(digits) for digits in _spans(_GAP.split(run.group()))):
            return True
    return False


def texts_of(value: object) -> Iterator[str]:
    """Every string, number and key in a parsed JSON value, nested at any depth."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int):
        yield str(value)
    elif isinstance(value, float):
        yield f"{value:f}"
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from texts_of(key)
            yield from texts_of(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from texts_of(item)


def refuse_card_numbers(where: str, *texts: str) -> None:
    """`CardNumberRefused` (naming `where`: body, query or path) if any of `texts` holds a
    card number."""
    if any(has_card_number(text) for text in texts):
        raise CardNumberRefused(where, REFUSAL)
