"""Token turns across dispatcher processes, in the real Redis of deploy/services.sh
(adapters/notifications/redis_turns.py under commands/notifications/shared_turns.py). Each
dispatcher here is what a `parley dispatch` process has: its own client and its own id; the
last test runs two production dispatching engines on the real log, Kafka and Redis."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from pydantic import SecretStr

from adapters.notifications.kafka_queue import ensure_dispatch_topics
from adapters.notifications.redis_turns import RedisTurnRegistry
from commands.notifications.dispatch import StartDispatches
from commands.notifications.dispatcher import DispatchJob
from commands.notifications.shared_turns import SharedTurns
from domain.notifications.channels import BULK, CRITICAL, HIGH, NORMAL, rank
from domain.notifications.endpoints import new_signing_secret
from domain.notifications.throttles import RECIPIENT
from event_log.log import EventLog
from event_log.writer import GroupCommitWriter
from parley.production import dispatching_engine
from parley.settings import Settings
from parley.signing_keys import generate_key
from tests.e2e.notifications.waiting import eventually
from tests.integration.notifications.test_dispatch_throttling import (
    someone_reachable,
    throttled,
    trigger,
)
from tests.providers.servers import LocalServer
from tests.providers.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.services

Registry = Callable[..., RedisTurnRegistry]
Dispatcher = Callable[..., SharedTurns]


@pytest.fixture
def registry_of(services: dict[str, str], namespace: str) -> Iterator[Registry]:
    """A dispatcher's own registry client (closed at the end of the test)."""
    made: list[RedisTurnRegistry] = []

    def registry(lease: float = 3.0) -> RedisTurnRegistry:
        made.append(RedisTurnRegistry(services["PARLEY_REDIS_URL"], namespace,
                                      uuid.uuid4().hex, lease_seconds=lease))
        return made[-1]

    yield registry
    for registry_client in made:
        registry_client.close()


@pytest.fixture
def dispatcher(registry_of: Registry) -> Iterator[Dispatcher]:
    """A dispatcher process's turns (closed at the end of the test)."""
    made: list[SharedTurns] = []

    def turns(patience: float = 5.0, lease: float = 3.0) -> SharedTurns:
        made.append(SharedTurns(registry_of(lease), patience_seconds=patience,
                                lease_seconds=lease))
        return made[-1]

    yield turns
    for shared in made:
        shared.close()


@pytest.fixture
def raw(services: dict[str, str]) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(services["PARLEY_REDIS_URL"])
    yield client
    client.close()


def seen_by(registry: RedisTurnRegistry, priority: str, held: bool = True) -> None:
    """Until `registry` sees (or no longer sees) a rank more urgent than `priority` elsewhere."""
    eventually(lambda: registry.more_urgent_than(rank(priority)) is held,
               f"more urgent than {priority} held elsewhere: {held}", 5)


def test_a_bulk_batch_waits_while_another_dispatcher_has_a_high_one_and_goes_when_it_leaves(
        dispatcher: Dispatcher, registry_of: Registry) -> None:
    bulk_side, high_side, onlooker = dispatcher(), dispatcher(), registry_of()
    high = high_side.enter(rank(HIGH))
    seen_by(onlooker, BULK)
    bulk = bulk_side.enter(rank(BULK))
    went, waited = threading.Event(), []

    def pump() -> None:
        waited.append(bulk.wait())
        went.set()

    thread = threading.Thread(target=pump)
    thread.start()
    assert not went.wait(0.5)  # the high batch has not had its tokens yet
    high.done()
    assert went.wait(2)
    thread.join(2)
    assert waited == [True]


def test_only_a_more_urgent_rank_elsewhere_makes_a_batch_wait(
        dispatcher: Dispatcher, registry_of: Registry) -> None:
    one, other, onlooker = dispatcher(), dispatcher(), registry_of()
    other.enter(rank(NORMAL))
    other.enter(rank(BULK))
    seen_by(onlooker, BULK)
    started = time.monotonic()
    assert one.enter(rank(NORMAL)).wait() is True
    assert one.enter(rank(HIGH)).wait() is True
    assert one.enter(rank(CRITICAL)).wait() is True
    assert time.monotonic() - started < 1.0


def test_a_dispatcher_never_waits_for_its_own_registration(registry_of: Registry) -> None:
    own, other = registry_of(), registry_of()
    own.hold(frozenset({rank(CRITICAL), rank(HIGH)}))
    assert own.more_urgent_than(rank(BULK)) is False
    assert other.more_urgent_than(rank(BULK)) is True
    assert other.more_urgent_than(rank(HIGH)) is True  # critical is held
    assert other.more_urgent_than(rank(CRITICAL)) is False


def test_a_registration_whose_owner_died_stops_blocking_within_its_lease(
        dispatcher: Dispatcher, registry_of: Registry) -> None:
    died, waiting = registry_of(lease=0.8), dispatcher(patience=10.0)
    held_at = time.monotonic()
    died.hold(frozenset({rank(HIGH)}))  # and never renewed: its process was killed
    assert waiting.enter(rank(BULK)).wait() is True
    assert 0.7 <= time.monotonic() - held_at < 0.8 + 0.5  # its lease, not the patience


