"""The providers' health read model: each provider's breaker state (from its ProviderCircuit's
events) and how its recent answers went (from the notifications' Accepted and Failed events).

Latency and error rate are over a sample of recent answers, not an EWMA: a pure projector
cannot read a running average back. Each provider keeps a ring of `ANSWER_SLOTS` answer
documents, the slot being the answer's log position modulo the ring's size, so every answer of
the last `ANSWER_SLOTS` log positions is kept (with, for the other slots, the provider's latest
older answer in each) and a replay fills exactly the same slots. The query reads a provider's
ring and computes p50/p99 (nearest rank) and the error rate from it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import singledispatchmethod
from typing import Any

from domain.notifications.circuits import CLOSED, HALF_OPEN, OPEN, ProviderCircuit, circuit_id
from domain.notifications.notifications import Notification
from projections.read_model.documents import Eq, Query, ReadStore, Upsert

PROVIDERS = "notification_providers"
PROVIDER_ANSWERS = "notification_provider_answers"
ANSWER_SLOTS = 1000
MAX_PROVIDERS = 500


def _moment(at: datetime) -> str:
    return at.astimezone(UTC).isoformat()


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


class ProviderHealthProjector:
    """One document per provider, under its circuit's id (its breaker; its channel and last
    answer), and its ring of recent answers."""

    name = "provider_health"
    context = "notifications"
    collections = (PROVIDERS, PROVIDER_ANSWERS)

    @singledispatchmethod
    def changes(self, event: Any, position: int) -> list[Upsert]:
        return []

    @changes.register
    def _started(self, event: ProviderCircuit.Started, position: int) -> list[Upsert]:
        fields: dict[str, Any] = {"provider": event.provider, "state": CLOSED}
        if event.channel:
            fields["channel"] = event.channel
        return [Upsert(PROVIDERS, str(event.originator_id), position, fields)]

    @changes.register
    def _opened(self, event: ProviderCircuit.Opened, position: int) -> list[Upsert]:
        return [self._breaker(event, position, OPEN, {
            "until": _moment(event.until), "opened_failure_rate": event.failure_rate,
            "opened_calls": event.calls})]

    @changes.register
    def _half_opened(self, event: ProviderCircuit.HalfOpened, position: int) -> list[Upsert]:
        return [self._breaker(event, position, HALF_OPEN, {"until": None})]

    @changes.register
    def _closed(self, event: ProviderCircuit.Closed, position: int) -> list[Upsert]:
        return [self._breaker(event, position, CLOSED, {"until": None})]

    @changes.register
    def _accepted(self, event: Notification.Accepted, position: int) -> list[Upsert]:
        return self._answer(event, position, accepted=True, unwell=False, code="")

    @changes.register
    def _failed(self, event: Notification.Failed, position: int) -> list[Upsert]:
        return self._answer(event, position, accepted=False, unwell=event.retryable,
                            code=event.code)

    @staticmethod
    def _breaker(event: Any, position: int, state: str, fields: dict[str, Any]) -> Upsert:
        return Upsert(PROVIDERS, str(event.originator_id), position, {
            "state": state, "since": _moment(event.at), **fields})

    @staticmethod
    def _answer(event: Any, position: int, *, accepted: bool, unwell: bool,
                code: str) -> list[Upsert]:
        """The provider's document learns its channel and last answer; the answer takes its
        slot of the provider's ring."""
        provider = event.provider
        return [
            Upsert(PROVIDERS, str(circuit_id(provider)), position, {
                "provider": provider, "channel": event.channel,
                "last_answer_at": _moment(event.at)}),
            Upsert(PROVIDER_ANSWERS, f"{provider}:{position % ANSWER_SLOTS}", position, {
                "provider": provider, "position": position, "accepted": accepted,
                "unwell": unwell, "code": code, "latency_ms": int(event.latency_ms),
                "answered_at_ms": _ms(event.at)}),
        ]


@dataclass(frozen=True)
class ProviderHealth:
    """One provider as an operator sees it."""

    provider: str
    channel: str | None
    state: str
    since: datetime | None  # when its breaker last changed (None: never)
    until: datetime | None  # an open breaker: when it admits probes
    opened_failure_rate: float | None  # why it last opened: its window's failure rate
    opened_calls: int | None  # ... over so many answers
    calls: int  # answers in the sample (its last ANSWER_SLOTS at most)
    failures: int  # of them, not accepted
    unwell: int  # of them, failures that say the provider is unwell (what breakers count)
    error_rate: float  # unwell / calls
    latency_p50_ms: int | None
    latency_p99_ms: int | None
    last_answer_at: datetime | None


def nearest_rank(ordered: list[int], quantile: float) -> int | None:
    """The nearest-rank percentile of an ascending list (None if it is empty)."""
    if not ordered:
        return None
    return ordered[max(0, math.ceil(quantile * len(ordered)) - 1)]


def _when(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


class ProviderHealthQueries:
    def __init__(self, store: ReadStore) -> None:
        self._store = store

    def providers(self) -> list[ProviderHealth]:
        """Every provider that has answered or whose breaker changed, by name."""
        page = self._store.query(Query(PROVIDERS, sort_field="provider", descending=False,
                                       limit=MAX_PROVIDERS))
        return [self._health(document) for document in page.documents]

    def provider(self, name: str) -> ProviderHealth | None:
        document = self._store.get(PROVIDERS, str(circuit_id(name)))
        return self._health(document) if document is not None else None

    def _health(self, document: dict[str, Any]) -> ProviderHealth:
        name = str(document["provider"])
        answers = self._store.query(Query(PROVIDER_ANSWERS, [Eq("provider", name)],
                                          sort_field="position", limit=ANSWER_SLOTS)).documents
        latencies = sorted(int(a["latency_ms"]) for a in answers)
        unwell = sum(1 for a in answers if a.get("unwell"))
        return ProviderHealth(
            provider=name, channel=document.get("channel"),
            state=str(document.get("state", CLOSED)), since=_when(document.get("since")),
            until=_when(document.get("until")),
            opened_failure_rate=document.get("opened_failure_rate"),
            opened_calls=document.get("opened_calls"), calls=len(answers),
            failures=sum(1 for a in answers if not a.get("accepted")), unwell=unwell,
            error_rate=round(unwell / len(answers), 4) if answers else 0.0,
            latency_p50_ms=nearest_rank(latencies, 0.50),
            latency_p99_ms=nearest_rank(latencies, 0.99),
            last_answer_at=_when(document.get("last_answer_at")))


def projectors() -> list[ProviderHealthProjector]:
    return [ProviderHealthProjector()]
