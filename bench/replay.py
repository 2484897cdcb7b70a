"""`python -m bench.replay [--events N]`: replay and audit-verify throughput, as JSON.

1. Seeds a production log (PostgreSQL) to at least N events through the real write path: the
   group-commit writer and the same command handlers the HTTP API uses (users, direct and
   group conversations, messages), with many commands in flight. Skipped when the namespace
   already holds N events, so a seeded log can be measured again.
2. `parley replay --all` into fresh Elasticsearch generations: events/s, and the replay
   process's resident memory sampled as it goes (it must stay flat as the log grows).
3. `parley audit verify`: the hash chain recomputed over the whole log, events/s.

Needs the services (`bash deploy/services.sh up`, then eval its `env`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import subprocess
import sys
import time
import uuid
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from bench.processes import SERVICE_VARIABLES
from commands.identity.users import RegisterUser
from commands.messaging.conversations import OpenDirectConversation, SendMessage
from commands.messaging.groups import CreateGroup
from event_log.aggregate import Cause
from parley.bootstrap import build
from parley.settings import Settings

IN_FLIGHT = 512


def cause(actor: uuid.UUID) -> Cause:
    return Cause(actor_id=actor, correlation_id=uuid.uuid4())


def seed(settings: Settings, events: int) -> dict[str, Any]:
    parley = build(settings)
    parley.start()
    try:
        from adapters.event_log.log_reader import LogReader

        head = LogReader(parley.event_log).head
        if head() >= events:
            return {"seeded": 0, "events": head()}
        writer = parley.writer
        assert writer is not None
        users = [writer.execute(RegisterUser(f"seed{uuid.uuid4().hex[:10]}", "Seed"),
                                cause(uuid.uuid4())).result.user_id
                 for _ in range(200)]
        conversations = [writer.execute(
            OpenDirectConversation(users[i], users[i + 1], parley.direct_id_key),
            cause(users[i])).result.conversation_id for i in range(0, 180, 2)]
        conversations += [writer.execute(
            CreateGroup(uuid.uuid4(), users[i], f"group {i}", tuple(users[i + 1:i + 10]), 250),
            cause(users[i])).result.conversation_id for i in range(180, 190)]
        senders = {c: users[2 * n] if n < 90 else users[180 + (n - 90)]
                   for n, c in enumerate(conversations)}
        started, start_head = time.monotonic(), head()
        pending: list[Future[Any]] = []
        n = 0
        while head() < events:
            for _ in range(5000):
                conversation = conversations[n % len(conversations)]
                sender = senders[conversation]
                pending.append(writer.submit(SendMessage(
                    conversation, sender, uuid.uuid4(), f"seeded message number {n}",
                    _now()), cause(sender)))
                n += 1
                if len(pending) >= IN_FLIGHT:
                    pending.pop(0).result(timeout=120)
            for future in pending:
                future.result(timeout=120)
            pending.clear()
        seconds = time.monotonic() - started
        seeded = head() - start_head
        return {"seeded": seeded, "events": head(), "seconds": round(seconds, 1),
                "events_per_second": round(seeded / seconds, 1)}
    finally:
        parley.close()


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


def measured_run(args: list[str], env: dict[str, str]) -> dict[str, Any]:
    """Runs `python -m parley ARGS`, sampling its resident memory every half second."""
    started = time.monotonic()
    process = subprocess.Popen([sys.executable, "-m", "parley", *args], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    samples: list[tuple[float, float]] = []
    while process.poll() is None:
        try:
            status = Path(f"/proc/{process.pid}/status").read_text()
            kib = next(int(line.split()[1]) for line in status.splitlines()
                       if line.startswith("VmRSS"))
            samples.append((time.monotonic() - started, kib / 1024))
        except (FileNotFoundError, StopIteration):
            pass
        time.sleep(0.5)
    output = process.stdout.read() if process.stdout else ""
    seconds = time.monotonic() - started
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    return {"exit": process.returncode, "seconds": round(seconds, 1), "output": lines[-1:],
            "rss_mib": rss_profile(samples)}


def rss_profile(samples: list[tuple[float, float]]) -> dict[str, float]:
    """Resident memory at a tenth, half and nine tenths of the run, and its peak."""
    if not samples:
        return {}
    at = {f"at_{int(f * 100)}pct": round(samples[min(len(samples) - 1,
                                                     int(len(samples) * f))][1], 1)
          for f in (0.1, 0.5, 0.9)}
    return at | {"peak": round(max(s[1] for s in samples), 1)}


def derived_key(purpose: str, namespace: str) -> str:
    """A strong key that is the same on every run for this namespace (benchmarks only)."""
    return hashlib.sha256(f"parley-bench/{purpose}/{namespace}".encode()).hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--namespace", default="bench_replay")
    parser.add_argument("--batch-size", default="2000")
    parser.add_argument("--seed-only", action="store_true", help="Seed the log, measure nothing")
    options = parser.parse_args()
    missing = [v for v in SERVICE_VARIABLES if not os.environ.get(v)]
    if missing:
        raise SystemExit(f"{', '.join(missing)} not set: start the services and eval their env")
    env = os.environ | {"PARLEY_NAMESPACE": options.namespace,
                        # the same keys every run, so a later run verifies earlier checkpoints
                        "PARLEY_SECRET_KEY": derived_key("tokens", options.namespace),
                        "PARLEY_AUDIT_KEY": derived_key("audit", options.namespace),
                        "PARLEY_LOG_LEVEL": "WARNING"}
    os.environ.update(env)
    seeding = seed(Settings(), options.events)
    print(json.dumps({"seed": seeding}), flush=True)
    if options.seed_only:
        return
    replay = measured_run(["replay", "--all", "--json", "--batch-size", options.batch_size],
                          env)
    print(json.dumps({"replay": replay}), flush=True)
    verify = measured_run(["audit", "verify", "--json"], env)
    verify["events_per_second"] = round(seeding["events"] / verify["seconds"], 1)
    result = {"machine": f"{platform.machine()}, {os.cpu_count()} cores",
              "events": seeding["events"], "seed": seeding, "replay": replay,
              "verify": verify}
    out = Path(__file__).with_name("results") / f"replay-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
