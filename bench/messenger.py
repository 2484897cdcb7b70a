"""`python -m bench.messenger [--profile ...]`: the messenger's own numbers, as JSON.

1. Send throughput and latency (wrk, concurrency 32) into a conversation holding 10 messages
   and into one holding `--long` messages (default 100,000): sending must not slow down as a
   conversation grows.
2. Delivery to a live socket: a sender paced at `--rate` messages/s; for each message, the
   time from the send command's response to the recipient's WebSocket frame carrying it.
3. Peak resident memory (VmHWM) of each Parley process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import websockets

from bench.__main__ import (
    SERVICE_VARIABLES,
    UNLIMITED,
    conversation_pair,
    percentile,
    sustained_sends,
)
from parley.launcher import ParleyProcesses


def fill(base_url: str, auth: dict[str, str], conversation: str, count: int) -> int:
    """Grow a conversation through the public API (the real write path) to at least `count`
    messages, with wrk in chunks of a few seconds; returns how many were sent."""
    sent = 0
    while sent < count:
        seconds = 2 if count - sent < 2000 else 15
        sent += sustained_sends(base_url, auth["Authorization"][7:], conversation, 32,
                                seconds)["sent"]
    return sent


async def socket_delivery(base_url: str, http: httpx.AsyncClient, rate: float,
                          seconds: float) -> dict[str, Any]:
    pair = await _recipient_pair(http)
    sender_auth, conversation = pair["sender"], pair["conversation"]
    answered: dict[str, float] = {}
    received: dict[str, float] = {}
    url = base_url.replace("http://", "ws://") + "/v1/live"
    async with websockets.connect(url, additional_headers=pair["auth"]) as socket:
        async def listen() -> None:
            async for frame in socket:
                now = time.perf_counter()
                body = json.loads(frame)
                for change in body.get("changes", []):
                    if change["kind"] == "message_sent":
                        received.setdefault(change["data"]["message_id"], now)

        listener = asyncio.ensure_future(listen())
        await asyncio.sleep(1.0)
        interval, started = 1.0 / rate, time.perf_counter()
        for i in range(int(rate * seconds)):
            await asyncio.sleep(max(0.0, started + i * interval - time.perf_counter()))
            response = await http.post(f"/v1/conversations/{conversation}/messages",
                                       json={"text": f"live {i}"}, headers=sender_auth)
            answered[response.json()["message_id"]] = time.perf_counter()
        achieved = len(answered) / (time.perf_counter() - started)
        await asyncio.sleep(3.0)
        listener.cancel()
    delays = [received[m] - t for m, t in answered.items() if m in received]
    return {"target_rate": rate, "achieved_rate": round(achieved, 1), "sent": len(answered),
            "delivered": len(delays),
            "p50_ms": round(percentile(delays, 0.5) * 1000, 2) if delays else None,
            "p99_ms": round(percentile(delays, 0.99) * 1000, 2) if delays else None}


async def _recipient_pair(http: httpx.AsyncClient) -> dict[str, Any]:
    people = []
    for name in ("sender", "recipient"):
        response = await http.post("/v1/users", json={
            "handle": f"b{uuid.uuid4().hex[:12]}", "name": name, "password": "bench password"})
        response.raise_for_status()
        people.append(response.json())
    sender = {"Authorization": f"Bearer {people[0]['token']}"}
    opened = await http.post("/v1/conversations/direct", headers=sender,
                             json={"peer_id": people[1]["user_id"]})
    return {"sender": sender, "conversation": opened.json()["conversation_id"],
            "auth": {"Authorization": f"Bearer {people[1]['token']}"}}


def peak_rss(processes: ParleyProcesses) -> dict[str, float]:
    peaks = {}
    for role, process in processes.running.items():
        status = Path(f"/proc/{process.pid}/status").read_text()
        kib = next(int(line.split()[1]) for line in status.splitlines()
                   if line.startswith("VmHWM"))
        peaks[role] = round(kib / 1024, 1)
    return peaks


async def measure(base_url: str, args: argparse.Namespace,
                  processes: ParleyProcesses) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=64)
    async with httpx.AsyncClient(base_url=base_url, timeout=60, limits=limits) as http:
        short_auth, short = await conversation_pair(http)
        for i in range(10):
            await http.post(f"/v1/conversations/{short}/messages", headers=short_auth,
                            json={"text": f"history {i}"})
        long_auth, long = await conversation_pair(http)
        filled = time.perf_counter()
        long_size = fill(base_url, long_auth, long, args.long)
        fill_rate = long_size / (time.perf_counter() - filled)
        sends = {
            name: sustained_sends(base_url, auth["Authorization"][7:], conversation, 32,
                                  args.seconds)
            for name, auth, conversation in (("10 messages", short_auth, short),
                                             (f"{long_size} messages", long_auth, long))
        }
        delivery = await socket_delivery(base_url, http, args.rate, args.seconds)
        return {"fill_messages_per_second": round(fill_rate, 1), "send_at_32": sends,
                "socket_delivery": delivery, "peak_rss_mib": peak_rss(processes)}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.messenger")
    parser.add_argument("--profile", choices=["embedded", "production"], default="embedded")
    parser.add_argument("--long", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=500.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        env = {"PARLEY_LOG_LEVEL": "WARNING", **UNLIMITED}
        if args.profile == "production":
            missing = [v for v in SERVICE_VARIABLES if not os.environ.get(v)]
            if missing:
                raise SystemExit(f"bench: {', '.join(missing)} not set")
            env |= {"PARLEY_NAMESPACE": f"bench{uuid.uuid4().hex[:8]}",
                    "PARLEY_SECRET_KEY": uuid.uuid4().hex}
        else:
            env |= {"PARLEY_DATA_DIR": str(Path(scratch) / "data"), "PARLEY_DATABASE_URL": ""}
        processes = ParleyProcesses(env, Path(scratch))
        processes.start("serve")
        try:
            processes.wait_until_serving()
            if args.profile == "production":
                processes.start("relay")
                processes.start("project")
            results = asyncio.run(measure(processes.base_url, args, processes))
        finally:
            processes.stop_all()
    print(json.dumps({"profile": args.profile, **results}, indent=2))


if __name__ == "__main__":
    main()
