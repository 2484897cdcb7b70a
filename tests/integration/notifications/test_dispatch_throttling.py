"""A dispatcher's batch under throttles, on a real event log and writer: tokens are taken most
urgent first, what a bucket refuses is recorded as Throttled and held, the verdicts in the
command decide the same on a repeat, and with the buckets away what needs no token is sent
all the same while the rest waits, queued, for the sweep."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr

from adapters.notifications.kafka_queue import ensure_dispatch_topics
from adapters.notifications.memory_buckets import MemoryThrottleBuckets
from adapters.notifications.memory_queue import PriorityQueues
from adapters.notifications.redis_buckets import RedisThrottleBuckets
from commands.notifications.circuits import CircuitBoard
from commands.notifications.contact_points import AddWebhookEndpoint, ContactPointRules
from commands.notifications.dispatch import DispatchesStarted, ReleaseDue, StartDispatches
from commands.notifications.dispatcher import DISPATCHER_ACTOR, Dispatcher, DispatchJob
from commands.notifications.providers import Delivery, ProviderAnswer
from commands.notifications.throttles import DispatchThrottle, Throttling
from commands.notifications.trigger import TriggerNotifications
from domain.notifications.circuits import BreakerPolicy
from domain.notifications.content import Content
from domain.notifications.endpoints import new_signing_secret
from domain.notifications.notifications import HELD, QUEUED, Notification
from domain.notifications.throttles import (
    RECIPIENT,
    THROTTLED,
    Ask,
    BucketRule,
    Shortfall,
    ThrottlePolicy,
)
from event_log.aggregate import Cause
from event_log.log import EventLog
from event_log.writer import GroupCommitWriter
from parley.production import dispatching_engine
from parley.settings import Settings
from parley.signing_keys import generate_key
from tests.builders import a_cause, a_user
from tests.providers.servers import LocalServer
from tests.providers.webhook_receiver import WebhookReceiver

ONE_AN_HOUR = ThrottlePolicy(recipient=BucketRule.per_period(1, 3600))


class Hooks:
    """A webhook provider that takes every delivery, recording which notifications."""

    name, channel, kinds = "hooks", "webhook", frozenset({"webhook"})

    def __init__(self) -> None:
        self.sent: list[uuid.UUID] = []

    async def send(self, delivery: Delivery) -> ProviderAnswer:
        self.sent.append(delivery.notification_id)
        return ProviderAnswer.accepted_as(f"m-{len(self.sent)}")

    async def aclose(self) -> None:
        return None


class BucketsAway:
    def take(self, groups: Sequence[Sequence[Ask]], now: float) -> list[Shortfall | None]:
        raise ConnectionError("the buckets' Redis is away")


@pytest.fixture
def hooks() -> Hooks:
    return Hooks()


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.services)])
def buckets(request: pytest.FixtureRequest, namespace: str) -> Iterator[object]:
    if request.param == "memory":
        yield MemoryThrottleBuckets()
        return
    shared = RedisThrottleBuckets(request.getfixturevalue("services")["PARLEY_REDIS_URL"],
                                  namespace)
    yield shared
    shared.close()


@pytest.fixture
def dispatcher_for(writer: GroupCommitWriter,
                   hooks: Hooks) -> Iterator[object]:
    started: list[Dispatcher] = []

    def make(throttle: DispatchThrottle,
             clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> Dispatcher:
        board = CircuitBoard(BreakerPolicy(), {hooks.name: hooks.channel})
        dispatcher = Dispatcher(PriorityQueues(), [hooks], writer.execute, board,
                                clock=clock, throttle=throttle)
        dispatcher.start()
        started.append(dispatcher)
        return dispatcher

    yield make
    for dispatcher in started:
        dispatcher.stop()


def someone_reachable(writer: GroupCommitWriter, url: str = "https://hooks.example.com/in",
                      secret: str | None = None) -> uuid.UUID:
    user = a_user(writer)
    writer.execute(AddWebhookEndpoint(user, uuid.uuid4(), url, secret or new_signing_secret(),
                                      datetime.now(UTC),
                                      ContactPointRules(20, allow_loopback_http=True)),
                   a_cause())
    return user


def trigger(writer: GroupCommitWriter, user: uuid.UUID, priority: str,
            category: str = "system") -> uuid.UUID:
    outcome = writer.execute(TriggerNotifications(
        uuid.uuid4(), "apikey:test", (user,), category, priority, ("webhook",),
        Content("Build finished", "All green."), datetime.now(UTC),
        provided_kinds=frozenset({"webhook", "in_app"})), a_cause())
    [notification] = outcome.result.notifications
    return notification.notification_id


def notification(event_log: EventLog, nid: uuid.UUID) -> Notification:
    found = event_log.repository.get(nid)
    assert isinstance(found, Notification)
    return found


def throttled(event_log: EventLog, nid: uuid.UUID) -> list[Notification.Throttled]:
    return [e for e in event_log.repository.event_store.get(nid)
            if isinstance(e, Notification.Throttled)]


def test_over_budget_the_most_urgent_of_a_batch_is_sent_and_the_rest_throttled_in_turn(
        writer, event_log, hooks, dispatcher_for, buckets) -> None:
    user = someone_reachable(writer)
    bulk, normal, high = (trigger(writer, user, p) for p in ("bulk", "normal", "high"))
    dispatcher = dispatcher_for(DispatchThrottle(ONE_AN_HOUR, buckets))

    dispatcher.dispatch([DispatchJob(bulk, "bulk"), DispatchJob(normal, "normal"),
                         DispatchJob(high, "high")])

    assert hooks.sent == [high]
    [for_normal], [for_bulk] = throttled(event_log, normal), throttled(event_log, bulk)
    assert (for_normal.bucket, for_normal.capacity, for_normal.tokens) == (RECIPIENT, 1, 0)
    assert for_bulk.until > for_normal.until  # the next token is normal's, the one after bulk's
    for nid, event in ((normal, for_normal), (bulk, for_bulk)):
        held = notification(event_log, nid)
        assert held.state == HELD and held.timer is not None
        assert held.timer.due_at == event.until


def test_the_verdicts_in_the_command_decide_the_same_when_it_is_repeated(
        writer, event_log) -> None:
    user = someone_reachable(writer)
    nid = trigger(writer, user, "normal")
    cause = Cause(DISPATCHER_ACTOR, uuid.uuid4())
    asked = writer.execute(StartDispatches((nid,), datetime.now(UTC), {"webhook": ("hooks",)},
                                           throttling=Throttling(ONE_AN_HOUR)), cause).result
    assert isinstance(asked, DispatchesStarted) and asked.to_send == ()
    [ask] = asked.asking
    assert notification(event_log, nid).state == QUEUED  # nothing recorded for it yet
    decided = DispatchThrottle(ONE_AN_HOUR, MemoryThrottleBuckets()).decide(
        [ask], datetime.now(UTC))
    command = StartDispatches((nid,), datetime.now(UTC), {"webhook": ("hooks",)},
                              throttling=decided)
    first = writer.execute(command, cause).result
    again = writer.execute(command, cause).result
    assert len(first.to_send) == 1 and again.to_send == () and again.asking == ()
    assert throttled(event_log, nid) == []


def test_with_the_buckets_away_what_needs_no_token_is_sent_and_the_rest_stays_queued(
        writer, event_log, hooks, dispatcher_for) -> None:
    user = someone_reachable(writer)
    alert = trigger(writer, user, "high", category="security")
    news = trigger(writer, user, "normal")
    dispatcher = dispatcher_for(DispatchThrottle(ONE_AN_HOUR, BucketsAway()))

    dispatcher.dispatch([DispatchJob(alert, "high"), DispatchJob(news, "normal")])

    assert hooks.sent == [alert]
    left = notification(event_log, news)
    assert left.state == QUEUED and left.attempts_made == 0
    assert throttled(event_log, news) == []
    assert THROTTLED not in [getattr(e, "reason", None)
                             for e in event_log.repository.event_store.get(news)]


def test_a_half_open_providers_probes_are_left_for_the_second_command_when_none_was_sent(
        writer) -> None:
    user = someone_reachable(writer)
    first, second = trigger(writer, user, "normal"), trigger(writer, user, "normal")
    asked = writer.execute(StartDispatches(
        (first, second), datetime.now(UTC), {"webhook": ("hooks",)}, probes={"hooks": 1},
        throttling=Throttling(ONE_AN_HOUR)), Cause(DISPATCHER_ACTOR, uuid.uuid4())).result
    assert len(asked.asking) == 2 and asked.to_send == ()
    assert asked.probes_left == {"hooks": 1}


@pytest.mark.services
def test_in_production_every_dispatcher_spends_one_shared_budget_in_redis(
        writer, event_log, services, namespace) -> None:
    """Two `parley dispatch` engines (as two processes would build them) and one recipient
    allowed one notification an hour: what one dispatcher sent, the other's is throttled for."""
    receiver = WebhookReceiver(new_signing_secret())
    ensure_dispatch_topics(services["PARLEY_KAFKA_BOOTSTRAP"], namespace)
    with LocalServer(receiver) as server:
        settings = Settings(
            database_url=services["PARLEY_DATABASE_URL"], redis_url=services["PARLEY_REDIS_URL"],
            kafka_bootstrap=services["PARLEY_KAFKA_BOOTSTRAP"], namespace=namespace,
            secret_key=SecretStr(generate_key()), notification_allow_loopback_http=True,
            notification_providers=json.dumps([{"name": "hooks", "kind": "webhook"}]),
            notification_recipient_limit=1)
        secret = new_signing_secret()
        receiver.hold(secret)
        user = someone_reachable(writer, server.url + "/ok", secret)
        first, second = trigger(writer, user, "normal"), trigger(writer, user, "normal")
        engines = [dispatching_engine(settings, event_log, writer.execute, ("normal",))
                   for _ in range(2)]
        for parts in engines:
            parts.start()
        try:
            for parts, nid in zip(engines, (first, second), strict=True):
                assert parts.dispatcher is not None
                parts.dispatcher.dispatch([DispatchJob(nid, "normal")])
        finally:
            for parts in engines:
                parts.stop()
        sent = [d.payload["data"]["notification_id"] for d in receiver.deliveries]
    assert sent == [str(first)]
    [refused] = throttled(event_log, second)
    assert (refused.bucket, refused.capacity) == (RECIPIENT, 1)
    assert refused.tokens < 0.01  # what refilled since the first took the only token
    assert notification(event_log, second).state == HELD


