"""A provider's later word on a message it accepted: an SMS status callback (delivered,
undelivered, failed), verified by the route that received it (api/notifications/callbacks.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final
from uuid import UUID

# The statuses a receipt may report, in the language of the notification (not a provider's).
SENT: Final = "sent"
DELIVERED: Final = "delivered"
UNDELIVERED: Final = "undelivered"  # the network or handset refused it (may be retried)
FAILED: Final = "failed"  # the provider could not send it (not retried)
RECEIPT_STATUSES: Final = (SENT, DELIVERED, UNDELIVERED, FAILED)


@dataclass(frozen=True)
class RecordDeliveryReceipt:
    """The callback URL a delivery gave its provider names the notification and attempt
    (`Delivery.status_callback_url`); the handler checks the provider's message id matches
    the attempt's before it records anything."""

    notification_id: UUID
    attempt_id: UUID
    provider: str
    provider_message_id: str
    status: str
    at: datetime
    code: str = ""
