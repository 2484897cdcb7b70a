"""A recipient's notification preferences, one `NotificationPreferences` aggregate per user:
on/off per category x channel (overriding the operator's default), their IANA time zone,
their quiet hours and their locale. Every change is an event with its source ("api",
"admin", "unsubscribe_link", ...) and time, so the log says years later what a person had
chosen at any moment and who changed it.

The decision steps read what the write side loads of it (domain/notifications/
preference_steps.py); nothing here depends on the operator's defaults, which are settings.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from uuid import NAMESPACE_URL, UUID, uuid5

from domain.errors import InvalidCommand
from domain.notifications.channels import CHANNELS, IN_APP
from domain.notifications.quiet_hours import LocalWindow, time_zone
from event_log.aggregate import Cause, ParleyAggregate, copied, values

PREFERENCES_NAMESPACE: Final = uuid5(NAMESPACE_URL, "https://parley.invalid/notification-prefs")
SOURCES: Final = frozenset({"api", "admin", "unsubscribe_link", "sms_keyword", "import"})
# BCP 47 as far as templates use it: language, optional script, optional region
LOCALE: Final = re.compile(r"^([A-Za-z]{2,3})(?:-([A-Za-z]{4}))?(?:-([A-Za-z]{2}|\d{3}))?$")
# The inbox is where every notification can be read: it cannot be switched off.
SWITCHABLE_CHANNELS: Final = tuple(c for c in CHANNELS if c != IN_APP)


class UnknownPreference(InvalidCommand):
    """A preference for a category or channel the deployment does not have."""


class InvalidLocale(InvalidCommand):
    """A locale not of the form language[-Script][-REGION] (e.g. pt-BR, zh-Hant-TW)."""


class TooManyPreferences(InvalidCommand):
    """More category x channel overrides than one user may keep."""


@functools.lru_cache(maxsize=4096)  # a trigger asks it per recipient for preferences and locale
def notification_preferences_id(user_id: UUID) -> UUID:
    return uuid5(PREFERENCES_NAMESPACE, f"notification-preferences/{user_id}")


def normalised_locale(text: str, field: str = "locale") -> str:
    """"PT-br" -> "pt-BR"; anything else than language[-Script][-REGION] is refused."""
    match = LOCALE.match(text)
    if match is None:
        raise InvalidLocale(field, "a locale such as en, pt-BR or zh-Hant-TW")
    language, script, region = match.groups()
    parts = [language.lower()] + ([script.title()] if script else []) + \
        ([region.upper()] if region else [])
    return "-".join(parts)


@dataclass(frozen=True)
class PreferenceFacts:
    """What the decision steps know of one recipient for one request's category: their
    overrides and the operator's defaults per channel, the zone their clock is read in (and
    whether it is their own or the deployment's default) and their quiet hours."""

    overrides: Mapping[str, bool]  # channel -> on, the recipient's own choice
    defaults: Mapping[str, bool]  # channel -> on, the operator's (a channel not named: on)
    time_zone: str
    time_zone_source: str  # "user" or "default"
    quiet_hours: tuple[str, str] | None = None  # (start, end) HH:MM local


@dataclass(frozen=True)
class PreferenceChanges:
    """What one request changes: overrides set (True/False) or cleared (None) per
    (category, channel); the time zone, quiet hours and locale when `*_given` (None clears
    them). Checked before anything is recorded (`checked`)."""

    channels: Mapping[tuple[str, str], bool | None]
    time_zone: str | None = None
    time_zone_given: bool = False
    quiet_hours: tuple[str, str] | None = None
    quiet_hours_given: bool = False
    locale: str | None = None
    locale_given: bool = False

    def checked(self, categories: frozenset[str]) -> PreferenceChanges:
        """The same changes, each value validated and normalised (or the first problem
        raised, naming its field)."""
        for category, channel in self.channels:
            field = f"channels.{category}.{channel}"
            if category not in categories:
                raise UnknownPreference(field, "no such category (one of "
                                               f"{', '.join(sorted(categories))})")
            if channel not in SWITCHABLE_CHANNELS:
                raise UnknownPreference(field, "no such channel (one of "
                                               f"{', '.join(SWITCHABLE_CHANNELS)})")
        if self.time_zone_given and self.time_zone is not None:
            time_zone(self.time_zone)
        quiet = self.quiet_hours
        if self.quiet_hours_given and quiet is not None:
            window = LocalWindow.parse(*quiet)
            quiet = (window.as_text()["start"], window.as_text()["end"])
        locale = self.locale
        if self.locale_given and locale is not None:
            locale = normalised_locale(locale)
        return PreferenceChanges(dict(self.channels), self.time_zone, self.time_zone_given,
                                 quiet, self.quiet_hours_given, locale, self.locale_given)


