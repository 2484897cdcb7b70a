"""Digests decided by the aggregates alone: a digest collects members until it is flushed,
flushes once and only when due, counts every member and shows the first lines."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from domain.notifications.collapsing import DigestTarget
from domain.notifications.content import Content
from domain.notifications.decisions import RecipientFacts, RoutingRequest
from domain.notifications.digests import (
    SHOWN_LINES,
    CollapseIntoDigest,
    Digest,
    DigestAsk,
    DigestClosed,
    DigestSlot,
    digest_id,
    digest_slot_id,
    first_line,
)
from tests.builders import a_cause

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
ADA = uuid.uuid4()
ASK = DigestAsk("book-club", 600, "{count} new messages in Book club")


def a_digest(ask: DigestAsk = ASK) -> Digest:
    slot = DigestSlot.open("apikey:a", ADA, "message", ask.key, a_cause())
    return Digest.open(slot, ask.window_seconds, ask.title or "", NOW, None,
                       "parley://conversations/1", a_cause())


def collect(digest: Digest, n: int, priority: str = "normal") -> None:
    for index in range(n):
        digest.collect(uuid.uuid4(), priority, ("push", "email"),
                       Content("Grace", f"message {index}\nsecond line"), NOW, a_cause())


def test_slots_and_digests_are_the_callers_own_per_recipient_category_and_key() -> None:
    one = digest_slot_id("apikey:a", ADA, "message", "book-club")
    assert one != digest_slot_id("apikey:b", ADA, "message", "book-club")
    assert one != digest_slot_id("apikey:a", ADA, "mention", "book-club")
    assert one != digest_slot_id("apikey:a", ADA, "message", "chess")
    assert digest_id(one, 1) != digest_id(one, 2)


def test_a_digest_flushes_once_and_only_when_due() -> None:
    digest = a_digest()
    collect(digest, 2)
    assert not digest.flush(uuid.uuid4(), NOW + timedelta(seconds=599), a_cause())
    assert digest.flush(uuid.uuid4(), NOW + timedelta(seconds=600), a_cause())
    assert not digest.flush(uuid.uuid4(), NOW + timedelta(seconds=700), a_cause())
    assert [type(e).__name__ for e in digest.collect_events()].count("Flushed") == 1


def test_a_flushed_digest_takes_no_more_members() -> None:
    digest = a_digest()
    collect(digest, 1)
    digest.flush(uuid.uuid4(), NOW + timedelta(seconds=600), a_cause())
    with pytest.raises(DigestClosed):
        collect(digest, 1)


def test_the_content_counts_every_member_and_shows_the_first_lines() -> None:
    digest = a_digest()
    collect(digest, 7)
    content = digest.content()
    assert content.title == "7 new messages in Book club"
    lines = content.body.splitlines()
    assert lines[:SHOWN_LINES] == [f"Grace: message {i}" for i in range(SHOWN_LINES)]
    assert lines[-1] == "and 2 more"
    assert content.data == {"digest_id": str(digest.id), "count": 7}
    assert content.deep_link == "parley://conversations/1"


def test_the_digest_goes_as_urgently_as_its_most_urgent_member_on_all_their_channels() -> None:
    digest = a_digest()
    collect(digest, 1, "bulk")
    digest.collect(uuid.uuid4(), "high", ("in_app",), Content("", "x"), NOW, a_cause())
    assert digest.priority == "high"
    assert digest.channels == ["push", "email", "in_app"]


def test_a_first_line_is_the_title_and_the_bodys_first_line_shortened() -> None:
    assert first_line(Content("Grace", "\n  hello   there \nmore")) == "Grace: hello there"
    assert len(first_line(Content("", "x" * 500))) == 101


def test_the_step_digests_into_its_target_and_records_it() -> None:
    target = DigestTarget(uuid.uuid4(), "book-club", 600, True, NOW + timedelta(seconds=600))
    facts = RecipientFacts(frozenset({"in_app"}), frozenset({"in_app"}), digest=target)
    decision = CollapseIntoDigest().decide(RoutingRequest("message", "normal", ("push",), None),
                                           facts, NOW)
    assert decision.digest_into == target.digest_id
    assert decision.inputs["digest_id"] == str(target.digest_id)
