"""Push through FCM, end to end on the embedded default in process, with two FCM providers:
the primary's breaker opens when it keeps failing, traffic fails over to the backup with no
notification lost, and the breaker closes again once the primary recovers. A token FCM says is
unregistered is removed from the recipient's contact points."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from commands.notifications.contact_points import ContactPointRules, RegisterDeviceToken
from domain.notifications.circuits import ProviderCircuit, circuit_id
from domain.notifications.contact_points import ContactPoints, contact_points_id
from tests.builders import Person, a_cause, now
from tests.e2e.notifications.deployments import ACCOUNT
from tests.e2e.notifications.in_process import InProcess, embedded, fcm_provider, in_process
from tests.e2e.notifications.test_delivery_engine import FAST_RETRIES, eventually
from tests.providers.fcm import FcmStandIn
from tests.providers.push_service import Refusal

UNAVAILABLE = Refusal(503, "UNAVAILABLE", retry_after="0")
BREAKER = {"breaker_min_calls": 3, "breaker_window_seconds": 30.0,
           "breaker_failure_rate": 0.5, "breaker_open_seconds": 1.0,
           "breaker_half_open_probes": 1}


@pytest.fixture(scope="module")
def primary() -> Iterator[FcmStandIn]:
    with FcmStandIn(ACCOUNT) as fcm:
        yield fcm


@pytest.fixture(scope="module")
def backup() -> Iterator[FcmStandIn]:
    with FcmStandIn(ACCOUNT) as fcm:
        yield fcm


@dataclass
class Push(InProcess):
    def someone_with_a_phone(self) -> tuple[Person, str, str]:
        person = self.client.register("Phone Owner")
        token = f"fcm-token:{uuid.uuid4().hex}{'x' * 30}"
        point = uuid.uuid4()
        self.parley.writer.execute(RegisterDeviceToken(
            uuid.UUID(person.user_id), uuid.uuid4(), point, "fcm", token, now(),
            ContactPointRules(20)), a_cause())
        return person, token, str(point)

    def push(self, person: Person, title: str) -> str:
        response = self.http.post("/v1/notifications", headers=self.service, json={
            "recipients": [person.user_id], "category": "system", "priority": "high",
            "plan": {"channels": ["push"]}, "content": {"title": title, "body": "body"}})
        assert response.status_code == 202, response.text
        return str(response.json()["notifications"][0]["notification_id"])

    def circuit(self, provider: str) -> ProviderCircuit | None:
        try:
            found = self.parley.event_log.repository.get(circuit_id(provider))
        except Exception:  # noqa: BLE001 - not recorded yet
            return None
        return found if isinstance(found, ProviderCircuit) else None


@pytest.fixture
def push(tmp_path: Path, primary: FcmStandIn, backup: FcmStandIn) -> Iterator[Push]:
    primary.reset()
    backup.reset()
    settings = embedded(tmp_path / "data", [fcm_provider(primary, 2),
                                            fcm_provider(backup, 2, name="fcm-backup")],
                        **FAST_RETRIES | {"notification_max_attempts": 6}, **BREAKER)
    with in_process(settings, Push) as running:
        yield running


def test_a_push_reaches_the_device_through_the_primary(push, primary, backup):
    person, token, _ = push.someone_with_a_phone()
    nid = push.push(person, "Hello")
    eventually(lambda: push.state(nid) == "accepted")
    [shown] = primary.shown(token)
    assert shown.title == "Hello"
    assert backup.received == []


def test_the_primary_failing_opens_its_breaker_and_traffic_fails_over_then_comes_back(
        push, primary, backup):
    primary.script.next(UNAVAILABLE, times=1000)
    people = [push.someone_with_a_phone() for _ in range(6)]
    sent = [push.push(person, f"during the outage {n}") for n, (person, _, _) in
            enumerate(people)]
    eventually(lambda: all(push.state(nid) == "accepted" for nid in sent))
    opened = push.circuit("fcm-main")
    assert opened is not None and opened.state in ("open", "half_open")
    assert all(backup.shown(token) for _, token, _ in people)  # none lost
    assert all(not primary.shown(token) for _, token, _ in people)

    primary.script.clear()  # the primary recovers; after the open period a probe closes it
    before = len(primary.received)
    later, token, _ = push.someone_with_a_phone()

    def recovered() -> bool:
        push.push(later, "after the outage")
        circuit = push.circuit("fcm-main")
        return circuit is not None and circuit.state == "closed"

    eventually(recovered, timeout=20)
    assert len(primary.received) > before
    assert primary.shown(token)


def test_a_token_fcm_says_is_unregistered_is_removed(push, primary):
    person, token, point = push.someone_with_a_phone()
    primary.script.for_token(token, Refusal(404, "UNREGISTERED", field="message.token"))
    nid = push.push(person, "to a phone that is gone")
    eventually(lambda: push.state(nid) == "dead_lettered")
    book = push.parley.event_log.repository.get(contact_points_id(uuid.UUID(person.user_id)))
    assert isinstance(book, ContactPoints)
    assert uuid.UUID(point) not in book.points