class NotificationPreferences(ParleyAggregate):
    def __init__(self, user_id: UUID) -> None:
        self.user_id = user_id
        self.overrides: dict[str, dict[str, bool]] = {}  # category -> channel -> on
        self.time_zone: str | None = None
        self.quiet_start: str | None = None  # HH:MM local
        self.quiet_end: str | None = None
        self.locale: str | None = None

    class Started(ParleyAggregate.Created):
        user_id: UUID

    class ChannelPreferenceSet(ParleyAggregate.Event):
        category: str
        channel: str
        enabled: bool
        source: str
        at: datetime

        def apply(self, aggregate: Any) -> None:
            aggregate.overrides.setdefault(self.category, {})[self.channel] = self.enabled

    class ChannelPreferenceCleared(ParleyAggregate.Event):
        """Back to the operator's default for the category on the channel."""

        category: str
        channel: str
        source: str
        at: datetime

        def apply(self, aggregate: Any) -> None:
            of_category = aggregate.overrides.get(self.category, {})
            of_category.pop(self.channel, None)
            if not of_category:
                aggregate.overrides.pop(self.category, None)

    class TimeZoneSet(ParleyAggregate.Event):
        """None: no zone of their own (the deployment's default zone applies)."""

        time_zone: str | None
        source: str
        at: datetime
        copies = copied("time_zone")

    class QuietHoursSet(ParleyAggregate.Event):
        start: str  # HH:MM local
        end: str
        source: str
        at: datetime

        copies = copied(quiet_start="start", quiet_end="end")

    class QuietHoursCleared(ParleyAggregate.Event):
        source: str
        at: datetime
        sets = values(quiet_start=None, quiet_end=None)

    class LocaleSet(ParleyAggregate.Event):
        """None: no locale of their own (templates fall back to the default)."""

        locale: str | None
        source: str
        at: datetime
        copies = copied("locale")

    @classmethod
    def start(cls, user_id: UUID, cause: Cause) -> NotificationPreferences:
        return cls._create(cls.Started, id=notification_preferences_id(user_id),
                           user_id=user_id, **cause.as_event_fields())

    @property
    def quiet_hours(self) -> tuple[str, str] | None:
        if self.quiet_start is None or self.quiet_end is None:
            return None
        return self.quiet_start, self.quiet_end

    def override(self, category: str, channel: str) -> bool | None:
        return self.overrides.get(category, {}).get(channel)

    def override_count(self) -> int:
        return sum(len(channels) for channels in self.overrides.values())

    def change(self, changes: PreferenceChanges, source: str, limit: int, at: datetime,
               cause: Cause) -> int:
        """Record what differs from now (checked changes: `PreferenceChanges.checked`);
        returns how many events that took (a repeat of the same request takes none)."""
        if source not in SOURCES:
            raise InvalidCommand("source", f"one of {', '.join(sorted(SOURCES))}")
        wanted = {pair: on for pair, on in changes.channels.items()
                  if self.override(*pair) != on}
        after = self.override_count() + sum(
            1 if on is not None and self.override(*pair) is None else
            -1 if on is None else 0 for pair, on in wanted.items())
        if after > limit:
            raise TooManyPreferences("channels", f"at most {limit} category x channel "
                                                 "preferences per user")
        fields = {"source": source, "at": at, **cause.as_event_fields()}
        events = 0
        for (category, channel), on in wanted.items():
            if on is None:
                self.trigger_event(self.ChannelPreferenceCleared, category=category,
                                   channel=channel, **fields)
            else:
                self.trigger_event(self.ChannelPreferenceSet, category=category,
                                   channel=channel, enabled=on, **fields)
            events += 1
        if changes.time_zone_given and changes.time_zone != self.time_zone:
            self.trigger_event(self.TimeZoneSet, time_zone=changes.time_zone, **fields)
            events += 1
        if changes.quiet_hours_given and changes.quiet_hours != self.quiet_hours:
            if changes.quiet_hours is None:
                self.trigger_event(self.QuietHoursCleared, **fields)
            else:
                start, end = changes.quiet_hours
                self.trigger_event(self.QuietHoursSet, start=start, end=end, **fields)
            events += 1
        if changes.locale_given and changes.locale != self.locale:
            self.trigger_event(self.LocaleSet, locale=changes.locale, **fields)
            events += 1
        return events
