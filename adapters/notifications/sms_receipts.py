"""SMS status callbacks: where providers send them (`sms_status_callback_url`, the route's own
shape), how their signatures are checked, and what their statuses mean for a notification
(commands/notifications/receipts.py). Pure: no I/O.

Twilio signs a callback with `X-Twilio-Signature`: base64(HMAC-SHA1(auth token, the full URL
it was given + each POST parameter's name and value, sorted by name)). Vonage signs its
delivery receipts (signed webhooks, when the account has them) with a `sig` parameter: the hex
HMAC (SHA-256 by default here; MD5, SHA-1 or SHA-512 as the account chose) under the signature
secret of `&name=value` for every other parameter sorted by name, `&` and `=` in values
replaced by `_`; its `timestamp` parameter (Unix seconds) must be within 5 minutes.

Both schemes are a few lines of the standard library's hmac, so they are written here rather
than taken from the providers' SDKs: `twilio` would bring a whole REST client (aiohttp,
requests) for its 30-line RequestValidator, and Vonage's check lives inside its HTTP client.
The tests hold both to the vectors the providers publish (tests/unit/notifications/).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

from api.notifications.sms_reports import (
    SmsStatusReport,
    UnknownSmsStatus,
    sms_callback_verifiers,
    sms_status_callback_url,
)
from commands.notifications.receipts import DELIVERED, FAILED, SENT, UNDELIVERED

__all__ = [
    "TwilioCallbackVerifier", "VonageCallbackVerifier", "sms_callback_verifiers",
    "sms_status_callback_url", "twilio_receipt_status", "twilio_signature", "verify_twilio",
    "verify_vonage", "vonage_receipt_status", "vonage_signature",
]

TWILIO_SIGNATURE_HEADER: Final = "x-twilio-signature"
VONAGE_FRESHNESS_SECONDS: Final = 5 * 60
VONAGE_SIGNATURE_METHODS: Final = {
    "md5": hashlib.md5, "sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha512": hashlib.sha512,
}


# ---- Twilio ------------------------------------------------------------------------------

def twilio_signature(url: str, params: Mapping[str, str], auth_token: str) -> str:
    """The `X-Twilio-Signature` Twilio sends with a POST of `params` to `url`."""
    signed = url + "".join(name + params[name] for name in sorted(params))
    digest = hmac.new(auth_token.encode(), signed.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def verify_twilio(url: str, params: Mapping[str, str], signature: str | None,
                  auth_token: str) -> bool:
    """Whether `signature` is Twilio's for this POST (constant-time). Twilio may sign the URL
    with or without the scheme's default port (its own validators accept both)."""
    if not signature:
        return False
    return any(hmac.compare_digest(twilio_signature(candidate, params, auth_token).encode(),
                                   signature.encode())
               for candidate in _with_and_without_default_port(url))


def _with_and_without_default_port(url: str) -> list[str]:
    parts = urlsplit(url)
    default = {"https": 443, "http": 80}.get(parts.scheme)
    host = parts.hostname or ""
    if default is None or not host:
        return [url]
    userinfo = parts.netloc.rpartition("@")[0]
    prefix = f"{userinfo}@" if userinfo else ""
    if ":" in host:
        host = f"[{host}]"
    if parts.port is None:
        other = urlunsplit(parts._replace(netloc=f"{prefix}{host}:{default}"))
    elif parts.port == default:
        other = urlunsplit(parts._replace(netloc=f"{prefix}{host}"))
    else:
        return [url]
    return [url, other]


# Twilio's message statuses (its Message resource's documented `status` values).
TWILIO_STATUSES: Final[Mapping[str, str | None]] = {
    "accepted": None, "scheduled": None, "queued": None, "sending": None,  # not yet news
    "sent": SENT,  # the carrier took it
    "delivered": DELIVERED, "read": DELIVERED,
    "undelivered": UNDELIVERED,  # the carrier or handset refused it (ErrorCode says why)
    "partially_delivered": UNDELIVERED,  # some segments never arrived
    "failed": FAILED, "canceled": FAILED,  # never sent
}


