"""An idempotency receipt stores its command's typed result; one stored before results were
typed (version 1: an HTTP status and body) is read as the answer it recorded."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from eventsourcing.application import Application
from eventsourcing.persistence import StoredEvent

from commands.messaging.conversations import MessageAccepted
from commands.messaging.groups import GroupChanged
from event_log.idempotency import CommandReceipt, RecordedAnswer, receipt_id
from event_log.moved_topics import register_moved_modules
from tests.builders import a_cause

# As the code before issue 10 stored a receipt (tests/fixtures/log_before_contexts, verbatim
# but for the ids): the topic of its old module, no class_version (so version 1).
V1_TOPIC = "domain.receipts:CommandReceipt.Issued"
V1_BODY = {"message_id": "598fc7e1-b30b-4f0d-9c56-43889e70d65f",
           "conversation_id": "6ba979b4-193f-4e20-b064-8547d2ea3d37", "seq": 1,
           "sent_at": "2026-12-01T23:36:55.789954+00:00"}
V1_STATE = (
    '{"timestamp":{"_type_":"datetime_iso","_data_":"2026-12-01T23:36:55.793342+00:00"},'
    '"originator_topic":"domain.receipts:CommandReceipt",'
    '"actor_id":{"_type_":"uuid_hex","_data_":"1058faabfa475c4b9fcbf1eca504eb64"},'
    '"correlation_id":{"_type_":"uuid_hex","_data_":"7339b9c316b74b01b5b5774545fda81e"},'
    '"causation_id":null,"fingerprint":"fp-1","status":201,"body":' + json.dumps(V1_BODY) + '}'
)


def a_log() -> Application[Any]:
    return Application(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})


def stored_v1_receipt(receipt: uuid.UUID) -> StoredEvent:
    return StoredEvent(originator_id=receipt, originator_version=1, topic=V1_TOPIC,
                       state=V1_STATE.encode())


def test_the_upcaster_turns_a_status_and_body_into_the_answer_they_recorded() -> None:
    state: dict[str, Any] = {"fingerprint": "fp-1", "status": 201, "body": dict(V1_BODY)}
    CommandReceipt.Issued.upcast_v1_v2(state)
    assert state == {"fingerprint": "fp-1",
                     "result_topic": "event_log.idempotency:RecordedAnswer",
                     "result": {"status": 201, "body": V1_BODY}}


def test_a_receipt_stored_by_the_old_code_answers_a_retry_with_the_old_status_and_body(
) -> None:
    register_moved_modules({"domain.receipts": "event_log.idempotency"})  # as the root does
    log = a_log()
    key = receipt_id(uuid.uuid4(), "first-hello")
    event = log.mapper.to_domain_event(stored_v1_receipt(key))
    assert isinstance(event, CommandReceipt.Issued)
    receipt = event.mutate(None)
    assert isinstance(receipt, CommandReceipt)
    assert receipt.replay_for("fp-1") == RecordedAnswer(201, V1_BODY)


def test_a_typed_result_is_stored_as_version_2_and_read_back_as_it_was() -> None:
    log = a_log()
    sent = MessageAccepted(uuid.uuid4(), uuid.uuid4(), 7, datetime.now(UTC))
    receipt = CommandReceipt.issue(receipt_id(uuid.uuid4(), "k"), "fp", sent, a_cause())
    issued, = receipt.collect_events()
    stored = log.mapper.to_stored_event(issued)
    state = json.loads(stored.state)
    assert state["class_version"] == 2 and not {"status", "body"} & state.keys()
    assert state["result_topic"] == "commands.messaging.conversations:MessageAccepted"
    again = log.mapper.to_domain_event(stored).mutate(None)
    assert isinstance(again, CommandReceipt)
    assert again.replay_for("fp") == sent


def test_a_result_holding_tuples_of_ids_comes_back_with_tuples() -> None:
    log = a_log()
    members = (uuid.uuid4(), uuid.uuid4())
    changed = GroupChanged(uuid.uuid4(), "group", "Book club", members, members[0], (),
                           "", invited_ids=(uuid.uuid4(),), new=True)
    receipt = CommandReceipt.issue(receipt_id(uuid.uuid4(), "k"), "fp", changed, a_cause())
    issued, = receipt.collect_events()
    again = log.mapper.to_domain_event(log.mapper.to_stored_event(issued)).mutate(None)
    assert isinstance(again, CommandReceipt)
    assert again.replay_for("fp") == changed
