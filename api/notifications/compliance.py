"""Compliance evidence for auditors and admins: `GET /v1/admin/compliance/users/{user_id}?at=`
answers what the user's email unsubscribes, SMS consents and notification preferences (time
zone, quiet hours) were at that instant, from the event log itself (commands/notifications/
compliance.py), each with the event that set it. Anyone else is refused (403) and the refusal
recorded, as for the audit log.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from api.audit.log import auditor
from api.http.dependencies import ParleyDep
from api.http.problems import Problem, problem_responses
from commands.notifications.compliance import ComplianceRecord, ComplianceRecords
from event_log.log import EventLog

router = APIRouter(prefix="/v1/admin/compliance", tags=["notifications"],
                   dependencies=[Depends(auditor)])
BAD_AT: Final = "'at' is an ISO 8601 time, e.g. 2026-12-02T09:30:00Z (UTC if no offset)"
EVENT_EXAMPLE: Final[dict[str, Any]] = {
    "event_id": "1f0e6a2d-903b-5f1e-8c47-3b1f0e6a2d90",
    "aggregate_id": "a43240e6-dc52-5a92-a031-6851e4c908ef", "version": 2,
    "type": "SmsConsent.OptedIn", "at": "2026-11-02T09:26:53+00:00",
    "recorded_at": "2026-11-02T09:26:53.589793+00:00",
    "actor_id": "6f1c2a7e-0d4b-4c1e-9a55-2b7e8f3d9c10", "source": "app:settings"}


def log_histories(event_log: EventLog) -> Any:
    """The port commands/notifications/compliance.py reads: each aggregate's domain events."""

    def histories(aggregate_ids: Sequence[uuid.UUID]) -> Mapping[uuid.UUID, list[Any]]:
        stored = event_log.events_of(list(aggregate_ids))
        return {i: [event_log.mapper.to_domain_event(s) for s in events]
                for i, events in stored.items()}

    return histories


def registered_user(event_log: EventLog, user_id: uuid.UUID) -> bool:
    """Whether `user_id` names a user: another aggregate's id (a template's, a preferences
    aggregate's) answers as no user, as a random id does, not as a user with no record."""
    from domain.identity.users import User

    stored = event_log.events_of([user_id]).get(user_id, [])
    return bool(stored) and isinstance(event_log.mapper.to_domain_event(stored[0]),
                                       User.Registered)


def compliance_records(event_log: EventLog) -> ComplianceRecords:
    from domain.notifications.preferences import notification_preferences_id

    return ComplianceRecords(log_histories(event_log), notification_preferences_id)


def moment(text: str | None) -> datetime:
    """`at` as given (an offset, or UTC); none: now."""
    if text is None:
        return datetime.now(UTC)
    try:
        at = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as error:
        raise Problem(422, "Invalid request", BAD_AT) from error
    return at if at.tzinfo else at.replace(tzinfo=UTC)


class EventSet(BaseModel):
    event_id: uuid.UUID
    aggregate_id: uuid.UUID
    version: int = Field(description="Its version in the aggregate (the audit log's `version`)")
    type: str
    at: datetime = Field(description="When it was decided")
    recorded_at: datetime = Field(description="When it was stored")
    actor_id: uuid.UUID | None
    source: str = Field(description="How it came about: api, sms_reply, app:settings, ...")


class Unsubscribe(BaseModel):
    channel: str = "email"
    category: str
    event: EventSet


class SmsConsentAt(BaseModel):
    number: str
    contact_point_id: uuid.UUID
    consent: str = Field(description="granted, revoked or none (never asked)")
    wording: str = Field(description="Granted: the exact wording shown; revoked: the keyword")
    event: EventSet | None


class PreferenceEvent(BaseModel):
    event: EventSet
    payload: dict[str, Any]
    superseded: bool = Field(False, description="A later event set the same value again "
                                                "(history: not what was in force)")


class PreferencesAt(BaseModel):
    state: dict[str, Any] = Field(description="Categories x channels, time zone, quiet hours "
                                              "and locale as they were")
    events: list[PreferenceEvent]


class ComplianceAnswer(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "user_id": "6f1c2a7e-0d4b-4c1e-9a55-2b7e8f3d9c10", "at": "2026-12-01T00:00:00+00:00",
        "email_unsubscribes": [], "preferences": None, "truncated": False,
        "sms_consents": [{"number": "+15555550123",
                          "contact_point_id": "9b2f4c1e-7a3d-4e58-b6c0-1d2e3f4a5b6c",
                          "consent": "granted", "wording": "Get Parley offers by text.",
                          "event": EVENT_EXAMPLE}]}]})

    user_id: uuid.UUID
    at: datetime
    email_unsubscribes: list[Unsubscribe]
    sms_consents: list[SmsConsentAt]
    preferences: PreferencesAt | None = Field(description="null: none set by then")
    truncated: bool = Field(description="A history was longer than is replayed here")


def answer_of(record: ComplianceRecord) -> ComplianceAnswer:
    def event(reference: Any) -> EventSet | None:
        return None if reference is None else EventSet(**reference.as_json())

    preferences = None
    if record.preferences is not None:
        preferences = PreferencesAt(state=record.preferences.state, events=[
            PreferenceEvent(event=EventSet(**r.as_json()), payload=p,
                            superseded=r.event_id in record.preferences.superseded)
            for r, p in record.preferences.events])
    return ComplianceAnswer(
        user_id=record.user_id, at=record.at,
        email_unsubscribes=[Unsubscribe(category=u.category, event=EventSet(
            **u.event.as_json())) for u in record.email_unsubscribes],
        sms_consents=[SmsConsentAt(number=c.number, contact_point_id=c.contact_point_id,
                                   consent=c.status, wording=c.wording, event=event(c.event))
                      for c in record.sms_consents],
        preferences=preferences, truncated=record.truncated)


@router.get("/users/{user_id}", response_model=ComplianceAnswer,
            summary="A user's unsubscribes, SMS consents and preferences as they were at a time",
            responses=problem_responses(401, 403, 503, described={
                404: "no such user", 422: BAD_AT}))
async def compliance_at(
    parley: ParleyDep, user_id: Annotated[uuid.UUID, Path(description="The user")],
    at: Annotated[str | None, Query(max_length=64, description=BAD_AT + "; none: now")] = None,
) -> ComplianceAnswer:
    """Replayed from the log up to `at`: what was in force then and the event that set each
    (find it in `GET /v1/audit/aggregates/{aggregate_id}/events`)."""
    when = moment(at)

    def read() -> ComplianceRecord | None:
        if not registered_user(parley.event_log, user_id):
            return None
        return compliance_records(parley.event_log).record(user_id, when)

    record = await asyncio.to_thread(read)
    if record is None:
        raise Problem(404, "Not found", "no such user")
    return answer_of(record)
