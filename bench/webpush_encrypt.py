"""`python -m bench.webpush_encrypt [--seconds 2] [--runs 3]`: the CPU cost of a Web Push message,
as JSON.

On one thread (one core), as the Web Push provider does it for each message: the aes128gcm
encryption of a typical payload for one subscription (a fresh ECDH P-256 key, ECDH, HKDF,
AES-GCM: pywebpush/http_ece), and the VAPID `Authorization` (an ES256 JWT by py_vapid) signed
for every message or taken from the provider's per-push-service cache. Each figure is
operations per second of wall time and per second of this process's CPU time (the latter is
steadier on a shared machine), the median of `--runs` runs of `--seconds` each.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import statistics
import time
import uuid
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from adapters.notifications.vapid import VapidSigner, key_from_raw, new_key_pair
from adapters.notifications.webpush import encrypt, push_payload
from commands.notifications.providers import Address, Content, Delivery

ENDPOINT = "https://fcm.googleapis.com/fcm/send/" + "x" * 140  # a typical endpoint's length
AUDIENCE = "https://fcm.googleapis.com"
SUBJECT = "mailto:ops@parley.example"


def subscription_keys() -> dict[str, str]:
    """What a browser hands over: its P-256 public key and a 16-byte auth secret."""
    point = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return {"p256dh": base64.urlsafe_b64encode(point).rstrip(b"=").decode(),
            "auth": base64.urlsafe_b64encode(os.urandom(16)).rstrip(b"=").decode()}


def typical_payload(keys: dict[str, str]) -> bytes:
    """A new-message notification: a name, a preview, a few data fields (about 330 bytes)."""
    content = Content(title="Ada Lovelace", body="Are we still on for Thursday? I found the "
                      "notes on the Analytical Engine and want to show you the part on loops.",
                      data={"conversation_id": str(uuid.uuid4()), "message_id": str(uuid.uuid4()),
                            "kind": "new_message"},
                      deep_link="parley://conversations/1")
    delivery = Delivery(attempt_id=uuid.uuid4(), notification_id=uuid.uuid4(),
                        recipient_id=uuid.uuid4(), channel="push", priority="high",
                        category="new_message",
                        address=Address(kind="webpush", value=ENDPOINT, keys=keys),
                        content=content)
    return push_payload(delivery)


def rate(operation: Callable[[], object], seconds: float) -> dict[str, float]:
    count, wall, cpu = 0, time.perf_counter(), time.process_time()
    deadline = wall + seconds
    while time.perf_counter() < deadline:
        for _ in range(20):
            operation()
        count += 20
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"per_second": count / wall, "per_cpu_second": count / cpu if cpu else 0.0}


def measure(seconds: float, runs: int) -> dict[str, Any]:
    keys = subscription_keys()
    plaintext = typical_payload(keys)
    vapid = key_from_raw(new_key_pair().private_key)
    signing = VapidSigner(vapid, SUBJECT, cache=False)
    caching = VapidSigner(vapid, SUBJECT)
    operations: dict[str, Callable[[], object]] = {
        "aes128gcm_encrypt": lambda: encrypt(plaintext, ENDPOINT, keys),
        "vapid_sign_uncached": lambda: signing.authorization(AUDIENCE),
        "vapid_cached": lambda: caching.authorization(AUDIENCE),
        "message_uncached_vapid": lambda: (encrypt(plaintext, ENDPOINT, keys),
                                           signing.authorization(AUDIENCE)),
        "message_cached_vapid": lambda: (encrypt(plaintext, ENDPOINT, keys),
                                         caching.authorization(AUDIENCE)),
    }
    results: dict[str, Any] = {}
    for name, operation in operations.items():
        samples = [rate(operation, seconds) for _ in range(runs)]
        results[name] = {
            "per_second_runs": [round(s["per_second"]) for s in samples],
            "per_second_median": round(statistics.median(s["per_second"] for s in samples)),
            "per_cpu_second_median": round(statistics.median(s["per_cpu_second"]
                                                             for s in samples)),
        }
    results["plaintext_bytes"] = len(plaintext)
    results["encrypted_bytes"] = len(encrypt(plaintext, ENDPOINT, keys))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.webpush_encrypt",
                                     description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=2.0, help="per run and operation")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):  # one core, whichever the scheduler gave us first
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    print(json.dumps({"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                  "platform": platform.platform(),
                                  "load_average": os.getloadavg()},
                      **measure(args.seconds, args.runs)}, indent=2))


if __name__ == "__main__":
    main()
