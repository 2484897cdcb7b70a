"""The group-commit writer, on the embedded event log."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

import pytest

from commands.identity.users import RegisterUser
from domain.identity.errors import HandleTaken
from domain.messaging.errors import ConversationNotFound
from event_log.idempotency import IdempotencyKeyReused
from event_log.log import EventLog
from event_log.writer import GroupCommitWriter
from parley.bootstrap import HANDLERS
from tests.builders import (
    a_cause,
    a_direct_conversation,
    a_handle,
    a_message,
    embedded_log_env,
)


def test_concurrent_sends_share_commits_and_get_gapless_sequence_numbers(
    writer: GroupCommitWriter, event_log: EventLog
) -> None:
    conversation, ada, _ = a_direct_conversation(writer)
    futures = [writer.submit(a_message(ada, conversation), a_cause(ada)) for _ in range(200)]
    outcomes = [f.result(timeout=30) for f in futures]
    assert sorted(o.result.seq for o in outcomes) == list(range(1, 201))
    assert len({o.position for o in outcomes}) == 200
    assert max(writer.batch_sizes) > 1, "nothing was batched"
    assert event_log.recorder.max_notification_id() == max(o.position for o in outcomes)


def test_one_failing_command_does_not_fail_its_batch(writer: GroupCommitWriter) -> None:
    conversation, ada, _ = a_direct_conversation(writer)
    stranger = uuid.uuid4()
    futures = [writer.submit(a_message(ada, conversation), a_cause(ada)),
               writer.submit(a_message(stranger, conversation), a_cause(stranger)),
               writer.submit(a_message(ada, conversation), a_cause(ada))]
    assert futures[0].result(timeout=10).result.seq == 1
    with pytest.raises(ConversationNotFound):
        futures[1].result(timeout=10)
    assert futures[2].result(timeout=10).result.seq == 2


def test_a_keyed_retry_returns_the_first_result_and_appends_nothing(
    writer: GroupCommitWriter, event_log: EventLog
) -> None:
    conversation, ada, _ = a_direct_conversation(writer)
    first = writer.submit(a_message(ada, conversation, "once"), a_cause(ada), "key-1",
                          "fp").result()
    head = event_log.recorder.max_notification_id()
    again = writer.submit(a_message(ada, conversation, "once"), a_cause(ada), "key-1",
                          "fp").result()
    assert again.result == first.result and again.replayed
    assert event_log.recorder.max_notification_id() == head
    with pytest.raises(IdempotencyKeyReused):
        writer.submit(a_message(ada, conversation, "other"), a_cause(ada), "key-1", "fp2").result()


def test_concurrent_retries_with_one_key_send_one_message(writer: GroupCommitWriter) -> None:
    conversation, ada, _ = a_direct_conversation(writer)
    results = []
    barrier = threading.Barrier(8)

    def retry() -> None:
        barrier.wait()
        sent = writer.submit(a_message(ada, conversation), a_cause(ada), "k", "fp").result()
        results.append(sent)

    threads = [threading.Thread(target=retry) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({r.result.message_id for r in results}) == 1


def test_a_handle_is_registered_once_even_within_one_batch(writer: GroupCommitWriter) -> None:
    handle = a_handle()
    futures = [writer.submit(RegisterUser(handle, "Ada"), a_cause()) for _ in range(5)]
    succeeded, conflicted = 0, 0
    for future in futures:
        try:
            future.result(timeout=10)
            succeeded += 1
        except HandleTaken:
            conflicted += 1
    assert (succeeded, conflicted) == (1, 4)


def test_a_second_writer_on_the_same_log_does_not_break_ordering(
    writer: GroupCommitWriter, event_log: EventLog, tmp_path: Path
) -> None:
    conversation, ada, _ = a_direct_conversation(writer)
    other_log = EventLog(env=embedded_log_env(tmp_path) | {"AGGREGATE_CACHE_MAXSIZE": "100"})
    other = GroupCommitWriter(other_log, HANDLERS)
    other.start()
    try:
        futures = [w.submit(a_message(ada, conversation), a_cause(ada))
                   for _ in range(30) for w in (writer, other)]
        seqs = sorted(f.result(timeout=30).result.seq for f in futures)
    finally:
        other.stop()
        other_log.close()
    assert seqs == list(range(1, 61))
