"""The notification analytics report: counts and rates per category, channel, provider,
priority or status over a time range (optionally per hour or day), suppressions by reason,
request-to-delivery latency percentiles per priority, and cost per channel and provider, all
aggregated by the read store from the analytics read model (projections/notifications/
analytics.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from domain.errors import InvalidCommand
from domain.notifications.channels import SMS
from projections.notifications.analytics import ANALYTICS, CHARGES, STATUSES
from projections.read_model.aggregations import TIME_BUCKET, Aggregation, Group
from projections.read_model.documents import Eq, Filter, Range, ReadStore

DIMENSIONS: Final = ("category", "channel", "provider", "priority", "status")
DEFAULT_GROUP_BY: Final = ("category", "channel", "provider")
INTERVALS: Final = {"hour": 3_600_000, "day": 86_400_000}
MAX_RANGE: Final = timedelta(days=366)
DEFAULT_SPAN: Final = timedelta(days=1)
MAX_HOURLY_RANGE: Final = timedelta(days=31)  # 744 hourly buckets
MAX_GROUPS: Final = 1000
PERCENTS: Final = (50.0, 90.0, 99.0)
SENT: Final = "dispatched_at_ms"  # dispatched at least once
DELIVERED: Final = "delivered_at_ms"
OPENED: Final = "read_at_ms"  # read in the inbox
CLICKED: Final = "clicked_at_ms"


class BadAnalyticsRequest(InvalidCommand):
    """A range, grouping or interval the report cannot answer (`field` names which)."""


@dataclass(frozen=True)
class Price:
    """What an operator pays a provider (PARLEY_NOTIFICATION_PRICES): per message and per SMS
    segment, in millionths of the billing currency's unit."""

    message_micros: int = 0
    segment_micros: int = 0


@dataclass(frozen=True)
class AnalyticsRequest:
    since: datetime
    until: datetime
    group_by: tuple[str, ...] = DEFAULT_GROUP_BY
    interval: str | None = None


@dataclass
class AnalyticsReport:
    request: AnalyticsRequest
    groups: list[dict[str, Any]] = field(default_factory=list)
    suppressed: list[dict[str, Any]] = field(default_factory=list)
    latency: list[dict[str, Any]] = field(default_factory=list)
    cost: list[dict[str, Any]] = field(default_factory=list)
    truncated: bool = False


def analytics_request(since: datetime | None, until: datetime, group_by: Sequence[str] | None,
                      interval: str | None) -> AnalyticsRequest:
    """The request, checked: a bounded range forwards in time (`since` by default a day
    before `until`), known dimensions, a known interval with not too many buckets."""
    if until.tzinfo is None or (since is not None and since.tzinfo is None):
        naive = "from" if since is not None and since.tzinfo is None else "to"
        raise BadAnalyticsRequest(naive,
                                  "times need a UTC offset (e.g. 2026-12-01T00:00:00Z)")
    try:
        until = until.astimezone(UTC)
        since = until - DEFAULT_SPAN if since is None else since.astimezone(UTC)
    except OverflowError as error:  # within a day of year 1 or 9999
        raise BadAnalyticsRequest("from", "a time outside the years 1 to 9999") from error
    if since >= until:
        raise BadAnalyticsRequest("from", "from must be before to")
    if until - since > MAX_RANGE:
        raise BadAnalyticsRequest("to", f"a range is at most {MAX_RANGE.days} days")
    chosen = tuple(dict.fromkeys(group_by)) if group_by else DEFAULT_GROUP_BY
    unknown = [g for g in chosen if g not in DIMENSIONS]
    if unknown:
        raise BadAnalyticsRequest("group_by", f"unknown dimension {unknown[0]!r} (choose from "
                                            f"{', '.join(DIMENSIONS)})")
    if interval is not None and interval not in INTERVALS:
        raise BadAnalyticsRequest("interval", f"interval is one of {', '.join(INTERVALS)}")
    if interval == "hour" and until - since > MAX_HOURLY_RANGE:
        raise BadAnalyticsRequest("interval", f"hourly buckets cover at most "
                                            f"{MAX_HOURLY_RANGE.days} days; use day")
    return AnalyticsRequest(since, until, chosen, interval)


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def _in_range(time_field: str, request: AnalyticsRequest) -> Range:
    """[since, until) in epoch milliseconds."""
    return Range(time_field, gt=_ms(request.since) - 1, lte=_ms(request.until) - 1)


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _rounded(value: float | None) -> int | None:
    return None if value is None else round(value)


def _time(group: Group) -> dict[str, Any]:
    bucket = group.key.get(TIME_BUCKET)
    if bucket is None:
        return {}
    return {"time": datetime.fromtimestamp(bucket / 1000, UTC).isoformat()}


