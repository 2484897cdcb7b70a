"""Replay, resumption, time travel, parked events and retry, on the embedded stores."""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters.event_log.log_reader import LogReader
from adapters.read_model.file_locks import FileLocks
from adapters.read_model.memory_cache import MemoryCache
from adapters.read_model.sqlite_generations import SQLiteGenerations
from adapters.read_model.sqlite_projection_health import SQLiteProjectionHealth
from adapters.read_model.sqlite_read_store import SQLiteReadStore
from commands.messaging.messages import EditMessage
from event_log.log import EventLog
from event_log.writer import GroupCommitWriter
from parley.bootstrap import HANDLERS, projectors
from projections.messaging.conversations import MessagingProjector
from projections.read_model.health import ProjectionHalted
from projections.read_model.maintenance import retry_parked
from projections.read_model.replay import Replayer, ReplayRequest
from projections.read_model.runner import LogTailingRunner, ProjectionWriter
from tests.builders import a_cause, a_direct_conversation, a_message, embedded_log_env, now


class Workspace:
    """An embedded event log with live projections, as `parley serve` runs them."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.log = EventLog(env=embedded_log_env(directory))
        self.live_path = directory / "read_models.sqlite3"
        self.store = SQLiteReadStore(self.live_path)
        self.cache = MemoryCache(30)
        self.locks = FileLocks(directory / "locks")
        self.health = SQLiteProjectionHealth(self.live_path)
        self.reader = LogReader(self.log)
        self.writer = GroupCommitWriter(self.log, HANDLERS)
        self.writer.start()
        self.generations = SQLiteGenerations(self.live_path, self.locks)

    def project_live(self, projector_list: list[Any] | None = None,
                     writer: ProjectionWriter | None = None) -> None:
        runner = LogTailingRunner(
            self.reader, writer or ProjectionWriter(self.store, self.cache, locks=self.locks,
                                                    health=self.health),
            self.store, projector_list or projectors())
        while runner.run_once():
            pass

    def replayer(self) -> Replayer:
        return Replayer(self.reader, self.reader.head, self.generations, self.health)

    def documents(self, path: Path, collections: tuple[str, ...]) -> dict[tuple[str, str], Any]:
        marks = ", ".join("?" for _ in collections)
        with sqlite3.connect(path) as connection:
            rows = connection.execute(
                f"SELECT collection, doc_id, version, body FROM documents "
                f"WHERE collection IN ({marks})", collections).fetchall()
        return {(c, d): (v, json.loads(b)) for c, d, v, b in rows}

    def close(self) -> None:
        self.writer.stop()
        self.store.close()
        self.health.close()
        self.log.close()


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[Workspace]:
    space = Workspace(tmp_path)
    yield space
    space.close()


def a_conversation_with(workspace: Workspace, messages: int) -> tuple[uuid.UUID, uuid.UUID]:
    conversation, ada, _ = a_direct_conversation(workspace.writer)
    send_more(workspace, conversation, ada, messages)
    return conversation, ada


def send_more(workspace: Workspace, conversation: uuid.UUID, sender: uuid.UUID,
              count: int) -> list[str]:
    futures = [workspace.writer.submit(a_message(sender, conversation, f"message {i}"),
                                       a_cause(sender))
               for i in range(count)]
    return [str(f.result(timeout=30).result.message_id) for f in futures]


MESSAGING = MessagingProjector.collections


def test_a_replay_switches_to_a_generation_equal_to_the_live_one(
        workspace: Workspace) -> None:
    a_conversation_with(workspace, 120)
    workspace.project_live()
    before = workspace.documents(workspace.live_path, MESSAGING)

    summary = workspace.replayer().run(ReplayRequest(projectors(), batch_size=50))

    assert summary.switched_to == {p.name: 2 for p in projectors()}
    assert summary.events == workspace.reader.head()
    assert workspace.documents(workspace.live_path, MESSAGING) == before
    assert workspace.generations.serving(MessagingProjector()) == 2
    retired = workspace.directory / "replays" / "messaging-g1.retired.sqlite3"
    assert workspace.documents(retired, MESSAGING) == before, "the old generation is kept"
    assert workspace.generations.prune(MessagingProjector()) == [str(retired)]
    assert not retired.exists()


def test_an_interrupted_replay_resumes_from_its_checkpoint(workspace: Workspace) -> None:
    a_conversation_with(workspace, 200)
    workspace.project_live()
    request = ReplayRequest([MessagingProjector()], batch_size=40)
    batches = iter(range(3))

    first = workspace.replayer().run(request, stopping=lambda: next(batches, None) is None)

    assert first.switched_to == {}
    assert 0 < first.last_position < workspace.reader.head()
    plan = workspace.replayer().plan(request)
    assert plan.rebuilds[0].resume_after == first.last_position
    assert plan.rebuilds[0].target == "generation 2"
    second = workspace.replayer().run(request)
    assert second.switched_to == {"messaging": 2}
    assert second.events == workspace.reader.head() - first.last_position


def test_events_appended_during_a_replay_reach_the_new_generation(
        workspace: Workspace) -> None:
    conversation, ada = a_conversation_with(workspace, 50)
    workspace.project_live()
    request = ReplayRequest([MessagingProjector()], batch_size=10)
    late: list[str] = []

    def send_while_replaying(done: int, total: int) -> None:
        if not late:
            late.extend(send_more(workspace, conversation, ada, 20))
            workspace.project_live()

    workspace.replayer().run(request, progress=send_while_replaying)

    ids = {d for (c, d) in workspace.documents(workspace.live_path, ("messages",))}
    assert set(late) <= ids
    assert len(ids) == 70


def test_a_replay_until_a_position_builds_the_read_model_as_it_stood_then(
        workspace: Workspace) -> None:
    conversation, ada = a_conversation_with(workspace, 10)
    moment = workspace.reader.head()
    send_more(workspace, conversation, ada, 15)
    workspace.project_live()

    summary = workspace.replayer().run(
        ReplayRequest([MessagingProjector()], until_position=moment, into="then"))

    assert summary.switched_to == {}
    then = workspace.documents(workspace.directory / "replays" / "then.sqlite3", ("messages",))
    assert len(then) == 10
    assert len(workspace.documents(workspace.live_path, ("messages",))) == 25


class FailsOnEdits(MessagingProjector):
    """The messaging projector with a bug: it cannot handle message edits."""

    def changes(self, event: Any, position: int) -> list[Any]:
        if type(event).__name__ == "Edited":
            raise KeyError("previous_text")
        return super().changes(event, position)


def an_edited_message(workspace: Workspace) -> tuple[uuid.UUID, str]:
    conversation, ada = a_conversation_with(workspace, 3)
    message_id = send_more(workspace, conversation, ada, 1)[0]
    workspace.writer.execute(EditMessage(uuid.UUID(message_id), ada, "edited text", now()),
                             a_cause(ada))
    send_more(workspace, conversation, ada, 2)
    return conversation, message_id


def test_a_projector_parks_the_event_it_fails_on_and_goes_on(workspace: Workspace) -> None:
    _, message_id = an_edited_message(workspace)
    workspace.project_live([FailsOnEdits()])

    parked = workspace.health.parked()
    assert [(p.projection, p.event_type) for p in parked] == [("messaging", "Message.Edited")]
    assert "KeyError" in parked[0].error
    assert workspace.store.position("messaging") == workspace.reader.head()
    assert workspace.store.get("messages", message_id)["text"] == "message 0"
    assert "messaging" in workspace.health.last_errors()

    outcomes = retry_parked([MessagingProjector()], workspace.reader, workspace.store,
                            workspace.cache, workspace.health, workspace.locks)

    assert [o.resolved for o in outcomes] == [True]
    assert workspace.health.parked() == []
    assert workspace.store.get("messages", message_id)["text"] == "edited text"


def test_a_retry_that_fails_again_keeps_the_event_parked(workspace: Workspace) -> None:
    an_edited_message(workspace)
    workspace.project_live([FailsOnEdits()])

    outcomes = retry_parked([FailsOnEdits()], workspace.reader, workspace.store,
                            workspace.cache, workspace.health, workspace.locks)

    assert [o.resolved for o in outcomes] == [False]
    assert workspace.health.parked()[0].attempts == 2


def test_the_halt_policy_stops_the_projector_at_the_failing_event(
        workspace: Workspace) -> None:
    an_edited_message(workspace)
    halting = ProjectionWriter(workspace.store, workspace.cache, health=workspace.health,
                               policy="halt")

    with pytest.raises(ProjectionHalted):
        workspace.project_live([FailsOnEdits()], writer=halting)

    assert workspace.health.parked() == []
    assert workspace.store.position("messaging") == 0



def test_a_replay_until_a_time_stops_at_the_events_of_that_moment(
        workspace: Workspace) -> None:
    conversation, ada = a_conversation_with(workspace, 6)
    moment = workspace.reader(workspace.reader.head(), 1)[0].event.timestamp
    time.sleep(0.01)
    send_more(workspace, conversation, ada, 9)

    summary = workspace.replayer().run(
        ReplayRequest([MessagingProjector()], until_time=moment, into="before"))

    before = workspace.documents(workspace.directory / "replays" / "before.sqlite3",
                                 ("messages",))
    assert len(before) == 6
    assert summary.switched_to == {}
