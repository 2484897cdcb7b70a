"""On the production pipeline, API keys reach the listing read model without their digests."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from kafka import KafkaConsumer

from adapters.event_log.kafka_relay import kafka_topic
from commands.identity.api_keys import RevokeApiKey
from domain.identity.api_keys import api_key_id
from projections.identity.api_keys import ApiKeyQueries
from tests.builders import a_cause, an_api_key, now
from tests.integration.conftest import Pipeline

pytestmark = pytest.mark.services


def test_the_listing_is_projected_from_kafka_and_holds_no_digest(pipeline: Pipeline) -> None:
    (billing, key), (alerts, _) = an_api_key(name="billing"), an_api_key(name="alerts")
    pipeline.writer.execute(billing, a_cause())
    pipeline.writer.execute(alerts, a_cause())
    pipeline.writer.execute(RevokeApiKey(key.key_id, now()), a_cause())
    # two keys issued and one revoked; the roster (started, two admitted, one retired) stays
    assert pipeline.relay().relay_once() == 7

    topic = kafka_topic(pipeline.settings.namespace, "identity")
    consumer = KafkaConsumer(topic, bootstrap_servers=pipeline.settings.kafka_bootstrap,
                             auto_offset_reset="earliest", consumer_timeout_ms=2000)
    try:
        records = [json.loads(r.value) for r in consumer]
    finally:
        consumer.close()
    assert sorted(r["type"].rsplit(".", 1)[-1] for r in records) == ["Issued", "Issued",
                                                                      "Revoked"]
    assert key.secret not in json.dumps(records)

    listed = projected_listing(pipeline, until=lambda keys: len(keys) == 2 and all(
        k["state"] == ("revoked" if k["name"] == "billing" else "live") for k in keys))
    assert [(k["name"], k["state"]) for k in listed] == [("billing", "revoked"),
                                                         ("alerts", "live")]
    assert listed[0]["scopes"] == ["notifications:trigger"]
    assert ApiKeyQueries(pipeline.store).listing("live")[0]["name"] == "alerts"
    indexed = json.dumps(pipeline.store.get("api_keys", str(api_key_id(key.key_id))))
    assert key.digest not in indexed and key.secret not in indexed


def projected_listing(pipeline: Pipeline, until: Callable[[list[dict[str, Any]]], bool],
                      within_seconds: float = 20.0) -> list[dict[str, Any]]:
    """Projects from Kafka until the listing satisfies `until` (bounded), and returns it."""
    runner = pipeline.projection_runner()
    consumer = runner._consumer_factory()
    deadline = time.monotonic() + within_seconds
    try:
        while True:
            runner.project_once(consumer)
            listed = ApiKeyQueries(pipeline.store).listing()
            if until(listed) or time.monotonic() > deadline:
                return listed
    finally:
        consumer.close()
