"""`parley replay` and `parley projections`, against running Parley processes in each profile."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from elasticsearch import Elasticsearch

from parley.launcher import ParleyProcesses
from tests.builders import ParleyClient, Person
from tests.e2e.conftest import PROFILES

COLLECTIONS = ("users", "devices", "contacts", "blocks", "conversations", "memberships",
               "messages", "changes", "attachments")


def parley_command(processes: ParleyProcesses, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "parley", *args], env=processes.env,
                          capture_output=True, text=True, timeout=300)


def json_lines(result: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    assert result.returncode == 0, result.stderr[-2000:]
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


def caught_up(processes: ParleyProcesses, timeout: float = 30) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        statuses = json_lines(parley_command(processes, "projections", "status", "--json"))
        if all(s["lag_events"] == 0 for s in statuses) or time.monotonic() > deadline:
            return statuses
        time.sleep(0.5)


def documents(processes: ParleyProcesses, target: str | None,
              collections: tuple[str, ...] = COLLECTIONS) -> dict[tuple[str, str], Any]:
    """Every document of the serving read models, or of a named replay target."""
    env = processes.env
    if env.get("PARLEY_DATABASE_URL"):
        found: dict[tuple[str, str], Any] = {}
        with Elasticsearch(env["PARLEY_ELASTICSEARCH_URL"]) as client:
            for collection in collections:
                index = f"{env['PARLEY_NAMESPACE']}-{collection}"
                index += f"-asof-{target}" if target else ""
                client.indices.refresh(index=index)
                hits = client.search(index=index, size=10_000, query={"match_all": {}})
                found |= {(collection, h["_id"]): h["_source"] for h in hits["hits"]["hits"]}
        return found
    data = Path(env["PARLEY_DATA_DIR"])
    path = data / "replays" / f"{target}.sqlite3" if target else data / "read_models.sqlite3"
    with sqlite3.connect(path) as connection:
        rows = connection.execute("SELECT collection, doc_id, version, body FROM documents")
        return {(c, d): (v, json.loads(b)) for c, d, v, b in rows if c in collections}


class Load:
    """Sends and reads through the public API while something else happens."""

    def __init__(self, base_url: str, sender: Person, reader: Person,
                 conversation: str) -> None:
        self.stop = threading.Event()
        self.sent: list[str] = []
        self.failed_reads: list[int] = []
        self.reads = 0
        self.base_url, self.conversation = base_url, conversation
        self._threads = [threading.Thread(target=self._send, args=(sender,)),
                         threading.Thread(target=self._read, args=(reader,))]

    def _send(self, ada: Person) -> None:
        with httpx.Client(base_url=self.base_url, timeout=30) as http:
            client, n = ParleyClient(http), 0
            while not self.stop.is_set():
                n += 1
                self.sent.append(client.sent(ada, self.conversation, f"during {n}")["message_id"])

    def _read(self, bob: Person) -> None:
        with httpx.Client(base_url=self.base_url, timeout=30) as http:
            while not self.stop.is_set():
                response = http.get(f"/v1/conversations/{self.conversation}/messages",
                                    headers=bob.auth)
                self.reads += 1
                if response.status_code != 200:
                    self.failed_reads.append(response.status_code)

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self.stop.set()
        for thread in self._threads:
            thread.join(timeout=30)


@PROFILES
def test_a_replay_under_live_writes_ends_equal_to_a_read_model_built_from_scratch(
        processes: ParleyProcesses, parley: ParleyClient) -> None:
    ada, bob = parley.register("Ada"), parley.register("Bob")
    conversation = parley.open_direct(ada, bob)
    for n in range(60):
        parley.send(ada, conversation, f"before {n}")

    with Load(processes.base_url, ada, bob, conversation) as load:
        time.sleep(0.5)
        replayed = json_lines(parley_command(processes, "replay", "--all", "--json",
                                             "--batch-size", "50"))
        time.sleep(0.5)

    assert replayed[-1]["switched_to"] == {name: 2 for name in replayed[-1]["projections"]}
    assert load.sent and load.reads, "the load ran"
    assert load.failed_reads == [], "queries kept being answered during the replay"
    statuses = caught_up(processes)
    assert all(s["lag_events"] == 0 for s in statuses), statuses
    assert {s["projection"] for s in statuses} == set(replayed[-1]["projections"])
    head = statuses[0]["head"]
    json_lines(parley_command(processes, "replay", "--all", "--until", str(head),
                              "--into", "scratch", "--json"))
    assert documents(processes, None) == documents(processes, "scratch")
    history = parley.all_messages(bob, conversation)
    assert len(history) == 60 + len(load.sent)


@PROFILES
def test_operators_see_status_plan_and_time_travel(processes: ParleyProcesses,
                                                   parley: ParleyClient) -> None:
    ada, bob = parley.register("Ada"), parley.register("Bob")
    conversation = parley.open_direct(ada, bob)
    first = parley.sent(ada, conversation, "first")
    for n in range(5):
        parley.send(ada, conversation, f"later {n}")
    statuses = caught_up(processes)
    assert {s["projection"] for s in statuses} >= {"messaging", "feed", "users"}
    assert all(s["parked"] == 0 and s["last_error"] is None for s in statuses)

    plan = json_lines(parley_command(processes, "replay", "messaging", "--dry-run", "--json"))
    assert plan[0]["events"] == statuses[0]["head"]
    assert [r["projection"] for r in plan[0]["rebuilds"]] == ["messaging"]

    json_lines(parley_command(processes, "replay", "messaging", "--until",
                              str(first["position"]), "--into", "first", "--json"))
    assert len(documents(processes, "first", ("messages",))) == 1

    unknown = parley_command(processes, "replay", "nonsense")
    assert unknown.returncode == 2 and "unknown projection" in unknown.stderr
    bad_time = parley_command(processes, "replay", "--all", "--until", "yesterday")
    assert bad_time.returncode == 2 and "ISO 8601" in bad_time.stderr



def corrupt_message_text(processes: ParleyProcesses, message_id: str, text: str) -> None:
    """A read model gone wrong (say, by a projector bug) behind the server's back."""
    env = processes.env
    if env.get("PARLEY_DATABASE_URL"):
        with Elasticsearch(env["PARLEY_ELASTICSEARCH_URL"]) as client:
            index = f"{env['PARLEY_NAMESPACE']}-messages"
            client.update(index=index, id=message_id, doc={"text": text}, refresh=True)
        return
    with sqlite3.connect(Path(env["PARLEY_DATA_DIR"]) / "read_models.sqlite3") as connection:
        connection.execute("UPDATE documents SET body = json_set(body, '$.text', ?) "
                           "WHERE collection = 'messages' AND doc_id = ?", (text, message_id))


@PROFILES
def test_a_replay_from_the_command_line_is_served_at_once_by_the_running_server(
        processes: ParleyProcesses, parley: ParleyClient) -> None:
    ada, bob = parley.register("Ada"), parley.register("Bob")
    conversation = parley.open_direct(ada, bob)
    sent = parley.sent(ada, conversation, "the real text")
    projected = parley.search(bob, "real", position=sent["position"])  # never cached
    assert projected.status_code == 200 and projected.json()["messages"], projected.text
    corrupt_message_text(processes, sent["message_id"], "garbled")

    def newest_text() -> str:
        response = parley.messages(bob, conversation)
        assert response.status_code == 200, response.text
        text: str = response.json()["messages"][0]["text"]
        return text

    assert newest_text() == "garbled"  # and now the server holds that page in its cache
    json_lines(parley_command(processes, "replay", "messaging", "--json"))

    assert newest_text() == "the real text"
