"""`GET/PUT /v1/users/me/notification-preferences`: the caller's own notification preferences
(nobody else's: there is no user id in the path). GET shows every category x channel's
effective value and where it came from (the user's choice or the operator's default; a
critical category goes whatever is chosen), the time zone (theirs or the default), quiet
hours and locale. PUT changes only what the body names: `null` clears a choice (back to the
default), an absent field stays as it is; a bad value anywhere changes nothing (422)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field, model_validator

from api.http.dependencies import Commands, ParleyDep, UserId
from api.http.problems import COMMAND_PROBLEMS, QUERY_PROBLEMS, problem_responses
from commands.notifications.preferences import (
    ChangeNotificationPreferences,
    EffectivePreferences,
    NotificationPreferencesChanged,
    category_policy,
    effective_preferences,
    logged_email_unsubscribes,
    logged_preferences,
)
from domain.notifications.category_policy import CategoryPolicy
from domain.notifications.preferences import PreferenceChanges

router = APIRouter(prefix="/v1/users/me/notification-preferences",
                   tags=["notification preferences"])
MAX_ENTRIES = 1000  # category x channel pairs in one body (the categories bound them anyway)
EXAMPLE_IN: dict[str, Any] = {"channels": {"marketing": {"email": False, "sms": False},
                           "message": {"push": None}},
              "time_zone": "Europe/London", "quiet_hours": {"start": "22:00", "end": "07:00"},
              "locale": "en-GB"}


class QuietHoursIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: str = Field(max_length=5, description="HH:MM local, 24-hour", examples=["22:00"])
    end: str = Field(max_length=5, description="HH:MM local; before start: the window "
                                               "crosses midnight", examples=["07:00"])


class PreferencesIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [EXAMPLE_IN]})

    channels: dict[str, dict[str, bool | None]] = Field(
        default_factory=dict, description="{category: {channel: on}}; null: back to the "
        "operator's default. Categories and channels not named are left as they are")
    time_zone: str | None = Field(None, max_length=64,
                                  description="IANA zone, e.g. America/New_York; null: the "
                                              "deployment's default zone")
    quiet_hours: QuietHoursIn | None = Field(None, description="null: no quiet hours")
    locale: str | None = Field(None, max_length=35, description="e.g. pt-BR; null: none")

    @model_validator(mode="after")
    def _bounded(self) -> PreferencesIn:
        if sum(len(channels) for channels in self.channels.values()) > MAX_ENTRIES:
            raise ValueError(f"at most {MAX_ENTRIES} category x channel entries")
        return self

    def changes(self) -> PreferenceChanges:
        given = self.model_fields_set
        quiet = self.quiet_hours
        return PreferenceChanges(
            {(category, channel): on for category, row in self.channels.items()
             for channel, on in row.items()},
            self.time_zone, "time_zone" in given,
            None if quiet is None else (quiet.start, quiet.end), "quiet_hours" in given,
            self.locale, "locale" in given)


class ChannelPreferenceOut(BaseModel):
    enabled: bool
    source: str = Field(description="user (their choice), default (the operator's), or "
                                    "unsubscribe_link (an email's one-click unsubscribe)")
    default: bool = Field(description="The operator's default for the category x channel")
    critical: bool = Field(False, description="A critical category: sent whatever is chosen")


EXAMPLE_OUT: dict[str, Any] = {
    "channels": {"marketing": {
        "push": {"enabled": True, "source": "default", "default": True, "critical": False},
        "email": {"enabled": False, "source": "user", "default": True, "critical": False}},
        "security": {"email": {"enabled": True, "source": "default", "default": True,
                               "critical": True}}},
    "time_zone": "Europe/London", "time_zone_source": "user",
    "quiet_hours": {"start": "22:00", "end": "07:00"}, "locale": "en-GB",
    "critical_categories": ["payment", "security"]}


class PreferencesOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE_OUT]})

    channels: dict[str, dict[str, ChannelPreferenceOut]]
    time_zone: str
    time_zone_source: str = Field(description="user or default")
    quiet_hours: dict[str, str] | None
    locale: str | None
    critical_categories: list[str]


class PreferencesChangedOut(PreferencesOut):
    model_config = ConfigDict(json_schema_extra={"examples": [
        EXAMPLE_OUT | {"changes": 2, "position": 5120}]})

    changes: int = Field(description="Changes recorded (0: it was all so already)")
    position: int


async def get_policy(parley: ParleyDep) -> CategoryPolicy:
    return category_policy(parley.settings)


Policy = Annotated[CategoryPolicy, Depends(get_policy)]


def _out(found: EffectivePreferences) -> dict[str, Any]:
    return {"channels": found.channels, "time_zone": found.time_zone,
            "time_zone_source": found.time_zone_source, "quiet_hours": found.quiet_hours,
            "locale": found.locale, "critical_categories": found.critical}


def _effective(parley: ParleyDep, user_id: uuid.UUID,
               policy: CategoryPolicy) -> EffectivePreferences:
    repository = parley.event_log.repository
    return effective_preferences(logged_preferences(repository, user_id),
                                 parley.settings.notification_categories, policy,
                                 logged_email_unsubscribes(repository, user_id))


@router.get("", response_model=PreferencesOut, summary="The caller's notification preferences",
            responses=problem_responses(*QUERY_PROBLEMS))
def read_preferences(user_id: UserId, parley: ParleyDep, policy: Policy) -> PreferencesOut:
    """Read from the log itself: a change shows the moment it is stored."""
    return PreferencesOut(**_out(_effective(parley, user_id, policy)))


@router.put("", response_model=PreferencesChangedOut,
            summary="Change the caller's notification preferences",
            responses=problem_responses(*COMMAND_PROBLEMS, described={
                422: "an unknown category or channel, an invalid time zone, an empty or "
                     "malformed quiet-hours window, a malformed locale, or more choices "
                     "than one user may keep (errors[].field names it); nothing changed"}))
async def change_preferences(body: PreferencesIn, commands: Commands, parley: ParleyDep,
                             policy: Policy) -> PreferencesChangedOut:
    """Only what the body names changes (null: back to the default); each change is an
    event with source "api". Answers the preferences as they are now."""
    settings = parley.settings
    command = ChangeNotificationPreferences(
        commands.caller, body.changes(), "api", datetime.now(UTC),
        frozenset(settings.notification_categories),
        settings.notification_max_preferences_per_user)
    outcome = await commands.run(command, body)
    result = outcome.result
    assert isinstance(result, NotificationPreferencesChanged)
    found = await asyncio.to_thread(_effective, parley, commands.caller, policy)
    return PreferencesChangedOut(**_out(found), changes=result.changes,
                                 position=outcome.position)