class SlowBuckets:
    """Buckets that answer only once the provider has the batch's critical delivery (or after
    a bound): whether what needs no token goes out while the rest's are taken."""

    def __init__(self, hooks: Hooks, critical: list[uuid.UUID]) -> None:
        self._hooks, self._critical = hooks, critical
        self.critical_sent_before_answering = False

    def take(self, groups: Sequence[Sequence[Ask]], now: float) -> list[Shortfall | None]:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not set(self._critical) <= set(self._hooks.sent):
            time.sleep(0.01)
        self.critical_sent_before_answering = set(self._critical) <= set(self._hooks.sent)
        return [None for _ in groups]


def test_what_needs_no_token_is_sent_while_the_rest_of_the_batch_takes_its_tokens(
        writer, event_log, hooks, dispatcher_for) -> None:
    user = someone_reachable(writer)
    alert = trigger(writer, user, "high", category="security")
    news = trigger(writer, user, "high")
    buckets = SlowBuckets(hooks, [alert])
    dispatcher = dispatcher_for(DispatchThrottle(ONE_AN_HOUR, buckets))

    dispatcher.dispatch([DispatchJob(news, "high"), DispatchJob(alert, "high")])

    assert buckets.critical_sent_before_answering
    assert sorted(hooks.sent) == sorted([alert, news])
    assert notification(event_log, alert).state == notification(event_log, news).state


