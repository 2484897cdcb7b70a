"""The delivery engine on the production profile, as real processes: `parley serve` (the
trigger API, the feeder and the timers), `parley relay`, `parley project`, and dispatchers in
the API or in `parley dispatch` processes, with jobs through Kafka; a real webhook receiver
stands in for the provider (tests/providers/webhook_receiver.py: it verifies the Standard
Webhooks signature and keeps each webhook id once, however often it came).

Kafka restarted under load is not tested here: the services are shared by everyone working on
this machine, and stopping Kafka would fail their tests (tests/e2e/test_failures.py does it for
the relay, on a machine of its own). What the engine does while Kafka is away is held by the
queue's integration test (put fails within its bound, so the feeder keeps its position)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from domain.notifications.endpoints import new_signing_secret
from parley.launcher import ParleyProcesses
from tests.builders import ParleyClient, Person
from tests.e2e.conftest import GENEROUS_SIGN_IN_LIMITS, drop_indices, production_env
from tests.providers.servers import LocalServer
from tests.providers.webhook_receiver import Answer, WebhookReceiver

pytestmark = pytest.mark.services

PROVIDERS = [{"name": "hooks", "kind": "webhook", "timeout_seconds": 10}]
FAST_ENGINE = {  # a lost job is found within seconds, not minutes
    "PARLEY_NOTIFICATION_PROVIDERS": json.dumps(PROVIDERS),
    "PARLEY_NOTIFICATION_ALLOW_LOOPBACK_HTTP": "true",
    "PARLEY_NOTIFICATION_STALE_AFTER_SECONDS": "5",
    "PARLEY_NOTIFICATION_REQUEUE_AFTER_SECONDS": "3",
    "PARLEY_NOTIFICATION_SWEEP_EVERY_SECONDS": "0.5",
    "PARLEY_NOTIFICATION_TIMER_EVERY_SECONDS": "0.2",
    "PARLEY_NOTIFICATION_DISPATCH_BATCH": "10",
    "PARLEY_CONSISTENCY_WAIT_SECONDS": "15",
}


def eventually(check: Callable[[], Any], timeout: float, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        answer = check()
        if answer:
            return answer
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what or check}")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def receiver() -> Iterator[tuple[WebhookReceiver, str]]:
    receiving = WebhookReceiver(new_signing_secret())
    with LocalServer(receiving) as server:
        yield receiving, server.url


class Deployment:
    """Parley's processes, a service's API key, and the receiver standing in for a provider."""

    def __init__(self, processes: ParleyProcesses, http: httpx.Client, key: str,
                 receiver: WebhookReceiver, receiver_url: str) -> None:
        self.processes = processes
        self.http = http
        self.client = ParleyClient(http)
        self.service = {"Authorization": f"Bearer {key}"}
        self.receiver = receiver
        self.receiver_url = receiver_url

    def someone_with_a_webhook(self) -> Person:
        person = self.client.register("Bot Owner")
        response = self.http.post("/v1/users/me/contact-points/webhooks", headers=person.auth,
                                  json={"url": self.receiver_url + "/ok"})
        assert response.status_code == 201, response.text
        self.receiver.hold(response.json()["secret"])
        return person

    def trigger(self, recipient: Person, priority: str = "high",
                channels: tuple[str, ...] = ("webhook",)) -> str:
        response = self.http.post("/v1/notifications", headers=self.service, json={
            "recipients": [recipient.user_id], "category": "system", "priority": priority,
            "plan": {"channels": list(channels)},
            "content": {"title": "Build finished", "body": "All green."}})
        assert response.status_code == 202, response.text
        [notification] = response.json()["notifications"]
        return str(notification["notification_id"])

    def delivered(self) -> list[str]:
        """The notification ids the business has, one per webhook id it kept."""
        return [d.payload["data"]["notification_id"] for d in self.receiver.deliveries]

    def inbox(self, person: Person) -> list[str]:
        response = self.http.get("/v1/notifications", headers=person.auth)
        assert response.status_code == 200, response.text
        return [n["notification_id"] for n in response.json()["notifications"]]

    def logs(self) -> str:
        return "".join(f"--- {p.name}\n{p.read_text(errors='replace')[-2000:]}"
                       for p in Path(self.processes.logs).glob("*.log"))


def issue_key(env: dict[str, str]) -> str:
    made = subprocess.run(
        [sys.executable, "-m", "parley", "apikeys", "create", "--name", "ci",
         "--scope", "notifications:trigger"],
        env=env, capture_output=True, text=True, timeout=60, check=True)
    return made.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory, services: dict[str, str],
               receiver: tuple[WebhookReceiver, str]) -> Iterator[Deployment]:
    """One deployment for the module (processes start slowly on a loaded machine): the API
    processes do not dispatch (PARLEY_NOTIFICATION_DISPATCH_IN_API=false), `parley dispatch`
    processes do; the last test starts an API process that dispatches too."""
    receiving, url = receiver
    logs, namespace = tmp_path_factory.mktemp("production-dispatch"), f"t{uuid.uuid4().hex[:12]}"
    env = production_env(services, namespace) | GENEROUS_SIGN_IN_LIMITS | FAST_ENGINE
    env |= {"PARLEY_DATA_DIR": str(logs / "data"), "PARLEY_NOTIFICATION_DISPATCH_IN_API": "false"}
    try:
        with ParleyProcesses(env, logs).serving("production") as running, \
                httpx.Client(base_url=running.base_url, timeout=30) as http:
            yield Deployment(running, http, issue_key(running.env), receiving, url)
    finally:
        drop_indices(services, namespace)


@pytest.fixture
def fresh(deployment: Deployment) -> Deployment:
    deployment.receiver.reset()
    return deployment


def a_dispatcher(deployment: Deployment, name: str = "dispatch") -> None:
    if name not in deployment.processes.running:
        deployment.processes.start_named(name, "dispatch")
    deployment.processes.wait_until_logged(name, "dispatcher started")


def test_a_trigger_reaches_the_provider_and_the_inbox_on_the_production_profile(
        fresh: Deployment) -> None:
    a_dispatcher(fresh)
    person = fresh.someone_with_a_webhook()
    nid = fresh.trigger(person, channels=("webhook", "in_app"))  # posted to the inbox too
    eventually(lambda: fresh.delivered() == [nid], 30, fresh.logs())
    [delivery] = fresh.receiver.deliveries
    assert delivery.payload["data"]["title"] == "Build finished"
    eventually(lambda: fresh.inbox(person) == [nid], 30, "the inbox")


def test_a_dispatcher_killed_mid_batch_loses_nothing_and_shows_nothing_twice(
        fresh: Deployment) -> None:
    processes, receiver = fresh.processes, fresh.receiver
    a_dispatcher(fresh)  # the only process dispatching
    person = fresh.someone_with_a_webhook()
    total = 30
    receiver.answer_next(total, Answer(200, delay_seconds=3.0))  # the first batches hang
    expected = {fresh.trigger(person, "normal") for _ in range(total)}

    eventually(lambda: receiver.requests, 30, "a batch in flight")
    processes.kill("dispatch")  # kill -9, the provider still answering
    assert len(set(fresh.delivered())) < total, "the kill came too late to matter"

    a_dispatcher(fresh, "dispatch-2")
    eventually(lambda: set(fresh.delivered()) == expected, 50, fresh.logs())
    delivered = fresh.delivered()
    assert len(delivered) == total  # none visible twice: one webhook id per notification
    absorbed = len(receiver.requests) - total
    print(f"{len(receiver.requests)} requests for {total} notifications: the receiver "
          f"absorbed {absorbed} repeats of an attempt id")
    assert absorbed >= 1  # the batch in flight at the kill was sent again


def test_parley_dispatch_stops_on_sigterm_and_an_api_process_may_dispatch_instead(
        fresh: Deployment) -> None:
    processes = fresh.processes
    for name in [n for n in processes.running if n.startswith("dispatch")]:
        process = processes.running.pop(name)
        process.terminate()
        assert process.wait(timeout=20) == 0
    processes.start_another_api("dispatching-api", {"PARLEY_NOTIFICATION_DISPATCH_IN_API": "true"})
    person = fresh.someone_with_a_webhook()
    nid = fresh.trigger(person)
    eventually(lambda: fresh.delivered() == [nid], 30, fresh.logs())