def test_a_live_dispatcher_keeps_its_registration_beyond_the_lease(
        dispatcher: Dispatcher, registry_of: Registry) -> None:
    alive, onlooker = dispatcher(lease=0.6), registry_of()
    alive.enter(rank(HIGH))  # a long first command
    seen_by(onlooker, NORMAL)
    time.sleep(1.5)  # two and a half leases: renewed meanwhile
    assert onlooker.more_urgent_than(rank(NORMAL)) is True


def test_the_wait_for_another_dispatcher_never_exceeds_the_patience(
        dispatcher: Dispatcher, registry_of: Registry) -> None:
    stuck, onlooker = dispatcher(), registry_of()
    stuck.enter(rank(CRITICAL))  # never done, and renewed: its process is alive
    seen_by(onlooker, HIGH)
    waiting = dispatcher(patience=0.4)
    started = time.monotonic()
    assert waiting.enter(rank(NORMAL)).wait() is False
    assert 0.35 <= time.monotonic() - started < 0.4 + 0.3  # at most one bounded look more


def test_a_dispatcher_that_closes_releases_its_ranks_at_once(
        dispatcher: Dispatcher, registry_of: Registry) -> None:
    going, onlooker = dispatcher(lease=60.0), registry_of()
    going.enter(rank(HIGH))
    seen_by(onlooker, BULK)
    going.close()
    assert onlooker.more_urgent_than(rank(BULK)) is False


def test_the_registrations_key_expires_with_its_last_lease(
        registry_of: Registry, raw: redis.Redis, namespace: str) -> None:
    first, second = registry_of(lease=5.0), registry_of(lease=20.0)
    first.hold(frozenset({rank(HIGH)}))
    second.hold(frozenset({rank(BULK)}))
    first.hold(frozenset({rank(HIGH)}))  # a renewal does not shorten the other's lease
    key = f"{namespace}:throttle-turns"
    assert 15_000 < raw.pttl(key) <= 20_001
    assert raw.zcard(key) == 2
    first.hold(frozenset())
    second.hold(frozenset())
    assert raw.exists(key) == 0  # nothing left behind


def first_command_slowed(execute: Callable[[Any, Any], Any], seconds: float,
                         asking: threading.Event) -> Callable[[Any, Any], Any]:
    """A dispatcher whose batches' first command (the one asking which tokens they need)
    takes `seconds` (a busy writer); `asking` is set when one starts."""
    def slowly(command: Any, cause: Any) -> Any:
        if isinstance(command, StartDispatches) and command.throttling is not None \
                and not command.throttling.verdicts:
            asking.set()
            time.sleep(seconds)
        return execute(command, cause)

    return slowly


def test_two_dispatch_processes_give_the_budget_to_the_high_batch_though_bulk_got_there_first(
        writer: GroupCommitWriter, event_log: EventLog, services: dict[str, str],
        namespace: str, registry_of: Registry) -> None:
    """`parley dispatch` engines as two processes build them (one for critical and high, one
    for normal and bulk), one recipient allowed one notification an hour: the bulk batch
    reaches the buckets while the high one is still asking which tokens it needs; it waits
    for it, so the high one is sent and the bulk one throttled behind it."""
    receiver, secret = WebhookReceiver(new_signing_secret()), new_signing_secret()
    receiver.hold(secret)
    ensure_dispatch_topics(services["PARLEY_KAFKA_BOOTSTRAP"], namespace)
    with LocalServer(receiver) as server:
        settings = Settings(
            database_url=services["PARLEY_DATABASE_URL"], redis_url=services["PARLEY_REDIS_URL"],
            kafka_bootstrap=services["PARLEY_KAFKA_BOOTSTRAP"], namespace=namespace,
            secret_key=SecretStr(generate_key()), notification_allow_loopback_http=True,
            notification_providers=json.dumps([{"name": "hooks", "kind": "webhook"}]),
            notification_recipient_limit=1)
        user = someone_reachable(writer, server.url + "/ok", secret)
        high, bulk = trigger(writer, user, HIGH), trigger(writer, user, BULK)
        asking = threading.Event()
        urgent = dispatching_engine(settings, event_log,
                                    first_command_slowed(writer.execute, 1.0, asking),
                                    (CRITICAL, HIGH))
        rest = dispatching_engine(settings, event_log, writer.execute, (NORMAL, BULK))
        assert urgent.dispatcher is not None and rest.dispatcher is not None
        for parts in (urgent, rest):
            parts.start()
        try:
            high_batch = threading.Thread(
                target=urgent.dispatcher.dispatch, args=([DispatchJob(high, HIGH)],))
            high_batch.start()
            assert asking.wait(10)
            seen_by(registry_of(), BULK)  # the high batch is in its turn, still asking
            rest.dispatcher.dispatch([DispatchJob(bulk, BULK)])
            high_batch.join(10)
        finally:
            for parts in (urgent, rest):
                parts.stop()
        sent = [d.payload["data"]["notification_id"] for d in receiver.deliveries]
    assert sent == [str(high)]
    [refused] = throttled(event_log, bulk)
    assert (refused.bucket, refused.capacity) == (RECIPIENT, 1)
