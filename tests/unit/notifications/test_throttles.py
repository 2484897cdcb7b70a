"""Throttles decided without I/O: the token-bucket math, which buckets an attempt takes from,
and what a refused notification records (Throttled, then held or suppressed)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from commands.notifications.throttles import DispatchThrottle, ThrottleAsk
from domain.notifications.content import Content
from domain.notifications.decisions import RecipientFacts, RoutingRequest, decide
from domain.notifications.notifications import (
    HELD,
    QUEUED,
    SUPPRESSED,
    Notification,
    PlannedDelivery,
)
from domain.notifications.throttles import (
    HOLD,
    RECIPIENT,
    SUPPRESS,
    THROTTLED,
    Ask,
    BucketRule,
    BucketState,
    ThrottlePolicy,
    ThrottleVerdict,
    take_all,
)
from event_log.aggregate import Cause

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
T0 = NOW.timestamp()
CAUSE = Cause(uuid.uuid4(), uuid.uuid4())
ADA = str(uuid.uuid4())
POLICY = ThrottlePolicy(recipient=BucketRule.per_period(3, 60),
                        recipient_bulk=BucketRule.per_period(2, 86400),
                        channels={"sms": BucketRule.per_second(5)},
                        providers={"twilio-main": BucketRule.per_second(2, burst=4)})


def one(key: str, rule: BucketRule, tokens: int = 1, policy: str = HOLD) -> list[Ask]:
    return [Ask(key, key, rule, tokens, policy)]


# the math ------------------------------------------------------------------------------

steps = st.lists(st.one_of(
    st.tuples(st.just("take"), st.integers(min_value=1, max_value=4)),
    st.tuples(st.just("clock"), st.floats(min_value=-5, max_value=20, allow_nan=False))),
    min_size=1, max_size=60)


@settings(max_examples=300, deadline=None)
@given(steps=steps, capacity=st.integers(min_value=1, max_value=10),
       rate=st.floats(min_value=0.01, max_value=50))
def test_a_bucket_never_grants_more_than_its_capacity_plus_its_rate_over_the_time_elapsed(
        steps: list[tuple[str, float]], capacity: int, rate: float) -> None:
    rule = BucketRule(float(capacity), rate)
    states: dict[str, BucketState] = {}
    now = T0
    first: float | None = None  # the bucket is full when first taken from
    latest = float("-inf")
    granted = 0.0
    for kind, value in steps:
        if kind == "clock":  # clocks of several dispatchers: forward and back
            now += value
            continue
        first = now if first is None else first
        latest = max(latest, now)
        [shortfall] = take_all(states, [one("b", rule, int(value))], now)
        if shortfall is None:
            granted += min(value, capacity)
        else:
            assert shortfall.wait_seconds > 0
        assert granted <= capacity + rate * (latest - first) + 1e-9


def test_a_full_bucket_grants_its_burst_then_says_when_the_next_token_comes() -> None:
    rule, states = BucketRule(2, 0.5), {}
    assert take_all(states, [one("b", rule), one("b", rule)], T0) == [None, None]
    [shortfall] = take_all(states, [one("b", rule)], T0)
    assert shortfall is not None and shortfall.tokens == 0
    assert shortfall.wait_seconds == pytest.approx(2.0)
    assert take_all(states, [one("b", rule)], T0 + 2.0) == [None]


def test_a_group_takes_all_its_tokens_or_none() -> None:
    roomy, tight = BucketRule(5, 1), BucketRule(1, 1)
    states: dict[str, BucketState] = {}
    take_all(states, [one("tight", tight)], T0)
    group = [Ask("roomy", "roomy", roomy), Ask("tight", "tight", tight)]
    [shortfall] = take_all(states, [group], T0)
    assert shortfall is not None and shortfall.ask == 1
    assert "roomy" not in states  # untouched: still full


def test_refused_ones_of_one_call_wait_for_successive_tokens_not_all_for_the_first() -> None:
    rule, states = BucketRule(1, 2.0), {}
    answers = take_all(states, [one("b", rule) for _ in range(4)], T0)
    assert answers[0] is None
    assert [a.wait_seconds for a in answers[1:] if a is not None] == pytest.approx([0.5, 1.0,
                                                                                   1.5])


def test_a_suppressing_bucket_answers_before_a_holding_one() -> None:
    states: dict[str, BucketState] = {}
    cap, budget = BucketRule(1, 1e-3), BucketRule(1, 1.0)
    take_all(states, [[Ask("cap", "cap", cap, policy=SUPPRESS), Ask("b", "b", budget)]], T0)
    [shortfall] = take_all(states, [[Ask("cap", "cap", cap, policy=SUPPRESS),
                                     Ask("b", "b", budget)]], T0)
    assert shortfall is not None and shortfall.ask == 0


def test_a_bucket_needs_a_capacity_of_one_and_a_positive_rate() -> None:
    for capacity, rate in ((0.5, 1.0), (1.0, 0.0), (1.0, float("inf"))):
        with pytest.raises(ValueError):
            BucketRule(capacity, rate)


# the policy ----------------------------------------------------------------------------

def buckets(asks: tuple[Ask, ...]) -> list[str]:
    return [a.bucket for a in asks]


def test_a_first_attempt_takes_the_recipients_budget_and_each_delivery_a_provider_token() -> None:
    asks = POLICY.asks(ADA, "system", "normal", "sms", first_attempt=True,
                       deliveries={"twilio-main": 2})
    assert buckets(asks) == [RECIPIENT, "channel:sms", "provider:twilio-main"]
    assert [a.tokens for a in asks] == [1, 2, 2]
    assert asks[0].key == f"recipient:{ADA}"


def test_a_retry_or_fallback_is_the_same_notification_to_the_recipients_budget() -> None:
    asks = POLICY.asks(ADA, "system", "normal", "sms", first_attempt=False,
                       deliveries={"twilio-main": 1})
    assert buckets(asks) == ["channel:sms", "provider:twilio-main"]


def test_a_critical_category_bypasses_the_recipients_budget_but_not_the_providers_quota() -> None:
    asks = POLICY.asks(ADA, "security", "bulk", "sms", first_attempt=True,
                       deliveries={"twilio-main": 1})
    assert buckets(asks) == ["channel:sms", "provider:twilio-main"]
    assert all(a.urgent for a in asks)  # held, it waits only for the next token
    assert not any(a.urgent for a in POLICY.asks(ADA, "system", "high", "sms", True,
                                                 {"twilio-main": 1}))


def test_bulk_takes_from_the_daily_cap_which_suppresses() -> None:
    asks = POLICY.asks(ADA, "marketing", "bulk", "push", first_attempt=True,
                       deliveries={"fcm-main": 1})
    assert [(a.bucket, a.policy) for a in asks] == [("recipient_bulk", SUPPRESS),
                                                    (RECIPIENT, HOLD)]


def test_the_recipients_budget_is_one_across_all_channels() -> None:
    push = POLICY.asks(ADA, "message", "high", "push", True, {"fcm-main": 3})
    email = POLICY.asks(ADA, "system", "normal", "email", True, {"smtp-main": 1})
    assert push[0].key == email[0].key and push[0].tokens == email[0].tokens == 1


def test_with_nothing_configured_nothing_is_asked() -> None:
    assert not ThrottlePolicy().enabled
    assert ThrottlePolicy().asks(ADA, "system", "normal", "sms", True, {"twilio-main": 1}) == ()


class Buckets:
    def __init__(self) -> None:
        self.states: dict[str, BucketState] = {}
        self.orders: list[list[str]] = []

    def take(self, groups: list[list[Ask]], now: float) -> list[object]:
        self.orders.append([g[0].key for g in groups])
        return list(take_all(self.states, groups, now))


def test_of_one_priority_those_back_for_their_promised_token_take_first() -> None:
    rule, taken = BucketRule(2, 0.1), Buckets()
    newcomer, returning, high = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    throttling = DispatchThrottle(ThrottlePolicy(channels={"sms": rule}), taken).decide(
        [ThrottleAsk(newcomer, "normal", (Ask("channel:sms", "sms", rule),)),
         ThrottleAsk(returning, "normal", (Ask("channel:sms", "sms", rule, redeeming=True),)),
         ThrottleAsk(high, "high", (Ask("channel:sms", "sms", rule),))], NOW)
    assert throttling.verdicts[high] is None and throttling.verdicts[returning] is None
    assert throttling.verdicts[newcomer] is not None  # two tokens: high's and the returning


def test_the_dispatcher_takes_tokens_most_urgent_first_and_dates_the_refusal() -> None:
    rule = BucketRule(1, 0.1)
    taken = Buckets()
    bulk, critical = uuid.uuid4(), uuid.uuid4()
    asking = [ThrottleAsk(bulk, "bulk", (Ask("channel:sms", "bulk", rule),)),
              ThrottleAsk(critical, "critical", (Ask("channel:sms", "critical", rule),))]
    throttling = DispatchThrottle(ThrottlePolicy(channels={"sms": rule}), taken).decide(
        [*asking, ThrottleAsk(uuid.uuid4(), "bulk", (Ask("channel:sms", "bulk", rule),))], NOW)
    assert taken.orders == [["critical", "bulk", "bulk"]]
    assert throttling.verdicts[critical] is None and throttling.verdicts[bulk] is None
    refused = [v for v in throttling.verdicts.values() if v is not None]
    assert refused == [ThrottleVerdict("channel:sms", 0.0, 1, 0.1,
                                       NOW + timedelta(seconds=10, milliseconds=1), HOLD)]


# the notification ----------------------------------------------------------------------

def a_queued_notification() -> Notification:
    notification = Notification.request(
        uuid.uuid4(), uuid.uuid4(), category="system", priority="normal", channels=("push",),
        fallback_after_seconds=None, content=Content("Title", "Body"), send_at=None,
        cancellation_key=None, caller="apikey:test", at=NOW, cause=CAUSE)
    facts = RecipientFacts(frozenset({"fcm"}), frozenset({"fcm"}))
    notification.route(decide(RoutingRequest("system", "normal", ("push",), None), facts, NOW),
                       NOW, CAUSE)
    assert notification.state == QUEUED
    return notification


def test_a_throttled_notification_records_the_bucket_and_is_held_until_it_has_a_token() -> None:
    notification = a_queued_notification()
    until = NOW + timedelta(seconds=20)
    notification.throttle(ThrottleVerdict(RECIPIENT, 0.25, 3, 0.05, until, HOLD), NOW, CAUSE)
    throttled, held = notification.pending_events[-2:]
    assert isinstance(throttled, Notification.Throttled)
    assert (throttled.bucket, throttled.tokens, throttled.capacity, throttled.refill_per_second,
            throttled.until, throttled.policy) == (RECIPIENT, 0.25, 3, 0.05, until, HOLD)
    assert isinstance(held, Notification.Held) and held.reason == THROTTLED
    assert notification.state == HELD
    assert not notification.release(held.timer_id, until - timedelta(milliseconds=1), CAUSE)
    assert notification.release(held.timer_id, until, CAUSE)
    assert notification.state == QUEUED and notification.attempts_made == 0
    assert notification.redeeming_throttle  # back for the token it was held for
    notification.dispatch([PlannedDelivery("cp-1", "fcm", "fcm-main")], until, CAUSE)
    assert not notification.redeeming_throttle


def test_a_notification_never_throttled_redeems_nothing() -> None:
    assert not a_queued_notification().redeeming_throttle


def test_a_suppressing_bucket_suppresses_it_with_the_bucket_as_the_reason() -> None:
    notification = a_queued_notification()
    notification.throttle(ThrottleVerdict("recipient_bulk", 0.0, 2, 2 / 86400,
                                          NOW + timedelta(hours=12), SUPPRESS), NOW, CAUSE)
    suppressed = notification.pending_events[-1]
    assert isinstance(suppressed, Notification.Suppressed)
    assert suppressed.reason == "throttle: recipient_bulk over its limit"
    assert notification.state == SUPPRESSED


def test_in_process_buckets_forget_the_full_ones_so_many_recipients_do_not_grow_memory() -> None:
    from adapters.notifications.memory_buckets import MemoryThrottleBuckets

    buckets = MemoryThrottleBuckets(sweep_above=100)
    fast, slow = BucketRule(1, 1e6), BucketRule(1, 1e-6)
    for n in range(50):  # still refilling: kept
        buckets.take([one(f"recipient:slow-{n}", slow)], T0)
    for n in range(5_000):  # full again a microsecond later: forgotten
        buckets.take([one(f"recipient:{n}", fast)], T0 + n)
    assert len(buckets) <= 101
    assert all(buckets.take([one(f"recipient:slow-{n}", slow)], T0 + 5_000) != [None]
               for n in range(50))
