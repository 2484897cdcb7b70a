"""How many sends the dispatcher has in flight: a bulk backlog never takes every stream a
provider's connection has (an HTTP/2 client multiplexes 100), so a critical notification is
sent at once however many bulk ones are waiting on a slow service."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from commands.notifications.dispatch import (
    DispatchesStarted,
    RecordAnswers,
    StartDispatches,
    ToSend,
)
from commands.notifications.dispatcher import (
    Dispatcher,
    DispatchJob,
    DispatchSettings,
    Lane,
)
from commands.notifications.providers import Address, Delivery, ProviderAnswer
from domain.notifications.content import Content

STREAMS = 100  # what one HTTP/2 connection multiplexes (httpcore)
WAIT = 5.0


class SlowForBulk:
    """A push service on one connection of STREAMS streams: critical answers at once, bulk
    only once `release` is called; it counts the sends it holds."""

    name = "fcm"
    channel = "push"
    kinds = frozenset({"fcm"})

    def __init__(self) -> None:
        self.streams: asyncio.Semaphore | None = None
        self.gate: asyncio.Event | None = None
        self.bulk_in_flight = 0
        self.most_bulk_in_flight = 0
        self.critical_sent = threading.Event()

    async def send(self, delivery: Delivery) -> ProviderAnswer:
        if self.streams is None:
            self.streams, self.gate = asyncio.Semaphore(STREAMS), asyncio.Event()
        assert self.gate is not None
        async with self.streams:
            if delivery.priority == "critical":
                self.critical_sent.set()
                return ProviderAnswer.accepted_as("critical")
            self.bulk_in_flight += 1
            self.most_bulk_in_flight = max(self.most_bulk_in_flight, self.bulk_in_flight)
            await self.gate.wait()
            self.bulk_in_flight -= 1
            return ProviderAnswer.accepted_as("bulk")

    async def aclose(self) -> None:
        return None


class NoQueue:
    def put(self, jobs: Sequence[DispatchJob]) -> None:
        raise AssertionError("not used")

    def take(self, priorities: Sequence[str], max_jobs: int,
             timeout: float) -> list[DispatchJob]:
        time.sleep(min(timeout, 0.05))
        return []

    def close(self) -> None:
        return None


class ClosedBreakers:
    def allows(self, provider: str, now: datetime) -> bool:
        return True

    def state_of(self, provider: str) -> str:
        return "closed"

    def record(self, provider: str, healthy: bool, latency_ms: float,
               now: datetime) -> Sequence[Any]:
        return ()

    def changes(self, transitions: Sequence[Any]) -> Sequence[Any]:
        return ()


def a_delivery(notification_id: uuid.UUID, priority: str) -> Delivery:
    return Delivery(uuid.uuid4(), notification_id, uuid.uuid4(), "push", priority, "system",
                    Address("fcm", f"fcm:{uuid.uuid4().hex}", "cp"), Content("T", "B"))


class WriteSide:
    """StartDispatches sends each job's notification once through the one provider."""

    def __init__(self) -> None:
        self.priorities: dict[uuid.UUID, str] = {}
        self.answered: list[int] = []

    def jobs(self, count: int, priority: str) -> list[DispatchJob]:
        made = [DispatchJob(uuid.uuid4(), priority) for _ in range(count)]
        self.priorities.update((j.notification_id, priority) for j in made)
        return made

    def __call__(self, command: Any, cause: Any) -> Any:
        if isinstance(command, StartDispatches):
            return SimpleNamespace(result=DispatchesStarted(tuple(
                ToSend("fcm", a_delivery(nid, self.priorities[nid]))
                for nid in command.notification_ids)))
        assert isinstance(command, RecordAnswers)
        self.answered.append(len(command.answers))
        return SimpleNamespace(result=None)


def test_a_critical_send_goes_at_once_while_a_full_batch_of_bulk_waits_on_the_service():
    provider, write_side = SlowForBulk(), WriteSide()
    dispatcher = Dispatcher(NoQueue(), [provider], write_side, ClosedBreakers(),
                            DispatchSettings(batch_size=100, lanes=(Lane(("bulk",), 1),)),
                            clock=lambda: datetime.now(UTC))
    dispatcher.start()
    try:
        bulk = threading.Thread(target=dispatcher.dispatch, args=(write_side.jobs(100, "bulk"),),
                                daemon=True)
        bulk.start()
        deadline = time.monotonic() + WAIT
        while provider.bulk_in_flight < 80 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.2)  # more would have started by now
        assert provider.most_bulk_in_flight == 80

        critical = threading.Thread(target=dispatcher.dispatch,
                                    args=(write_side.jobs(1, "critical"),), daemon=True)
        critical.start()
        assert provider.critical_sent.wait(WAIT), "the critical send waited behind bulk ones"
        critical.join(WAIT)
        assert write_side.answered == [1]  # answered and recorded while bulk still waits

        assert provider.gate is not None
        dispatcher._loop.call_soon_threadsafe(provider.gate.set)
        bulk.join(WAIT)
        assert sorted(write_side.answered) == [1, 100]
    finally:
        if provider.gate is not None:
            dispatcher._loop.call_soon_threadsafe(provider.gate.set)
        dispatcher.stop()
