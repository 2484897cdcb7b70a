"""`python -m bench [--profile embedded|production]`: throughput and latency, printed as JSON.

Measures, through the real HTTP command API: sustained messages/s and p50/p99 command latency
at concurrency 1, 8 and 32 (load from wrk); and p50/p99 write-to-query visibility (send, then
poll the query API until the message appears).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from bench.processes import running_parley

WRK_SCRIPT = Path(__file__).with_name("send.lua")


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def register(http: httpx.AsyncClient) -> dict[str, Any]:
    response = await http.post("/v1/users", json={"handle": f"b{uuid.uuid4().hex[:12]}",
                                                  "name": "Bench",
                                                  "password": "bench-password"})
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


async def conversation_pair(http: httpx.AsyncClient) -> tuple[dict[str, str], str]:
    ada, bob = await register(http), await register(http)
    auth = {"Authorization": f"Bearer {ada['access_token']}"}
    opened = await http.post("/v1/conversations/direct", json={"peer_id": bob["user_id"]},
                             headers=auth)
    opened.raise_for_status()
    return auth, str(opened.json()["conversation_id"])


def sustained_sends(base_url: str, token: str, conversation: str, concurrency: int,
                    seconds: float, pause_ms: int = 0,
                    responses: Path | None = None) -> dict[str, Any]:
    """wrk (C, one thread) keeps `concurrency` connections sending to one conversation, each
    as fast as it is answered, or pausing `pause_ms` after each answer (a paced load).
    `responses`, if given, receives a line "message_id seconds" per answer, timed as it came.

    A Python load generator on this 2-core machine saturates before the server does, so the
    load comes from wrk; its Lua script prints a JSON summary line.
    """
    output = subprocess.run(
        ["wrk", "-t1", f"-c{concurrency}", f"-d{max(1, round(seconds))}s", "-s", str(WRK_SCRIPT),
         f"{base_url}/v1/conversations/{conversation}/messages"],
        capture_output=True, text=True, check=True,
        env=os.environ | {"PARLEY_BENCH_TOKEN": token, "PARLEY_BENCH_PAUSE_MS": str(pause_ms),
                          "PARLEY_BENCH_RESPONSES": str(responses or "")},
    ).stdout
    summary = json.loads(output.strip().splitlines()[-1])
    return {
        "concurrency": concurrency,
        "messages_per_second": round(summary["requests"] / (summary["duration_us"] / 1e6), 1),
        "p50_ms": round(summary["p50_us"] / 1000, 2),
        "p99_ms": round(summary["p99_us"] / 1000, 2),
        "sent": summary["requests"],
        "errors": summary["errors"],
    }


async def visibility(http: httpx.AsyncClient, samples: int) -> dict[str, Any]:
    """Send, then poll the query API (without a consistency token) until the message shows."""
    auth, conversation = await conversation_pair(http)
    delays: list[float] = []
    for i in range(samples):
        started = time.perf_counter()
        sent = await http.post(f"/v1/conversations/{conversation}/messages",
                               json={"text": f"visible {i}"}, headers=auth)
        message_id = sent.json()["message_id"]
        while True:
            page = await http.get(f"/v1/conversations/{conversation}/messages",
                                  params={"limit": 1}, headers=auth)
            if page.status_code == 200 and any(
                m["message_id"] == message_id for m in page.json()["messages"]
            ):
                break
            await asyncio.sleep(0.001)
        delays.append(time.perf_counter() - started)
    return {"samples": samples,
            "p50_ms": round(percentile(delays, 0.50) * 1000, 2),
            "p99_ms": round(percentile(delays, 0.99) * 1000, 2)}


async def measure(base_url: str, seconds: float, samples: int) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
        auth, conversation = await conversation_pair(http)
        token = auth["Authorization"].removeprefix("Bearer ")
        runs = [sustained_sends(base_url, token, conversation, c, seconds) for c in (1, 8, 32)]
        return {"send": runs, "write_to_query_visibility": await visibility(http, samples)}


def main() -> None:
    if sys.argv[1:2] == ["decisions"]:  # python -m bench decisions [...]
        from bench.decisions import main as decisions

        decisions(sys.argv[2:])
        return
    if sys.argv[1:2] == ["payments"]:  # python -m bench payments [...]
        from bench.payments import main as payments

        payments(sys.argv[2:])
        return
    if sys.argv[1:2] == ["notifications"]:  # python -m bench notifications [...]
        from bench.notifications import main as notifications

        notifications(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--profile", choices=["embedded", "production"], default="embedded")
    parser.add_argument("--seconds", type=float, default=10.0, help="per concurrency level")
    parser.add_argument("--samples", type=int, default=200, help="visibility samples")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("bench: needs wrk (apt-get install wrk; `make bench` installs it)")
    with tempfile.TemporaryDirectory() as scratch, \
            running_parley(args.profile, Path(scratch)) as processes:
        results = asyncio.run(measure(processes.base_url, args.seconds, args.samples))
    print(json.dumps({"profile": args.profile, "machine": {
        "cpus": os.cpu_count(), "python": platform.python_version(),
        "platform": platform.platform()}, **results}, indent=2))


if __name__ == "__main__":
    main()
