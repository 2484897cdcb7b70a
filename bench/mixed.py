"""`python -m bench.mixed [--profile ...]`: a realistic mixed workload, as JSON.

Setup (not timed): `--users` people register; they open direct conversations (one per person,
with a random peer) and groups of 5, 20 and 100 members (about `users / size` of each size);
every conversation gets `--history` messages. Then, for `--seconds`, `--clients` simulated
clients (asyncio, one HTTP connection each) share the people between them and run a weighted
random mix through the public HTTP API, one request at a time each:

    send a message 40% · latest page of a conversation 15% · list conversations 10% ·
    mark read 10% · sync from the person's cursor 10% · unread counts 5% · react 5% · search 5%

Measured: operations/s in total and per operation, p50/p99 latency per operation (client side:
the load generator shares the machine, so it adds its own scheduling delay), errors by status
(any 5xx is a bug, listed with its body), and the peak resident memory (VmHWM) of each Parley
process (serve; relay and project in production), setup included.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import tempfile
import time
import uuid
from collections import Counter, defaultdict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.__main__ import percentile
from bench.messenger import peak_rss
from bench.processes import running_parley
from parley.launcher import ParleyProcesses

WEIGHTS = {"send": 40, "read_latest_page": 15, "list_conversations": 10, "mark_read": 10,
           "sync": 10, "unread": 5, "react": 5, "search": 5}
GROUP_SIZES = (5, 20, 100)
WORDS = ("apple", "harbour", "violin", "granite", "meadow", "lantern", "copper", "saffron",
         "glacier", "orbit", "pepper", "tundra", "marble", "falcon", "cedar", "quartz",
         "breeze", "canyon", "ember", "willow")
EMOJI = ("👍", "❤️", "😂", "🎉", "😮", "🙏")
SERVER_ERROR_SAMPLES = 20


async def settle(http: httpx.AsyncClient, timeout: float = 120.0, every: float = 0.2) -> float:
    """Until every projection has caught up with the log (`/ready` lag 0); seconds waited."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        response = await http.get("/ready")
        if response.status_code == 200 and not any(response.json()["projection_lag"].values()):
            break
        await asyncio.sleep(every)
    return round(time.perf_counter() - started, 2)


def sentence(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 12)))


@dataclass
class Person:
    user_id: str
    auth: dict[str, str]
    conversations: list[str] = field(default_factory=list)
    cursor: int = 0


@dataclass
class World:
    """What the clients know: people, and each conversation's newest messages and sequence."""

    people: list[Person]
    kinds: Counter[str] = field(default_factory=Counter)
    last_seq: dict[str, int] = field(default_factory=dict)
    recent: dict[str, deque[str]] = field(default_factory=lambda: defaultdict(
        lambda: deque(maxlen=50)))

    def sent(self, conversation: str, body: dict[str, Any]) -> None:
        self.last_seq[conversation] = max(self.last_seq.get(conversation, 0), int(body["seq"]))
        self.recent[conversation].append(str(body["message_id"]))


async def bounded(jobs: list[Callable[[], Awaitable[Any]]], concurrency: int) -> list[Any]:
    gate = asyncio.Semaphore(concurrency)

    async def one(job: Callable[[], Awaitable[Any]]) -> Any:
        async with gate:
            return await job()

    return list(await asyncio.gather(*(one(job) for job in jobs)))


