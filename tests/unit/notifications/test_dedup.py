"""Dedup keys: a caller's key per recipient holds for its window, then is free again; the dedup
step suppresses a duplicate naming the first notification."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from domain.notifications.decisions import RecipientFacts, RoutingRequest
from domain.notifications.dedup import DedupKey, DuplicateWithinWindow, dedup_key_id
from tests.builders import a_cause

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
ADA = uuid.uuid4()
REQUEST = RoutingRequest("system", "normal", ("push",), None)


def facts_with(key: DedupKey | None, at_offset: int = 0, window: int = 60) -> RecipientFacts:
    at = NOW + timedelta(seconds=at_offset)
    fact = None if key is None else key.fact(window, at)
    return RecipientFacts(frozenset({"in_app"}), frozenset({"in_app"}), dedup=fact)


def test_keys_are_the_callers_own_per_recipient() -> None:
    assert dedup_key_id("apikey:a", ADA, "order-1") != dedup_key_id("apikey:b", ADA, "order-1")
    assert dedup_key_id("apikey:a", ADA, "order-1") != dedup_key_id("apikey:a", uuid.uuid4(),
                                                                     "order-1")
    assert dedup_key_id("apikey:a", ADA, "order-1") == dedup_key_id("apikey:a", ADA, "order-1")


def test_a_key_held_within_its_window_suppresses_with_the_first_notifications_id() -> None:
    first = uuid.uuid4()
    key = DedupKey.claim("apikey:a", ADA, "order-1", first, NOW, 60, a_cause())
    decision = DuplicateWithinWindow().decide(REQUEST, facts_with(key, 59), NOW)
    assert decision.suppress is not None and str(first) in decision.suppress
    assert decision.inputs["first_notification_id"] == str(first)
    assert decision.inputs["dedup_key"] == "order-1"


def test_a_key_whose_window_is_over_lets_the_next_one_through_and_claim_it() -> None:
    first, second = uuid.uuid4(), uuid.uuid4()
    key = DedupKey.claim("apikey:a", ADA, "order-1", first, NOW, 60, a_cause())
    decision = DuplicateWithinWindow().decide(REQUEST, facts_with(key, 60), NOW)
    assert decision.suppress is None
    assert decision.inputs["first_notification_id"] is None
    assert not key.reclaim(second, NOW + timedelta(seconds=59), 60, a_cause())
    assert key.reclaim(second, NOW + timedelta(seconds=60), 60, a_cause())
    assert key.notification_id == second
    assert key.until == NOW + timedelta(seconds=120)


def test_a_request_without_a_dedup_key_is_not_looked_at() -> None:
    decision = DuplicateWithinWindow().decide(REQUEST, facts_with(None), NOW)
    assert decision.suppress is None and dict(decision.inputs) == {}
