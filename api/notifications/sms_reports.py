"""What an SMS provider's status callback says, as the callback route and the adapters that
verify callbacks share it: the URL shape, the report, the verifier port. Nothing here imports
the web framework or the composition root, so adapters may import it freely."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Protocol, runtime_checkable
from urllib.parse import quote, urlencode

CALLBACK_PREFIX: Final = "/v1/notifications/callbacks/"
SMS_CALLBACK_PATH: Final = "/v1/notifications/callbacks/sms/{provider}"


def sms_callback_path(provider: str) -> str:
    return SMS_CALLBACK_PATH.format(provider=quote(provider, safe=""))


def sms_status_callback_url(public_url: str, provider: str, notification_id: uuid.UUID,
                            attempt_id: uuid.UUID) -> str:
    """Where `provider` reports on one attempt: exactly what the callback route takes."""
    query = urlencode({"notification": str(notification_id), "attempt": str(attempt_id)})
    return f"{public_url.rstrip('/')}{sms_callback_path(provider)}?{query}"


@dataclass(frozen=True)
class SmsStatusReport:
    """What a verified status callback says about one message.

    `status` is one of commands.notifications.receipts' statuses (sent, delivered,
    undelivered, failed), or None for news of no consequence (Twilio's `queued`, Vonage's
    `unknown`): acknowledged, nothing recorded. `code` is the provider's error code, if any.
    `attempt_reference` is the attempt id the provider echoes inside what it signed (Vonage's
    `client-ref`), which must then name the attempt in the callback URL.
    """

    provider_message_id: str
    status: str | None
    code: str = ""
    attempt_reference: str | None = None


class UnknownSmsStatus(ValueError):
    """A correctly signed callback with a status its provider does not document."""


class SmsCallbackVerifier(Protocol):
    """Checks one provider's callback and reads it: None when the signature (or its freshness)
    is wrong; raises UnknownSmsStatus for a status it cannot map."""

    def __call__(self, url: str, fields: Mapping[str, str], headers: Mapping[str, str],
                 now: datetime) -> SmsStatusReport | None: ...


SmsCallbackVerifiers = Mapping[str, SmsCallbackVerifier]


@runtime_checkable
class TakesStatusCallbacks(Protocol):
    """A provider whose status callbacks Parley verifies (the SMS adapters)."""

    @property
    def name(self) -> str: ...

    def callback_verifier(self) -> SmsCallbackVerifier: ...


def sms_callback_verifiers(providers: Iterable[object]) -> dict[str, SmsCallbackVerifier]:
    """Provider name -> its callback verifier, for every provider that takes callbacks."""
    return {provider.name: provider.callback_verifier() for provider in providers
            if isinstance(provider, TakesStatusCallbacks)}