class AnalyticsQueries:
    def __init__(self, store: ReadStore, prices: Mapping[str, Price] | None = None) -> None:
        self._store = store
        self._prices = dict(prices or {})

    def report(self, request: AnalyticsRequest) -> AnalyticsReport:
        report = AnalyticsReport(request)
        report.groups, truncated = self._counts(request)
        report.suppressed, more = self._suppressions(request)
        report.latency = self._latency(request)
        report.cost = self._cost(request)
        report.truncated = truncated or more
        return report

    def _aggregate(self, request: AnalyticsRequest, group_by: Sequence[str],
                   filters: Sequence[Filter] = (), **measures: Any) -> tuple[list[Group], bool]:
        interval = INTERVALS.get(request.interval or "")
        aggregated = self._store.aggregate(Aggregation(
            ANALYTICS, (_in_range("requested_at_ms", request), *filters), tuple(group_by),
            time_field="requested_at_ms", interval_ms=interval, max_groups=MAX_GROUPS,
            **measures))
        return aggregated.groups, aggregated.truncated

    def _counts(self, request: AnalyticsRequest) -> tuple[list[dict[str, Any]], bool]:
        """Per group: how many of each status, how many were sent (dispatched at least
        once), delivered, opened (read in the inbox) and clicked (a tracked link or an in-app
        tap, on its channel), and the rates."""
        # statuses are always counted apart, then folded into the rows of the dimensions
        # asked for (the status among them when asked: a row per status)
        dimensions = list(request.group_by)
        counted = [*dimensions] if "status" in dimensions else [*dimensions, "status"]
        groups, truncated = self._aggregate(request, counted,
                                            present=(SENT, DELIVERED, OPENED, CLICKED))
        folded: dict[tuple[Any, ...], dict[str, Any]] = {}
        for group in groups:
            key = tuple(group.key.get(d) for d in [*dimensions, TIME_BUCKET])
            row = folded.setdefault(key, {
                **{d: group.key.get(d) for d in dimensions}, **_time(group),
                "notifications": 0, "statuses": dict.fromkeys(STATUSES, 0),
                "sent": 0, "delivered": 0, "opened": 0, "clicked": 0})
            status = str(group.key.get("status"))
            row["notifications"] += group.count
            row["statuses"][status] = row["statuses"].get(status, 0) + group.count
            for name, present in ((SENT, "sent"), (DELIVERED, "delivered"),
                                  (OPENED, "opened"), (CLICKED, "clicked")):
                row[present] += group.present.get(name, 0)
        rows = list(folded.values())
        for row in rows:
            if "status" in request.group_by:
                continue
            row["rates"] = {
                "delivered": _rate(row["delivered"], row["sent"]),
                "failed": _rate(row["statuses"]["failed"], row["sent"]),
                "suppressed": _rate(row["statuses"]["suppressed"], row["notifications"]),
                "opened": _rate(row["opened"], row["delivered"]),
                # per what reached a provider or the recipient: an email is accepted, and
                # never said delivered (SMTP has no receipt), yet its links are followed
                "clicked": _rate(row["clicked"], row["statuses"]["accepted"]
                                 + row["statuses"]["delivered"])}
        return rows, truncated

    def _suppressions(self, request: AnalyticsRequest) -> tuple[list[dict[str, Any]], bool]:
        dimensions = [d for d in request.group_by if d not in ("status", "provider")]
        groups, truncated = self._aggregate(request, [*dimensions, "suppressed_reason"],
                                            (Eq("status", "suppressed"),))
        return [{**{d: g.key.get(d) for d in dimensions}, **_time(g),
                 "reason": g.key.get("suppressed_reason"), "count": g.count}
                for g in groups], truncated

    def _latency(self, request: AnalyticsRequest) -> list[dict[str, Any]]:
        """Request to delivery, per priority, over the whole range."""
        aggregated = self._store.aggregate(Aggregation(
            ANALYTICS, (_in_range("requested_at_ms", request), Range("latency_ms", gt=-1)),
            ("priority",), percentiles_of="latency_ms", percents=PERCENTS,
            max_groups=MAX_GROUPS))
        return [{"priority": g.key.get("priority"), "delivered": g.count,
                 **{f"p{int(p)}_ms": _rounded(g.percentiles.get(p)) for p in PERCENTS}}
                for g in aggregated.groups]

    def _cost(self, request: AnalyticsRequest) -> list[dict[str, Any]]:
        """Per channel and provider: what providers said they charged, and what the configured
        price makes of the messages (and, for SMS, their segments) they accepted."""
        charges = self._store.aggregate(Aggregation(
            CHARGES, (_in_range("charged_at_ms", request),), ("channel", "provider"),
            sums=("cost_micros",), max_groups=MAX_GROUPS)).groups
        segments = {(g.key.get("channel"), g.key.get("provider")): g.sums.get("segments", 0.0)
                    for g in self._store.aggregate(Aggregation(
                        ANALYTICS, (_in_range("requested_at_ms", request), Eq("channel", SMS),
                                    Range("accepted_at_ms", gt=0)),
                        ("channel", "provider"), sums=("segments",),
                        max_groups=MAX_GROUPS)).groups}
        rows = []
        for group in charges:
            channel, provider = group.key.get("channel"), group.key.get("provider")
            reported = int(group.sums.get("cost_micros", 0.0))
            price = self._prices.get(str(provider))
            parts = int(segments.get((channel, provider), 0.0))
            priced = None if price is None else (price.message_micros * group.count
                                                 + price.segment_micros * parts)
            rows.append({"channel": channel, "provider": provider, "messages": group.count,
                         "segments": parts if channel == SMS else None,
                         "reported_cost_micros": reported, "priced_cost_micros": priced,
                         "cost_micros": reported if priced is None else priced})
        return rows
