"""A live socket that fails inside ends with a close code and a reason, never a bare drop."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from api.app import create_app
from parley.bootstrap import build
from parley.settings import Settings


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    parley = build(Settings.model_validate({"data_dir": str(tmp_path), "database_url": None}))
    with TestClient(create_app(parley)) as test_client:
        yield test_client


def test_a_failing_feed_closes_the_socket_with_1011_and_a_reason(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    registered = client.post("/v1/users", json={"handle": "ada_live", "name": "Ada",
                                                "password": "a long password"})
    assert registered.status_code == 201, registered.text
    parley: Any = client.app.state.parley  # type: ignore[attr-defined]

    def broken(*_: object) -> dict[str, Any]:
        raise RuntimeError("secret detail that must not be logged")

    monkeypatch.setattr(parley.feed, "since", broken)
    token = registered.json()["access_token"]
    with pytest.raises(WebSocketDisconnect) as closed, \
            client.websocket_connect(f"/v1/live?token={token}") as socket:
        socket.receive_json()
    assert closed.value.code == 1011
    assert "reconnect" in closed.value.reason
    assert "live socket failed: RuntimeError" in caplog.text
    assert "secret detail" not in caplog.text
