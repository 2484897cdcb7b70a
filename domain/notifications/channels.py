"""The channels a notification travels on, the kinds of address each reaches, and priorities."""

from __future__ import annotations

from typing import Final

PUSH: Final = "push"
EMAIL: Final = "email"
SMS: Final = "sms"
WEBHOOK: Final = "webhook"
IN_APP: Final = "in_app"
CHANNELS: Final = (PUSH, EMAIL, SMS, WEBHOOK, IN_APP)

# Kinds of contact point (address); each belongs to one channel.
EMAIL_ADDRESS: Final = "email"
PHONE_NUMBER: Final = "phone"
WEB_PUSH: Final = "webpush"
FCM_TOKEN: Final = "fcm"
APNS_TOKEN: Final = "apns"
WEBHOOK_ENDPOINT: Final = "webhook"
INBOX: Final = "in_app"
CHANNEL_OF_KIND: Final = {
    EMAIL_ADDRESS: EMAIL, PHONE_NUMBER: SMS, WEB_PUSH: PUSH, FCM_TOKEN: PUSH, APNS_TOKEN: PUSH,
    WEBHOOK_ENDPOINT: WEBHOOK, INBOX: IN_APP,
}

# Priorities, most urgent first: a dispatcher never lets a lower one delay a higher one.
CRITICAL: Final = "critical"
HIGH: Final = "high"
NORMAL: Final = "normal"
BULK: Final = "bulk"
PRIORITIES: Final = (CRITICAL, HIGH, NORMAL, BULK)


def rank(priority: str) -> int:
    """0 for critical ... 3 for bulk (the order dispatchers serve them in)."""
    return PRIORITIES.index(priority)
