"""Strong signing keys: what `PARLEY_SECRET_KEY` and `PARLEY_AUDIT_KEY` must be, and a maker.

Anyone who knows the token key forges a bearer token for any user, and anyone who knows the
audit key re-signs a rewritten log, so a guessable key is refused at start. A key's entropy
cannot be measured from one sample; the estimate here (length times the bits of the smallest
alphabet its characters come from, capped by how evenly they use it) refuses what people type
by hand and accepts what `parley secrets generate`, `openssl rand -base64 32` or
`openssl rand -hex 32` print.
"""

from __future__ import annotations

import math
import secrets
import string
from collections import Counter

MIN_KEY_BYTES = 32
MIN_KEY_BITS = 8 * MIN_KEY_BYTES
GENERATED_KEY_BYTES = 48
MIN_BITS_PER_CHARACTER = 3.0  # below it, a long key is a short pattern repeated
# Normalised (lower case, letters and digits only): a key containing one of these, or
# starting with one of the prefixes, is a placeholder from a README, a tutorial or a test.
# Words are six letters or more, so a random key contains one by chance about once in 10^7.
PLACEHOLDER_WORDS = ("changeme", "secret", "password", "passwd", "example", "placeholder",
                     "replaceme", "default", "insecure", "sample", "yourkey", "signingkey",
                     "parley", "qwerty", "123456", "letmein")
PLACEHOLDER_PREFIXES = ("test", "bench")
RANDOM_ALPHABETS = (string.digits, "0123456789abcdef", string.ascii_lowercase + string.digits,
             string.ascii_letters + string.digits, string.ascii_letters + string.digits + "-_",
             string.ascii_letters + string.digits + "+/=")


def key_weakness(key: str) -> str | None:
    """Why `key` is too weak to sign with, or None if it is strong enough."""
    normalised = "".join(ch for ch in key.lower() if ch.isalnum())
    if (any(word in normalised for word in PLACEHOLDER_WORDS)
            or normalised.startswith(PLACEHOLDER_PREFIXES)):
        return "is a known placeholder"
    if any(ch.isspace() for ch in key):
        return "contains spaces (a passphrase, not a random key)"
    if len(key.encode("utf-8")) < MIN_KEY_BYTES:
        return f"is shorter than {MIN_KEY_BYTES} bytes"
    if estimated_bits(key) < MIN_KEY_BITS:
        return f"has less than {MIN_KEY_BYTES} bytes of entropy"
    return None


def estimated_bits(key: str) -> float:
    """An upper estimate of the key's entropy in bits (see the module docstring).

    A key in the alphabet of a random generator's output (hex, base64, base64url) counts the
    bits of that alphabet per character; any other key only what its characters' spread
    shows, since people's text uses few of the characters it could."""
    if not key:
        return 0.0
    counts = Counter(key)
    spread = -sum(n / len(key) * math.log2(n / len(key)) for n in counts.values())
    if spread < MIN_BITS_PER_CHARACTER:
        return 0.0
    used = set(key)
    alphabet = next((len(set(a)) for a in RANDOM_ALPHABETS if used <= set(a)), None)
    return len(key) * (math.log2(alphabet) if alphabet else spread)


def generate_key() -> str:
    """A fresh key of 48 random bytes, URL-safe base64 (64 characters)."""
    while True:  # a random key that happens to contain a placeholder word is drawn again
        key = secrets.token_urlsafe(GENERATED_KEY_BYTES)
        if key_weakness(key) is None:
            return key
