"""Operators' routes (admins only): projection status, parked events, retry and replays.

The same operations as `parley projections ...` and `parley replay`, run by this process on
the stores it serves from. A replay runs in the background, one at a time per process; its
progress is polled at the URL the start answers with.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator

from api.audit.dependencies import Access
from api.audit.log import record_denial
from api.http.dependencies import CorrelationId, CurrentSession, ParleyDep, Session
from api.http.problems import Problem, problem_responses
from parley.operations import Operations, UnknownProjection
from projections.read_model.replay import ReplayRequest, ReplaySummary

log = logging.getLogger(__name__)
ADMIN = "admin"
NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,60}$"


async def admin(access: Access, session: CurrentSession, request: Request,
                correlation: CorrelationId) -> Session:
    """Admins only; anyone else gets 403, and the attempt is logged and recorded."""
    roles = await asyncio.to_thread(access.roles_of, session.user_id)
    if ADMIN in roles:
        return session
    log.warning("admin access denied", extra={"user_id": str(session.user_id),
                                              "method": request.method,
                                              "path": request.url.path})
    await record_denial(access, session, request, correlation)
    raise Problem(403, "Forbidden", "only admins may operate projections")


router = APIRouter(prefix="/v1/admin", tags=["operations"], dependencies=[Depends(admin)])
ADMIN_PROBLEMS = (401, 403, 422)


@dataclass
class ReplayJob:
    replay_id: str
    request: dict[str, Any]
    state: Literal["running", "done", "failed"] = "running"
    events_done: int = 0
    events_total: int = 0
    summary: ReplaySummary | None = None
    error: str | None = None
    thread: threading.Thread | None = field(default=None, repr=False)



async def get_operations(parley: ParleyDep) -> Callable[[], Operations]:
    """The operators' tools over this process's stores, built by the composition root."""
    return parley.operations


OperationsSource = Annotated[Callable[[], Operations], Depends(get_operations)]


class OperationsDesk:
    """This process's operations and its replay jobs (kept on the app, built on first use)."""

    def __init__(self, operations: Callable[[], Operations]) -> None:
        self.operations = operations  # built by the composition root, on first use
        self.jobs: dict[str, ReplayJob] = {}

    def running(self) -> ReplayJob | None:
        return next((j for j in self.jobs.values() if j.state == "running"), None)


def desk_of(operations: OperationsSource, request: Request) -> OperationsDesk:
    desk: OperationsDesk | None = getattr(request.app.state, "operations_desk", None)
    if desk is None:
        desk = request.app.state.operations_desk = OperationsDesk(operations)
    return desk


Desk = Annotated[OperationsDesk, Depends(desk_of)]


class ProjectionStatusOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "projection": "messaging", "position": 10432, "head": 10440, "lag_events": 8,
        "lag_seconds": 0.12, "parked": 0, "last_error": None, "last_error_at": None,
        "locations": {"messages": "parley-messages-g2"}}]})

    projection: str
    position: int = Field(description="Last log position this projection has processed")
    head: int = Field(description="Last position in the event log")
    lag_events: int
    lag_seconds: float = Field(description="Age of the oldest event not yet processed")
    parked: int = Field(description="Events parked after failing")
    last_error: str | None
    last_error_at: datetime | None
    locations: dict[str, str] = Field(description="Collection -> index (or file) serving it")


class ParkedEventOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "projection": "messaging", "position": 5120, "event_type": "Message.Edited",
        "error": "KeyError: 'previous_text'", "parked_at": "2026-11-26T10:00:00+00:00",
        "attempts": 1}]})

    projection: str
    position: int
    event_type: str
    error: str
    parked_at: datetime
    attempts: int


class RetryIn(BaseModel):
    model_config = ConfigDict(extra="forbid",
                              json_schema_extra={"examples": [{"projection": "messaging"}]})

    projection: str | None = Field(None, pattern=NAME_PATTERN,
                                   description="Only this projection's parked events")


class RetryOutcomeOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "projection": "messaging", "position": 5120, "event_type": "Message.Edited",
        "resolved": True, "error": None}]})

    projection: str
    position: int
    event_type: str
    resolved: bool
    error: str | None


class ReplayIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"projections": ["messaging", "feed"]},
        {"all": True, "dry_run": True},
        {"projections": ["messaging"], "until_position": 50000, "into": "before-incident"}]})

    projections: list[str] = Field(default_factory=list, max_length=20,
                                   description="Projections to rebuild")
    all: bool = Field(False, description="Rebuild every projection")
    dry_run: bool = Field(False, description="Answer the plan; rebuild nothing")
    from_position: int | None = Field(None, ge=1, le=2**62)
    until_position: int | None = Field(None, ge=1, le=2**62)
    from_time: datetime | None = None
    until_time: datetime | None = None
    into: str | None = Field(None, pattern=NAME_PATTERN,
                             description="Inspection target name (bounded replays)")
    batch_size: int = Field(1000, ge=1, le=20_000)

    @model_validator(mode="after")
    def _something_to_replay(self) -> ReplayIn:
        if not self.projections and not self.all:
            raise ValueError("name projections, or set all")
        for moment in (self.from_time, self.until_time):
            if moment is not None and moment.tzinfo is None:
                raise ValueError("times need an offset, e.g. 2026-11-26T10:00:00+00:00")
        return self


class ReplayJobOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "replay_id": "5f0c8a4e-93a8-4d53-8b1e-1f4f0f3c2b11", "state": "done",
        "events_done": 120000, "events_total": 120000,
        "summary": {"projections": ["messaging"], "events": 120000, "documents": 240500,
                    "seconds": 31.4, "last_position": 120000,
                    "switched_to": {"messaging": 3}, "parked": 0,
                    "targets": {"messaging": {"messages": "parley-messages-g3"}}},
        "error": None}]})

    replay_id: str
    state: Literal["running", "done", "failed"]
    events_done: int
    events_total: int
    summary: dict[str, Any] | None
    error: str | None


class ReplayPlanOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "events": 120000, "first_position": 1, "last_position": 120000, "switches": True,
        "rebuilds": [{"projection": "messaging", "collections": ["conversations", "messages"],
                      "serving": 2, "target": "generation 3", "resume_after": 0}]}]})

    events: int
    first_position: int
    last_position: int
    switches: bool
    rebuilds: list[dict[str, Any]]


def job_out(job: ReplayJob) -> ReplayJobOut:
    return ReplayJobOut(replay_id=job.replay_id, state=job.state, events_done=job.events_done,
                        events_total=job.events_total,
                        summary=asdict(job.summary) if job.summary else None, error=job.error)


def chosen(operations: Operations, names: list[str], everything: bool) -> list[Any]:
    try:
        return operations.select(names, everything)
    except UnknownProjection as error:
        raise Problem(422, "Unknown projection", str(error)) from error


@router.get("/projections", summary="Each projection's position, lag and health",
            response_model=list[ProjectionStatusOut],
            responses=problem_responses(*ADMIN_PROBLEMS))
async def projections_status(desk: Desk) -> list[ProjectionStatusOut]:
    """Position, lag in events and seconds, serving index, parked events and last error."""
    statuses = await asyncio.to_thread(lambda: desk.operations().status())
    return [ProjectionStatusOut(**asdict(s)) for s in statuses]


@router.get("/projections/parked", summary="Events projectors could not project",
            response_model=list[ParkedEventOut],
            responses=problem_responses(*ADMIN_PROBLEMS))
async def parked_events(
    desk: Desk,
    projection: Annotated[str | None, Query(pattern=NAME_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[ParkedEventOut]:
    """Events a projector failed on and skipped (policy `park`), oldest first."""
    def find() -> list[Any]:
        operations = desk.operations()
        if projection is not None:
            chosen(operations, [projection], False)
        return operations.health.parked(projection, limit)

    return [ParkedEventOut(**asdict(p)) for p in await asyncio.to_thread(find)]


@router.post("/projections/retry", summary="Re-project parked events after a fix",
             response_model=list[RetryOutcomeOut],
             responses=problem_responses(*ADMIN_PROBLEMS))
async def retry_parked_events(desk: Desk, body: RetryIn) -> list[RetryOutcomeOut]:
    """Each parked event is projected again; one that succeeds fills in what later events
    left missing (never overwriting them) and is unparked; one that fails stays parked."""
    def retry() -> list[Any]:
        operations = desk.operations()
        if body.projection is not None:
            chosen(operations, [body.projection], False)
        return operations.retry(body.projection)

    return [RetryOutcomeOut(**asdict(o)) for o in await asyncio.to_thread(retry)]


@router.post("/replays", summary="Rebuild read models (or show the plan with dry_run)",
             status_code=202, response_model=ReplayJobOut,
             responses={200: {"description": "The plan of a dry run",
                              "model": ReplayPlanOut},
                        **problem_responses(*ADMIN_PROBLEMS, 409, described={
                            409: "another replay is running in this process"})})
async def start_replay(desk: Desk, body: ReplayIn,
                       response: Response) -> ReplayJobOut | JSONResponse:
    """Rebuilds into a fresh generation while the current one serves, then switches to it
    atomically; with `from_*`/`until_*`/`into`, builds a named inspection target instead.
    Runs in the background (202, poll `Location`); `dry_run` answers the plan (200)."""
    operations = await asyncio.to_thread(desk.operations)
    request = ReplayRequest(chosen(operations, body.projections, body.all),
                            body.from_position, body.until_position, body.from_time,
                            body.until_time, body.into, body.batch_size)
    replayer = operations.replayer()
    if body.dry_run:
        plan = await asyncio.to_thread(replayer.plan, request)
        return JSONResponse(ReplayPlanOut(
            events=plan.events, first_position=plan.first_position,
            last_position=plan.last_position, switches=plan.switches,
            rebuilds=[asdict(r) for r in plan.rebuilds]).model_dump(mode="json"))
    if desk.running() is not None:
        raise Problem(409, "Conflict", "another replay is running in this process")
    job = ReplayJob(str(uuid.uuid4()), body.model_dump(mode="json"))

    def report(done: int, total: int) -> None:
        job.events_done, job.events_total = done, max(total, done)

    def run() -> None:
        try:
            job.summary = replayer.run(request, report)
            job.state = "done"
        except Exception as error:  # the job records why it failed
            log.exception("replay %s failed", job.replay_id)
            job.error, job.state = f"{type(error).__name__}: {error}"[:500], "failed"

    desk.jobs[job.replay_id] = job
    job.thread = threading.Thread(target=run, name=f"replay-{job.replay_id}", daemon=True)
    job.thread.start()
    response.headers["Location"] = f"/v1/admin/replays/{job.replay_id}"
    return job_out(job)


@router.get("/replays/{replay_id}", summary="A replay's progress and summary",
            response_model=ReplayJobOut,
            responses=problem_responses(*ADMIN_PROBLEMS, 404))
async def replay_progress(desk: Desk, replay_id: uuid.UUID) -> ReplayJobOut:
    """Events done of the plan while running; the summary when done; the error if failed."""
    job = desk.jobs.get(str(replay_id))
    if job is None:
        raise Problem(404, "Not Found", "no such replay in this process")
    return job_out(job)
