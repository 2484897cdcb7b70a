"""The delivery engine on the production profile, as real processes: `parley serve` (the
trigger API, the feeder and the timers), `parley relay`, `parley project`, and dispatchers in
the API or in `parley dispatch` processes, with jobs through Kafka; a real webhook receiver
stands in for the provider (tests/providers/webhook_receiver.py: it verifies the Standard
Webhooks signature and keeps each webhook id once, however often it came).

The module runs its own Kafka broker (`PrivateKafka`, from the jars deploy/services.sh
installed, on free ports) beside the shared PostgreSQL, Elasticsearch and Redis: it stops and
starts that broker to show triggers accepted while Kafka is away and dispatched once it is back,
without touching the Kafka everyone else's tests on this machine use."""

from __future__ import annotations

import base64
import contextlib
import ctypes
import itertools
import json
import os
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from domain.notifications.endpoints import new_signing_secret
from parley.launcher import ParleyProcesses, free_port
from tests.builders import ParleyClient, Person
from tests.e2e.conftest import GENEROUS_SIGN_IN_LIMITS, drop_indices, production_env
from tests.e2e.notifications import deployments, waiting
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


REPO = Path(__file__).resolve().parents[3]


def port_open(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
        return True
    return False


def _dies_with_parent() -> None:
    """In the broker's process before it runs: SIGTERM when the test process dies, however it
    dies (a killed pytest must not leave a broker behind)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class PrivateKafka:
    """A Kafka broker of this test's own (KRaft, one node, on free ports), run from the jars
    deploy/services.sh installed: it can be stopped and started again without touching the
    shared services everyone else's tests use."""

    def __init__(self, directory: Path) -> None:
        services = Path(os.environ.get("PARLEY_SERVICES_DIR", REPO / ".services"))
        self.lib = services / "kafka" / "lib"
        self.directory = directory
        self.port, controller = free_port(), free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        (directory / "data").mkdir(parents=True, exist_ok=True)
        self.properties = directory / "server.properties"
        self.properties.write_text("\n".join([
            "process.roles=broker,controller", "node.id=1",
            f"controller.quorum.voters=1@127.0.0.1:{controller}",
            f"listeners=PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{controller}",
            f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names=CONTROLLER", "inter.broker.listener.name=PLAINTEXT",
            "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            f"log.dirs={directory / 'data'}", "num.partitions=1",
            "offsets.topic.replication.factor=1", "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1", "auto.create.topics.enable=true",
            "group.initial.rebalance.delay.ms=0", ""]))
        self.log4j = directory / "log4j2.properties"
        self.log4j.write_text("\n".join([
            "appender.f.type=File", "appender.f.name=f",
            f"appender.f.fileName={directory / 'server.log'}",
            "appender.f.layout.type=PatternLayout", "appender.f.layout.pattern=[%d] %p %m (%c)%n",
            "rootLogger.level=INFO", "rootLogger.appenderRef.f.ref=f", ""]))
        self.process: subprocess.Popen[bytes] | None = None
        cluster = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        subprocess.run(self._java("kafka.tools.StorageTool", "format", "-t", cluster,
                                  "-c", str(self.properties)),
                       check=True, timeout=120, capture_output=True)

    def _java(self, *args: str) -> list[str]:
        return ["java", "-Xms256m", "-Xmx512m", "-cp", f"{self.lib}/*",
                f"-Dlog4j2.configurationFile={self.log4j}", *args]

    def start(self, timeout: float = 90.0) -> None:
        out = (self.directory / "kafka.out").open("ab")
        self.process = subprocess.Popen(self._java("kafka.Kafka", str(self.properties)),
                                        stdout=out, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, preexec_fn=_dies_with_parent)
        deadline = time.monotonic() + timeout
        while not port_open(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the private Kafka did not start")
            time.sleep(0.2)

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


DISPATCHER_NUMBERS = itertools.count(1)


def eventually(check: Callable[[], Any], timeout: float,
               what: str | Callable[[], str] = "") -> Any:
    """`check()`'s first truthy answer, asked until `timeout`; then the test fails, saying
    `what` (a callable is asked then: e.g. the processes' logs as they are at the end)."""
    return waiting.eventually(check, what, timeout, every=0.1)


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

    def delivered_of(self, expected: set[str]) -> list[str]:
        """Those of `expected` (a repeat an earlier test left in flight may still land)."""
        return [nid for nid in self.delivered() if nid in expected]

    def inbox(self, person: Person) -> list[str]:
        response = self.http.get("/v1/notifications", headers=person.auth)
        assert response.status_code == 200, response.text
        return [n["notification_id"] for n in response.json()["notifications"]]

    def missing(self, expected: set[str]) -> str:
        delivered = set(self.delivered_of(expected))
        return (f"{len(expected - delivered)} of {len(expected)} not delivered, "
                f"{len(self.receiver.requests)} "
                f"requests, rejected: {self.receiver.rejections[-3:]}\n{self.logs()}")

    def logs(self) -> str:
        """The end of each process's log, without Elasticsearch's request lines."""
        def tail(path: Path) -> str:
            lines = [line for line in path.read_text(errors="replace").splitlines()
                     if "elastic_transport" not in line]
            return "\n".join(lines[-15:])

        return "".join(f"\n--- {path.name}\n{tail(path)}"
                       for path in sorted(Path(self.processes.logs).glob("*.log")))


def issue_key(env: dict[str, str]) -> str:
    return deployments.issue_key(env, "ci")


@pytest.fixture(scope="module")
def kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateKafka]:
    broker = PrivateKafka(tmp_path_factory.mktemp("kafka"))
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory, services: dict[str, str],
               kafka: PrivateKafka,
               receiver: tuple[WebhookReceiver, str]) -> Iterator[Deployment]:
    """One deployment for the module (processes start slowly on a loaded machine): the API
    processes do not dispatch (PARLEY_NOTIFICATION_DISPATCH_IN_API=false), `parley dispatch`
    processes do; the last test starts an API process that dispatches too."""
    receiving, url = receiver
    logs, namespace = tmp_path_factory.mktemp("production-dispatch"), f"t{uuid.uuid4().hex[:12]}"
    env = production_env(services | {"PARLEY_KAFKA_BOOTSTRAP": kafka.bootstrap}, namespace)
    env |= GENEROUS_SIGN_IN_LIMITS | FAST_ENGINE
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


