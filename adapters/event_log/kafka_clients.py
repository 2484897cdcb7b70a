"""What every Kafka client of Parley's (the relay's producer, the projectors' consumers, the
dispatch queue's producer and consumers) is built with besides its own settings."""

from __future__ import annotations

from typing import Final

# kafka-python 3 backs off reconnects, and the metadata refreshes that find a partition's
# leader, exponentially up to 30 s (the Java client: 1 s). A client kept through an outage of
# 15 s (a consumer in its group, the dispatch queue's producer) then waited up to 36 s (30 s
# and jitter) after the broker was back before it fetched or produced again: dispatch jobs put
# once Kafka returned were taken 34-40 s later; with 1 s, within 2 s. A broker that is away
# costs a refused connection a second, nothing more.
RECONNECT_BACKOFF_MAX_MS: Final = 1000
