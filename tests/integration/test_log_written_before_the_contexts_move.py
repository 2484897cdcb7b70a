"""A log written by the code before issue 10's contexts move (commit 6cfdc37) reads, replays
and verifies under today's code.

The fixture (tests/fixtures/log_before_contexts/, see its README) holds the event log, with
every event type of that code, a snapshot, an idempotency receipt and a signed checkpoint,
the two keys it needs, and what the old code answered. The read models are rebuilt here from
the log alone. Only stable entry points are used: the composition root, settings, the app,
the CLI, HTTP and the `eventsourcing` library, never a module that the move relocates.
"""

from __future__ import annotations

import json
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from eventsourcing.application import Application
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from parley.bootstrap import build
from parley.cli import app as parley_cli
from parley.settings import Settings

FIXTURE = Path(__file__).parents[1] / "fixtures" / "log_before_contexts"
EXPECTED: dict[str, Any] = json.loads((FIXTURE / "expected.json").read_text())
LOG_FILES = ("events.sqlite3", "secret_key", "audit_key")
CATCH_UP_SECONDS = 30


@dataclass
class Running:
    http: TestClient
    data_dir: Path
    tokens: dict[str, str]
    position: int  # at or past the old log's head: the sign-ins made here

    def auth(self, handle: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[handle]}"}

    def get(self, path: str, handle: str, **params: Any) -> Any:
        response = self.http.get(path, headers=self.auth(handle),
                                 params={"position": self.position} | params)
        assert response.status_code == 200, (path, response.text)
        return response.json()


def without_request_fields(value: Any) -> Any:
    """An answer without what belongs to the request rather than the log (as recorded)."""
    if isinstance(value, dict):
        return {k: without_request_fields(v) for k, v in value.items()
                if k not in ("position", "request_id")}
    if isinstance(value, list):
        return [without_request_fields(v) for v in value]
    return value


def cli(data_dir: Path, *args: str) -> tuple[int, dict[str, Any]]:
    env = {"PARLEY_DATA_DIR": str(data_dir), "PARLEY_DATABASE_URL": "", "COLUMNS": "400"}
    done = CliRunner().invoke(parley_cli, list(args), env=env)
    assert done.stdout, done.output
    return done.exit_code, json.loads(done.stdout)


def plain_log(data_dir: Path) -> Application[Any]:
    """The log as the `eventsourcing` library alone reads it (no Parley recorder or mapper)."""
    return Application(env={
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": str(data_dir / "events.sqlite3"),
        "CREATE_TABLE": "n", "IS_SNAPSHOTTING_ENABLED": "y"})


def wait_for_projections(http: TestClient) -> None:
    deadline = time.monotonic() + CATCH_UP_SECONDS
    while True:
        ready = http.get("/ready").json()
        if ready["projection_lag"] and not any(ready["projection_lag"].values()):
            return
        assert time.monotonic() < deadline, f"projections did not catch up: {ready}"
        time.sleep(0.1)


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    data_dir = tmp_path_factory.mktemp("log_before_contexts") / "data"
    data_dir.mkdir()
    for name in LOG_FILES:
        shutil.copyfile(FIXTURE / name, data_dir / name)
    settings = Settings.model_validate({
        "data_dir": str(data_dir), "database_url": None, "consistency_wait_seconds": 15,
        "checkpoint_every_seconds": 3600})
    parley = build(settings)
    with TestClient(create_app(parley)) as http:
        tokens, position = {}, EXPECTED["log"]["head"]
        for handle in sorted({a["as"] for a in EXPECTED["answers"].values()}):
            signed_in = http.post("/v1/sessions", json={
                "handle": handle, "password": EXPECTED["people"][handle]["password"],
                "device_name": "after the move"})
            assert signed_in.status_code in (200, 201), signed_in.text
            assert signed_in.json()["user_id"] == EXPECTED["people"][handle]["user_id"]
            tokens[handle] = signed_in.json()["access_token"]
            position = max(position, signed_in.json()["position"])
        wait_for_projections(http)
        yield Running(http, data_dir, tokens, position)


def test_the_fixture_is_the_old_codes_log_with_every_event_type_a_snapshot_and_a_checkpoint(
) -> None:
    assert EXPECTED["coverage"]["not_covered"] == []
    assert len(EXPECTED["coverage"]["covered"]) == len(EXPECTED["log"]["topics"])
    assert all(t.startswith("domain.") for t in EXPECTED["log"]["topics"])
    assert [s["aggregate_topic"] for s in EXPECTED["log"]["snapshots"]] == [
        "domain.conversations:Conversation"]
    assert EXPECTED["verify"]["intact"] and EXPECTED["verify"]["checkpoints_checked"] == 1
    assert not any((FIXTURE / f"events.sqlite3{s}").exists() for s in ("-wal", "-shm"))


@pytest.mark.parametrize("name", sorted(EXPECTED["answers"]))
def test_the_rebuilt_read_models_answer_as_the_old_code_did(running: Running,
                                                             name: str) -> None:
    recorded = EXPECTED["answers"][name]
    answer = running.get(recorded["path"], recorded["as"], **recorded["params"])
    assert without_request_fields(answer) == recorded["body"]


