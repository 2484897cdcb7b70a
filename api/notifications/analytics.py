"""Operators' notification analytics (admins only): counts and rates, suppressions by reason,
latency percentiles and cost over a time range, from the analytics read model."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from api.http.dependencies import ConsistencyPosition, Gate, ParleyDep, wait_for
from api.http.problems import problem_responses
from api.operations.maintenance import admin
from projections.notifications.analytics import NotificationAnalyticsProjector
from projections.notifications.analytics_report import (
    DIMENSIONS,
    INTERVALS,
    AnalyticsQueries,
    AnalyticsReport,
    analytics_request,
)

router = APIRouter(prefix="/v1/admin/notifications", tags=["notifications"],
                   dependencies=[Depends(admin)])
ANALYTICS = [NotificationAnalyticsProjector.name]


def written_time(value: object) -> object:
    """A time as written (ISO 8601): pydantic alone reads `to=0.5` as Unix seconds, 1970."""
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return value
        raise ValueError("a time is ISO 8601 with a UTC offset (e.g. 2026-12-01T00:00:00Z), "
                         "not a number")
    return value


WrittenTime = Annotated[datetime | None, BeforeValidator(written_time)]


async def get_analytics(parley: ParleyDep) -> AnalyticsQueries:
    return parley.notification_analytics


AnalyticsDep = Annotated[AnalyticsQueries, Depends(get_analytics)]


class GroupOut(BaseModel):
    category: str | None = None
    channel: str | None = None
    provider: str | None = Field(None, description="Null: never sent to a provider")
    priority: str | None = None
    status: str | None = None
    time: datetime | None = Field(None, description="The bucket's start (with an interval)")
    notifications: int = Field(description="Notifications on this channel (one per channel "
                                           "a notification was requested on)")
    statuses: dict[str, int] = Field(description="How many stand at each status now")
    sent: int = Field(description="Dispatched to a provider at least once")
    delivered: int
    opened: int = Field(description="Read in the in-app inbox")
    clicked: int = Field(description="A tracked link followed")
    rates: dict[str, float | None] | None = Field(
        None, description="delivered and failed per sent; suppressed per notification; "
                          "opened and clicked per delivered (null: nothing to divide by); "
                          "absent when grouped by status")


class SuppressionOut(BaseModel):
    category: str | None = None
    channel: str | None = None
    priority: str | None = None
    time: datetime | None = None
    reason: str | None = Field(description="The reason's first clause (e.g. opted out, "
                                           "throttle, quiet_hours)")
    count: int


class LatencyOut(BaseModel):
    priority: str | None
    delivered: int = Field(description="Deliveries measured")
    p50_ms: int | None = Field(description="From request to delivery")
    p90_ms: int | None
    p99_ms: int | None


class CostOut(BaseModel):
    channel: str | None
    provider: str | None
    messages: int = Field(description="Deliveries the provider accepted")
    segments: int | None = Field(description="SMS segments of those messages (SMS only)")
    reported_cost_micros: int = Field(description="What the provider said it charged")
    priced_cost_micros: int | None = Field(
        description="PARLEY_NOTIFICATION_PRICES applied (null: no price configured)")
    cost_micros: int = Field(description="The configured price's, else the reported cost")


class AnalyticsOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "from": "2026-12-01T00:00:00+00:00", "to": "2026-12-02T00:00:00+00:00",
        "group_by": ["category", "channel", "provider"], "interval": None,
        "groups": [{"category": "message", "channel": "push", "provider": "fcm-main",
                    "notifications": 120, "statuses": {"delivered": 100, "failed": 4},
                    "sent": 118, "delivered": 100, "opened": 0, "clicked": 0,
                    "rates": {"delivered": 0.8475, "failed": 0.0339, "suppressed": 0.0167,
                              "opened": 0.0, "clicked": 0.0}}],
        "suppressed": [{"category": "message", "channel": "push", "reason": "quiet_hours",
                        "count": 2}],
        "latency": [{"priority": "high", "delivered": 100, "p50_ms": 180, "p90_ms": 420,
                     "p99_ms": 900}],
        "cost": [{"channel": "sms", "provider": "twilio", "messages": 10, "segments": 14,
                  "reported_cost_micros": 0, "priced_cost_micros": 110600,
                  "cost_micros": 110600}],
        "truncated": False}]})

    from_: datetime = Field(alias="from")
    to: datetime
    group_by: list[str]
    interval: str | None
    groups: list[GroupOut]
    suppressed: list[SuppressionOut]
    latency: list[LatencyOut]
    cost: list[CostOut]
    truncated: bool = Field(description="More groups than answered (narrow the range or "
                                        "the grouping)")


def analytics_out(report: AnalyticsReport) -> dict[str, Any]:
    return AnalyticsOut.model_validate({
        "from": report.request.since, "to": report.request.until,
        "group_by": list(report.request.group_by), "interval": report.request.interval,
        "groups": report.groups, "suppressed": report.suppressed, "latency": report.latency,
        "cost": report.cost, "truncated": report.truncated}).model_dump(
            mode="json", by_alias=True)


GROUP_BY = r"^[a-z]+(,[a-z]+){0,4}$"


@router.get("/analytics", summary="Notification counts, rates, latency and cost over a range",
            response_model=AnalyticsOut, response_model_by_alias=True,
            responses=problem_responses(401, 403, 422, 503))
def notification_analytics(
        queries: AnalyticsDep, gate: Gate,
        since: Annotated[WrittenTime, Query(alias="from", description=(
            "Start (inclusive), with a UTC offset; default: a day before `to`"))] = None,
        until: Annotated[WrittenTime, Query(alias="to", description=(
            "End (exclusive), with a UTC offset; default: now"))] = None,
        group_by: Annotated[str | None, Query(pattern=GROUP_BY, description=(
            f"Comma-separated, of {', '.join(DIMENSIONS)}; default category,channel,"
            "provider"))] = None,
        interval: Annotated[str | None, Query(max_length=16, description=(
            f"Buckets over time: {' or '.join(INTERVALS)} (hourly for at most 31 days)"))] = None,
        position: ConsistencyPosition = None) -> dict[str, Any]:
    """By request time: per group, how many notifications stand at each status, how many
    were sent, delivered, opened and clicked, and the rates; suppressions by reason;
    request-to-delivery p50/p90/p99 per priority; cost per channel and provider. A range is
    at most 366 days; an unknown grouping or interval, or `from` not before `to`, is 422."""
    request = analytics_request(since, until or datetime.now(UTC),
                                group_by.split(",") if group_by else None, interval)
    wait_for(gate, position, ANALYTICS)
    return analytics_out(queries.report(request))
