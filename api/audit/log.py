"""Audit-log inspection over HTTP, for auditors and admins only; anyone else's try is recorded.

Reads the event log itself (commands/audit/queries.py), in pages with a `next` cursor, or
streamed as JSON lines with `format=jsonl`. Password hashes and token digests are always redacted.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from api.audit.dependencies import Access, AccessCheck, Audit, Chain
from api.http.dependencies import CorrelationId, CurrentSession, Session, cause_of
from api.http.problems import Problem, problem_responses
from api.http.rate_limits import MemoryTokenBuckets
from commands.audit.entries import AuditEntry
from commands.audit.integrity import verify_log
from commands.audit.queries import audit_criteria, log_bound
from commands.identity.roles import RecordAuditAccessDenied
from domain.identity.roles import AUDIT_ROLES

log = logging.getLogger(__name__)

JSON_LINES = "application/x-ndjson"
AUDIT_PROBLEMS = (401, 403, 422, 503)
DENIALS_RECORDED_PER_MINUTE = 10
DENIALS_RECORDED = MemoryTokenBuckets(DENIALS_RECORDED_PER_MINUTE / 60,
                                      DENIALS_RECORDED_PER_MINUTE)
MAX_LIMIT = 500

EXAMPLE_EVENT: dict[str, Any] = {
    "position": 1043, "aggregate_id": "a43240e6-dc52-5a92-a031-6851e4c908ef",
    "aggregate_type": "User", "version": 2, "type": "User.ProfileChanged",
    "time": "2025-03-14T09:26:53.589793+00:00",
    "actor_id": "a43240e6-dc52-5a92-a031-6851e4c908ef",
    "correlation_id": "0b8e9c4e-3f1d-4f5e-9a51-7f4a2d6c8e10", "causation_id": None,
    "payload": {"name": "Ada King", "avatar": None},
    "state": {"handle": "ada", "name": "Ada King", "avatar": None},
}


async def auditor(access: Access, session: CurrentSession, request: Request,
                  correlation: CorrelationId) -> Session:
    """Lets auditors and admins through; anyone else gets 403, logged and recorded as an event."""
    roles = await asyncio.to_thread(access.roles_of, session.user_id)
    if roles & AUDIT_ROLES:
        return session
    log.warning("audit access denied", extra={
        "user_id": str(session.user_id), "method": request.method,
        "path": request.url.path, "at": datetime.now(UTC).isoformat()})
    await record_denial(access, session, request, correlation)
    raise Problem(403, "Forbidden", "only auditors and admins may inspect the audit log")


async def record_denial(access: AccessCheck, session: Session, request: Request,
                        correlation: uuid.UUID) -> None:
    """The refusal stands even if recording it fails; the failure is logged, not hidden.

    Each refusal is logged, but at most `DENIALS_RECORDED_PER_MINUTE` per user (per process)
    become events, so repeating refused requests cannot grow the log without bound."""
    if DENIALS_RECORDED.acquire(str(session.user_id)) > 0:
        log.warning("denied access not recorded: over the user's budget",
                    extra={"user_id": str(session.user_id)})
        return
    command = RecordAuditAccessDenied(session.user_id, request.method, request.url.path)
    try:
        await asyncio.wrap_future(
            access.writer.submit(command, cause_of(session.user_id, correlation)))
    except Exception as error:  # noqa: BLE001 - any failure to record must not become a 500
        log.error("could not record a denied audit access: %s", type(error).__name__)


router = APIRouter(prefix="/v1/audit", tags=["audit"], dependencies=[Depends(auditor)])


After = Annotated[int, Query(ge=0, le=2**62, description="The `next` of the previous page")]
PageSize = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Most events in a page")]
Format = Annotated[Literal["json", "jsonl"], Query(
    description="`jsonl`: every event from `after` on, streamed as JSON lines (no pages)")]


class AuditEvent(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE_EVENT]})

    position: int = Field(description="Position in the log")
    aggregate_id: uuid.UUID
    aggregate_type: str
    version: int = Field(description="The aggregate's version after this event")
    type: str = Field(description="Event type, e.g. `Conversation.MessageSent`")
    time: datetime
    actor_id: uuid.UUID | None
    correlation_id: uuid.UUID | None = Field(description="The request this event belongs to")
    causation_id: uuid.UUID | None = Field(description="The event or command that caused it")
    payload: dict[str, Any] = Field(description="The event's fields; secrets redacted")
    state: dict[str, Any] | None = Field(
        default=None, description="The aggregate right after this event (histories only)")


class AuditEventPage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"events": [EXAMPLE_EVENT], "next": 1043}]})

    events: list[AuditEvent]
    next: int | None = Field(description="Pass as `after` for the next page; null: no more")


class AggregateState(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "aggregate_id": "a43240e6-dc52-5a92-a031-6851e4c908ef", "aggregate_type": "User",
        "version": 2, "time": "2025-03-14T09:26:53.589793+00:00",
        "state": {"handle": "ada", "name": "Ada King", "avatar": None}}]})

    aggregate_id: uuid.UUID
    aggregate_type: str
    version: int
    time: datetime = Field(description="When the aggregate reached this version")
    state: dict[str, Any]


class FieldChange(BaseModel):
    path: str = Field(description="The field; nested fields joined by dots")
    before: Any
    after: Any


class AggregateDiff(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "aggregate_id": "a43240e6-dc52-5a92-a031-6851e4c908ef", "aggregate_type": "User",
        "from_version": 1, "to_version": 2,
        "changes": [{"path": "name", "before": "Ada Lovelace", "after": "Ada King"}]}]})

    aggregate_id: uuid.UUID
    aggregate_type: str
    from_version: int
    to_version: int
    changes: list[FieldChange]


class EventTypes(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"types": ["User.ProfileChanged", "User.Registered"]}]})

    types: list[str]


class ChainBreakFound(BaseModel):
    kind: Literal["changed", "deleted", "inserted", "reordered", "rewritten",
                  "forged-checkpoint", "truncated"]
    position: int = Field(description="Where the log first disagrees with its chain")
    detail: str


class LogVerification(BaseModel):
    """The answer of `parley audit verify --json`, field for field."""

    model_config = ConfigDict(populate_by_name=True, json_schema_extra={"examples": [{
        "intact": False, "from": 1, "until": 1041, "events_checked": 1041,
        "last_verified_position": 1041, "checkpoints_checked": 3, "signatures_checked": True,
        "break": {"kind": "truncated", "position": 1043, "detail": (
            "a checkpoint was signed at 1043 but the log ends at 1041")}}]})

    intact: bool
    start: int = Field(alias="from", description="First position verified")
    until: int = Field(description="Last position of the range (the head when not given)")
    events_checked: int
    last_verified_position: int
    checkpoints_checked: int
    signatures_checked: bool = Field(description="False: no audit key, signatures unchecked")
    first_break: ChainBreakFound | None = Field(alias="break")


def json_lines(entries: Iterator[AuditEntry]) -> StreamingResponse:
    """Streams as the log is read (Starlette runs this iterator in a worker thread); each line
    is exactly an event of a JSON page."""
    lines = (AuditEvent(**entry.as_json()).model_dump_json() + "\n" for entry in entries)
    return StreamingResponse(lines, media_type=JSON_LINES)


JSON_LINES_RESPONSE: dict[int | str, dict[str, Any]] = {200: {"content": {JSON_LINES: {
    "example": json.dumps(EXAMPLE_EVENT) + "\n"}}}}


@router.get("/event-types", response_model=EventTypes, summary="List event types",
            responses=problem_responses(*AUDIT_PROBLEMS))
def event_types(audit: Audit) -> EventTypes:
    """Every event type the log may hold, as the `types` filter names them."""
    return EventTypes(types=audit.event_types())


@router.get("/aggregates/{aggregate_id}/events", response_model=AuditEventPage,
            summary="Aggregate history",
            responses=problem_responses(*AUDIT_PROBLEMS, described={
                404: "no such aggregate"}) | JSON_LINES_RESPONSE)
def aggregate_history(aggregate_id: uuid.UUID, audit: Audit, after: After = 0,
                      limit: PageSize = 100, format: Format = "json") -> Any:
    """Every event of one aggregate, oldest first, each with the state right after it.

    `after` is a version here: the `next` of the previous page.
    """
    if format == "jsonl":
        return json_lines(audit.stream_history(aggregate_id, after))
    page = audit.history(aggregate_id, after, limit)
    return AuditEventPage(events=[AuditEvent(**e.as_json()) for e in page.entries],
                          next=page.next)


@router.get("/aggregates/{aggregate_id}/state", response_model=AggregateState,
            summary="Aggregate state as of a version or time",
            responses=problem_responses(*AUDIT_PROBLEMS, described={
                404: "no such aggregate at that version or time"}))
def aggregate_state(
    aggregate_id: uuid.UUID, audit: Audit,
    version: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    at: Annotated[str | None, Query(max_length=64, description="ISO-8601 time",
                                    examples=["2025-03-14T09:30:00Z"])] = None,
) -> AggregateState:
    """The aggregate as of a version, or as of a moment, or now if neither is given."""
    if version is not None and at is not None:
        raise Problem(422, "Invalid request", "give either 'version' or 'at', not both",
                      errors=[{"field": "at", "message": "either version or at",
                               "type": "rule"}])
    moment = moment_of(at, "at") if at is not None else None
    found = audit.state(aggregate_id, version=version, at=moment)
    return AggregateState(aggregate_id=found.aggregate_id, aggregate_type=found.aggregate_type,
                          version=found.version, time=found.time, state=found.state)


@router.get("/aggregates/{aggregate_id}/diff", response_model=AggregateDiff,
            summary="Difference between two versions",
            responses=problem_responses(*AUDIT_PROBLEMS, described={
                404: "no such aggregate at that version"}))
def aggregate_diff(
    aggregate_id: uuid.UUID, audit: Audit,
    from_version: Annotated[int, Query(alias="from", ge=0, le=2**62,
                                       description="Older version (0: before it existed)")],
    to_version: Annotated[int, Query(alias="to", ge=1, le=2**62, description="Newer version")],
) -> AggregateDiff:
    """Field-level changes from one version of an aggregate to another."""
    diff = audit.diff(aggregate_id, from_version, to_version)
    return AggregateDiff(
        aggregate_id=diff.aggregate_id, aggregate_type=diff.aggregate_type,
        from_version=diff.from_version, to_version=diff.to_version,
        changes=[FieldChange(path=c.path, before=c.before, after=c.after)
                 for c in diff.changes])


@router.get("/events", response_model=AuditEventPage, summary="Search the log",
            responses=problem_responses(400, *AUDIT_PROBLEMS) | JSON_LINES_RESPONSE)
def search_events(
    audit: Audit,
    actor: Annotated[str | None, Query(max_length=64, description="User id or handle",
                                       examples=["ada"])] = None,
    types: Annotated[list[str], Query(max_length=50, description=(
        "Event types, repeated or comma-separated (see /v1/audit/event-types)"),
        examples=["Conversation.MessageSent,Message.Edited"])] = [],  # noqa: B006
    start: Annotated[str | None, Query(alias="from", max_length=64, description=(
        "Inclusive lower bound: a log position or an ISO-8601 time"))] = None,
    end: Annotated[str | None, Query(alias="until", max_length=64, description=(
        "Inclusive upper bound: a log position or an ISO-8601 time"))] = None,
    correlation_id: uuid.UUID | None = None,
    after: After = 0, limit: PageSize = 100, format: Format = "json",
) -> Any:
    """Events by actor, type, correlation id and position or time range, oldest first.

    A page reads at most 20,000 events of the log, so a rare match may come with fewer
    events than `limit`, or none, and a `next` cursor: follow it until `next` is null.
    """
    criteria = audit_criteria(actor, correlation_id, types, start, end)
    if format == "jsonl":
        return json_lines(audit.stream(criteria, after))
    page = audit.search(criteria, after, limit)
    return AuditEventPage(events=[AuditEvent(**e.as_json()) for e in page.entries],
                          next=page.next)


@router.get("/verify", response_model=LogVerification, summary="Verify the hash chain",
            responses=problem_responses(*AUDIT_PROBLEMS))
def verify_chain(
    chain: Chain,
    start: Annotated[int, Query(alias="from", ge=1, le=2**62,
                                description="First log position")] = 1,
    until: Annotated[int | None, Query(ge=1, le=2**62, description=(
        "Last log position (default: the head, and then checkpoints signed beyond the "
        "log's end are checked too: a lost tail is `truncated`)"))] = None,
) -> LogVerification:
    """Recompute the event log's hash chain and check its signed checkpoints, as
    `parley audit verify` does; `intact` is false at the first break, which is named."""
    if until is not None and until < start:
        raise Problem(422, "Invalid request", "'until' must not be before 'from'",
                      errors=[{"field": "until", "message": "not before from",
                               "type": "rule"}])
    report = verify_log(chain.records(), key=chain.key(),
                        start=start, until=until)
    return LogVerification.model_validate(report.as_json())


def moment_of(text: str, field: str) -> datetime:
    bound = log_bound(text, field)
    if not isinstance(bound, datetime):
        raise Problem(422, "Invalid request", f"'{field}' is an ISO-8601 time",
                      errors=[{"field": field, "message": "an ISO-8601 time", "type": "rule"}])
    return bound
