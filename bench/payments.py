"""`python -m bench payments [--profile embedded|production]`: the payments write path in
process, printed as JSON.

Through the group-commit writer and the pipelined saga (no HTTP: the API's own cost is the
messaging bench's), `--concurrency` senders each submit payments one after another, each
waiting for its acceptance; a run ends when the log stops growing (the saga settled the
last one), and every payment is then checked settled. Two shapes: *spread* (each sender pays
its own recipient) and *hot* (every sender pays one merchant: one wallet aggregate takes
every credit). Rates are payments settled per second end to end; latency is each
SendPayment's acceptance. Runs alternate spread and hot; medians of `--runs`. Every fraud
rule is evaluated, with its review and decline scores out of reach (the bench's senders pay
fast and often, which the default rules rightly hold).
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
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.processes import require_services
from commands.messaging.conversations import OpenDirectConversation
from commands.payments.payments import PaymentPolicy, SendPayment
from commands.payments.transfers import RecordTransfers
from domain.payments.accounts import FUNDING_CLEARING, system_account, wallet
from domain.payments.limits import TierLimits
from domain.payments.payments import Payment
from domain.payments.risk import DEFAULT_RULES
from domain.payments.transfers import CreateTransfer
from event_log.aggregate import Cause
from parley.assembly import Parley
from parley.bootstrap import build
from parley.settings import Settings
from parley.signing_keys import generate_key
from tests.builders import DIRECT_ID_KEY, a_registration

BIG = TierLimits(10**12, 10**13, 10**14)  # the bench measures the path, not the limits
POLICY = PaymentPolicy(currencies=("USD",), limits={"unverified": {"USD": BIG},
                                                    "verified": {"USD": BIG}})


def rules_that_allow_everything() -> str:
    document = DEFAULT_RULES.as_document()
    document["review_at"] = document["decline_at"] = 10**8  # beyond any sum of scores
    return json.dumps(document)


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


@contextmanager
def parley_for(profile: str, scratch: Path) -> Iterator[Parley]:
    if profile == "production":
        require_services()
        settings = Settings(database_url=os.environ["PARLEY_DATABASE_URL"],
                            kafka_bootstrap=os.environ["PARLEY_KAFKA_BOOTSTRAP"],
                            elasticsearch_url=os.environ["PARLEY_ELASTICSEARCH_URL"],
                            redis_url=os.environ["PARLEY_REDIS_URL"],
                            namespace=f"bench{uuid.uuid4().hex[:8]}",
                            secret_key=generate_key(), data_dir=scratch / "data",
                            log_level="WARNING", payment_rules=rules_that_allow_everything())
    else:
        settings = Settings(database_url=None, data_dir=scratch / "data", log_level="WARNING",
                            payment_rules=rules_that_allow_everything())
    parley = build(settings)
    parley.start()
    try:
        yield parley
    finally:
        parley.close()


def cause(actor: uuid.UUID | None = None) -> Cause:
    return Cause(actor or uuid.uuid4(), uuid.uuid4())


def user(parley: Parley, name: str) -> uuid.UUID:
    registered: uuid.UUID = parley.writer.execute(a_registration(name), cause()).result.user_id
    return registered


def pairs(parley: Parley, senders: int, hot: bool) -> list[tuple[uuid.UUID, uuid.UUID,
                                                                  uuid.UUID]]:
    """(sender, recipient, their direct conversation), each sender funded."""
    merchant = user(parley, "Merchant") if hot else None
    made = []
    for n in range(senders):
        sender = user(parley, f"Sender {n}")
        recipient = merchant or user(parley, f"Recipient {n}")
        opened = parley.writer.execute(OpenDirectConversation(sender, recipient,
                                                              DIRECT_ID_KEY), cause(sender))
        parley.writer.execute(RecordTransfers((CreateTransfer(
            uuid.uuid4(), system_account(FUNDING_CLEARING, "USD"), wallet(sender, "USD"),
            10**11, "funding"),), datetime.now(UTC)), cause())
        made.append((sender, recipient, opened.result.conversation_id))
    return made


def quiet_after(parley: Parley, settle_seconds: float = 0.5, bound: float = 600) -> float:
    """When the log last grew, once it has not grown for `settle_seconds`."""
    recorder = parley.event_log.recorder
    head, changed = recorder.max_notification_id(), time.monotonic()
    deadline = changed + bound
    while time.monotonic() - changed < settle_seconds and time.monotonic() < deadline:
        time.sleep(0.02)
        now_head = recorder.max_notification_id()
        if now_head != head:
            head, changed = now_head, time.monotonic()
    return changed


def run(parley: Parley, senders: list[tuple[uuid.UUID, uuid.UUID, uuid.UUID]],
        count: int) -> dict[str, Any]:
    per_sender = count // len(senders)
    latencies: list[float] = []
    ids: list[uuid.UUID] = []
    lock = threading.Lock()

    def send(sender: uuid.UUID, recipient: uuid.UUID, conversation: uuid.UUID) -> None:
        for _ in range(per_sender):
            payment_id = uuid.uuid4()
            began = time.perf_counter()
            parley.writer.submit(SendPayment(
                payment_id, sender, recipient, conversation, 100, "USD", "bench",
                datetime.now(UTC), policy=POLICY), cause(sender),
                f"bench-{payment_id}").result(timeout=60)
            with lock:
                latencies.append(time.perf_counter() - began)
                ids.append(payment_id)

    threads = [threading.Thread(target=send, args=s) for s in senders]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    accepted = time.monotonic()
    ended = quiet_after(parley)
    unsettled = sum(1 for p in ids
                    if parley.event_log.repository.get(p).state != "settled")
    assert isinstance(parley.event_log.repository.get(ids[0]), Payment)
    return {"payments": len(ids), "unsettled": unsettled,
            "accepted_per_second": round(len(ids) / (accepted - started), 1),
            "settled_per_second": round(len(ids) / (ended - started), 1),
            "accept_p50_ms": round(percentile(latencies, 0.5) * 1000, 1),
            "accept_p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
            "load_1min_before": round(os.getloadavg()[0], 2)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench payments")
    parser.add_argument("--profile", choices=["embedded", "production"], default="embedded")
    parser.add_argument("--count", type=int, default=3200, help="payments per run")
    parser.add_argument("--concurrency", type=int, default=32, help="senders at once")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    results: dict[str, list[dict[str, Any]]] = {"spread": [], "hot": []}
    with tempfile.TemporaryDirectory() as scratch, parley_for(args.profile,
                                                              Path(scratch)) as parley:
        shapes = {shape: pairs(parley, args.concurrency, shape == "hot")
                  for shape in results}
        for _ in range(args.runs):
            for shape, senders in shapes.items():
                results[shape].append(run(parley, senders, args.count))
    medians = {shape: statistics.median(r["settled_per_second"] for r in runs)
               for shape, runs in results.items()}
    print(json.dumps({
        "profile": args.profile, "concurrency": args.concurrency,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "runs": results, "median_settled_per_second": medians,
        "hot_over_spread": round(medians["hot"] / medians["spread"], 3)}, indent=2))


if __name__ == "__main__":
    main()
