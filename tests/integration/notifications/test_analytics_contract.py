"""The notification analytics report on each read store (SQLite embedded, the real
Elasticsearch of deploy/services.sh in production): one contract, the same answers."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from adapters.read_model.elasticsearch_read_store import ElasticsearchReadStore
from adapters.read_model.sqlite_read_store import SQLiteReadStore
from projections.notifications.analytics import ANALYTICS, NotificationAnalyticsProjector
from projections.notifications.analytics_report import (
    AnalyticsQueries,
    AnalyticsReport,
    Price,
    analytics_request,
)
from projections.read_model.aggregations import Aggregation
from projections.read_model.documents import Difference, ReadStore, Upsert
from tests.notification_lives import T0, Life

PROJECTOR = NotificationAnalyticsProjector()
DAY = (T0 - timedelta(hours=9), T0 + timedelta(hours=15))


@pytest.fixture(params=["sqlite", pytest.param("elasticsearch", marks=pytest.mark.services)])
def store(request: pytest.FixtureRequest, tmp_path: Path, namespace: str) -> Iterator[ReadStore]:
    if request.param == "sqlite":
        sqlite = SQLiteReadStore(tmp_path / "read.sqlite3")
        yield sqlite
        sqlite.close()
        return
    services = request.getfixturevalue("services")
    elastic = ElasticsearchReadStore(services["PARLEY_ELASTICSEARCH_URL"], namespace,
                                     [*PROJECTOR.collections, "notes"])
    elastic.ensure_indices()
    yield elastic
    elastic.client.indices.delete(index=f"{namespace}-*")
    elastic.close()


def project(store: ReadStore, lives: Sequence[Life | list[Any]], *,
            one_batch: bool = True) -> None:
    """Every life's events, at increasing positions: in one write, or one write per event."""
    changes: list[Any] = []
    position = 0
    for life in lives:
        for event in life.events() if isinstance(life, Life) else life:
            position += 1
            if one_batch:
                changes += PROJECTOR.changes(event, position)
            else:
                store.apply(PROJECTOR.changes(event, position), PROJECTOR.name, position)
    if one_batch:
        store.apply(changes, PROJECTOR.name, position)


def report(store: ReadStore, group_by: Sequence[str] = ("category", "channel", "provider"),
           interval: str | None = None, prices: dict[str, Price] | None = None,
           span: tuple[Any, Any] = DAY) -> AnalyticsReport:
    return AnalyticsQueries(store, prices).report(
        analytics_request(span[0], span[1], group_by, interval))


def row(rows: list[dict[str, Any]], **key: Any) -> dict[str, Any]:
    found = [r for r in rows if all(r.get(k) == v for k, v in key.items())]
    assert len(found) == 1, (key, rows)
    return found[0]


def test_counts_statuses_and_rates_per_category_channel_and_provider(
        store: ReadStore) -> None:
    project(store, [
        Life(("push",)).dispatch("fcm-main").accept(delivered=True),
        Life(("push",)).dispatch("fcm-main").accept(),
        Life(("push",)).dispatch("fcm-main").fail("UNREGISTERED"),
        Life(("sms",), category="security").dispatch("twilio").accept().deliver(),
    ])
    rows = report(store).groups
    push = row(rows, category="message", channel="push", provider="fcm-main")
    assert (push["notifications"], push["sent"], push["delivered"]) == (3, 3, 1)
    assert push["statuses"]["accepted"] == 1 and push["statuses"]["failed"] == 1
    assert push["rates"]["delivered"] == round(1 / 3, 4)
    assert push["rates"]["failed"] == round(1 / 3, 4)
    sms = row(rows, category="security", channel="sms", provider="twilio")
    assert (sms["notifications"], sms["delivered"], sms["statuses"]["delivered"]) == (1, 1, 1)


def test_suppressions_are_counted_by_their_reason(store: ReadStore) -> None:
    project(store, [
        Life(("push", "email"), skipped=[("email", "opted out")]).dispatch().accept(),
        Life(("push",), suppressed="throttle: recipient over its limit"),
        Life(("push",), suppressed="throttle: push over its limit"),
    ])
    by_reason = {(r["channel"], r["reason"]): r["count"] for r in report(store).suppressed}
    assert by_reason == {("email", "opted out"): 1, ("push", "throttle"): 2}


