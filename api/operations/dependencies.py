"""What the health route is given, typed and never None."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends

from api.http.dependencies import ParleyDep


@dataclass(frozen=True)
class HealthChecks:
    """Each dependency's reachability check, the projection lag, and the profile's name."""

    readiness: dict[str, Callable[[], Any]]
    lag: Callable[[], dict[str, int]]
    profile: str


async def get_health_checks(parley: ParleyDep) -> HealthChecks:
    return HealthChecks(parley.readiness, parley.lag, parley.settings.profile)


Health = Annotated[HealthChecks, Depends(get_health_checks)]