def test_a_held_one_released_takes_the_token_promised_to_it_before_a_newcomer_does(
        writer, event_log, hooks, dispatcher_for) -> None:
    one_every_two_seconds = ThrottlePolicy(recipient=BucketRule(1, 0.5))
    clock = [datetime.now(UTC)]
    user = someone_reachable(writer)
    first, held = trigger(writer, user, "normal"), trigger(writer, user, "normal")
    dispatcher = dispatcher_for(DispatchThrottle(one_every_two_seconds,
                                                 MemoryThrottleBuckets()), lambda: clock[0])
    dispatcher.dispatch([DispatchJob(first, "normal"), DispatchJob(held, "normal")])
    [promise] = throttled(event_log, held)

    newcomer = trigger(writer, user, "normal")
    clock[0] = promise.until  # the timer releases it then
    timer = notification(event_log, held).timer
    assert timer is not None
    released = writer.execute(ReleaseDue(((held, timer.timer_id),), promise.until),
                              Cause(DISPATCHER_ACTOR, uuid.uuid4())).result
    assert released.released == (held,)
    dispatcher.dispatch([DispatchJob(newcomer, "normal"), DispatchJob(held, "normal")])

    assert hooks.sent == [first, held]
    [after] = throttled(event_log, newcomer)
    assert after.until > promise.until
    assert throttled(event_log, held) == [promise]  # throttled once, never again
