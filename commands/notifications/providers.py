"""The port every notification provider adapter implements (adapters/notifications/).

A provider is one configured account at one service (an FCM project, an SMTP relay, a Twilio
account): it sends one `Delivery` and answers what the service said, as a `ProviderAnswer`.
It never raises for what the service did (a refusal, a 5xx, a timeout, a dropped connection):
those are answers, so the dispatcher can retry, fail over or dead-letter. It raises only for
a bug of its own. The dispatcher measures latency; adapters need not.

Each delivery carries its attempt id, which the adapter sends as the service's idempotency key
(or collapse id, message id, `webhook-id`) so that a delivery repeated after a crash is not a
second visible notification.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

from domain.notifications.addresses import Address
from domain.notifications.content import Content

__all__ = ["Address", "Content", "Delivery", "Provider", "ProviderAnswer", "retry_after"]


@dataclass(frozen=True)
class Delivery:
    """One attempt at one notification on one address.

    `attempt_id` is this attempt's own id (and the same when this very attempt is sent again
    after a crash); `message_key` is the same for every attempt of this notification to this
    address: what a service de-duplicates or collapses on (a collapse key, a Web Push Topic,
    a Message-ID, a `webhook-id`), so that a retry after a timeout the service had in fact
    taken is still one visible notification.
    """

    attempt_id: UUID
    notification_id: UUID
    recipient_id: UUID
    channel: str
    priority: str
    category: str
    address: Address
    content: Content
    message_key: UUID | None = None
    ttl_seconds: int = 4 * 7 * 24 * 3600
    # email: the one-click unsubscribe link (RFC 8058); sms: where status callbacks go
    unsubscribe_url: str | None = None
    status_callback_url: str | None = None


    @property
    def dedup_key(self) -> UUID:
        return self.message_key or self.attempt_id


@dataclass(frozen=True)
class ProviderAnswer:
    """What the service said about one delivery.

    accepted: the service took it (`provider_message_id` is its id for it); delivered: the
    service says it reached the recipient already (a webhook receiver's 2xx). Otherwise `code`
    is the service's own code (`UNREGISTERED`, `429`, `550`, `timeout`, `connection`),
    `retryable` whether trying again later may work, `retry_after_seconds` what the service
    asked for, and `address_gone` that the token or subscription no longer exists (the contact
    point is then removed, by an event).
    """

    accepted: bool
    provider_message_id: str | None = None
    delivered: bool = False
    code: str = ""
    detail: str = ""
    retryable: bool = False
    retry_after_seconds: float | None = None
    address_gone: bool = False
    cost_micros: int = 0  # millionths of the provider's billing currency unit, when it says

    @classmethod
    def accepted_as(cls, provider_message_id: str | None, *, delivered: bool = False,
                    cost_micros: int = 0) -> ProviderAnswer:
        return cls(True, provider_message_id, delivered=delivered, cost_micros=cost_micros)

    @classmethod
    def failed(cls, code: str, *, retryable: bool, detail: str = "",
               retry_after_seconds: float | None = None,
               address_gone: bool = False) -> ProviderAnswer:
        return cls(False, code=code, detail=detail, retryable=retryable,
                   retry_after_seconds=retry_after_seconds, address_gone=address_gone)


class Provider(Protocol):
    """One provider adapter instance. `name` is unique in a deployment (it names its circuit
    breaker); `kinds` are the address kinds it can reach (all on one channel)."""

    @property
    def name(self) -> str: ...

    @property
    def channel(self) -> str: ...

    @property
    def kinds(self) -> frozenset[str]: ...

    async def send(self, delivery: Delivery) -> ProviderAnswer: ...

    async def aclose(self) -> None: ...


def retry_after(value: str | None) -> float | None:
    """A `Retry-After` header's delay in seconds (delta-seconds or an HTTP date), if valid."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    from datetime import UTC, datetime
    from email.utils import parsedate_to_datetime

    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())
