"""The decision steps about the recipient's own choices and clock: preferences per category
x channel, quiet hours, and the SMS sending window (08:00-21:00 recipient-local for SMS that
is not transactional, whatever else is set: TCPA).

Critical categories bypass the opt-out and quiet hours (never reachability: that step comes
first). The recipient's clock is their own time zone, else the deployment's default zone
(PARLEY_NOTIFICATION_DEFAULT_TIME_ZONE); the inputs say which.
"""

from __future__ import annotations

import functools
from datetime import datetime, time
from typing import Any, Final
from zoneinfo import ZoneInfo

from domain.notifications.channels import IN_APP, SMS
from domain.notifications.decisions import Decision, RecipientFacts, RoutingRequest
from domain.notifications.preferences import PreferenceFacts
from domain.notifications.quiet_hours import (
    InvalidQuietHours,
    LocalWindow,
    first_instant_outside,
    inside,
)

USER: Final = "user"
OPERATOR_DEFAULT: Final = "operator_default"
CRITICAL_BYPASS: Final = "critical_bypass"
OPTED_OUT: Final = "opted out"
OFF_BY_DEFAULT: Final = "off by default for the category"
# SMS may go from 08:00 until 21:00 local: it is closed from 21:00 until 08:00
SMS_CLOSED: Final = LocalWindow(time(21), time(8))
NO_PREFERENCES: Final = PreferenceFacts({}, {}, "UTC", "default")


@functools.lru_cache(maxsize=1024)  # recipients share a few windows: parsed once each
def _window(start: str, end: str) -> LocalWindow:
    return LocalWindow.parse(start, end)


def _preferences(facts: RecipientFacts) -> PreferenceFacts:
    return facts.preferences if facts.preferences is not None else NO_PREFERENCES


class ChannelPreferences:
    """A channel the recipient (or, unless they chose, the operator) switched off for the
    category is skipped; a critical category goes whatever was chosen."""

    name = "preferences"

    def decide(self, request: RoutingRequest, facts: RecipientFacts,
               now: datetime) -> Decision:
        preferences = _preferences(facts)
        rules: dict[str, dict[str, Any]] = {}
        ruled_out = []
        for channel in request.channels:
            if channel == IN_APP:
                continue
            own = preferences.overrides.get(channel)
            if request.critical:
                rule, on = CRITICAL_BYPASS, True
            elif own is not None:
                rule, on = USER, own
            else:
                rule, on = OPERATOR_DEFAULT, preferences.defaults.get(channel, True)
            rules[channel] = {"rule": rule, "enabled": on}
            if request.critical and own is False:
                rules[channel]["user_choice"] = False
            if not on:
                ruled_out.append((channel, OPTED_OUT if rule == USER else OFF_BY_DEFAULT))
        return Decision(self.name, ruled_out=tuple(ruled_out),
                        inputs={"category": request.category, "critical": request.critical,
                                "channels": rules})


def _clock(preferences: PreferenceFacts, at: datetime) -> dict[str, Any]:
    zone = ZoneInfo(preferences.time_zone)
    return {"time_zone": preferences.time_zone, "time_zone_source": preferences.time_zone_source,
            "local_time": at.astimezone(zone).replace(tzinfo=None).isoformat(
                timespec="minutes")}


class QuietHours:
    """A non-critical notification asked for inside the recipient's quiet hours waits until
    they end (the first instant outside them, DST-correct: domain/notifications/
    quiet_hours.py); the release is queued by priority and throttled at dispatch."""

    name = "quiet_hours"

    def decide(self, request: RoutingRequest, facts: RecipientFacts,
               now: datetime) -> Decision:
        preferences = _preferences(facts)
        if preferences.quiet_hours is None:
            return Decision(self.name, inputs={"quiet_hours": None})
        if not set(request.channels) - {IN_APP}:
            # the inbox interrupts nobody: it shows the notification when they look
            return Decision(self.name, inputs={"quiet_hours": "not for the inbox alone"})
        window = _window(*preferences.quiet_hours)
        at = request.earliest(now)
        inputs = {"quiet_hours": window.as_text(), "critical": request.critical,
                  **_clock(preferences, at)}
        if request.critical:
            return Decision(self.name, inputs=inputs | {"bypassed": True})
        until = first_instant_outside([window], ZoneInfo(preferences.time_zone), at)
        if until <= at:
            return Decision(self.name, inputs=inputs)
        return Decision(self.name, hold_until=until, inputs=inputs)


class SmsSendingWindow:
    """Non-transactional SMS only 08:00-21:00 recipient-local. Outside it, with another
    channel still in play, SMS is ruled out (the other channels go now; ADR 0018); with SMS
    the only one, the notification waits until the window opens (and is outside the
    recipient's quiet hours)."""

    name = "sms_window"

    def decide(self, request: RoutingRequest, facts: RecipientFacts,
               now: datetime) -> Decision:
        if SMS not in request.channels or request.transactional:
            return Decision(self.name, inputs={"applies": False,
                                               "transactional": request.transactional})
        preferences = _preferences(facts)
        zone = ZoneInfo(preferences.time_zone)
        at = request.earliest(now)
        inputs: dict[str, Any] = {"applies": True, "window": {"start": "08:00", "end": "21:00"},
                                  **_clock(preferences, at)}
        if not inside([SMS_CLOSED], at, zone):
            return Decision(self.name, inputs=inputs)
        others = [c for c in request.channels if c not in (SMS, IN_APP)]
        reason = "outside the SMS sending window (08:00-21:00 recipient-local)"
        if others:
            return Decision(self.name, ruled_out=((SMS, reason),), inputs=inputs)
        windows = [SMS_CLOSED]
        if preferences.quiet_hours is not None:
            windows.append(_window(*preferences.quiet_hours))
        try:
            until = first_instant_outside(windows, zone, at)
        except InvalidQuietHours:
            return Decision(self.name, ruled_out=((SMS, "the recipient's quiet hours cover "
                                                        "the whole SMS sending window"),),
                            inputs=inputs)
        return Decision(self.name, hold_until=until, inputs=inputs)
