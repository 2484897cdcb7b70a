"""Stripe's webhook signatures: the `Stripe-Signature` header, made and checked (pure: the
webhook route checks with it, the stand-in signs with its own copy of the scheme).

The header is `t=<unix seconds>,v1=<hex HMAC-SHA256>` where the MAC is over
`f"{t}.".encode() + body` (the raw body, byte for byte, never a re-serialised JSON) keyed with
the endpoint's signing secret (`whsec_...`, the whole string). While a secret is being rolled
Stripe signs with both, so a header may carry several `v1=` entries; other schemes (`v0=`,
test mode's) are ignored. A receiver holds the current and the previous secret, so `verify`
takes several and accepts a header that any one of them signed.

A signature is only worth something if it is recent: a timestamp more than `tolerance`
seconds away from `now`, in the past (a replay) or the future (a skewed or forged clock), is
refused. The signature is checked before the timestamp, so a forged header learns nothing of
the tolerance; every comparison is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from typing import Final

from commands.payments.card_processor import WebhookSignatureInvalid

__all__ = ["DEFAULT_TOLERANCE_SECONDS", "WebhookSignatureInvalid", "sign", "verify"]

DEFAULT_TOLERANCE_SECONDS: Final = 300
SCHEME: Final = "v1"
MAX_HEADER_LENGTH: Final = 4096  # a few rotated signatures fit many times over


def sign(payload: bytes, secret: str, timestamp: int) -> str:
    """The `Stripe-Signature` header value for `payload` signed with `secret` at `timestamp`."""
    return f"t={timestamp},{SCHEME}={_mac(secret, timestamp, payload)}"


def verify(payload: bytes, header: str | None, secrets: Sequence[str], now: int,
           tolerance: int = DEFAULT_TOLERANCE_SECONDS) -> None:
    """Nothing if one of `secrets` signed `payload` at most `tolerance` seconds from `now`;
    `WebhookSignatureInvalid(reason)` otherwise. No secret at all is a configuration error
    (ValueError), not a forged webhook."""
    if not secrets or not all(secrets):
        raise ValueError("no webhook signing secret is configured")
    timestamp, signatures = _parse(header)
    expected = [_mac(secret, timestamp, payload).encode("ascii") for secret in secrets]
    matched = False
    for candidate in signatures:
        for mac in expected:  # no early exit: the time taken says nothing of which matched
            matched |= hmac.compare_digest(mac, candidate)
    if not matched:
        raise WebhookSignatureInvalid("no_matching_signature")
    if abs(now - timestamp) > tolerance:
        raise WebhookSignatureInvalid("timestamp_outside_tolerance")


def _parse(header: str | None) -> tuple[int, list[bytes]]:
    """The header's one timestamp and its v1 signatures."""
    if header is None or not header.strip():
        raise WebhookSignatureInvalid("missing_header")
    if len(header) > MAX_HEADER_LENGTH:
        raise WebhookSignatureInvalid("malformed_header")
    timestamps: list[str] = []
    signatures: list[bytes] = []
    for item in header.split(","):
        key, equals, value = item.strip().partition("=")
        if not (equals and key and value):
            raise WebhookSignatureInvalid("malformed_header")
        if key == "t":
            timestamps.append(value)
        elif key == SCHEME:
            signatures.append(value.encode("utf-8"))
    if len(timestamps) != 1 or not (timestamps[0].isascii() and timestamps[0].isdigit()):
        raise WebhookSignatureInvalid("malformed_header")
    if not signatures:
        raise WebhookSignatureInvalid("no_v1_signature")
    return int(timestamps[0]), signatures


def _mac(secret: str, timestamp: int, payload: bytes) -> str:
    return hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode("ascii") + payload,
                    hashlib.sha256).hexdigest()
