"""What a contact point holds, checked and put in its one canonical form: email addresses,
E.164 phone numbers, Web Push subscriptions, FCM and APNs device tokens, webhook URLs.

Each function answers the canonical value or raises InvalidContactPoint naming the input at
fault. Messages never repeat the value: it is personal data, and errors may be logged.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from typing import Final

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from domain.notifications.endpoints import endpoint_url_problem
from domain.notifications.errors import InvalidContactPoint

MAX_EMAIL_LENGTH: Final = 254  # RFC 5321's path limit, less the angle brackets
MAX_FCM_TOKEN_LENGTH: Final = 4096
APNS_TOKEN_LENGTHS: Final = range(64, 201)
FCM_TOKEN: Final = re.compile(r"[A-Za-z0-9._~:-]+")
HEX: Final = re.compile(r"[0-9A-Fa-f]+")
P256DH_BYTES: Final = 65  # an uncompressed P-256 point: 0x04, then x and y
AUTH_BYTES: Final = 16

# P-256 (NIST SP 800-186): y^2 = x^3 - 3x + b over the prime field p
_P256_P: Final = 2**256 - 2**224 + 2**192 + 2**96 - 1
_P256_B: Final = 0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B


def email_address(raw: str) -> str:
    """The address as mail is sent to it: syntax checked (no DNS lookup), domain lower-cased
    (and in Unicode form for an internationalised one), at most 254 characters."""
    if len(raw) > MAX_EMAIL_LENGTH:
        raise _invalid("address", f"must be at most {MAX_EMAIL_LENGTH} characters")
    try:
        checked = validate_email(raw, check_deliverability=False)
    except EmailNotValidError:
        raise _invalid("address", "is not a valid email address") from None
    normalized = str(checked.normalized)
    if len(normalized) > MAX_EMAIL_LENGTH:
        raise _invalid("address", f"must be at most {MAX_EMAIL_LENGTH} characters")
    return normalized


def e164_number(raw: str, region: str | None = None) -> str:
    """The number in E.164 (`+` and digits). `region` (ISO 3166 alpha-2, e.g. "GB") says how
    to read a number written without its country code."""
    hint = None
    if region is not None:
        hint = region.upper()
        if hint not in phonenumbers.SUPPORTED_REGIONS:
            raise _invalid("region", "is not a region phone numbers are known for")
    try:
        number = phonenumbers.parse(raw, hint)
    except phonenumbers.NumberParseException:
        raise _invalid("number", "is not a phone number (give its country code, or a "
                                 "region)") from None
    if not phonenumbers.is_valid_number(number):
        raise _invalid("number", "is not a valid phone number")
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


@dataclass(frozen=True)
class WebPushSubscription:
    """A browser's push subscription (the Push API's PushSubscription): where to POST, and the
    keys to encrypt for (RFC 8291), base64url without padding."""

    endpoint: str = field(repr=False)
    p256dh: str = field(repr=False)
    auth: str = field(repr=False)


def web_push_subscription(endpoint: str, p256dh: str, auth: str, *,
                          allow_loopback_http: bool = False) -> WebPushSubscription:
    problem = endpoint_url_problem(endpoint, allow_loopback_http=allow_loopback_http)
    if problem is not None:
        raise _invalid("endpoint", problem)
    point = _base64url(p256dh, "keys.p256dh")
    if len(point) != P256DH_BYTES or point[0] != 0x04 or not _on_p256(point):
        raise _invalid("keys.p256dh", "must be an uncompressed P-256 public key (65 bytes, "
                                      "base64url)")
    secret = _base64url(auth, "keys.auth")
    if len(secret) != AUTH_BYTES:
        raise _invalid("keys.auth", f"must be {AUTH_BYTES} bytes, base64url")
    return WebPushSubscription(endpoint, _unpadded(point), _unpadded(secret))


def fcm_token(raw: str) -> str:
    if not raw or len(raw) > MAX_FCM_TOKEN_LENGTH or FCM_TOKEN.fullmatch(raw) is None:
        raise _invalid("token", f"must be an FCM registration token (1 to "
                                f"{MAX_FCM_TOKEN_LENGTH} URL-safe characters)")
    return raw


def apns_token(raw: str) -> str:
    """APNs device tokens are hex; Apple says not to rely on their length (64 today)."""
    if len(raw) not in APNS_TOKEN_LENGTHS or HEX.fullmatch(raw) is None:
        raise _invalid("token", "must be an APNs device token (64 to 200 hex digits)")
    return raw.lower()


def webhook_url(raw: str, *, allow_loopback_http: bool = False) -> str:
    problem = endpoint_url_problem(raw, allow_loopback_http=allow_loopback_http)
    if problem is not None:
        raise _invalid("url", problem)
    return raw


def _invalid(name: str, problem: str) -> InvalidContactPoint:
    return InvalidContactPoint(name, f"{name} {problem}")


def _base64url(value: str, name: str) -> bytes:
    try:
        return base64.b64decode(value + "=" * (-len(value) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise _invalid(name, "must be base64url") from None


def _unpadded(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _on_p256(point: bytes) -> bool:
    """Whether an uncompressed point lies on the curve (a random 65 bytes does not)."""
    x, y = int.from_bytes(point[1:33], "big"), int.from_bytes(point[33:], "big")
    p = _P256_P
    return x < p and y < p and (y * y - (x * x * x - 3 * x + _P256_B)) % p == 0
