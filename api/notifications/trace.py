"""`GET /v1/notifications/{id}/trace`: why a notification did (or did not) reach its recipient,
step by step, from the event log (commands/notifications/trace.py).

Who may ask: its recipient (with a user's token), an admin (any notification), and the service
whose API key triggered it (its own notifications only). Anyone else, and any id that is not a
notification, gets the same 404. Admins and services see no content; the recipient sees the
title of their own. A service sees each decision's outcome and reason but not its inputs: they
are the recipient's own settings (preferences, time zone, quiet hours), except for the steps
about what the service asked itself (dedup, send_at, digest).
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header
from pydantic import BaseModel, ConfigDict, Field

from api.http.dependencies import ParleyDep, Tokens, current_session
from api.http.problems import problem_responses
from api.http.service_callers import Keys, require_scope
from commands.identity.roles import held_roles
from commands.notifications.trace import NotificationTrace, NotificationTraces, Viewer
from domain.identity.roles import ADMIN

router = APIRouter(tags=["notifications"])
TRIGGER_SCOPE = "notifications:trigger"

EXAMPLE: dict[str, Any] = {
    "notification_id": "c1a3e5f7-2b4d-5e6f-8a9b-0c1d2e3f4a5b",
    "recipient_id": "a43240e6-dc52-5a92-a031-6851e4c908ef", "category": "security",
    "priority": "high", "state": "delivered", "audience": "admin", "truncated": False,
    "steps": [
        {"at": "2026-12-02T08:00:00+00:00", "version": 1, "event": "Notification.Requested",
         "step": "request", "name": None,
         "outcome": "security (high) on push, sms from apikey:k_7f3a", "caused_by": None,
         "details": {"category": "security", "priority": "high", "channels": ["push", "sms"],
                     "caller": "apikey:k_7f3a"}},
        {"at": "2026-12-02T08:00:01+00:00", "version": 5, "event": "Notification.Failed",
         "step": "answer", "name": None,
         "outcome": "fcm-main failed: UNAVAILABLE (212 ms, retryable)", "caused_by": None,
         "details": {"provider": "fcm-main", "channel": "push", "attempt": 1,
                     "code": "UNAVAILABLE", "retryable": True, "latency_ms": 212}}]}


class TraceStepOut(BaseModel):
    at: datetime
    version: int = Field(description="The notification's version after the event")
    event: str = Field(description="The event that records it, e.g. `Notification.Failed`")
    step: str = Field(description="request, decision, routing, hold, queue, dispatch, answer, "
                                  "retry, fallback, release, delivered, read, cancelled, "
                                  "suppressed, dead_letter, ... (others: the event's name)")
    name: str | None = Field(description="A decision step's name (preferences, quiet_hours...)")
    outcome: str = Field(description="What came of it, in words")
    details: dict[str, Any] = Field(description="The facts behind it: a decision's inputs, a "
                                                "provider's answer, each breaker's state")
    caused_by: uuid.UUID | None = Field(description="The event or command that caused it")


class TraceOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE]})

    notification_id: uuid.UUID
    recipient_id: uuid.UUID
    category: str
    priority: str
    state: str = Field(description="Where it stands now")
    audience: str = Field(description="What the caller is shown as: recipient, admin, service")
    truncated: bool = Field(description="Its first 2,000 events only")
    steps: list[TraceStepOut]


async def trace_viewer(parley: ParleyDep, tokens: Tokens, keys: Keys,
                       authorization: Annotated[str | None, Header()] = None) -> Viewer:
    """A service by its API key (it must hold notifications:trigger), else a user by their
    token: as an admin if they hold the role, else as a recipient."""
    _, _, token = (authorization or "").partition(" ")
    if token.strip().startswith("pk_"):
        caller = await require_scope(TRIGGER_SCOPE)(keys, authorization)
        return Viewer.service(f"apikey:{caller.key_id}")
    session = await current_session(tokens, authorization)
    roles = await asyncio.to_thread(held_roles, parley.event_log.repository, session.user_id)
    return Viewer.user(session.user_id, ADMIN in roles)


async def get_traces(parley: ParleyDep) -> NotificationTraces:
    engine = getattr(parley, "notification_engine", None)  # attached after the app's parts
    providers = [p.name for p in engine.providers] if engine is not None else []
    return NotificationTraces(parley.event_log.repository.event_store, providers)


TraceViewer = Annotated[Viewer, Depends(trace_viewer)]
Traces = Annotated[NotificationTraces, Depends(get_traces)]


@router.get("/v1/notifications/{notification_id}/trace", response_model=TraceOut,
            summary="Why a notification did or did not arrive, step by step",
            responses=problem_responses(401, 403, 404, 422, described={
                401: "no valid token or API key",
                403: "the API key lacks notifications:trigger",
                404: "no such notification, or not the caller's"}))
def trace(notification_id: uuid.UUID, viewer: TraceViewer, traces: Traces) -> TraceOut:
    """Every step in order, from the event log: the request, each decision of the pipeline
    (with what it looked at), holds, each dispatch with the providers' breakers then, each
    provider's answer (code, latency), retries, fallbacks, cancellation or suppression, and
    delivery, reading and clicks. Steps added to the engine later appear by their event's
    name and fields. Content never appears, except the title to the recipient."""
    found = traces.trace(notification_id, viewer)
    return trace_out(found)


def trace_out(found: NotificationTrace) -> TraceOut:
    return TraceOut(
        notification_id=found.notification_id, recipient_id=found.recipient_id,
        category=found.category, priority=found.priority, state=found.state,
        audience=found.audience, truncated=found.truncated,
        steps=[TraceStepOut(at=s.at, version=s.version, event=s.event, step=s.step,
                            name=s.name, outcome=s.outcome, details=s.details,
                            caused_by=s.caused_by) for s in found.steps])
