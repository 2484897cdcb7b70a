"""Email verification tokens: the proof, carried by a link sent to the address, that whoever
holds the token can read that mailbox.

A token is `v1.<claim>.<mac>`, both parts base64url: the claim is the user id, the contact
point id and the expiry (Unix seconds), and the MAC their HMAC-SHA256 under a key the
composition root derives from the server secret. Nothing is stored for a token; a tampered,
expired or malformed one is refused with one and the same error.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Final
from uuid import UUID

from domain.notifications.errors import InvalidVerificationToken
from domain.notifications.token_text import decode, encode

VERSION: Final = "v1"
VERIFICATION_PAGE: Final = "/verify-email"  # served by api/notifications/verification_page.py
DEFAULT_TTL_SECONDS: Final = 3 * 24 * 3600
_CLAIM: Final = struct.Struct(">16s16sq")
_PURPOSE: Final = b"parley/email-verification/v1|"


@dataclass(frozen=True)
class VerificationClaim:
    """Whose address a valid token verifies, and until when it was valid."""

    user_id: UUID
    contact_point_id: UUID
    expires_at: datetime


def invalid_token() -> InvalidVerificationToken:
    return InvalidVerificationToken("token", "this verification link is invalid or has expired")


@dataclass(frozen=True)
class EmailVerification:
    """Issues and reads verification tokens under one key (never in a repr)."""

    key: bytes = field(repr=False)
    ttl_seconds: int = DEFAULT_TTL_SECONDS

    def token(self, user_id: UUID, contact_point_id: UUID, now: datetime) -> str:
        expires = int((now + timedelta(seconds=self.ttl_seconds)).timestamp())
        claim = _CLAIM.pack(user_id.bytes, contact_point_id.bytes, expires)
        return f"{VERSION}.{encode(claim)}.{encode(self._mac(claim))}"

    def read(self, token: str, now: datetime) -> VerificationClaim:
        """The claim of a token this key issued that has not expired; else the one error."""
        version, _, rest = token.partition(".")
        encoded_claim, _, encoded_mac = rest.partition(".")
        if version != VERSION:
            raise invalid_token()
        claim, mac = decode(encoded_claim), decode(encoded_mac)
        if len(claim) != _CLAIM.size or not hmac.compare_digest(mac, self._mac(claim)):
            raise invalid_token()
        user, contact_point, expires = _CLAIM.unpack(claim)
        if now.timestamp() >= expires:
            raise invalid_token()
        return VerificationClaim(UUID(bytes=user), UUID(bytes=contact_point),
                                 datetime.fromtimestamp(expires, UTC))

    def _mac(self, claim: bytes) -> bytes:
        return hmac.new(self.key, _PURPOSE + claim, hashlib.sha256).digest()


def verification_link(base_url: str, token: str) -> str:
    """The link a verification email carries: Parley's page at `base_url` (its public URL)
    that posts the token to `POST /v1/contact-points/verify`. The token rides in the fragment,
    so it never reaches a server's access log or a Referer header, and a mail scanner that
    fetches links verifies nothing."""
    return f"{base_url.rstrip('/')}{VERIFICATION_PAGE}#token={token}"
