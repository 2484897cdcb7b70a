"""Store, relay to Kafka, project to Elasticsearch: at-least-once that ends exactly-once."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from adapters.read_model.elasticsearch_read_store import ElasticsearchReadStore
from event_log.writer import GroupCommitWriter
from parley.contexts import context_of
from projections.messaging.conversations import MESSAGES
from projections.messaging.live import stream_notification
from projections.read_model.documents import Eq, Query
from tests.builders import a_cause, a_direct_conversation, a_message
from tests.integration.conftest import Pipeline, project_until_quiet

pytestmark = pytest.mark.services


class RelayCrashed(Exception):
    pass


def send_messages(writer: GroupCommitWriter, count: int) -> uuid.UUID:
    conversation, ada, _ = a_direct_conversation(writer)
    for i in range(count):
        writer.execute(a_message(ada, conversation, f"note {i}"), a_cause(ada))
    return conversation


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
