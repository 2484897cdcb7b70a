"""`python -m bench.sign_in_storm`: an authenticated GET /v1/users/me while wrong sign-ins
hash passwords (issue 9, item 3), printed as JSON.

`storm` threads each sign in with a wrong password again and again (unknown handles, so the
per-account backoff never stops them; the bench lifts the per-address limits); meanwhile one
client asks for its profile in a loop. Reported: the profile's latency without the storm and
during it (median and max, ms), and how the sign-ins were answered.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from bench.processes import running_parley


def profile_latencies(http: httpx.Client, auth: dict[str, str], count: int) -> list[float]:
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        http.get("/v1/users/me", headers=auth).raise_for_status()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def wrong_sign_ins(base_url: str, stop: threading.Event, answers: Counter[int]) -> None:
    with httpx.Client(base_url=base_url, timeout=60) as http:
        while not stop.is_set():
            response = http.post("/v1/sessions", json={
                "handle": f"s{uuid.uuid4().hex[:12]}", "password": "not anyone's password",
                "device_name": "storm"})
            answers[response.status_code] += 1


def measure(base_url: str, storm: int, samples: int) -> dict[str, Any]:
    with httpx.Client(base_url=base_url, timeout=60) as http:
        ada = http.post("/v1/users", json={"handle": f"a{uuid.uuid4().hex[:12]}",
                                           "name": "Storm Watcher",
                                           "password": "quiet evening reading"})
        ada.raise_for_status()
        auth = {"Authorization": f"Bearer {ada.json()['access_token']}"}
        profile_latencies(http, auth, 5)  # warm up
        calm = profile_latencies(http, auth, samples)
        stop, answers = threading.Event(), Counter[int]()
        threads = [threading.Thread(target=wrong_sign_ins, args=(base_url, stop, answers))
                   for _ in range(storm)]
        for thread in threads:
            thread.start()
        time.sleep(1.0)  # let the hashes pile up
        stormy = profile_latencies(http, auth, samples)
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
    return {"calm_ms": summary(calm), "storm_ms": summary(stormy),
            "sign_in_answers": dict(answers)}


def summary(samples: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(samples), 1), "max": round(max(samples), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--profile", choices=["embedded", "production"], default="embedded")
    parser.add_argument("--storm", type=int, default=24, help="concurrent wrong sign-ins")
    parser.add_argument("--samples", type=int, default=40, help="profile reads per phase")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch, \
            running_parley(args.profile, Path(scratch)) as processes:
        result = measure(processes.base_url, args.storm, args.samples)
    print(json.dumps({"profile": args.profile, "storm": args.storm,
                      "machine": f"{platform.machine()}, {os.cpu_count()} cores",
                      **result}, indent=2))


if __name__ == "__main__":
    main()
