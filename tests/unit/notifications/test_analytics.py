"""The analytics projector's mapping of a notification's events to document changes, and the
checks a report's request passes (no store: both are pure)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from projections.notifications.analytics import (
    ANALYTICS,
    CHARGES,
    LATENCY,
    STILL_OPEN,
    NotificationAnalyticsProjector,
    reason_key,
)
from projections.notifications.analytics_report import (
    DIMENSIONS,
    BadAnalyticsRequest,
    analytics_request,
)
from projections.read_model.documents import PatchMatching, Upsert
from tests.notification_lives import T0, Life

PROJECTOR = NotificationAnalyticsProjector()


def changes_of(life: Life) -> list[tuple[str, Any]]:
    """(event class name, change) for each change, in log order."""
    return [(type(event).__name__, change)
            for position, event in enumerate(life.events(), start=1)
            for change in PROJECTOR.changes(event, position)]


def test_a_request_makes_one_document_per_channel_with_no_trace_of_the_recipient() -> None:
    life = Life(("push", "sms"), category="security", priority="critical", body="x" * 200)
    [(_, push), (_, sms)] = [c for c in changes_of(life) if c[0] == "Requested"]
    nid = str(life.notification.id)
    assert (push.collection, push.doc_id, sms.doc_id) == (ANALYTICS, f"{nid}:push",
                                                          f"{nid}:sms")
    assert push.fields == {"notification_id": nid, "category": "security",
                           "priority": "critical", "channel": "push", "status": "pending",
                           "requested_at_ms": int(T0.timestamp() * 1000), "segments": 0}
    assert sms.fields["segments"] == 2  # the title, a newline and 200 characters
    assert str(life.notification.recipient_id) not in repr(changes_of(life))


def test_later_events_change_a_channel_only_where_the_request_made_its_document() -> None:
    life = Life(("push",)).dispatch("fcm-main").accept(delivered=True, cost_micros=5)
    later = [c for name, c in changes_of(life) if name != "Requested"]
    for change in later:
        if isinstance(change, Upsert) and change.collection == ANALYTICS:
            assert change.only_if == ("notification_id", str(life.notification.id))
    statuses = [c.fields.get("status") for c in later
                if isinstance(c, Upsert) and c.collection == ANALYTICS]
    assert statuses == ["queued", "sent", "accepted", "delivered"]
    [charge] = [c for c in later if isinstance(c, Upsert) and c.collection == CHARGES]
    assert (charge.fields["provider"], charge.fields["cost_micros"]) == ("fcm-main", 5)


def test_a_delivery_derives_its_latency_from_the_request_time() -> None:
    life = Life(("push",)).later(1500).dispatch().accept(delivered=True)
    [delivered] = [c for name, c in changes_of(life) if name == "Delivered"]
    assert delivered.differences == (LATENCY,)
    assert delivered.fields["delivered_at_ms"] == int(T0.timestamp() * 1000) + 1500


def test_a_suppression_or_cancel_ends_only_the_channels_still_open() -> None:
    suppressed = Life(("push", "email"), suppressed="quiet_hours: 22:00-07:00 Europe/Paris")
    [(_, patch)] = [c for c in changes_of(suppressed) if c[0] == "Suppressed"]
    assert isinstance(patch, PatchMatching)
    assert patch.fields["status"] == "suppressed"
    assert patch.fields["suppressed_reason"] == "quiet_hours"  # never the rest of the text
    assert {f.field for f in patch.filters} == {"notification_id", "status"}


def test_a_channel_given_up_unread_in_time_stays_accepted_and_a_refused_one_fails() -> None:
    refused = Life(("push", "email")).dispatch().fail()
    [(_, fell_back)] = [c for c in changes_of(refused) if c[0] == "FellBack"]
    assert fell_back.fields["status"] == "failed" and fell_back.doc_id.endswith(":push")
    assert fell_back.fields["given_up_reason"] == "the provider refused it"


def test_a_digested_notification_counts_its_open_channels_as_digested_not_pending() -> None:
    digested = Life(("push", "email"), skipped=[("email", "opted out")],
                    digest_into=uuid.uuid4())
    [(_, patch)] = [c for c in changes_of(digested) if c[0] == "Digested"]
    assert isinstance(patch, PatchMatching)
    assert patch.fields["status"] == "digested"
    assert {(f.field, getattr(f, "values", None)) for f in patch.filters} == {
        ("notification_id", None), ("status", STILL_OPEN)}  # the opted-out email stays so


def test_a_channel_the_dispatch_recheck_gave_up_is_suppressed_for_its_reason_not_failed() -> None:
    life = Life(("email", "push")).recheck("preferences: opted out")
    changed = [(name, c.doc_id, c.fields.get("status"), c.fields.get("suppressed_reason"))
               for name, c in changes_of(life)
               if name in ("Rechecked", "FellBack") and isinstance(c, Upsert)]
    nid = life.notification.id
    assert changed == [("Rechecked", f"{nid}:email", "suppressed", "preferences"),
                       ("FellBack", f"{nid}:email", None, None)]  # the status stays


def test_the_last_channel_given_up_at_dispatch_is_suppressed_for_the_step_s_reason() -> None:
    life = Life(("email",)).recheck("reachability: unsubscribed")
    [(_, rechecked)] = [c for c in changes_of(life) if c[0] == "Rechecked"]
    assert (rechecked.fields["status"], rechecked.fields["suppressed_reason"]) == (
        "suppressed", "reachability")


@pytest.mark.parametrize(("reason", "key"), [
    ("opted out", "opted out"), ("throttle: user-1 over its limit", "throttle"),
    ("", "unspecified"), ("x" * 500, "x" * 64)])
def test_a_reason_is_kept_as_its_first_clause_bounded(reason: str, key: str) -> None:
    assert reason_key(reason) == key


@pytest.mark.parametrize(("since", "until", "group_by", "interval", "field"), [
    (T0, T0, None, None, "from"),
    (T0 + timedelta(hours=1), T0, None, None, "from"),
    (T0, T0 + timedelta(days=367), None, None, "to"),
    (T0, T0 + timedelta(days=32), None, "hour", "interval"),
    (T0, T0 + timedelta(days=1), ["channel", "recipient_id"], None, "group_by"),
    (T0, T0 + timedelta(days=1), None, "minute", "interval"),
    (T0.replace(tzinfo=None), T0.replace(tzinfo=None) + timedelta(days=1), None, None, "from"),
    (None, datetime(1, 1, 1, 12, tzinfo=UTC), None, None, "from"),
    (T0, datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-5))), None, None, "from"),
])
def test_a_request_the_report_cannot_answer_is_refused_naming_its_field(
        since: Any, until: Any, group_by: Any, interval: Any, field: str) -> None:
    with pytest.raises(BadAnalyticsRequest) as refused:
        analytics_request(since, until, group_by, interval)
    assert refused.value.field == field


def test_a_request_defaults_to_the_day_before_and_category_channel_and_provider() -> None:
    request = analytics_request(None, T0, None, "day")
    assert (request.since, request.group_by) == (T0 - timedelta(days=1),
                                                 ("category", "channel", "provider"))
    assert analytics_request(T0, T0 + timedelta(days=366), None, "day").interval == "day"
    assert analytics_request(T0, T0 + timedelta(days=1), ["status", "status"],
                             None).group_by == ("status",)


@settings(max_examples=300, deadline=None)
@given(since=st.none() | st.datetimes(timezones=st.timezones() | st.none()),
       until=st.datetimes(timezones=st.timezones() | st.none()),
       group_by=st.none() | st.lists(st.sampled_from([*DIMENSIONS, "x", ""]), max_size=6),
       interval=st.none() | st.sampled_from(["hour", "day", "week", ""]))
def test_any_request_is_answered_or_refused_with_its_field_never_an_error(
        since: datetime | None, until: datetime, group_by: list[str] | None,
        interval: str | None) -> None:
    try:
        request = analytics_request(since, until, group_by, interval)
    except BadAnalyticsRequest as refused:
        assert refused.field in ("from", "to", "group_by", "interval")
        return
    assert request.since < request.until <= request.since + timedelta(days=366)
    assert request.since.utcoffset() == timedelta(0)
