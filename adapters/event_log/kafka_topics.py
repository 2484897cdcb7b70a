"""Topics are created up front, so consumers subscribe to partitions that already exist."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

from kafka import KafkaConsumer
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


def subscribe_known(consumer: KafkaConsumer, topics: Sequence[str]) -> None:
    """Subscribes `consumer` to `topics` once their partitions are in its metadata.

    kafka-python may otherwise send its first JoinGroup before the subscribed topics' metadata
    has arrived: the group's leader then assigns nothing ("No partition metadata for topic")
    and the group stays without partitions until the next metadata refresh, minutes later."""
    for topic in topics:
        consumer.partitions_for_topic(topic)
    consumer.subscribe(list(topics))