def dispatchers(deployment: Deployment) -> list[str]:
    return [name for name in deployment.processes.running if name.startswith("dispatch-")]


def a_dispatcher(deployment: Deployment) -> str:
    """A running `parley dispatch`: the one there is, or a new one (each with a log of its
    own, so "started" is its own)."""
    running = dispatchers(deployment)
    if running:
        return running[0]
    name = f"dispatch-{next(DISPATCHER_NUMBERS)}"
    deployment.processes.start_named(name, "dispatch")
    deployment.processes.wait_until_logged(name, "dispatcher started")
    return name


def test_a_trigger_reaches_the_provider_and_the_inbox_on_the_production_profile(
        fresh: Deployment) -> None:
    a_dispatcher(fresh)
    person = fresh.someone_with_a_webhook()
    nid = fresh.trigger(person, channels=("webhook", "in_app"))  # posted to the inbox too
    # the new API process joins the dispatchers' consumer group after the others left: a
    # rebalance, which may wait out a killed member's session on a loaded machine
    eventually(lambda: fresh.delivered_of({nid}) == [nid], 120, fresh.logs)
    [delivery] = [d for d in fresh.receiver.deliveries
                  if d.payload["data"]["notification_id"] == nid]
    assert delivery.payload["data"]["title"] == "Build finished"
    eventually(lambda: fresh.inbox(person) == [nid], 30, "the inbox")


def test_a_dispatcher_killed_mid_batch_loses_nothing_and_shows_nothing_twice(
        fresh: Deployment) -> None:
    processes, receiver = fresh.processes, fresh.receiver
    first = a_dispatcher(fresh)
    assert dispatchers(fresh) == [first]  # the only process dispatching
    person = fresh.someone_with_a_webhook()
    total = 30
    receiver.answer_next(total, Answer(200, delay_seconds=3.0))  # the first batches hang
    expected = {fresh.trigger(person, "normal") for _ in range(total)}

    def requests() -> int:  # ours, repeats included
        return sum(r.payload["data"]["notification_id"] in expected for r in receiver.requests)

    eventually(requests, 30, "a batch in flight")
    processes.kill(first)  # kill -9, the provider still answering
    assert len(set(fresh.delivered_of(expected))) < total, "the kill came too late to matter"

    a_dispatcher(fresh)  # another one
    eventually(lambda: set(fresh.delivered_of(expected)) == expected, 50,
               lambda: fresh.missing(expected))
    delivered = fresh.delivered_of(expected)
    assert len(delivered) == total  # none visible twice: one webhook id per notification
    absorbed = requests() - total
    print(f"{requests()} requests for {total} notifications: the receiver "
          f"absorbed {absorbed} repeats of an attempt id")
    assert absorbed >= 1  # the batch in flight at the kill was sent again


def test_triggers_are_accepted_while_kafka_is_away_and_dispatched_once_it_is_back(
        fresh: Deployment, kafka: PrivateKafka) -> None:
    a_dispatcher(fresh)
    person = fresh.someone_with_a_webhook()
    before = {fresh.trigger(person) for _ in range(10)}  # some still on their way at the stop
    kafka.stop()
    during = {fresh.trigger(person) for _ in range(20)}  # the log does not need Kafka: 202
    # the feeder's put fails within its bound; it keeps its position and tries again
    fresh.processes.wait_until_logged("serve", "feeding the dispatch queue failed", 40)
    assert not fresh.delivered_of(during)
    kafka.start()
    back = time.monotonic()
    # the feeder's producer and the dispatchers' consumers, kept through the outage, try the
    # broker again within a second (adapters/event_log/kafka_clients.py): with kafka-python's
    # 30 s reconnect backoff they came back 10-40 s later and, under load, after this bound
    eventually(lambda: set(fresh.delivered_of(before | during)) == before | during, 30,
               lambda: fresh.missing(before | during))
    print(f"{len(before | during)} delivered, the last {time.monotonic() - back:.1f} s after "
          "Kafka was back")
    assert len(fresh.delivered_of(before | during)) == len(before | during)  # each once


def test_parley_dispatch_stops_on_sigterm_and_an_api_process_may_dispatch_instead(
        fresh: Deployment) -> None:
    processes = fresh.processes
    a_dispatcher(fresh)
    for name in dispatchers(fresh):
        process = processes.running.pop(name)
        process.terminate()
        assert process.wait(timeout=20) == 0
    processes.start_another_api("dispatching-api", {"PARLEY_NOTIFICATION_DISPATCH_IN_API": "true"})
    person = fresh.someone_with_a_webhook()
    nid = fresh.trigger(person)
    # the new API process joins the dispatchers' consumer group after the others left: a
    # rebalance, which may wait out a killed member's session on a loaded machine
    eventually(lambda: fresh.delivered_of({nid}) == [nid], 120, fresh.logs)