def test_an_inbox_notification_counts_as_delivered_opened_and_read(store: ReadStore) -> None:
    project(store, [Life(("in_app",)).later(500).read(), Life(("in_app",))])
    inbox = row(report(store).groups, channel="in_app")
    assert (inbox["notifications"], inbox["delivered"], inbox["opened"]) == (2, 2, 1)
    assert inbox["rates"]["opened"] == 0.5 and inbox["provider"] == "inbox"


def test_latency_percentiles_from_request_to_delivery_per_priority(store: ReadStore) -> None:
    lives = [Life(("push",), priority="high").later(10 * n).dispatch().accept(delivered=True)
             for n in range(1, 101)]
    lives += [Life(("push",), priority="bulk").later(5000).dispatch().accept(delivered=True)]
    lives += [Life(("push",), priority="bulk").dispatch().accept()]  # never delivered
    project(store, lives)
    latency = {r["priority"]: r for r in report(store).latency}
    assert set(latency) == {"high", "bulk"}
    high, bulk = latency["high"], latency["bulk"]
    assert high["delivered"] == 100 and bulk["delivered"] == 1
    # nearest rank (SQLite) or a t-digest estimate (Elasticsearch): within one sample's step
    for name, expected in (("p50_ms", 500), ("p90_ms", 900), ("p99_ms", 990)):
        assert abs(high[name] - expected) <= 10, (name, high)
    assert bulk["p50_ms"] == bulk["p99_ms"] == 5000


def test_cost_per_channel_and_provider_reported_and_priced(store: ReadStore) -> None:
    long_text = "x" * 400  # with its title, three GSM-7 segments
    project(store, [
        Life(("sms",), body=long_text).dispatch("vonage").accept(cost_micros=33_300),
        Life(("sms",), body="short").dispatch("vonage").accept(cost_micros=11_100),
        Life(("sms",), body=long_text).dispatch("twilio").accept(),
        Life(("email",)).dispatch("smtp-main", addresses=2).accept(),
        Life(("email",)).dispatch("smtp-main").fail(),
    ])
    prices = {"twilio": Price(message_micros=1000, segment_micros=7_900),
              "smtp-main": Price(message_micros=100)}
    cost = report(store, prices=prices).cost
    vonage = row(cost, channel="sms", provider="vonage")
    assert (vonage["messages"], vonage["reported_cost_micros"], vonage["cost_micros"]) == (
        2, 44_400, 44_400) and vonage["priced_cost_micros"] is None
    twilio = row(cost, channel="sms", provider="twilio")
    assert (twilio["segments"], twilio["cost_micros"]) == (3, 1000 + 3 * 7_900)
    email = row(cost, channel="email", provider="smtp-main")
    assert (email["messages"], email["cost_micros"]) == (2, 200)  # two addresses, accepted


def test_hourly_buckets_and_the_range_bounds(store: ReadStore) -> None:
    project(store, [Life(("push",), at=T0).dispatch().accept(),
                    Life(("push",), at=T0 + timedelta(minutes=59)).dispatch().accept(),
                    Life(("push",), at=T0 + timedelta(hours=1)).dispatch().accept(),
                    Life(("push",), at=T0 + timedelta(hours=2))])
    span = (T0, T0 + timedelta(hours=2))  # the last one is at `to`: outside
    rows = report(store, ("channel",), "hour", span=span).groups
    assert [(r["time"], r["notifications"]) for r in rows] == [
        (T0.isoformat(), 2), ((T0 + timedelta(hours=1)).isoformat(), 1)]


def test_a_cancel_after_a_fallback_cancels_only_the_channel_not_given_up(
        store: ReadStore) -> None:
    life = Life(("push", "email")).dispatch().accept().undelivered("30008").cancel()
    project(store, [life])  # in one write: what the push became earlier in it counts
    rows = report(store, ("channel",)).groups
    assert row(rows, channel="push")["statuses"]["failed"] == 1
    assert row(rows, channel="email")["statuses"]["cancelled"] == 1


