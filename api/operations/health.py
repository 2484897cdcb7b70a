"""Liveness and readiness."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from api.http.problems import problem_responses
from api.operations.dependencies import Health

router = APIRouter(tags=["health"])


class Liveness(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"status": "ok"}]})

    status: str


class Readiness(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "status": "ready",
        "checks": {"postgresql": "ok", "elasticsearch": "ok", "redis": "ok", "kafka": "ok"},
        "projection_lag": {"users": 0, "devices": 0, "contacts": 0, "messaging": 3, "feed": 3},
        "profile": "production"}, {
        "status": "unavailable",
        "checks": {"postgresql": "ok", "elasticsearch": "unreachable (ConnectionError)",
                   "redis": "ok", "kafka": "ok"},
        "projection_lag": {"users": 0, "devices": 0, "contacts": 0, "messaging": 812,
                           "feed": 812},
        "profile": "production"}]})

    status: str
    checks: dict[str, str]
    projection_lag: dict[str, int]
    profile: str


# Even these refuse a malformed X-Request-Id (api.http.request_ids), before any route runs.
BAD_REQUEST_ID = problem_responses(described={400: "X-Request-Id is not a UUID"})


@router.get("/health", response_model=Liveness, summary="Liveness", responses=BAD_REQUEST_ID)
def health() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/ready", response_model=Readiness, summary="Readiness and projection lag",
            responses=BAD_REQUEST_ID | {503: {
                "model": Readiness, "description": "a dependency is unreachable (same body)"}})
def ready(health: Health) -> JSONResponse:
    """Each dependency answers; projection lag in events."""
    checks: dict[str, Any] = {}
    healthy = True
    for name, check in health.readiness.items():
        try:
            check()
            checks[name] = "ok"
        except Exception as error:  # noqa: BLE001 - readiness reports, never raises
            checks[name] = f"unreachable ({type(error).__name__})"
            healthy = False
    try:
        lag = health.lag()
    except Exception as error:  # noqa: BLE001 - an unknown lag is reported, never raised
        lag = {}
        checks["lag"] = f"unknown ({type(error).__name__})"
        healthy = False
    body = {"status": "ready" if healthy else "unavailable", "checks": checks,
            "projection_lag": lag, "profile": health.profile}
    return JSONResponse(body, status_code=200 if healthy else 503)