async def build_world(http: httpx.AsyncClient, users: int, history: int,
                      rng: random.Random) -> World:
    async def register(i: int) -> Person:
        response = await http.post("/v1/users", json={
            "handle": f"m{uuid.uuid4().hex[:12]}", "name": f"Person {i}",
            "password": "mixed bench password"})
        response.raise_for_status()
        body = response.json()
        return Person(str(body["user_id"]), {"Authorization": f"Bearer {body['access_token']}"})

    world = World(await bounded([lambda i=i: register(i) for i in range(users)], 4))
    people = world.people

    async def direct(person: Person, peer: Person) -> None:
        response = await http.post("/v1/conversations/direct", headers=person.auth,
                                   json={"peer_id": peer.user_id})
        response.raise_for_status()
        conversation = str(response.json()["conversation_id"])
        if response.status_code == 201:
            world.kinds["direct"] += 1
            person.conversations.append(conversation)
            peer.conversations.append(conversation)

    async def group(size: int) -> None:
        members = rng.sample(people, size)
        response = await http.post("/v1/groups", headers=members[0].auth, json={
            "title": f"Group of {size}", "member_ids": [m.user_id for m in members[1:]]})
        response.raise_for_status()
        conversation = str(response.json()["conversation_id"])
        invited = set(response.json().get("invited_ids", []))
        for member in members[1:]:  # not the creator's contacts: invited, and they accept
            if member.user_id in invited:
                accepted = await http.post(f"/v1/groups/{conversation}/invitations/accept",
                                           headers=member.auth)
                accepted.raise_for_status()
        world.kinds[f"group of {size}"] += 1
        for member in members:
            member.conversations.append(conversation)

    pairs: dict[frozenset[str], tuple[Person, Person]] = {}
    for person in people:  # one direct conversation per person, with a random peer, no twice
        peer = rng.choice([other for other in people if other is not person])
        pairs.setdefault(frozenset((person.user_id, peer.user_id)), (person, peer))
    await bounded([lambda p=p, q=q: direct(p, q) for p, q in pairs.values()], 8)
    sizes = [size for size in GROUP_SIZES if size <= users
             for _ in range(max(1, users // size))]
    await bounded([lambda s=s: group(s) for s in sizes], 4)

    members: dict[str, list[Person]] = defaultdict(list)
    for person in people:
        for conversation in person.conversations:
            members[conversation].append(person)

    async def seed(conversation: str) -> None:
        for _ in range(history):
            sender = rng.choice(members[conversation])
            response = await http.post(f"/v1/conversations/{conversation}/messages",
                                       headers=sender.auth, json={"text": sentence(rng)})
            response.raise_for_status()
            world.sent(conversation, response.json())

    await bounded([lambda c=c: seed(c) for c in members], 8)
    return world


@dataclass
class Tally:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    server_errors: list[dict[str, Any]] = field(default_factory=list)


class Client:
    """One simulated client: its share of the people, one request at a time."""

    def __init__(self, http: httpx.AsyncClient, world: World, people: list[Person],
                 tally: Tally, rng: random.Random) -> None:
        self.http, self.world, self.people, self.tally, self.rng = http, world, people, tally, rng
        self.operations: dict[str, Callable[[Person], tuple[str, str, dict[str, Any]]]] = {
            "send": self.send, "read_latest_page": self.read_latest_page,
            "list_conversations": self.list_conversations, "mark_read": self.mark_read,
            "sync": self.sync, "unread": self.unread, "react": self.react,
            "search": self.search,
        }

    async def run(self, deadline: float) -> None:
        names, weights = list(WEIGHTS), list(WEIGHTS.values())
        while time.perf_counter() < deadline:
            name = self.rng.choices(names, weights)[0]
            person = self.rng.choice(self.people)
            method, url, options = self.operations[name](person)
            started = time.perf_counter()
            try:
                response = await self.http.request(method, url, headers=person.auth, **options)
            except httpx.TransportError as error:
                self.tally.errors[name][f"transport {type(error).__name__}"] += 1
                continue
            self.tally.latencies[name].append(time.perf_counter() - started)
            if response.status_code >= 300:
                self.tally.errors[name][str(response.status_code)] += 1
                if response.status_code >= 500 and (
                        len(self.tally.server_errors) < SERVER_ERROR_SAMPLES):
                    self.tally.server_errors.append({
                        "operation": name, "method": method, "url": url,
                        "status": response.status_code, "body": response.text[:500]})
                continue
            if name == "send":
                self.world.sent(url.split("/")[3], response.json())
            elif name == "sync":
                person.cursor = int(response.json()["cursor"])

    def conversation(self, person: Person) -> str:
        return self.rng.choice(person.conversations)

    def send(self, person: Person) -> tuple[str, str, dict[str, Any]]:
        return ("POST", f"/v1/conversations/{self.conversation(person)}/messages",
                {"json": {"text": sentence(self.rng)}})

    def read_latest_page(self, person: Person) -> tuple[str, str, dict[str, Any]]:
        return ("GET", f"/v1/conversations/{self.conversation(person)}/messages",
                {"params": {"limit": 50}})

    def list_conversations(self, person: Person) -> tuple[str, str, dict[str, Any]]:
        return "GET", "/v1/conversations", {}

    def mark_read(self, person: Person) -> tuple[str, str, dict[str, Any]]:
        conversation = self.conversation(person)
        return ("POST", f"/v1/conversations/{conversation}/read",
                {"json": {"up_to_seq": self.world.last_seq.get(conversation, 0)}})

    def sync(self, person: Person) -> tuple[str, str, dict[str, Any]]:
        return "GET", "/v1/sync", {"params": {"since": person.cursor}}

    def unread(self, person: Person) -> tuple[str, str, dict[str, Any]]:
        return "GET", "/v1/unread", {}

    def react(self, person: Person) -> tuple[str, str, dict[str, Any]]:
        conversation = self.conversation(person)
        message = self.rng.choice(self.world.recent[conversation])
        return "PUT", f"/v1/messages/{message}/reactions/{self.rng.choice(EMOJI)}", {}

    def search(self, person: Person) -> tuple[str, str, dict[str, Any]]:
        return "GET", "/v1/search/messages", {"params": {"q": self.rng.choice(WORDS)}}


def summary(tally: Tally, elapsed: float) -> dict[str, Any]:
    by_operation: dict[str, Any] = {}
    for name in WEIGHTS:
        samples = tally.latencies.get(name, [])
        by_operation[name] = {
            "count": len(samples),
            "per_second": round(len(samples) / elapsed, 1),
            "p50_ms": round(percentile(samples, 0.50) * 1000, 2) if samples else None,
            "p99_ms": round(percentile(samples, 0.99) * 1000, 2) if samples else None,
            "errors": dict(tally.errors.get(name, {})),
        }
    total = sum(len(samples) for samples in tally.latencies.values())
    by_status: Counter[str] = Counter()
    for counts in tally.errors.values():
        by_status.update(counts)
    return {"seconds": round(elapsed, 2), "operations": total,
            "operations_per_second": round(total / elapsed, 1),
            "by_operation": by_operation, "errors_by_status": dict(by_status),
            "server_errors": tally.server_errors}


async def measure(processes: ParleyProcesses, args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(args.seed)
    limits = httpx.Limits(max_connections=max(args.clients, 8) + 4)
    async with httpx.AsyncClient(base_url=processes.base_url, timeout=60,
                                 limits=limits) as http:
        started = time.perf_counter()
        world = await build_world(http, args.users, args.history, rng)
        settled = await settle(http)
        setup = {"users": len(world.people), "conversations": dict(world.kinds),
                 "messages": args.history * sum(world.kinds.values()),
                 "seconds": round(time.perf_counter() - started, 1),
                 "projections_settled_after_seconds": settled}
        tally = Tally()
        clients = [Client(http, world, world.people[i::args.clients], tally,
                          random.Random(rng.random()))
                   for i in range(min(args.clients, len(world.people)))]
        started = time.perf_counter()
        deadline = started + args.seconds
        await asyncio.gather(*(client.run(deadline) for client in clients))
        workload = summary(tally, time.perf_counter() - started)
    return {"setup": setup, "workload": workload, "peak_rss_mib": peak_rss(processes)}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.mixed",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=["embedded", "production"], default="embedded")
    parser.add_argument("--seconds", type=float, default=30.0, help="how long the mix runs")
    parser.add_argument("--clients", type=int, default=32, help="concurrent simulated clients")
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--history", type=int, default=5,
                        help="messages sent into each conversation during setup")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if args.users < 2 or args.clients < 1 or args.history < 1:
        parser.error("needs at least 2 users, 1 client and 1 message of history")
    with tempfile.TemporaryDirectory() as scratch, running_parley(args.profile,
                                                                  Path(scratch)) as processes:
        results = asyncio.run(measure(processes, args))
        namespace = processes.env["PARLEY_NAMESPACE"] if args.profile == "production" else None
    result = {"profile": args.profile, **({"namespace": namespace} if namespace else {}),
              "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                          "platform": platform.platform()},
              "settings": {"users": args.users, "clients": args.clients,
                           "seconds": args.seconds, "history": args.history,
                           "weights_percent": WEIGHTS, "group_sizes": GROUP_SIZES},
              **results}
    out = Path(__file__).with_name("results") / (
        f"mixed-{args.profile}-{time.strftime('%Y%m%d-%H%M%S')}.json")
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False))
    print(json.dumps(result, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
