"""A command route's context submits on the caller's behalf and answers with the writer's
result and log position."""

from __future__ import annotations

import asyncio
import uuid
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request, Response
from pydantic import BaseModel

from api.http.dependencies import CommandContext, fingerprint
from api.identity.answers import reply
from api.identity.contacts import BlockChanged
from commands.identity.contacts import BlockLifted, BlockRecorded
from event_log.aggregate import Cause
from event_log.outcomes import Outcome


class Someone(BaseModel):
    user_id: uuid.UUID


@dataclass
class RecordingWriter:
    """Answers every submission with one outcome, and remembers what it was given."""

    outcome: Outcome[Any]
    submitted: list[tuple[Any, Cause, str | None, str]] = field(default_factory=list)
    longest_answer_seconds: float = 5.0

    def submit(self, command: Any, cause: Cause, key: str | None,
               request_fingerprint: str) -> Future[Outcome[Any]]:
        self.submitted.append((command, cause, key, request_fingerprint))
        answer: Future[Outcome[Any]] = Future()
        answer.set_result(self.outcome)
        return answer


def a_context(writer: RecordingWriter, key: str | None = "k-1") -> CommandContext:
    request = Request({"type": "http", "method": "POST", "path": "/v1/blocks", "headers": []})
    return CommandContext(writer, request, Response(),
                          uuid.uuid4(), uuid.uuid4(), key)


def test_the_answer_carries_the_result_its_status_and_the_log_position() -> None:
    blocked = BlockRecorded(uuid.uuid4(), new=True)
    writer = RecordingWriter(Outcome(blocked, position=512))
    commands = a_context(writer)
    outcome = asyncio.run(commands.run("block"))
    assert outcome.result == blocked
    assert commands.response.headers["Parley-Position"] == "512"
    answered = reply(commands.response, outcome, BlockChanged)
    assert commands.response.status_code == 201
    assert answered == BlockChanged(user_id=blocked.user_id, blocked=True, position=512)


def test_the_command_is_submitted_as_the_caller_under_their_key() -> None:
    writer = RecordingWriter(Outcome(BlockLifted(uuid.uuid4())))
    commands = a_context(writer, key="k-7")
    asyncio.run(commands.run("unblock"))
    [(command, cause, key, _)] = writer.submitted
    assert (command, key) == ("unblock", "k-7")
    assert (cause.actor_id, cause.correlation_id) == (commands.caller, commands.correlation)


def test_a_keyed_retry_is_recognised_by_its_body_or_its_explicit_payload() -> None:
    writer = RecordingWriter(Outcome(BlockLifted(uuid.uuid4())))
    commands = a_context(writer)
    body = Someone(user_id=uuid.uuid4())
    asyncio.run(commands.run("block", body))
    asyncio.run(commands.run("unblock"))
    asyncio.run(commands.submit("hide", None))
    fingerprints = [submitted[3] for submitted in writer.submitted]
    assert fingerprints == [fingerprint(commands.request, body.model_dump(mode="json")),
                            fingerprint(commands.request, {}),
                            fingerprint(commands.request, None)]
