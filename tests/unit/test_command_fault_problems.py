"""A command the event log failed under is answered 503 saying whether it was stored."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.http.problems import NOT_STORED, OUTCOME_UNKNOWN, install_problem_handlers
from event_log.faults import CommandNotStored, CommandOutcomeUnknown


@pytest.mark.parametrize(("error", "problem_type"), [
    (CommandNotStored("nothing was stored, retry"), NOT_STORED),
    (CommandOutcomeUnknown("retry with the same Idempotency-Key"), OUTCOME_UNKNOWN),
])
def test_a_command_fault_is_a_503_with_retry_after_and_its_problem_type(
    error: Exception, problem_type: str
) -> None:
    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/send")
    async def send() -> None:
        raise error

    with TestClient(app) as client:
        answer = client.post("/send")
        again = client.post("/send")  # the same connection still answers
    assert answer.status_code == 503 and again.status_code == 503
    assert answer.headers["Retry-After"] == "1"
    assert answer.json()["type"] == problem_type
    assert answer.json()["detail"] == str(error)
