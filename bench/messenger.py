"""`python -m bench.messenger [--profile ...]`: the messenger's own numbers, as JSON.

1. Send throughput and latency (wrk, concurrency 32) into a conversation holding 10 messages
   and into one holding `--long` messages (default 100,000): sending must not slow down as a
   conversation grows.
2. Delivery to a live socket while wrk sends (`--delivery-concurrency` connections as fast as
   they are answered, or `--delivery-rate` paced messages/s): for each message, the time from
   its acceptance by the API to the recipient's WebSocket frame.
3. Peak resident memory (VmHWM) of each Parley process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import websockets

from bench.__main__ import (
    conversation_pair,
    percentile,
    sustained_sends,
)
from bench.processes import running_parley
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


async def socket_delivery(base_url: str, http: httpx.AsyncClient, concurrency: int,
                          seconds: float, rate: int = 0,
                          socket_url: str | None = None) -> dict[str, Any]:
    """wrk sends into a conversation; the recipient's socket timestamps each message frame.

    Two delays per message, on the same clock: from its `sent_at` (stamped by the API when it
    accepted the command, so the group commit's wait is included) and from the moment wrk got
    the send's response (what the issue's target is about) to the frame.
    """
    pair = await _recipient_pair(http)
    framed: dict[str, tuple[float, float]] = {}  # message id -> (accepted at, frame at)
    frames = 0
    url = (socket_url or base_url).replace("http://", "ws://") + "/v1/live"
    async with websockets.connect(url, additional_headers=pair["auth"]) as socket:
        async def listen() -> None:
            nonlocal frames
            async for frame in socket:
                now = time.time()
                for change in json.loads(frame).get("changes", []):
                    if change["kind"] == "message_sent":
                        frames += 1
                        sent_at = datetime.fromisoformat(change["data"]["sent_at"])
                        framed[change["data"]["message_id"]] = (sent_at.timestamp(), now)

        listener = asyncio.ensure_future(listen())
        await asyncio.sleep(1.0)
        if rate:  # paced: one connection per 5 messages/s, each pausing 200 ms on average
            concurrency = max(1, rate // 5)
        with tempfile.TemporaryDirectory() as scratch:
            answered_file = Path(scratch) / "responses.txt"
            load = await asyncio.to_thread(
                sustained_sends, base_url, pair["sender"]["Authorization"][7:],
                pair["conversation"], concurrency, seconds,
                round(concurrency * 1000 / rate) if rate else 0, answered_file)
            await asyncio.sleep(3.0)
            answered = dict(line.split() for line in answered_file.read_text().splitlines())
        listener.cancel()
    from_acceptance = [frame - accepted for accepted, frame in framed.values()]
    from_response = [frame - float(answered[m]) for m, (_, frame) in framed.items()
                     if m in answered]
    return {"concurrency": concurrency, "paced_at": rate or None,
            "messages_per_second": load["messages_per_second"],
            "sent": load["sent"], "delivered": len(framed), "delivered_twice": frames - len(framed),
            "p50_ms": _ms(from_acceptance, 0.5), "p99_ms": _ms(from_acceptance, 0.99),
            "from_response_p50_ms": _ms(from_response, 0.5),
            "from_response_p99_ms": _ms(from_response, 0.99),
            "frames_before_response": sum(1 for d in from_response if d < 0)}


def _ms(delays: list[float], fraction: float) -> float | None:
    return round(percentile(delays, fraction) * 1000, 2) if delays else None


async def _recipient_pair(http: httpx.AsyncClient) -> dict[str, Any]:
    people = []
    for name in ("sender", "recipient"):
        response = await http.post("/v1/users", json={
            "handle": f"b{uuid.uuid4().hex[:12]}", "name": name, "password": "bench password"})
        response.raise_for_status()
        people.append(response.json())
    sender = {"Authorization": f"Bearer {people[0]['access_token']}"}
    opened = await http.post("/v1/conversations/direct", headers=sender,
                             json={"peer_id": people[1]["user_id"]})
    return {"sender": sender, "conversation": opened.json()["conversation_id"],
            "auth": {"Authorization": f"Bearer {people[1]['access_token']}"}}


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
        socket_url = (processes.start_another_api("serve-sockets")
                      if args.socket_process == "another" else None)
        delivery = await socket_delivery(base_url, http, args.delivery_concurrency, args.seconds,
                                         args.delivery_rate, socket_url)
        return {"fill_messages_per_second": round(fill_rate, 1), "send_at_32": sends,
                "socket_delivery": delivery, "peak_rss_mib": peak_rss(processes)}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.messenger")
    parser.add_argument("--profile", choices=["embedded", "production"], default="embedded")
    parser.add_argument("--long", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--delivery-concurrency", type=int, default=4,
                        help="wrk connections while measuring socket delivery")
    parser.add_argument("--delivery-rate", type=int, default=0,
                        help="instead, pace the sends at about this many messages/s")
    parser.add_argument("--socket-process", choices=["same", "another"], default="same",
                        help="production: hold the socket on another API process than the "
                             "one taking the sends (fan-out through Redis either way)")
    args = parser.parse_args()
    if args.socket_process == "another" and args.profile != "production":
        parser.error("--socket-process another needs --profile production (embedded is one "
                     "process)")
    with tempfile.TemporaryDirectory() as scratch, \
            running_parley(args.profile, Path(scratch)) as processes:
        results = asyncio.run(measure(processes.base_url, args, processes))
    print(json.dumps({"profile": args.profile, **results}, indent=2))


if __name__ == "__main__":
    main()
