"""Dedup keys: a caller's key per recipient holds for its window, then is free again; the dedup
step suppresses a duplicate naming the first notification."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from domain.notifications.decisions import RecipientFacts, RoutingRequest
from domain.notifications.dedup import (
    DedupKey,
    DedupKeyHolders,
    DuplicateWithinWindow,
    dedup_holders_id,
    dedup_key_id,
)
from domain.notifications.notifications import notification_id
from tests.builders import a_cause

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
ADA, BO = uuid.uuid4(), uuid.uuid4()
REQUEST = RoutingRequest("system", "normal", ("push",), None)


def facts_with(holders: DedupKeyHolders | None, recipient: uuid.UUID = ADA,
               at_offset: int = 0, window: int = 60) -> RecipientFacts:
    at = NOW + timedelta(seconds=at_offset)
    fact = None if holders is None else holders.fact(recipient, window, at)
    return RecipientFacts(frozenset({"in_app"}), frozenset({"in_app"}), dedup=fact)


def test_keys_are_the_callers_own() -> None:
    assert dedup_holders_id("apikey:a", "order-1") != dedup_holders_id("apikey:b", "order-1")
    assert dedup_holders_id("apikey:a", "order-1") != dedup_holders_id("apikey:a", "order-2")
    assert dedup_holders_id("apikey:a", "order-1") == dedup_holders_id("apikey:a", "order-1")


def test_a_key_held_within_its_window_suppresses_with_the_first_notifications_id() -> None:
    request = uuid.uuid4()
    holders = DedupKeyHolders.claim_first("apikey:a", "order-1", request, [ADA], NOW, 60,
                                          a_cause())
    decision = DuplicateWithinWindow().decide(REQUEST, facts_with(holders, at_offset=59), NOW)
    first = notification_id(request, ADA)
    assert decision.suppress is not None and str(first) in decision.suppress
    assert decision.inputs["first_notification_id"] == str(first)
    assert decision.inputs["dedup_key"] == "order-1"


def test_a_key_is_held_per_recipient() -> None:
    holders = DedupKeyHolders.claim_first("apikey:a", "order-1", uuid.uuid4(), [ADA], NOW, 60,
                                          a_cause())
    assert holders.fact(BO, 60, NOW).held_by is None


def test_a_key_whose_window_is_over_lets_the_next_one_through_and_claim_it() -> None:
    first, second = uuid.uuid4(), uuid.uuid4()
    holders = DedupKeyHolders.claim_first("apikey:a", "order-1", first, [ADA], NOW, 60,
                                          a_cause())
    decision = DuplicateWithinWindow().decide(REQUEST, facts_with(holders, at_offset=60), NOW)
    assert decision.suppress is None
    assert decision.inputs["first_notification_id"] is None
    holders.claim(second, [ADA, BO], NOW + timedelta(seconds=60), 60, a_cause())
    fact = holders.fact(ADA, 60, NOW + timedelta(seconds=61))
    assert fact.held_by == notification_id(second, ADA)
    assert fact.held_until == NOW + timedelta(seconds=120)


def test_a_trigger_claims_for_all_its_recipients_in_one_event() -> None:
    holders = DedupKeyHolders.claim_first("apikey:a", "order-1", uuid.uuid4(),
                                          [uuid.uuid4() for _ in range(1000)], NOW, 60,
                                          a_cause())
    holders.claim(uuid.uuid4(), [ADA, BO], NOW, 60, a_cause())
    holders.claim(uuid.uuid4(), [], NOW, 60, a_cause())  # no one claims: nothing recorded
    assert [type(e).__name__ for e in holders.collect_events()] == ["Claimed", "ClaimedAgain"]


@given(st.lists(st.tuples(st.integers(0, 600), st.lists(st.integers(0, 5), max_size=6),
                          st.integers(1, 300)), max_size=25))
def test_only_live_claims_are_kept_and_each_answers_as_its_window_says(
        claims: list[tuple[int, list[int], int]]) -> None:
    people = [uuid.uuid4() for _ in range(6)]
    holders = DedupKeyHolders.claim_first("apikey:a", "k", uuid.uuid4(), [], NOW, 1, a_cause())
    expected: dict[uuid.UUID, tuple[uuid.UUID, datetime]] = {}
    at = NOW
    for step, who, window in claims:
        at = at + timedelta(seconds=step)
        free = [people[i] for i in dict.fromkeys(who)
                if holders.fact(people[i], window, at).held_by is None]
        request = uuid.uuid4()
        holders.claim(request, free, at, window, a_cause())
        for person in free:
            expected[person] = (request, at + timedelta(seconds=window))
        if free:  # a claim drops the claims whose windows are over
            assert all(at < held[2] for held in holders.holders.values())
        for person in people:
            fact = holders.fact(person, window, at)
            if person in expected and at < expected[person][1]:
                assert fact.held_by == notification_id(expected[person][0], person)
            else:
                assert fact.held_by is None


def test_a_request_without_a_dedup_key_is_not_looked_at() -> None:
    decision = DuplicateWithinWindow().decide(REQUEST, facts_with(None), NOW)
    assert decision.suppress is None and dict(decision.inputs) == {}


def test_an_earlier_versions_per_recipient_key_still_answers_as_it_did() -> None:
    first = uuid.uuid4()
    key = DedupKey.claim("apikey:a", ADA, "order-1", first, NOW, 60, a_cause())
    assert key.id == dedup_key_id("apikey:a", ADA, "order-1")
    assert key.fact(60, NOW + timedelta(seconds=59)).held_by == first
    assert key.fact(60, NOW + timedelta(seconds=60)).held_by is None
