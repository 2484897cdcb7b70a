"""The providers' health read model in each read store: breaker state from the recorded
circuit's events, error rate and p50/p99 latency from the notifications' answers."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from adapters.read_model.elasticsearch_read_store import ElasticsearchReadStore
from adapters.read_model.sqlite_read_store import SQLiteReadStore
from domain.notifications.circuits import CLOSED, HALF_OPEN, OPEN, ProviderCircuit
from domain.notifications.notifications import Notification
from projections.notifications.providers import (
    ANSWER_SLOTS,
    PROVIDER_ANSWERS,
    ProviderHealthProjector,
    ProviderHealthQueries,
    nearest_rank,
)
from projections.read_model.documents import Eq, Query, ReadStore
from tests.builders import a_cause

T0 = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
PROJECTOR = ProviderHealthProjector()


@pytest.fixture(params=["sqlite", pytest.param("elasticsearch", marks=pytest.mark.services)])
def store(request: pytest.FixtureRequest, tmp_path: Path, namespace: str) -> Iterator[ReadStore]:
    if request.param == "sqlite":
        sqlite = SQLiteReadStore(tmp_path / "read.sqlite3")
        yield sqlite
        sqlite.close()
        return
    services = request.getfixturevalue("services")
    elastic = ElasticsearchReadStore(services["PARLEY_ELASTICSEARCH_URL"], namespace,
                                     PROJECTOR.collections)
    elastic.ensure_indices()
    yield elastic
    elastic.client.indices.delete(index=f"{namespace}-*")
    elastic.close()


class Log:
    """Events projected in order, at increasing log positions, as one batch."""

    def __init__(self, store: ReadStore) -> None:
        self.store, self.position = store, 0

    def project(self, events: Sequence[Any]) -> None:
        changes = []
        for event in events:
            self.position += 1
            changes += PROJECTOR.changes(event, self.position)
        self.store.apply(changes, PROJECTOR.name, self.position)


def event_fields(**fields: Any) -> dict[str, Any]:
    return {"originator_id": uuid.uuid4(), "originator_version": 2, "timestamp": T0,
            **a_cause().as_event_fields(), "delivery_id": uuid.uuid4(), "attempt": 1,
            "at": T0, **fields}


def accepted(provider: str, latency_ms: int, channel: str = "push") -> Notification.Accepted:
    return Notification.Accepted(**event_fields(
        provider=provider, channel=channel, provider_message_id="m-1", latency_ms=latency_ms,
        cost_micros=0))


def failed(provider: str, code: str, retryable: bool, latency_ms: int = 30,
           channel: str = "push") -> Notification.Failed:
    return Notification.Failed(**event_fields(
        provider=provider, channel=channel, code=code, retryable=retryable,
        address_gone=not retryable, latency_ms=latency_ms))


def test_a_providers_breaker_shows_each_recorded_change(store: ReadStore) -> None:
    log, queries = Log(store), ProviderHealthQueries(store)
    circuit = ProviderCircuit.start("fcm-main", "push", a_cause())
    circuit.change(OPEN, T0, 0.75, 40, T0 + timedelta(seconds=15), a_cause())
    log.project(circuit.collect_events())
    health = queries.provider("fcm-main")
    assert health is not None
    assert (health.channel, health.state, health.since, health.until) == (
        "push", OPEN, T0, T0 + timedelta(seconds=15))
    circuit.change(HALF_OPEN, T0 + timedelta(seconds=15), 0.0, 0, None, a_cause())
    circuit.change(CLOSED, T0 + timedelta(seconds=16), 0.0, 3, None, a_cause())
    log.project(circuit.collect_events())
    health = queries.provider("fcm-main")
    assert health is not None
    assert (health.state, health.since, health.until) == (CLOSED, T0 + timedelta(seconds=16),
                                                          None)


def test_error_rate_counts_only_answers_that_say_the_provider_is_unwell(
        store: ReadStore) -> None:
    log, queries = Log(store), ProviderHealthQueries(store)
    log.project([accepted("apns-main", 10 * n) for n in range(1, 101)])
    log.project([failed("apns-main", "503", True) for _ in range(20)])
    log.project([failed("apns-main", "410", False) for _ in range(30)])
    log.project([accepted("smtp-main", 5, channel="email")])
    [apns, smtp] = queries.providers()
    assert (apns.provider, apns.channel, apns.state) == ("apns-main", "push", CLOSED)
    assert (apns.calls, apns.failures, apns.unwell, apns.error_rate) == (150, 50, 20, 0.1333)
    # 10, 20, ... 1000 ms and fifty answers of 30 ms: the 75th and the 149th of 150
    assert (apns.latency_p50_ms, apns.latency_p99_ms) == (250, 990)
    assert (smtp.provider, smtp.channel, smtp.calls, smtp.error_rate) == ("smtp-main", "email",
                                                                           1, 0.0)
    assert apns.last_answer_at == T0


def test_each_provider_keeps_a_bounded_ring_of_its_latest_answers(store: ReadStore) -> None:
    log, queries = Log(store), ProviderHealthQueries(store)
    log.project([failed("vonage-main", "timeout", True, latency_ms=10_000)
                 for _ in range(ANSWER_SLOTS // 2)])
    log.project([accepted("vonage-main", 20) for _ in range(ANSWER_SLOTS)])
    health = queries.provider("vonage-main")
    assert health is not None
    assert (health.calls, health.unwell, health.latency_p99_ms) == (ANSWER_SLOTS, 0, 20)
    stored = store.query(Query(PROVIDER_ANSWERS, [Eq("provider", "vonage-main")],
                               limit=3 * ANSWER_SLOTS)).documents
    assert len(stored) == ANSWER_SLOTS, "the ring holds its slots, no more"


def test_a_redelivered_answer_is_counted_once(store: ReadStore) -> None:
    log, queries = Log(store), ProviderHealthQueries(store)
    answer = failed("twilio-main", "429", True)
    log.project([answer])
    store.apply(PROJECTOR.changes(answer, log.position), PROJECTOR.name, log.position)
    health = queries.provider("twilio-main")
    assert health is not None and (health.calls, health.unwell) == (1, 1)
    assert queries.provider("nobody") is None


def test_nearest_rank_percentiles() -> None:
    assert nearest_rank([], 0.5) is None
    assert nearest_rank([7], 0.99) == 7
    assert [nearest_rank(list(range(1, 101)), q) for q in (0.5, 0.99, 1.0)] == [50, 99, 100]
