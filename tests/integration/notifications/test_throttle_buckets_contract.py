"""One contract for the throttles' token buckets (commands.notifications.throttles
.ThrottleBuckets): in process (embedded) and Redis (production, the real one of
deploy/services.sh). Both must answer exactly as the pure math does, and never over-grant
under threads."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.notifications.memory_buckets import MemoryThrottleBuckets
from adapters.notifications.redis_buckets import RedisThrottleBuckets
from commands.notifications.throttles import ThrottleBuckets
from domain.notifications.throttles import (
    HOLD,
    SUPPRESS,
    Ask,
    BucketRule,
    BucketState,
    Shortfall,
    take_all,
)

T0 = 1_796_000_000.0  # epoch seconds


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.services)])
def buckets(request: pytest.FixtureRequest, namespace: str) -> Iterator[ThrottleBuckets]:
    if request.param == "memory":
        yield MemoryThrottleBuckets()
        return
    services = request.getfixturevalue("services")
    shared = RedisThrottleBuckets(services["PARLEY_REDIS_URL"], namespace)
    yield shared
    shared.close()


def ask(key: str, rule: BucketRule, tokens: int = 1, policy: str = HOLD,
        urgent: bool = False, redeeming: bool = False) -> Ask:
    return Ask(key.split(":")[0], key, rule, tokens, policy, urgent, redeeming)


def test_a_full_bucket_grants_its_burst_and_then_says_how_long_to_wait(
        buckets: ThrottleBuckets) -> None:
    rule = BucketRule(2, 4.0)
    answers = buckets.take([[ask("recipient:ada", rule)] for _ in range(3)], T0)
    assert answers[:2] == [None, None]
    assert answers[2] == Shortfall(0, 0.0, 0.25)
    assert buckets.take([[ask("recipient:bob", rule)]], T0) == [None]  # another key
    assert buckets.take([[ask("recipient:ada", rule)]], T0 + 0.25) == [None]


def test_a_group_takes_every_token_it_needs_or_none(buckets: ThrottleBuckets) -> None:
    budget, quota = BucketRule(3, 1.0), BucketRule(1, 1.0)
    assert buckets.take([[ask("provider:sms", quota)]], T0) == [None]
    [refused] = buckets.take([[ask("recipient:ada", budget), ask("provider:sms", quota)]], T0)
    assert refused is not None and refused.ask == 1
    # the budget gave nothing to the refused group: three left
    assert buckets.take([[ask("recipient:ada", budget)] for _ in range(4)], T0)[:3] == [None] * 3


def test_refusals_of_one_call_are_promised_successive_tokens(buckets: ThrottleBuckets) -> None:
    rule = BucketRule(1, 10.0)
    answers = buckets.take([[ask("channel:sms", rule)] for _ in range(4)], T0)
    assert answers[0] is None
    assert [a.wait_seconds for a in answers[1:] if a] == pytest.approx([0.1, 0.2, 0.3])


def test_tokens_promised_to_held_ones_stay_promised_to_later_calls(
        buckets: ThrottleBuckets) -> None:
    rule = BucketRule(1, 10.0)
    [_, held] = buckets.take([[ask("channel:sms", rule)]] * 2, T0)
    assert held is not None and held.wait_seconds == pytest.approx(0.1)
    # another dispatcher's batch, a moment later: after the token promised to the held one
    [later] = buckets.take([[ask("channel:sms", rule)]], T0 + 0.05)
    assert later is not None and later.wait_seconds == pytest.approx(0.15)


def test_an_urgent_ask_waits_only_for_the_next_token_and_pushes_no_one_later(
        buckets: ThrottleBuckets) -> None:
    rule = BucketRule(1, 10.0)
    buckets.take([[ask("channel:sms", rule)]] * 3, T0)  # one taken, two promised 0.1 and 0.2
    [critical] = buckets.take([[ask("channel:sms", rule, urgent=True)]], T0)
    assert critical is not None and critical.wait_seconds == pytest.approx(0.1)
    [next_held] = buckets.take([[ask("channel:sms", rule)]], T0)
    assert next_held is not None and next_held.wait_seconds == pytest.approx(0.3)


def test_while_tokens_are_promised_a_newcomer_waits_behind_and_the_held_one_takes_its_own(
        buckets: ThrottleBuckets) -> None:
    rule = BucketRule(2, 1.0)
    answers = buckets.take([[ask("recipient:ada", rule)] for _ in range(4)], T0)
    assert answers[:2] == [None, None] and answers[3] is not None
    assert answers[3].wait_seconds == pytest.approx(2.0)  # promised the second token to come
    # at T0 + 1 the first promised token is there: a newcomer may not take it...
    [newcomer] = buckets.take([[ask("recipient:ada", rule)]], T0 + 1)
    assert newcomer is not None and newcomer.wait_seconds == pytest.approx(2.0)
    # ...the one it was promised to, back for it, does
    assert buckets.take([[ask("recipient:ada", rule, redeeming=True)]], T0 + 1) == [None]


def test_a_suppressing_bucket_is_the_answer_when_it_is_short(buckets: ThrottleBuckets) -> None:
    cap, budget = BucketRule(1, 1e-4), BucketRule(1, 1.0)
    group = [ask("recipient_bulk:ada", cap, policy=SUPPRESS), ask("recipient:ada", budget)]
    assert buckets.take([group], T0) == [None]
    [refused] = buckets.take([group], T0)
    assert refused is not None and refused.ask == 0


def test_a_clock_that_goes_back_refills_nothing(buckets: ThrottleBuckets) -> None:
    rule = BucketRule(1, 1.0)
    assert buckets.take([[ask("channel:push", rule)]], T0 + 10) == [None]
    [refused] = buckets.take([[ask("channel:push", rule)]], T0)
    assert refused is not None and refused.wait_seconds == pytest.approx(1.0)


groups = st.lists(st.lists(st.tuples(st.sampled_from(["a", "b", "c"]),
                                     st.integers(min_value=1, max_value=3),
                                     st.booleans(), st.booleans(), st.booleans()),
                           min_size=1, max_size=3,
                           unique_by=lambda t: t[0]), min_size=1, max_size=6)
RULES = {"a": BucketRule(2, 0.5), "b": BucketRule(3, 2.0), "c": BucketRule(1, 0.125)}


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(calls=st.lists(st.tuples(groups, st.floats(min_value=-1, max_value=5,
                                                  allow_nan=False)), min_size=1, max_size=6))
def test_every_implementation_answers_exactly_as_the_math(
        buckets: ThrottleBuckets,
        calls: list[tuple[list[list[tuple[str, int, bool, bool, bool]]], float]]) -> None:
    prefix = uuid.uuid4().hex  # one example's buckets are its own
    states: dict[str, BucketState] = {}
    now = T0
    for call, step in calls:
        now += step
        asked = [[Ask(name, f"{prefix}:{name}", RULES[name], tokens,
                      SUPPRESS if suppress else HOLD, urgent, redeeming)
                  for name, tokens, suppress, urgent, redeeming in group]
                 for group in call]
        assert buckets.take(asked, now) == take_all(states, asked, now)


def test_threads_taking_at_once_never_get_more_than_the_burst(
        buckets: ThrottleBuckets) -> None:
    rule = BucketRule(25, 1e-6)  # no refill to speak of within the test
    granted: list[int] = []
    start = threading.Barrier(8)

    def take() -> None:
        start.wait()
        mine = 0
        for _ in range(20):
            answers = buckets.take([[ask("recipient:everyone", rule)]] * 2, time.time())
            mine += sum(a is None for a in answers)
        granted.append(mine)

    threads = [threading.Thread(target=take) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(granted) == 8 and sum(granted) == 25


@pytest.mark.services
def test_a_redis_bucket_expires_once_it_would_be_full_again(services: dict[str, str],
                                                            namespace: str) -> None:
    import redis

    shared = RedisThrottleBuckets(services["PARLEY_REDIS_URL"], namespace)
    try:
        shared.take([[ask("recipient:ada", BucketRule(10, 2.0))]], time.time())
        client = redis.Redis.from_url(services["PARLEY_REDIS_URL"])
        ttl = client.ttl(f"{namespace}:throttle:recipient:ada")
        # a bucket refilling over years is kept for at most about 31 years
        shared.take([[ask("recipient_bulk:ada", BucketRule(1, 1e-12))]], time.time())
        slow = client.ttl(f"{namespace}:throttle:recipient_bulk:ada")
        client.close()
        assert 0 < ttl <= 6  # ceil(10 / 2) + 1
        assert 0 < slow <= 1_000_000_000
    finally:
        shared.close()
