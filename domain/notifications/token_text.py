"""How Parley's signed link tokens (email verification, one-click unsubscribe) spell bytes:
unpadded URL-safe base64, read back in one spelling only, so a token changed in any way,
padding and alphabet included, is a different token and refused."""

from __future__ import annotations

import base64
import binascii
from typing import Final

LONGEST_PART: Final = 128  # characters of one part of a token


def encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def decode(text: str) -> bytes:
    """The bytes `text` spells, or b"" if it is empty, too long, not base64, or not the
    spelling `encode` gives."""
    if not text or len(text) > LONGEST_PART:
        return b""
    try:
        data = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        return b""
    return data if encode(data) == text else b""
