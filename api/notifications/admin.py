"""Operators' view of the notification providers (admins only): each one's circuit breaker and
how its recent answers went, from the providers' health read model."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, ConfigDict, Field

from api.http.dependencies import ConsistencyPosition, Gate, ParleyDep, wait_for
from api.http.problems import Problem, problem_responses
from api.operations.maintenance import admin
from projections.notifications.providers import (
    ANSWER_SLOTS,
    ProviderHealth,
    ProviderHealthProjector,
    ProviderHealthQueries,
)

router = APIRouter(prefix="/v1/admin", tags=["notifications"], dependencies=[Depends(admin)])
HEALTH = [ProviderHealthProjector.name]
PROVIDER_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"


async def get_provider_health(parley: ParleyDep) -> ProviderHealthQueries:
    return parley.provider_health


ProviderHealthDep = Annotated[ProviderHealthQueries, Depends(get_provider_health)]


class ProviderHealthOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "provider": "fcm-main", "channel": "push", "state": "open",
        "since": "2026-12-02T03:00:00+00:00", "until": "2026-12-02T03:00:15+00:00",
        "opened_failure_rate": 0.6, "opened_calls": 25,
        "calls": 1000, "failures": 640, "unwell": 610, "error_rate": 0.61,
        "latency_p50_ms": 42, "latency_p99_ms": 9800,
        "last_answer_at": "2026-12-02T03:00:01+00:00"}]})

    provider: str
    channel: str | None = Field(description="Its channel, once it has answered or its breaker "
                                            "changed")
    state: str = Field(description="Its breaker: closed, open or half_open")
    since: datetime | None = Field(description="When its breaker last changed (null: never)")
    until: datetime | None = Field(description="An open breaker: when probes may begin")
    opened_failure_rate: float | None = Field(
        description="Why it last opened: the failure rate in its window (null: never opened)")
    opened_calls: int | None = Field(description="... over so many answers")
    calls: int = Field(description=f"Answers in the sample (its last {ANSWER_SLOTS} at most)")
    failures: int = Field(description="Of them, deliveries it did not accept")
    unwell: int = Field(description="Of them, failures that say the provider is unwell "
                                    "(timeouts, dropped connections, 5xx, 429): what its "
                                    "breaker counts; a refusal about one address is not")
    error_rate: float = Field(description="unwell / calls")
    latency_p50_ms: int | None
    latency_p99_ms: int | None
    last_answer_at: datetime | None


def health_out(health: ProviderHealth) -> ProviderHealthOut:
    return ProviderHealthOut(
        provider=health.provider, channel=health.channel, state=health.state,
        since=health.since, until=health.until, opened_failure_rate=health.opened_failure_rate,
        opened_calls=health.opened_calls, calls=health.calls, failures=health.failures,
        unwell=health.unwell, error_rate=health.error_rate,
        latency_p50_ms=health.latency_p50_ms, latency_p99_ms=health.latency_p99_ms,
        last_answer_at=health.last_answer_at)


@router.get("/providers", summary="Each notification provider's breaker, error rate and latency",
            response_model=list[ProviderHealthOut],
            responses=problem_responses(401, 403, 422, 503))
def providers_health(queries: ProviderHealthDep, gate: Gate,
                     position: ConsistencyPosition = None) -> list[ProviderHealthOut]:
    """Every provider that has answered or whose breaker changed, by name: its breaker's
    state and since when, and over its recent answers the error rate and p50/p99 latency."""
    wait_for(gate, position, HEALTH)
    return [health_out(h) for h in queries.providers()]


@router.get("/providers/{provider}", summary="One notification provider's breaker and health",
            response_model=ProviderHealthOut,
            responses=problem_responses(401, 403, 404, 422, 503))
def provider_health(queries: ProviderHealthDep, gate: Gate,
                    provider: Annotated[str, Path(pattern=PROVIDER_NAME)],
                    position: ConsistencyPosition = None) -> ProviderHealthOut:
    """The same as in the list, for the provider named (404 if it never answered and its
    breaker never changed)."""
    wait_for(gate, position, HEALTH)
    health = queries.provider(provider)
    if health is None:
        raise Problem(404, "Not found", "no such provider")
    return health_out(health)