def twilio_receipt_status(status: str) -> str | None:
    """A Twilio `MessageStatus` in the notification's terms (None: nothing to record)."""
    try:
        return TWILIO_STATUSES[status]
    except KeyError:
        raise UnknownSmsStatus("not a Twilio message status") from None


@dataclass(frozen=True)
class TwilioCallbackVerifier:
    """Checks and reads Twilio status callbacks (form fields MessageSid, MessageStatus,
    ErrorCode, ...) for one account."""

    auth_token: str = field(repr=False)

    def __call__(self, url: str, fields: Mapping[str, str], headers: Mapping[str, str],
                 now: datetime) -> SmsStatusReport | None:
        del now  # Twilio's signature has no time in it; the URL names one attempt
        if not verify_twilio(url, fields, headers.get(TWILIO_SIGNATURE_HEADER), self.auth_token):
            return None
        message_id = fields.get("MessageSid") or fields.get("SmsSid") or ""
        status = twilio_receipt_status(fields.get("MessageStatus") or fields.get("SmsStatus", ""))
        return SmsStatusReport(message_id, status, fields.get("ErrorCode", ""))


# ---- Vonage ------------------------------------------------------------------------------

def vonage_signature(params: Mapping[str, Any], secret: str, method: str = "sha256") -> str:
    """The `sig` Vonage puts on signed parameters (lower-case hex)."""
    hasher = hmac.new(secret.encode(), digestmod=VONAGE_SIGNATURE_METHODS[method])
    for name in sorted(params):
        value = params[name]
        if isinstance(value, str):
            value = value.replace("&", "_").replace("=", "_")
        hasher.update(f"&{name}={value}".encode())
    return hasher.hexdigest()


def verify_vonage(params: Mapping[str, str], secret: str, now: datetime,
                  method: str = "sha256") -> bool:
    """Whether `params` carry Vonage's `sig` over the rest of them, made within 5 minutes of
    `now` (either way: clocks differ)."""
    signature = params.get("sig")
    try:
        stamped = int(params.get("timestamp", ""))
    except ValueError:
        return False
    # in whole seconds: a float of a 400-digit stamp is an OverflowError (unsigned, a 500)
    if not signature or abs(int(now.timestamp()) - stamped) > VONAGE_FRESHNESS_SECONDS:
        return False
    signed = {name: value for name, value in params.items() if name != "sig"}
    expected = vonage_signature(signed, secret, method)
    return hmac.compare_digest(expected.encode(), signature.lower().encode())


# Vonage delivery receipt statuses (its SMS API's "Delivery Receipt" webhook).
VONAGE_STATUSES: Final[Mapping[str, str | None]] = {
    "accepted": SENT,  # the downstream carrier accepted it
    "buffered": SENT,  # the carrier holds it for a handset that is away
    "delivered": DELIVERED,
    "expired": UNDELIVERED,  # the carrier gave up within the message's validity
    "failed": UNDELIVERED,  # the carrier or handset refused it (err-code says why)
    "rejected": FAILED,  # Vonage or the carrier refused to send it
    "unknown": None,  # the carrier said nothing useful
}


def vonage_receipt_status(status: str) -> str | None:
    try:
        return VONAGE_STATUSES[status]
    except KeyError:
        raise UnknownSmsStatus("not a Vonage delivery receipt status") from None


@dataclass(frozen=True)
class VonageCallbackVerifier:
    """Checks and reads Vonage delivery receipts (messageId, status, err-code, client-ref,
    timestamp, nonce, sig ...). Without a signature secret it takes none."""

    signature_secret: str | None = field(repr=False)
    signature_method: str = "sha256"

    def __call__(self, url: str, fields: Mapping[str, str], headers: Mapping[str, str],
                 now: datetime) -> SmsStatusReport | None:
        del url, headers  # Vonage signs the receipt's parameters, not the URL
        secret = self.signature_secret
        if not secret or not verify_vonage(fields, secret, now, self.signature_method):
            return None
        code = fields.get("err-code", "")
        return SmsStatusReport(fields.get("messageId", ""),
                               vonage_receipt_status(fields.get("status", "")),
                               "" if code == "0" else code,
                               attempt_reference=fields.get("client-ref", ""))
