"""Store, relay to Kafka, project to Elasticsearch: at-least-once that ends exactly-once."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from adapters.event_log.kafka_relay import KafkaRelay, new_producer
from adapters.read_model.elasticsearch_read_store import ElasticsearchReadStore
from adapters.read_model.kafka_projection import (
    KafkaProjectionRunner,
    new_consumer,
    projectors_by_topic,
)
from adapters.read_model.redis_cache import RedisCache
from commands.identity.users import RegisterUser
from commands.messaging.conversations import OpenDirectConversation, SendMessage
from event_log.log import EventLog
from event_log.writer import GroupCommitWriter
from parley.bootstrap import HANDLERS, event_log_env, projectors
from parley.contexts import context_of, relay_map
from parley.production import migrate_all, progress_pool, read_store, topic_of_projection
from parley.settings import Settings
from projections.messaging.conversations import MESSAGES
from projections.messaging.live import stream_notification
from projections.read_model.documents import Eq, Query
from projections.read_model.runner import ProjectionWriter
from tests.builders import DIRECT_ID_KEY, a_cause, a_handle, now

pytestmark = pytest.mark.services


class RelayCrashed(Exception):
    pass


@dataclass
class Pipeline:
    settings: Settings
    log: EventLog
    writer: GroupCommitWriter
    store: ElasticsearchReadStore

    def relay(self, **options: Any) -> KafkaRelay:
        return KafkaRelay(self.log, lambda: new_producer(self.settings.kafka_bootstrap or ""),
                          progress_pool(self.settings), self.settings.namespace,
                          context_of=relay_map(), **options)

    def projection_runner(self) -> KafkaProjectionRunner:
        by_topic = projectors_by_topic(topic_of_projection(self.settings), projectors())
        cache = RedisCache(self.settings.redis_url or "", self.settings.namespace, 30)
        return KafkaProjectionRunner(
            lambda: new_consumer(self.settings.kafka_bootstrap or "",
                                 f"{self.settings.namespace}-projectors", list(by_topic)),
            ProjectionWriter(self.store, cache), by_topic, self.log.mapper,
        )


@pytest.fixture
def pipeline(services: dict[str, str], namespace: str) -> Iterator[Pipeline]:
    settings = Settings(database_url=services["PARLEY_DATABASE_URL"],
                        kafka_bootstrap=services["PARLEY_KAFKA_BOOTSTRAP"],
                        elasticsearch_url=services["PARLEY_ELASTICSEARCH_URL"],
                        redis_url=services["PARLEY_REDIS_URL"], namespace=namespace)
    migrate_all(settings)
    store = read_store(settings)
    log = EventLog(env=event_log_env(settings))
    writer = GroupCommitWriter(log, HANDLERS)
    writer.start()
    yield Pipeline(settings, log, writer, store)
    writer.stop()
    log.close()
    store._client.indices.delete(index=f"{namespace}-*")
    store.close()


def send_messages(writer: GroupCommitWriter, count: int) -> uuid.UUID:
    ada = writer.execute(RegisterUser(a_handle(), "Ada"), a_cause()).result.user_id
    bob = writer.execute(RegisterUser(a_handle(), "Bob"), a_cause()).result.user_id
    conversation = writer.execute(OpenDirectConversation(ada, bob, DIRECT_ID_KEY),
                                  a_cause(ada)).result.conversation_id
    for i in range(count):
        writer.execute(SendMessage(conversation, ada, uuid.uuid4(), f"note {i}", now()),
                       a_cause(ada))
    return conversation


def project_until_quiet(runner: KafkaProjectionRunner, quiet_seconds: float = 3.0) -> int:
    consumer = runner._consumer_factory()
    consumed, last_seen = 0, time.monotonic()
    try:
        while time.monotonic() - last_seen < quiet_seconds:
            got = runner.project_once(consumer)
            if got:
                consumed, last_seen = consumed + got, time.monotonic()
    finally:
        consumer.close()
    return consumed


def seqs_in_elasticsearch(store: ElasticsearchReadStore, conversation: uuid.UUID) -> list[int]:
    page = store.query(Query(MESSAGES, [Eq("conversation_id", str(conversation))],
                             sort_field="seq", descending=False, limit=1000))
    return [d["seq"] for d in page.documents]


def test_a_relay_crash_between_publish_and_checkpoint_loses_and_duplicates_nothing(
    pipeline: Pipeline,
) -> None:
    conversation = send_messages(pipeline.writer, 20)
    crashing = pipeline.relay()

    def crash(*_: object) -> None:
        raise RelayCrashed

    crashing._record = crash  # type: ignore[method-assign]
    with pytest.raises(RelayCrashed):
        crashing.relay_once()
    assert crashing.position() == 0, "the crash came before the checkpoint"

    restarted = pipeline.relay()
    head = pipeline.log.recorder.max_notification_id() or 0
    published = sum(1 for n in pipeline.log.recorder.select_notifications(start=1, limit=head)
                    if context_of(n.topic) is not None)
    assert restarted.relay_once() == head
    assert restarted.position() == head and restarted.relay_once() == 0

    consumed = project_until_quiet(pipeline.projection_runner())

    assert consumed == 2 * published, "every relayed event was delivered twice"
    assert seqs_in_elasticsearch(pipeline.store, conversation) == list(range(1, 21))
    assert pipeline.store.position("messaging") == head


def test_a_replayed_topic_does_not_regress_documents(pipeline: Pipeline) -> None:
    conversation = send_messages(pipeline.writer, 5)
    pipeline.relay().relay_once()
    project_until_quiet(pipeline.projection_runner())
    summary_before = pipeline.store.get("conversations", str(conversation))

    runner = pipeline.projection_runner()
    consumer = runner._consumer_factory()
    try:
        consumer.poll(timeout_ms=2000)
        consumer.seek_to_beginning()
        while runner.project_once(consumer):
            pass
    finally:
        consumer.close()

    assert pipeline.store.get("conversations", str(conversation)) == summary_before
    assert summary_before is not None and summary_before["last_seq"] == 5
    assert seqs_in_elasticsearch(pipeline.store, conversation) == [1, 2, 3, 4, 5]


def test_the_relay_announces_the_log_to_live_sockets_as_one_unbroken_stream(
    pipeline: Pipeline,
) -> None:
    conversation = send_messages(pipeline.writer, 12)
    announced: list[dict[str, Any]] = []
    relay = pipeline.relay(batch_size=5, on_read=lambda events, after, upto: announced.append(
        stream_notification(events, after, upto)))
    while relay.relay_once():
        pass

    head = pipeline.log.recorder.max_notification_id() or 0
    assert [(n["after"], n["position"]) for n in announced] == [
        (start, min(start + 5, head)) for start in range(0, head, 5)]
    sent = [c for n in announced for c in n["changes"] if c["kind"] == "message_sent"]
    assert [c["data"]["text"] for c in sent] == [f"note {i}" for i in range(12)]
    assert {c["conversation_id"] for c in sent} == {str(conversation)}