def test_every_stored_event_and_snapshot_decodes(running: Running) -> None:
    head = EXPECTED["log"]["head"]
    log = plain_log(running.data_dir)
    try:
        notifications = log.recorder.select_notifications(start=1, limit=head, stop=head)
        assert [n.id for n in notifications] == list(range(1, head + 1))
        topics = set()
        for notification in notifications:
            event = log.mapper.to_domain_event(notification)
            assert (event.originator_id, event.originator_version) == (
                notification.originator_id, notification.originator_version)
            topics.add(notification.topic)
        assert sorted(topics) == EXPECTED["log"]["topics"]
        for stored in EXPECTED["log"]["snapshots"]:
            assert log.snapshots is not None
            snapshot, = log.snapshots.get(uuid.UUID(stored["originator_id"]), desc=True,
                                          limit=1)
            aggregate = snapshot.mutate(None)  # resolves the aggregate's old topic
            assert str(aggregate.id) == stored["originator_id"]
            assert aggregate.version == stored["originator_version"]
            # and the whole aggregate replays, from the snapshot and from its first event
            assert log.repository.get(aggregate.id).version >= aggregate.version
    finally:
        log.close()

    # ... and through Parley's own reader: the audit log streams every event, decoded
    grace = "grace_before"
    response = running.http.get("/v1/audit/events", headers=running.auth(grace),
                                params={"format": "jsonl", "until": head})
    assert response.status_code == 200, response.text
    entries = [json.loads(line) for line in response.text.splitlines() if line.strip()]
    assert [e["position"] for e in entries] == list(range(1, head + 1))
    # the old receipt (version 1: an HTTP status and body) reads as the answer it recorded
    receipt, = (e for e in entries if e["type"] == "CommandReceipt.Issued")
    hello = EXPECTED["answers"]["reacted_message"]["body"]
    assert receipt["payload"]["result_topic"] == "event_log.idempotency:RecordedAnswer"
    assert receipt["payload"]["result"]["status"] == 201
    assert receipt["payload"]["result"]["body"]["message_id"] == hello["message_id"]
    state = running.get(f"/v1/audit/aggregates/{EXPECTED['ids']['long_chat']}/state", grace)
    assert state["version"] == 1 + EXPECTED["answers"]["long_chat_newest"]["body"][
        "messages"][0]["seq"]


def test_parley_audit_verify_says_the_old_chain_and_checkpoint_verify(running: Running) -> None:
    head = EXPECTED["log"]["head"]
    code, report = cli(running.data_dir, "audit", "verify", "--until", str(head), "--json")
    assert code == 0, report
    assert report == EXPECTED["verify"]
    code, report = cli(running.data_dir, "audit", "verify", "--json")
    assert code == 0 and report["intact"] and report["break"] is None, report
    assert report["checkpoints_checked"] == 1 and report["signatures_checked"]


def test_commands_appended_after_the_old_log_work_and_verify(running: Running) -> None:
    ids, http = EXPECTED["ids"], running.http
    long_chat = EXPECTED["answers"]["long_chat_newest"]["body"]["messages"][0]
    # the long chat loads from its old snapshot
    sent = http.post(f"/v1/conversations/{ids['long_chat']}/messages", json={
        "text": "written after the move"}, headers=running.auth("cy_before"))
    assert sent.status_code == 201, sent.text
    assert sent.json()["seq"] == long_chat["seq"] + 1
    edited = http.patch(f"/v1/messages/{ids['hello']}", json={"text": "Hello again, Bob"},
                        headers=running.auth("ada_before"))
    assert edited.status_code == 200, edited.text
    reacted = http.put(f"/v1/messages/{ids['group_message']}/reactions/{quote('🎉')}",
                       headers=running.auth("bob_before"))
    assert reacted.status_code in (200, 201), reacted.text
    retried = http.post(f"/v1/conversations/{ids['direct']}/messages",
                        json={"text": "Hello Bob, have you read Dune?"},
                        headers=running.auth("ada_before")
                        | {"Idempotency-Key": "before-contexts-hello"})
    assert retried.status_code == 201, retried.text
    assert retried.json()["message_id"] == ids["hello"]  # the old receipt answers
    hello = EXPECTED["answers"]["reacted_message"]["body"]
    assert without_request_fields(retried.json()) == {  # ... exactly as the old code did
        k: hello[k] for k in ("message_id", "conversation_id", "seq", "sent_at")}
    assert retried.headers["Parley-Position"] == str(retried.json()["position"])
    running.position = max(r.json()["position"] for r in (sent, edited, reacted))

    newest = running.get(f"/v1/conversations/{ids['long_chat']}/messages", "ada_before",
                         limit=1)["messages"][0]
    assert (newest["text"], newest["seq"]) == ("written after the move", long_chat["seq"] + 1)
    assert running.get(f"/v1/messages/{ids['hello']}", "bob_before")["text"] == (
        "Hello again, Bob")
    found = running.get("/v1/search/messages", "bob_before", q="again")["messages"]
    assert [m["message_id"] for m in found] == [ids["hello"]]

    code, signed = cli(running.data_dir, "audit", "checkpoint", "--json")
    assert code == 0 and signed["written"], signed
    assert signed["checkpoint"]["position"] >= running.position
    code, report = cli(running.data_dir, "audit", "verify", "--json")
    assert code == 0 and report["intact"], report
    assert report["checkpoints_checked"] == 2 and report["signatures_checked"]
    assert report["last_verified_position"] >= signed["checkpoint"]["position"]
    over_http = running.get("/v1/audit/verify", "grace_before")
    assert over_http["intact"] and over_http["checkpoints_checked"] == 2, over_http
