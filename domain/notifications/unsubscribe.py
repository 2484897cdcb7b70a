"""One-click unsubscribe links (RFC 8058): the URL a non-transactional email carries in its
`List-Unsubscribe` header, whose POST opts its recipient out of that category on email.

A token is `u1.<claim>.<mac>`, both parts base64url: the claim is the user id and the
category (no address, nothing personal), the MAC their HMAC-SHA256 under a key the
composition root derives from the server secret with a label of its own. The token is the
only authority (RFC 8058: no cookie, no bearer token), so it does not expire: an old email's
link still unsubscribes. Nothing is stored for a token; a tampered or malformed one is
refused with the one error an unknown link gets.

Transactional categories (security alerts, account mail such as verification links) and the
deployment's critical ones (payment confirmations; PARLEY_NOTIFICATION_CRITICAL_CATEGORIES)
carry no link and cannot be unsubscribed from: they must reach the user. A token for a
category made critical after it was mailed still reads (its claim), and unsubscribes nothing
(commands/notifications/unsubscribe.py).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Final
from uuid import UUID

from domain.notifications.category_policy import DEFAULT_CRITICAL_CATEGORIES
from domain.notifications.errors import UnsubscribeLinkNotFound
from domain.notifications.token_text import decode, encode

VERSION: Final = "u1"
UNSUBSCRIBE_PATH: Final = "/v1/notifications/unsubscribe"  # api/notifications/unsubscribe.py
ONE_CLICK: Final = "List-Unsubscribe=One-Click"  # the POST body RFC 8058 prescribes
TRANSACTIONAL_CATEGORIES: Final = frozenset({"security", "account"})
MAX_CATEGORY_BYTES: Final = 64
_PURPOSE: Final = b"parley/email-unsubscribe/v1|"
_USER_BYTES: Final = 16


@dataclass(frozen=True)
class UnsubscribeClaim:
    """Who a valid link opts out, and of which category."""

    user_id: UUID
    category: str


def may_unsubscribe(category: str) -> bool:
    """Whether mail of this category offers (and honours) unsubscribing."""
    return category not in TRANSACTIONAL_CATEGORIES


def unknown_link() -> UnsubscribeLinkNotFound:
    return UnsubscribeLinkNotFound("token", "no such unsubscribe link")


@dataclass(frozen=True)
class UnsubscribeLinks:
    """Issues and reads unsubscribe tokens under one key (never in a repr), and makes the
    links under Parley's public URL."""

    key: bytes = field(repr=False)
    public_url: str = "http://127.0.0.1:8000"
    critical: frozenset[str] = DEFAULT_CRITICAL_CATEGORIES  # the deployment's CategoryPolicy's

    def offers(self, category: str) -> bool:
        """Whether mail of `category` carries a link (neither transactional nor critical)."""
        return may_unsubscribe(category) and category not in self.critical

    def token(self, user_id: UUID, category: str) -> str:
        claim = user_id.bytes + category.encode()
        return f"{VERSION}.{encode(claim)}.{encode(self._mac(claim))}"

    def link(self, user_id: UUID, category: str) -> str | None:
        """The one-click URL for mail of `category` to this user; None for transactional or
        critical mail."""
        if not self.offers(category) or not _fits(category.encode()):
            return None
        return f"{self.public_url.rstrip('/')}{UNSUBSCRIBE_PATH}/{self.token(user_id, category)}"

    def read(self, token: str) -> UnsubscribeClaim:
        """The claim of a token this key issued; anything else the one error."""
        version, _, rest = token.partition(".")
        encoded_claim, _, encoded_mac = rest.partition(".")
        if version != VERSION:
            raise unknown_link()
        claim, mac = decode(encoded_claim), decode(encoded_mac)
        if not hmac.compare_digest(mac, self._mac(claim)) or not _fits(claim[_USER_BYTES:]):
            raise unknown_link()
        try:
            category = claim[_USER_BYTES:].decode()
        except UnicodeDecodeError:  # never issued by this key: only a key holder gets here
            raise unknown_link() from None
        if not may_unsubscribe(category):
            raise unknown_link()
        return UnsubscribeClaim(UUID(bytes=claim[:_USER_BYTES]), category)

    def _mac(self, claim: bytes) -> bytes:
        return hmac.new(self.key, _PURPOSE + claim, hashlib.sha256).digest()


def _fits(category: bytes) -> bool:
    return 0 < len(category) <= MAX_CATEGORY_BYTES
