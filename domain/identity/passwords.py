"""The password policy for new passwords, in the spirit of NIST SP 800-63B (section 5.1.1.2).

Length 8 to 128 characters (after NFC normalisation; spaces and any Unicode allowed), not on a
list of common or breached passwords, not made of the account's own words (handle, name) or the
service's name, not one repeated character or a plain sequence. No composition rules (no
"one digit and one symbol"): they make passwords harder to remember, not to guess. The list is
given to the policy (the composition root loads the bundled file), so this module stays pure.

Signing in checks only the length (clean_password): a policy change never locks anyone out.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from domain.identity.accounts import MIN_PASSWORD_LENGTH, clean_password
from domain.identity.errors import CommonPassword, PasswordFromContext, TrivialPassword

SERVICE_WORDS = ("parley",)
MIN_CONTEXT_WORD_LENGTH = 3  # shorter words ("al", "jo") occur inside too many good passwords
LONGEST_REPEATED_UNIT = 3  # "abcabcabc", "121212121" are one short unit repeated
FEWEST_DISTINCT_CHARACTERS = 3
_WORD_SEPARATORS = re.compile(r"[\W_]+")


@dataclass(frozen=True)
class PasswordPolicy:
    """Decides whether a new password may be set; `common` holds casefolded passwords."""

    common: frozenset[str] = field(default_factory=frozenset)

    def check(self, password: str, context: Iterable[str] = ()) -> str:
        """The password as it will be hashed (NFC), or a WeakPassword error saying why not."""
        cleaned = clean_password(password)
        folded = cleaned.casefold()
        if is_trivial(folded):
            raise TrivialPassword(
                "password", "a password must not be one character repeated or a plain sequence")
        if folded.strip() in self.common or _squeezed(folded) in self.common:
            raise CommonPassword(
                "password", "this password is on a list of common or breached passwords")
        if _mostly_context(folded, [*context, *SERVICE_WORDS]):
            raise PasswordFromContext(
                "password", "a password must not be made of your handle, your name or 'parley'")
        return cleaned


def is_trivial(folded: str) -> bool:
    """Too few distinct characters, a short unit repeated, or a run of consecutive code points
    going up or down (12345678, abcdefgh, 98765432)."""
    if len(set(folded)) < FEWEST_DISTINCT_CHARACTERS:
        return True
    for unit in range(1, LONGEST_REPEATED_UNIT + 1):
        if len(folded) % unit == 0 and folded == folded[:unit] * (len(folded) // unit):
            return True
    steps = {ord(b) - ord(a) for a, b in itertools.pairwise(folded)}
    return steps in ({1}, {-1})


def context_words(context: Iterable[str]) -> set[str]:
    """Each given phrase whole (separators dropped) and each of its words, casefolded."""
    words: set[str] = set()
    for phrase in context:
        folded = phrase.casefold()
        words.add(_squeezed(folded))
        words.update(_WORD_SEPARATORS.split(folded))
    return {w for w in words if len(w) >= MIN_CONTEXT_WORD_LENGTH}


def _mostly_context(folded: str, context: Iterable[str]) -> bool:
    """Once every context word is taken out, what is left is shorter than a password may be."""
    remainder = folded
    for word in sorted(context_words(context), key=len, reverse=True):
        remainder = remainder.replace(word, "")
    return remainder != folded and len(remainder) < MIN_PASSWORD_LENGTH


def _squeezed(folded: str) -> str:
    return _WORD_SEPARATORS.sub("", folded)