def test_one_write_or_one_per_event_project_the_same_report(
        store: ReadStore, tmp_path: Path) -> None:
    lives = [Life(("push", "email")).dispatch().fail("500", retryable=True),
             Life(("push", "email")).dispatch().accept(delivered=True),
             Life(("in_app", "push")).dispatch().accept(),
             Life(("push", "email")).dispatch().fail().cancel()]
    logged = [life.events() for life in lives]
    project(store, logged)
    other = SQLiteReadStore(tmp_path / "one-by-one.sqlite3")
    project(other, logged, one_batch=False)
    assert report(store, ("channel", "status")).groups == report(
        other, ("channel", "status")).groups
    other.close()


def test_a_cancel_reaches_a_channel_an_earlier_change_of_its_write_reopened(
        store: ReadStore) -> None:
    """Sent in one write (stored: not open), then failed, waiting to retry and cancelled in
    the next: the cancel finds it open by what that write did before it."""
    events = Life(("push",)).dispatch().fail("503", retryable=True).cancel().events()
    split = next(i for i, e in enumerate(events) if type(e).__name__ == "Failed")
    project(store, [events[:split]])
    later = [c for position, event in enumerate(events[split:], start=split + 1)
             for c in PROJECTOR.changes(event, position)]
    store.apply(later, PROJECTOR.name, len(events))
    assert row(report(store, ("channel",)).groups, channel="push")["statuses"][
        "cancelled"] == 1


def test_a_difference_is_derived_whatever_order_its_fields_arrive_in(
        store: ReadStore) -> None:
    elapsed = (Difference("latency_ms", "delivered_at_ms", "requested_at_ms"),)
    store.apply([Upsert("notes", "a", 1, {"requested_at_ms": 100}, differences=elapsed),
                 Upsert("notes", "a", 2, {"delivered_at_ms": 350}, differences=elapsed),
                 Upsert("notes", "b", 3, {"delivered_at_ms": 900}, differences=elapsed)],
                "p", 3)
    store.apply([Upsert("notes", "b", 4, {"requested_at_ms": 400}, differences=elapsed),
                 Upsert("notes", "c", 5, {"requested_at_ms": 1}, differences=elapsed)], "p", 5)
    assert store.get("notes", "a") == {"requested_at_ms": 100, "delivered_at_ms": 350,
                                       "latency_ms": 250}
    assert store.get("notes", "b")["latency_ms"] == 500  # type: ignore[index]
    assert "latency_ms" not in store.get("notes", "c")  # type: ignore[operator]


def test_an_empty_range_has_no_groups(store: ReadStore) -> None:
    project(store, [Life(("push",)).dispatch().accept()])
    empty = report(store, span=(T0 + timedelta(days=2), T0 + timedelta(days=3)))
    assert (empty.groups, empty.suppressed, empty.latency, empty.cost) == ([], [], [], [])
    assert store.aggregate(Aggregation(ANALYTICS, max_groups=5)).groups[0].count == 1


def test_grouped_by_status_a_row_per_status_with_its_count(store: ReadStore) -> None:
    project(store, [
        Life(("push",)).dispatch().accept(delivered=True),
        Life(("push",)).dispatch().accept(delivered=True),
        Life(("push",)).dispatch().fail("UNREGISTERED"),
        Life(("push",), suppressed="throttle: recipient over its limit"),
        Life(("push",), digest_into=uuid.uuid4()),
    ])
    rows = report(store, ("status",)).groups
    assert {r["status"]: r["notifications"] for r in rows} == {
        "delivered": 2, "failed": 1, "suppressed": 1, "digested": 1}
    by_channel = report(store, ("channel", "status")).groups
    assert row(by_channel, channel="push", status="delivered")["delivered"] == 2


def test_a_digested_member_and_a_channel_given_up_at_dispatch_are_not_pending_or_failed(
        store: ReadStore) -> None:
    project(store, [Life(("push", "email"), digest_into=uuid.uuid4()),
                    Life(("email", "push")).recheck("preferences: opted out").dispatch().accept()])
    rows = report(store, ("channel",)).groups
    push, email = row(rows, channel="push"), row(rows, channel="email")
    assert (push["statuses"]["digested"], push["statuses"]["accepted"]) == (1, 1)
    assert (email["statuses"]["digested"], email["statuses"]["suppressed"]) == (1, 1)
    assert email["statuses"]["failed"] == email["statuses"]["pending"] == 0
    assert {(r["channel"], r["reason"]): r["count"] for r in report(store).suppressed} == {
        ("email", "preferences"): 1}
