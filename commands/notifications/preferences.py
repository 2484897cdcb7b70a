"""A user's notification preferences: changing them (on the `NotificationPreferences`
aggregate, every change an event with its source), reading their effective values with
where each came from, and the facts the decision steps are given at trigger time."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Protocol
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Repository

from domain.notifications.category_policy import CategoryPolicy
from domain.notifications.channels import EMAIL, IN_APP
from domain.notifications.collapsing import DigestLimits
from domain.notifications.contact_points import ContactPoints, contact_points_id
from domain.notifications.preferences import (
    SWITCHABLE_CHANNELS,
    NotificationPreferences,
    PreferenceChanges,
    PreferenceFacts,
    notification_preferences_id,
)
from event_log.aggregate import Cause
from event_log.batch import Batch
from event_log.outcomes import Handler

DEFAULT_MAX_PREFERENCES: Final = 200
USER: Final = "user"
DEFAULT: Final = "default"
CRITICAL: Final = "critical"
UNSUBSCRIBE_LINK: Final = "unsubscribe_link"


@dataclass(frozen=True)
class ChangeNotificationPreferences:
    """The user's own change (`source` "api"), or an admin's (`source` "admin")."""

    user_id: UUID
    changes: PreferenceChanges
    source: str
    at: datetime
    categories: frozenset[str]  # the deployment's
    limit: int = DEFAULT_MAX_PREFERENCES


@dataclass(frozen=True)
class NotificationPreferencesChanged:
    user_id: UUID
    changes: int  # events recorded (0: it was so already)


def change_preferences(batch: Batch, command: ChangeNotificationPreferences,
                       cause: Cause) -> NotificationPreferencesChanged:
    changes = command.changes.checked(command.categories)  # refused before anything is made
    preferences = batch.find(NotificationPreferences,
                             notification_preferences_id(command.user_id))
    if preferences is None:
        preferences = NotificationPreferences.start(command.user_id, cause)
        batch.add(preferences)
    made = preferences.change(changes, command.source, command.limit, command.at, cause)
    return NotificationPreferencesChanged(command.user_id, made)


PREFERENCE_HANDLERS: Mapping[type, Handler] = {
    ChangeNotificationPreferences: change_preferences,
}


# --- at trigger time ---------------------------------------------------------------------


def preference_facts(batch: Batch, recipients: Iterable[UUID], category: str,
                     channels: Iterable[str], policy: CategoryPolicy
                     ) -> dict[UUID, PreferenceFacts]:
    """What the preference, quiet-hours and SMS-window steps know of each recipient, read in
    one load of their preference aggregates (most recipients have none: all defaults). For a
    request to the inbox alone, nothing: it cannot be switched off, and quiet hours hold
    only what would interrupt (domain/notifications/preference_steps.py)."""
    if not set(channels) - {IN_APP}:
        return {}
    recipients = list(recipients)
    ids = {r: notification_preferences_id(r) for r in recipients}
    found = batch.find_all(NotificationPreferences, ids.values())
    defaults = dict(policy.defaults.get(category, {}))
    facts = {}
    for recipient in recipients:
        preferences = found.get(ids[recipient])
        if preferences is None:
            facts[recipient] = PreferenceFacts({}, defaults, policy.default_time_zone, DEFAULT)
            continue
        zone = preferences.time_zone
        facts[recipient] = PreferenceFacts(
            dict(preferences.overrides.get(category, {})), defaults,
            zone or policy.default_time_zone, USER if zone else DEFAULT,
            preferences.quiet_hours)
    return facts


# --- reading -------------------------------------------------------------------------------


class PolicySettings(Protocol):
    """The settings the operator's category policy is made of (parley/settings.py)."""

    notification_category_defaults: dict[str, dict[str, bool]]
    notification_critical_categories: list[str]
    notification_transactional_categories: list[str]
    notification_default_time_zone: str
    notification_digest_max_members: int
    notification_digest_max_open: int


def category_policy(settings: PolicySettings) -> CategoryPolicy:
    return CategoryPolicy(frozenset(settings.notification_critical_categories),
                          frozenset(settings.notification_transactional_categories),
                          settings.notification_category_defaults,
                          settings.notification_default_time_zone,
                          DigestLimits(settings.notification_digest_max_members,
                                       settings.notification_digest_max_open))


def logged_email_unsubscribes(repository: Repository,  # type: ignore[type-arg]
                              user_id: UUID) -> frozenset[str]:
    """The categories the user unsubscribed from on email, from the log itself."""
    try:
        found: object = repository.get(contact_points_id(user_id))
    except AggregateNotFoundError:
        return frozenset()
    return found.email_opt_outs if isinstance(found, ContactPoints) else frozenset()


def logged_preferences(repository: Repository,  # type: ignore[type-arg]
                       user_id: UUID) -> NotificationPreferences | None:
    """The user's preferences from the log itself (exact the moment a change is stored);
    None if they never changed any."""
    try:
        found: object = repository.get(notification_preferences_id(user_id))
    except AggregateNotFoundError:
        return None
    return found if isinstance(found, NotificationPreferences) else None


@dataclass(frozen=True)
class EffectivePreferences:
    """Every category x channel's value and where it comes from ("user", "default", or
    "critical": a critical category goes whatever is chosen), the zone (and whether it is
    the user's or the default), quiet hours and locale."""

    channels: dict[str, dict[str, dict[str, Any]]]
    time_zone: str
    time_zone_source: str
    quiet_hours: dict[str, str] | None
    locale: str | None
    critical: list[str] = field(default_factory=list)


def effective_preferences(preferences: NotificationPreferences | None,
                          categories: Iterable[str], policy: CategoryPolicy,
                          email_unsubscribed: frozenset[str] = frozenset()
                          ) -> EffectivePreferences:
    """`email_unsubscribed`: the categories a one-click unsubscribe link switched off on
    email (ContactPoints; the reachability step skips them whatever is chosen here)."""
    channels: dict[str, dict[str, dict[str, Any]]] = {}
    for category in sorted(categories):
        row: dict[str, dict[str, Any]] = {}
        for channel in SWITCHABLE_CHANNELS:
            own = None if preferences is None else preferences.override(category, channel)
            default = policy.default_for(category, channel)
            entry: dict[str, Any] = {"enabled": default if own is None else own,
                                     "source": DEFAULT if own is None else USER,
                                     "default": default}
            if channel == EMAIL and category in email_unsubscribed:
                entry.update(enabled=False, source=UNSUBSCRIBE_LINK)
            if policy.is_critical(category):
                entry["critical"] = True  # sent whatever is chosen
            row[channel] = entry
        channels[category] = row
    zone = None if preferences is None else preferences.time_zone
    quiet = None if preferences is None else preferences.quiet_hours
    return EffectivePreferences(
        channels, zone or policy.default_time_zone, USER if zone else DEFAULT,
        None if quiet is None else {"start": quiet[0], "end": quiet[1]},
        None if preferences is None else preferences.locale,
        sorted(c for c in categories if policy.is_critical(c)))
