"""Liveness and readiness."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.dependencies import ParleyDep

router = APIRouter(tags=["health"])


@router.get("/health")
def health() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/ready")
def ready(parley: ParleyDep) -> JSONResponse:
    """Each dependency answers; projection lag in events."""
    checks: dict[str, Any] = {}
    healthy = True
    for name, check in parley.readiness.items():
        try:
            check()
            checks[name] = "ok"
        except Exception as error:  # noqa: BLE001 - readiness reports, never raises
            checks[name] = f"unreachable ({type(error).__name__})"
            healthy = False
    try:
        lag = parley.lag()
    except Exception as error:  # noqa: BLE001
        lag = {}
        checks["lag"] = f"unknown ({type(error).__name__})"
        healthy = False
    body = {"status": "ready" if healthy else "unavailable", "checks": checks,
            "projection_lag": lag, "profile": parley.settings.profile}
    return JSONResponse(body, status_code=200 if healthy else 503)
