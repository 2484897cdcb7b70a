"""A notification's life, decided by the aggregate alone (no log, no provider): routing,
attempts, retries with backoff, fallback, dead letters, redrive, cancellation, timers."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.notifications.content import Content
from domain.notifications.decisions import RecipientFacts, RoutingRequest, decide
from domain.notifications.notifications import (
    ACCEPTED,
    CANCELLED,
    DEAD_LETTERED,
    DELIVERED,
    DISPATCHING,
    HELD,
    QUEUED,
    SUPPRESSED,
    WAITING,
    Answer,
    Notification,
    PlannedDelivery,
)
from domain.notifications.retries import RetryPolicy
from event_log.aggregate import Cause

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
CAUSE = Cause(uuid.uuid4(), uuid.uuid4())
POLICY = RetryPolicy(max_attempts=3, base_seconds=2.0, cap_seconds=60.0)
EVERYWHERE = RecipientFacts(frozenset({"fcm", "email", "in_app"}),
                            frozenset({"fcm", "email", "in_app"}))


def a_notification(channels: tuple[str, ...] = ("push",), *, send_at: datetime | None = None,
                   fallback_after: int | None = None,
                   facts: RecipientFacts = EVERYWHERE) -> Notification:
    notification = Notification.request(
        uuid.uuid4(), uuid.uuid4(), category="system", priority="high", channels=channels,
        fallback_after_seconds=fallback_after, content=Content("Title", "Body"),
        send_at=send_at, cancellation_key=None, caller="apikey:test", at=NOW, cause=CAUSE)
    request = RoutingRequest("system", "high", channels, send_at)
    notification.route(decide(request, facts, NOW), NOW, CAUSE)
    return notification


def dispatch(notification: Notification, at: datetime = NOW, points: int = 1) -> list[str]:
    kind = {"push": "fcm", "email": "email"}[str(notification.channel)]
    notification.dispatch([PlannedDelivery(f"cp-{n}", kind, "provider-a")
                           for n in range(points)], at, CAUSE)
    return [d["delivery_id"] for d in notification.pending_deliveries()]


def accepted(delivery: str) -> Answer:
    return Answer(uuid.UUID(delivery), "provider-a", True, 12, provider_message_id="m-1")


def failed(delivery: str, *, retryable: bool = True, gone: bool = False,
           retry_after: float | None = None) -> Answer:
    return Answer(uuid.UUID(delivery), "provider-a", False, 30, code="503",
                  retryable=retryable, address_gone=gone, retry_after_seconds=retry_after)


def answer_all(notification: Notification, answers: list[Answer],
               at: datetime = NOW) -> list[str]:
    return notification.record(answers, at, POLICY, 0.5, CAUSE)


def test_a_notification_with_a_reachable_channel_is_queued_for_it():
    notification = a_notification(("push",))
    assert notification.state == QUEUED
    assert notification.channel == "push"


def test_channels_that_cannot_reach_the_recipient_are_skipped_with_their_reason():
    facts = RecipientFacts(frozenset({"email", "in_app"}), frozenset({"fcm", "email", "in_app"}))
    notification = a_notification(("push", "sms", "email"), facts=facts)
    routed = next(e for e in notification.pending_events
                  if isinstance(e, Notification.Routed))
    assert routed.channels == ["email"]
    assert dict(map(tuple, routed.skipped)) == {
        "push": "reachability: the recipient has no address on it",
        "sms": "reachability: no provider is configured for it"}


def test_a_notification_no_channel_can_carry_is_suppressed():
    facts = RecipientFacts(frozenset({"in_app"}), frozenset({"in_app"}))
    assert a_notification(("push", "email"), facts=facts).state == SUPPRESSED


def test_the_inbox_alone_delivers_at_once():
    notification = a_notification(("in_app",))
    assert notification.state == DELIVERED
    assert notification.posted_at == NOW


def test_a_later_send_at_holds_it_until_then_and_not_a_moment_before():
    later = NOW + timedelta(minutes=5)
    notification = a_notification(("push", "in_app"), send_at=later)
    assert notification.state == HELD
    assert notification.posted_at is None  # not even in the inbox yet
    timer = notification.timer
    assert timer is not None
    assert not notification.release(timer.timer_id, later - timedelta(milliseconds=1), CAUSE)
    assert notification.state == HELD
    assert notification.release(timer.timer_id, later, CAUSE)
    assert notification.state == QUEUED
    assert notification.posted_at == later


def test_a_timer_is_released_once():
    notification = a_notification(send_at=NOW + timedelta(seconds=1))
    timer = notification.timer
    assert timer is not None
    assert notification.release(timer.timer_id, NOW + timedelta(seconds=2), CAUSE)
    assert not notification.release(timer.timer_id, NOW + timedelta(seconds=3), CAUSE)


def test_accepted_by_a_provider_the_channel_is_done():
    notification = a_notification()
    [delivery] = dispatch(notification)
    assert notification.state == DISPATCHING
    answer_all(notification, [accepted(delivery)])
    assert notification.state == ACCEPTED
    assert notification.timer is None


def test_a_retryable_failure_waits_with_jittered_backoff_honouring_retry_after():
    notification = a_notification()
    [delivery] = dispatch(notification)
    answer_all(notification, [failed(delivery, retry_after=7.0)])
    assert notification.state == WAITING
    timer = notification.timer
    assert timer is not None
    # jitter 0.5 of min(60, 2 * 2**0) = 1 s, but the provider asked for 7 s
    assert timer.due_at == NOW + timedelta(seconds=7)


def test_only_the_addresses_that_failed_retryably_are_tried_again():
    notification = a_notification()
    first, second, third = dispatch(notification, points=3)
    answer_all(notification, [failed(first), failed(second, retryable=False),
                              failed(third, retryable=False, gone=True)])
    assert notification.state == WAITING
    assert notification.wanted_contact_points() == ["cp-0"]


def test_a_provider_saying_the_address_is_gone_names_its_contact_point():
    notification = a_notification()
    [delivery] = dispatch(notification)
    assert answer_all(notification, [failed(delivery, retryable=False, gone=True)]) == ["cp-0"]


def test_a_permanent_failure_falls_back_to_the_next_channel_at_once():
    notification = a_notification(("push", "email"))
    [delivery] = dispatch(notification)
    answer_all(notification, [failed(delivery, retryable=False)])
    assert notification.state == QUEUED
    assert notification.channel == "email"


def test_after_the_last_attempt_of_the_last_channel_it_is_dead_lettered():
    notification = a_notification(("push",))
    for attempt in range(POLICY.max_attempts):
        [delivery] = dispatch(notification)
        answer_all(notification, [failed(delivery)])
        if attempt < POLICY.max_attempts - 1:
            timer = notification.timer
            assert timer is not None
            assert notification.release(timer.timer_id, timer.due_at, CAUSE)
    assert notification.state == DEAD_LETTERED


def test_a_dead_letter_is_redriven_once_from_its_first_channel():
    notification = a_notification(("push", "email"))
    [delivery] = dispatch(notification)
    answer_all(notification, [failed(delivery, retryable=False)])
    [delivery] = dispatch(notification)
    answer_all(notification, [failed(delivery, retryable=False)])
    assert notification.state == DEAD_LETTERED
    assert notification.redrive(NOW, CAUSE)
    assert not notification.redrive(NOW, CAUSE)
    assert notification.state == QUEUED
    assert notification.channel == "push"


def test_a_fallback_fires_only_if_nothing_was_delivered_or_read_in_time():
    unread = a_notification(("push", "email"), fallback_after=60)
    [delivery] = dispatch(unread)
    answer_all(unread, [accepted(delivery)])
    timer = unread.timer
    assert timer is not None and timer.kind == "fallback"
    assert unread.release(timer.timer_id, NOW + timedelta(seconds=60), CAUSE)
    assert unread.state == QUEUED and unread.channel == "email"

    read = a_notification(("push", "in_app", "email"), fallback_after=60)
    [delivery] = dispatch(read)
    answer_all(read, [accepted(delivery)])
    read.mark_read(read.recipient_id, NOW + timedelta(seconds=5), CAUSE)
    assert read.timer is None  # reading it stopped the fallback
    assert read.state == ACCEPTED


def test_answers_to_deliveries_not_outstanding_are_ignored():
    notification = a_notification()
    [delivery] = dispatch(notification)
    answer_all(notification, [accepted(delivery)])
    events_before = len(notification.pending_events)
    answer_all(notification, [failed(delivery)])
    assert len(notification.pending_events) == events_before
    assert notification.state == ACCEPTED


def test_only_what_is_not_out_with_a_provider_can_be_cancelled():
    queued = a_notification()
    assert queued.cancel("by key", NOW, CAUSE)
    assert queued.state == CANCELLED
    out = a_notification()
    dispatch(out)
    assert not out.cancel("by key", NOW, CAUSE)
    assert out.state == DISPATCHING


def test_a_stale_dispatch_offers_the_same_deliveries_again():
    notification = a_notification()
    [delivery] = dispatch(notification)
    assert not notification.is_stale_dispatch(NOW + timedelta(seconds=59), 60)
    assert notification.is_stale_dispatch(NOW + timedelta(seconds=60), 60)
    assert [d["delivery_id"] for d in notification.pending_deliveries()] == [delivery]


def test_retry_delay_is_full_jitter_under_the_cap():
    policy = RetryPolicy(max_attempts=10, base_seconds=1.0, cap_seconds=30.0)
    assert policy.delay(1, 0.0) == 0.0
    assert policy.delay(3, 0.5) == 2.0
    assert policy.delay(9, 0.999) < 30.0
    with pytest.raises(ValueError):
        policy.delay(1, 1.0)


# retryable failures are the common case worth exploring: they are what repeats attempts
outcomes = st.lists(st.sampled_from(["retryable"] * 6 + ["accepted", "delivered", "permanent",
                                                        "gone"]), min_size=1, max_size=3)


@settings(max_examples=150, deadline=None)
@given(rounds=st.lists(outcomes, min_size=1, max_size=12),
       channels=st.sampled_from([("push",), ("push", "email"), ("email", "push")]))
def test_attempts_never_exceed_the_bound_and_a_delivered_one_is_never_tried_again(
        rounds: list[list[str]], channels: tuple[str, ...]) -> None:
    notification = a_notification(channels)
    moment = NOW
    for answers in rounds:
        if notification.state == WAITING:
            timer = notification.timer
            assert timer is not None
            moment = max(moment, timer.due_at)
            notification.release(timer.timer_id, moment, CAUSE)
        if notification.state != QUEUED:
            break
        deliveries = dispatch(notification, moment, points=len(answers))
        made = []
        for delivery, outcome in zip(deliveries, answers, strict=True):
            if outcome in ("accepted", "delivered"):
                made.append(Answer(uuid.UUID(delivery), "provider-a", True, 5,
                                   provider_message_id="m", delivered=outcome == "delivered"))
            else:
                made.append(failed(delivery, retryable=outcome == "retryable",
                                   gone=outcome == "gone"))
        answer_all(notification, made, moment)
    dispatched = [e for e in notification.pending_events
                  if isinstance(e, Notification.Dispatched)]
    per_channel: dict[str, int] = {}
    for event in dispatched:
        per_channel[event.channel] = per_channel.get(event.channel, 0) + 1
    assert all(count <= POLICY.max_attempts for count in per_channel.values())
    delivered_at = next((i for i, e in enumerate(notification.pending_events)
                         if isinstance(e, Notification.Delivered)), None)
    if delivered_at is not None:
        later = notification.pending_events[delivered_at + 1:]
        assert not any(isinstance(e, Notification.Dispatched | Notification.Retried)
                       for e in later)


@settings(max_examples=60, deadline=None)
@given(redrives=st.integers(min_value=1, max_value=5))
def test_a_dead_letter_is_redriven_at_most_once_per_dead_lettering(redrives: int) -> None:
    notification = a_notification(("push",))
    for _ in range(POLICY.max_attempts):
        [delivery] = dispatch(notification)
        answer_all(notification, [failed(delivery, retryable=False)])
        break
    assert notification.state == DEAD_LETTERED
    results = [notification.redrive(NOW, CAUSE) for _ in range(redrives)]
    assert results.count(True) == 1
