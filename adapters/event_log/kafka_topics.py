"""Topics are created up front, so consumers subscribe to partitions that already exist."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError

PARTITIONS = 1  # one partition per context keeps projection positions monotonic


def ensure_topics(bootstrap: str, topics: Sequence[str]) -> None:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
    try:
        existing = set(admin.list_topics())
        missing = [NewTopic(t, num_partitions=PARTITIONS, replication_factor=1)
                   for t in dict.fromkeys(topics) if t not in existing]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):  # another process made them
                admin.create_topics(missing)
    finally:
        admin.close()
