"""`python -m bench.hot_paths [--profile ...]`: read latency of the hot paths, as JSON.

Setup (not timed): one reader and 9 other people share `--groups` groups of 10 members, each
holding `--messages` messages sent by the others. Then, one request at a time (no concurrency:
this measures the path, not the machine), `--reads` reads each of the reader's conversation
list, the latest page (50 messages) of the first group, and the reader's unread counts; p50/p99
latency per read, twice: reads only, and with one send into that group before every 10th read
(the send is not timed; it invalidates what the reads may have cached). Non-200 answers are
counted as errors. Also the peak resident memory (VmHWM) of each Parley process.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from bench.__main__ import percentile
from bench.messenger import peak_rss
from bench.processes import running_parley
from parley.launcher import ParleyProcesses

MODES = {"reads_only": 0, "one_send_per_10_reads": 10}


def register(http: httpx.Client, name: str) -> tuple[str, dict[str, str]]:
    response = http.post("/v1/users", json={"handle": f"h{uuid.uuid4().hex[:12]}", "name": name,
                                            "password": "hot paths password"})
    response.raise_for_status()
    body = response.json()
    return str(body["user_id"]), {"Authorization": f"Bearer {body['access_token']}"}


def wait_until_visible(http: httpx.Client, auth: dict[str, str], position: int) -> None:
    """Until the read models have reached `position` (the consistency token; 503 meanwhile)."""
    deadline = time.monotonic() + 120
    while http.get("/v1/unread", params={"position": position},
                   headers=auth).status_code != 200:
        if time.monotonic() > deadline:
            raise RuntimeError(f"read models never reached position {position}")
        time.sleep(0.1)


def measure(processes: ParleyProcesses, args: argparse.Namespace) -> dict[str, Any]:
    with httpx.Client(base_url=processes.base_url, timeout=60) as http:
        _, reader = register(http, "Reader")
        others = [register(http, f"Other {i}") for i in range(9)]
        groups = []
        for g in range(args.groups):
            created = http.post("/v1/groups", headers=reader, json={
                "title": f"Group {g}", "member_ids": [user_id for user_id, _ in others]})
            created.raise_for_status()
            groups.append(str(created.json()["conversation_id"]))
            for _, auth in others:  # not the reader's contacts: invited, and they accept
                http.post(f"/v1/groups/{groups[-1]}/invitations/accept",
                          headers=auth).raise_for_status()
        position = 0
        for group in groups:
            for i in range(args.messages):
                sent = http.post(f"/v1/conversations/{group}/messages",
                                 headers=others[i % len(others)][1],
                                 json={"text": f"message {i} in {group}"})
                sent.raise_for_status()
                position = int(sent.json()["position"])
        wait_until_visible(http, reader, position)

        busiest = f"/v1/conversations/{groups[0]}/messages"
        reads: dict[str, Callable[[], httpx.Response]] = {
            "conversation_list": lambda: http.get("/v1/conversations", headers=reader),
            "latest_page": lambda: http.get(busiest, params={"limit": 50}, headers=reader),
            "unread": lambda: http.get("/v1/unread", headers=reader),
        }
        results: dict[str, Any] = {}
        for mode, send_every in MODES.items():
            for name, read in reads.items():
                latencies: list[float] = []
                errors: Counter[str] = Counter()
                for i in range(args.reads):
                    if send_every and i % send_every == 0:
                        sent = http.post(busiest, headers=others[0][1], json={"text": "more"})
                        if sent.status_code != 201:
                            errors[f"send {sent.status_code}"] += 1
                    started = time.perf_counter()
                    response = read()
                    latencies.append(time.perf_counter() - started)
                    if response.status_code != 200:
                        errors[str(response.status_code)] += 1
                results[f"{mode}/{name}"] = {
                    "reads": len(latencies),
                    "p50_ms": round(percentile(latencies, 0.50) * 1000, 2),
                    "p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
                    "errors": dict(errors)}
        return {"latency": results, "peak_rss_mib": peak_rss(processes)}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.hot_paths",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=["embedded", "production"], default="embedded")
    parser.add_argument("--reads", type=int, default=300, help="per read path and mode")
    parser.add_argument("--groups", type=int, default=5)
    parser.add_argument("--messages", type=int, default=100, help="per group, during setup")
    args = parser.parse_args()
    if args.reads < 1 or args.groups < 1 or args.messages < 1:
        parser.error("--reads, --groups and --messages must be at least 1")
    with tempfile.TemporaryDirectory() as scratch, running_parley(args.profile,
                                                                  Path(scratch)) as processes:
        results = measure(processes, args)
        namespace = processes.env["PARLEY_NAMESPACE"] if args.profile == "production" else None
    result = {"profile": args.profile, **({"namespace": namespace} if namespace else {}),
              "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                          "platform": platform.platform()},
              "settings": {"reads": args.reads, "groups": args.groups,
                           "messages_per_group": args.messages},
              **results}
    out = Path(__file__).with_name("results") / (
        f"hot_paths-{args.profile}-{time.strftime('%Y%m%d-%H%M%S')}.json")
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
