"""A user's notification preferences: each change an event with its source, only what
differs recorded, bad values refused before anything is, a bounded number of overrides."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from domain.notifications.preferences import (
    InvalidLocale,
    NotificationPreferences,
    PreferenceChanges,
    TooManyPreferences,
    UnknownPreference,
    normalised_locale,
    notification_preferences_id,
)
from domain.notifications.quiet_hours import InvalidQuietHours, UnknownTimeZone
from event_log.aggregate import Cause

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
CAUSE = Cause(uuid.uuid4(), uuid.uuid4())
CATEGORIES = frozenset({"message", "marketing", "security"})


def fresh() -> NotificationPreferences:
    preferences = NotificationPreferences.start(uuid.uuid4(), CAUSE)
    preferences.collect_events()
    return preferences


def everything() -> PreferenceChanges:
    return PreferenceChanges({("marketing", "email"): False, ("message", "push"): True},
                             "Europe/London", True, ("22:00", "07:00"), True, "pt-br", True)


def test_its_id_is_the_users_own() -> None:
    user = uuid.uuid4()
    assert NotificationPreferences.start(user, CAUSE).id == notification_preferences_id(user)
    assert notification_preferences_id(user) != notification_preferences_id(uuid.uuid4())


def test_each_change_is_an_event_with_its_source() -> None:
    preferences = fresh()
    assert preferences.change(everything().checked(CATEGORIES), "api", 50, NOW, CAUSE) == 5
    events = preferences.collect_events()
    assert {type(e).__name__ for e in events} == {
        "ChannelPreferenceSet", "TimeZoneSet", "QuietHoursSet", "LocaleSet"}
    assert all(e.source == "api" and e.at == NOW for e in events)  # type: ignore[attr-defined]
    assert preferences.override("marketing", "email") is False
    assert preferences.time_zone == "Europe/London"
    assert preferences.quiet_hours == ("22:00", "07:00")
    assert preferences.locale == "pt-BR"


def test_the_same_request_again_records_nothing() -> None:
    preferences = fresh()
    preferences.change(everything().checked(CATEGORIES), "api", 50, NOW, CAUSE)
    preferences.collect_events()
    assert preferences.change(everything().checked(CATEGORIES), "api", 50, NOW, CAUSE) == 0
    assert preferences.collect_events() == []


def test_clearing_returns_to_the_default_and_unsets_the_rest() -> None:
    preferences = fresh()
    preferences.change(everything().checked(CATEGORIES), "api", 50, NOW, CAUSE)
    cleared = PreferenceChanges({("marketing", "email"): None}, None, True, None, True,
                                None, True)
    preferences.change(cleared.checked(CATEGORIES), "admin", 50, NOW, CAUSE)
    assert preferences.override("marketing", "email") is None
    assert preferences.override("message", "push") is True
    assert (preferences.time_zone, preferences.quiet_hours, preferences.locale) == \
        (None, None, None)
    kinds = [type(e).__name__ for e in preferences.collect_events()][-4:]
    assert kinds == ["ChannelPreferenceCleared", "TimeZoneSet", "QuietHoursCleared",
                     "LocaleSet"]


@pytest.mark.parametrize(("changes", "error"), [
    (PreferenceChanges({("gossip", "email"): False}), UnknownPreference),
    (PreferenceChanges({("message", "carrier_pigeon"): False}), UnknownPreference),
    (PreferenceChanges({("message", "in_app"): False}), UnknownPreference),
    (PreferenceChanges({}, "Mars/Olympus", True), UnknownTimeZone),
    (PreferenceChanges({}, quiet_hours=("22:00", "22:00"), quiet_hours_given=True),
     InvalidQuietHours),
    (PreferenceChanges({}, quiet_hours=("10pm", "07:00"), quiet_hours_given=True),
     InvalidQuietHours),
    (PreferenceChanges({}, locale="english please", locale_given=True), InvalidLocale),
])
def test_bad_values_are_refused_naming_the_field(changes: PreferenceChanges,
                                                 error: type[Exception]) -> None:
    with pytest.raises(error):
        changes.checked(CATEGORIES)


def test_more_overrides_than_the_limit_are_refused_and_nothing_recorded() -> None:
    preferences = fresh()
    many = PreferenceChanges({(c, ch): False for c in CATEGORIES for ch in ("push", "email")})
    with pytest.raises(TooManyPreferences):
        preferences.change(many.checked(CATEGORIES), "api", 5, NOW, CAUSE)
    assert preferences.collect_events() == []
    assert preferences.change(many.checked(CATEGORIES), "api", 6, NOW, CAUSE) == 6


@pytest.mark.parametrize(("text", "normal"), [("en", "en"), ("PT-br", "pt-BR"),
                                              ("zh-hant-tw", "zh-Hant-TW"), ("es-419", "es-419")])
def test_locales_are_normalised(text: str, normal: str) -> None:
    assert normalised_locale(text) == normal
