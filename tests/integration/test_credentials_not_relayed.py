"""On the production pipeline, credentials stay in PostgreSQL: not in Kafka or Elasticsearch."""

from __future__ import annotations

import json

import pytest
from kafka import KafkaConsumer

from adapters.event_log.kafka_relay import kafka_topic
from tests.builders import a_cause, a_registration_with_a_session
from tests.integration.conftest import Pipeline, project_until_quiet

pytestmark = pytest.mark.services
PASSWORD_HASH = "$argon2id$v=19$m=65536,t=3,p=4$bm90LWEtcmVhbC1zYWx0$bm90LWEtcmVhbC1oYXNo"


def test_a_registration_reaches_kafka_and_elasticsearch_without_its_secrets(
    pipeline: Pipeline,
) -> None:
    registration, token = a_registration_with_a_session(PASSWORD_HASH)
    handle = registration.handle
    pipeline.writer.execute(registration, a_cause(token.user_id))
    # user, credentials, device, refresh grant, the device roster (started, enrolled)
    assert pipeline.relay().relay_once() == 6

    topic = kafka_topic(pipeline.settings.namespace, "identity")
    consumer = KafkaConsumer(topic, bootstrap_servers=pipeline.settings.kafka_bootstrap,
                             auto_offset_reset="earliest", consumer_timeout_ms=5000)
    try:
        records = [json.loads(r.value) for r in consumer]
    finally:
        consumer.close()
    assert sorted(r["type"].rsplit(".", 1)[-1] for r in records) == ["Registered", "SignedIn"]
    published = json.dumps(records)
    assert PASSWORD_HASH not in published and token.digest not in published

    project_until_quiet(pipeline.projection_runner())
    assert pipeline.store.get("devices", str(token.device_id)) is not None
    client = pipeline.store._client
    client.indices.refresh(index=f"{pipeline.settings.namespace}-*")
    hits = client.search(index=f"{pipeline.settings.namespace}-*", size=1000)["hits"]["hits"]
    indexed = json.dumps([h["_source"] for h in hits])
    assert handle in indexed, "the user directory was not projected at all"
    assert PASSWORD_HASH not in indexed and token.digest not in indexed
