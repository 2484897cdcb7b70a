"""The decision pipeline's steps, in their one order.

Every notification is routed by these steps in this order (domain/notifications/decisions.py
folds them; the aggregate records each step's answer in `Notification.Decided`):

    reachability   a channel must reach the recipient (an address, a provider)
    preferences    the recipient's (or the operator's default) choice per category x channel
    sms_consent    non-transactional SMS needs the recipient's consent
    dedup          the same dedup key within its window is suppressed
    quiet_hours    non-critical notifications wait for the end of the recipient's quiet hours
    sms_window     non-transactional SMS only 08:00-21:00 recipient-local
    digest         collapsed into the recipient's open digest of the category
    send_at        a notification asked for later waits until then

Channel filters come first, so a step about time only sees channels that may be used; the
steps that hold or collect come last. A step not written yet is simply absent. Throttles are
not a step: they apply at dispatch (commands/notifications/throttles.py), so what a hold
releases drains at the throttle's rate.
"""

from __future__ import annotations

from typing import Final

from domain.notifications.consent_steps import SmsConsentRequired
from domain.notifications.decisions import ChannelsThatReach, DecisionStep, SendAt
from domain.notifications.dedup import DuplicateWithinWindow
from domain.notifications.digests import CollapseIntoDigest
from domain.notifications.preference_steps import (
    ChannelPreferences,
    QuietHours,
    SmsSendingWindow,
)

DECISION_STEPS: Final[tuple[DecisionStep, ...]] = (
    ChannelsThatReach(),
    ChannelPreferences(),
    SmsConsentRequired(),
    DuplicateWithinWindow(),
    QuietHours(),
    SmsSendingWindow(),
    CollapseIntoDigest(),
    SendAt(),
)
