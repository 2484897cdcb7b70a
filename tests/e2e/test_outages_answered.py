"""An outage of a backing store is an ordinary 503 answer: the client's keep-alive connection
survives it and the server logs one warning, not a traceback; a fault that is ours stays 500.

The server is a real uvicorn serving the embedded app in this process, so that the read
store can be made to fail on demand (as a locked or vanished database file would).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from adapters.read_model.sqlite_read_store import SQLiteReadStore
from api.app import create_app
from parley.bootstrap import build
from parley.launcher import free_port
from parley.settings import Settings
from tests.builders import ParleyClient


class ReadStoreFaults:
    """Makes every full-text query of the read store raise `fault` while it is set."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.fault: Callable[[], Exception] | None = None
        original = SQLiteReadStore.query

        def query(store: SQLiteReadStore, query: Any) -> Any:
            if self.fault is not None and query.text:
                raise self.fault()
            return original(store, query)

        monkeypatch.setattr(SQLiteReadStore, "query", query)


@pytest.fixture
def faults(monkeypatch: pytest.MonkeyPatch) -> ReadStoreFaults:
    return ReadStoreFaults(monkeypatch)


@pytest.fixture
def served(tmp_path: Path, faults: ReadStoreFaults) -> Iterator[str]:
    settings = Settings.model_validate({"data_dir": str(tmp_path / "data"), "database_url": None,
                                        "consistency_wait_seconds": 15})
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(build(settings)), host="127.0.0.1",
                                           port=port, log_level="info", log_config=None,
                                           access_log=False, server_header=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def client_port(response: httpx.Response) -> int:
    """The client side's port of the connection that carried `response`."""
    return int(response.extensions["network_stream"].get_extra_info("client_addr")[1])


def test_an_unavailable_store_answers_503_and_the_connection_stays_open(
        served: str, faults: ReadStoreFaults, caplog: pytest.LogCaptureFixture) -> None:
    with httpx.Client(base_url=served, timeout=30) as http:
        parley = ParleyClient(http)
        ada, bob = parley.register("Ada"), parley.register("Bob")
        conversation = parley.open_direct(ada, bob)
        position = parley.sent(ada, conversation, "hello")["position"]
        assert parley.search(ada, "hello", position=position).status_code == 200
        caplog.clear()

        faults.fault = lambda: sqlite3.OperationalError("database is locked")
        unavailable = parley.search(ada, "hello")
        port_of_the_503 = client_port(unavailable)
        faults.fault = None
        after = parley.search(ada, "hello")
        port_after = client_port(after)

    assert unavailable.status_code == 503, unavailable.text
    assert unavailable.headers["retry-after"] == "1"
    assert unavailable.headers["content-type"] == "application/problem+json"
    assert after.status_code == 200
    assert port_after == port_of_the_503, "the server dropped the connection after the 503"
    assert "Exception in ASGI application" not in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_a_fault_of_ours_in_the_store_is_a_500_not_an_outage(
        served: str, faults: ReadStoreFaults, caplog: pytest.LogCaptureFixture) -> None:
    with httpx.Client(base_url=served, timeout=30) as http:
        parley = ParleyClient(http)
        ada, bob = parley.register("Ada"), parley.register("Bob")
        conversation = parley.open_direct(ada, bob)
        position = parley.sent(ada, conversation, "hello")["position"]
        faults.fault = lambda: sqlite3.OperationalError("no such column: bodyy")
        broken = parley.search(ada, "hello", position=position)

    assert broken.status_code == 500
    assert "retry-after" not in broken.headers
