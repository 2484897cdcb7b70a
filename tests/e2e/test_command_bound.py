"""A send the database cannot take in time is answered 503 within its bound, saying nothing
was stored, and is never committed later (production: the PostgreSQL event log).

The outage is this test's own: its namespace's events table locked from another connection
(the shared PostgreSQL server keeps serving everyone else).
"""

from __future__ import annotations

import time

import psycopg
import pytest

from parley.launcher import ParleyProcesses
from tests.builders import ParleyClient

pytestmark = [pytest.mark.services, pytest.mark.parley_env(PARLEY_COMMAND_TIMEOUT_SECONDS="1.5")]
PRODUCTION = pytest.mark.parametrize("processes", ["production"], indirect=True)


@PRODUCTION
def test_a_send_while_the_log_is_locked_is_a_bounded_503_not_stored_and_never_stored(
    processes: ParleyProcesses, parley: ParleyClient, services: dict[str, str], namespace: str,
) -> None:
    ada, bob = parley.register("Ada"), parley.register("Bob")
    conversation = parley.open_direct(ada, bob)
    parley.sent(ada, conversation, "before")
    with psycopg.connect(services["PARLEY_DATABASE_URL"]) as blocker:
        blocker.execute(f"LOCK TABLE {namespace}.parley_events IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()
        answer = parley.send(ada, conversation, "held")
        waited = time.monotonic() - started
    assert answer.status_code == 503, answer.text
    assert answer.json()["type"] == "urn:parley:problem:not-stored"
    assert answer.headers["Retry-After"] == "1"
    assert waited < 1.5 + 1.5
    time.sleep(1.0)  # an abandoned save that went on would have committed by now
    after = parley.sent(ada, conversation, "after")
    texts = [m["text"] for m in parley.all_messages(ada, conversation, after["position"])]
    assert sorted(texts) == ["after", "before"]
