"""`python -m bench.projector_restart [--runs 3] [--membership static|dynamic]`: how long a
projector's Kafka consumer, killed with SIGKILL and started again, takes to consume again.

A child process joins a fresh group through
`adapters.read_model.kafka_projection.new_consumer`, reads a first record and commits it,
then is killed; a record is produced and a new consumer of the same group (and, when static,
the same instance id) is started: the time from the kill to that record being read is what a
restarted projector waits. Needs PARLEY_KAFKA_BOOTSTRAP. Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import time
import uuid

from kafka import KafkaProducer

from adapters.read_model.kafka_projection import new_consumer

CHILD = """
import sys
from adapters.read_model.kafka_projection import new_consumer
bootstrap, group, topic, instance = sys.argv[1:5]
consumer = new_consumer(bootstrap, group, [topic], instance or None)
while not consumer.poll(timeout_ms=500):
    pass
consumer.commit()
print("ready", flush=True)
while True:
    consumer.poll(timeout_ms=500)
"""


def one_restart(bootstrap: str, instance: str | None, limit: float = 60.0) -> float:
    name = f"bench-restart-{uuid.uuid4().hex[:10]}"
    producer = KafkaProducer(bootstrap_servers=bootstrap)
    producer.send(name, b"first").get(timeout=10)
    child = subprocess.Popen([sys.executable, "-c", CHILD, bootstrap, name, name, instance or ""],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        if child.stdout.readline().strip() != "ready":
            raise RuntimeError("the first consumer did not start")
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    killed = time.monotonic()
    producer.send(name, b"after the crash").get(timeout=10)
    producer.close()
    consumer = new_consumer(bootstrap, name, [name], instance)
    try:
        while time.monotonic() - killed < limit:
            if any(r.value == b"after the crash" for rs in consumer.poll(timeout_ms=200).values()
                   for r in rs):
                return time.monotonic() - killed
        raise RuntimeError(f"nothing consumed within {limit} s of the restart")
    finally:
        consumer.close(autocommit=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--membership", choices=["static", "dynamic"], default="static")
    args = parser.parse_args()
    bootstrap = os.environ["PARLEY_KAFKA_BOOTSTRAP"]
    instance = "bench-projectors" if args.membership == "static" else None
    seconds = [one_restart(bootstrap, instance) for _ in range(args.runs)]
    print(json.dumps({"membership": args.membership, "runs": [round(s, 2) for s in seconds],
                      "median_seconds": round(statistics.median(seconds), 2),
                      "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
                                 f"Python {platform.python_version()}"}))


if __name__ == "__main__":
    main()
