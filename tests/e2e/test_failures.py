"""The production pipeline survives crashes and outages without losing or doubling anything."""

from __future__ import annotations

import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from elasticsearch import Elasticsearch

from parley.launcher import ParleyProcesses
from tests.builders import ParleyClient, Person

pytestmark = pytest.mark.services
SERVICES_SCRIPT = Path(__file__).resolve().parents[2] / "deploy" / "services.sh"
PRODUCTION = pytest.mark.parametrize("processes", ["production"], indirect=True)


def send_many(parley: ParleyClient, sender: Person, conversation: str, texts: list[str],
              workers: int = 16) -> list[dict[str, object]]:
    def one(text: str) -> dict[str, object]:
        return parley.sent(sender, conversation, text)

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(one, texts))


def indexed_seqs(services: dict[str, str], namespace: str, conversation: str) -> list[int]:
    with Elasticsearch(services["PARLEY_ELASTICSEARCH_URL"]) as client:
        client.indices.refresh(index=f"{namespace}-messages")
        result = client.search(index=f"{namespace}-messages", size=10_000,
                               query={"term": {"conversation_id": conversation}},
                               source=["seq"], track_total_hits=True)
    return sorted(hit["_source"]["seq"] for hit in result["hits"]["hits"])


def wait_until(condition: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.5)
    return False


@PRODUCTION
def test_a_projector_killed_mid_stream_resumes_and_indexes_every_message_once(
    parley: ParleyClient, processes: ParleyProcesses, services: dict[str, str], namespace: str
) -> None:
    ada, bob = parley.register("Ada"), parley.register("Bob")
    conversation = parley.open_direct(ada, bob)
    total = 5000
    sent = send_many(parley, ada, conversation, [f"message {i}" for i in range(2000)])
    assert wait_until(lambda: len(indexed_seqs(services, namespace, conversation)) > 0, 60)
    processes.kill("project")
    sent += send_many(parley, ada, conversation, [f"message {i}" for i in range(2000, total)])
    processes.start("project")

    expected = list(range(1, total + 1))
    assert wait_until(lambda: indexed_seqs(services, namespace, conversation) == expected, 120)
    last = max(int(str(s["position"])) for s in sent)
    listed = parley.all_messages(bob, conversation, position=last)
    assert len(listed) == total and len({m["message_id"] for m in listed}) == total


@PRODUCTION
def test_commands_keep_succeeding_while_kafka_is_down_and_everything_arrives_after(
    parley: ParleyClient, processes: ParleyProcesses, services: dict[str, str], namespace: str
) -> None:
    ada, bob = parley.register("Ada"), parley.register("Bob")
    conversation = parley.open_direct(ada, bob)
    statuses: list[int] = []
    stop_sending = threading.Event()

    def keep_sending() -> None:
        with httpx.Client(base_url=processes.base_url, timeout=30) as http:
            client = ParleyClient(http)
            i = 0
            while not stop_sending.is_set():
                statuses.append(client.send(ada, conversation, f"during outage {i}").status_code)
                i += 1
                time.sleep(0.01)

    sender = threading.Thread(target=keep_sending)
    sender.start()
    try:
        time.sleep(1)
        subprocess.run(["bash", str(SERVICES_SCRIPT), "down", "kafka"], check=True)
        time.sleep(10)
    finally:
        subprocess.run(["bash", str(SERVICES_SCRIPT), "up", "kafka"], check=True)
    time.sleep(2)
    stop_sending.set()
    sender.join()

    assert len(statuses) > 100 and set(statuses) == {201}
    expected = list(range(1, len(statuses) + 1))
    assert wait_until(lambda: indexed_seqs(services, namespace, conversation) == expected, 120), (
        processes.log_tail("relay") + processes.log_tail("project")
    )
