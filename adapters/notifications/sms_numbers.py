"""Phone numbers as SMS providers take them: E.164 (`+` and up to 15 digits, no leading 0).

Contact points are checked properly when they are registered (with `phonenumbers`); the
adapters only refuse, without calling anyone, what no provider could send to.
"""

from __future__ import annotations

import re
from typing import Final

E164: Final = re.compile(r"\+[1-9][0-9]{6,14}")


def is_e164(number: str) -> bool:
    return E164.fullmatch(number) is not None


def digits_of(number: str) -> str:
    """The number without its `+` (Vonage's `to` and `from`)."""
    return number.removeprefix("+")
