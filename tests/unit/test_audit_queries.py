"""Audit queries over a real (in-memory SQLite) event log, written through the write path."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from adapters.audit.log_reader import AuditLogReader
from commands.audit import queries as audit_module
from commands.audit.queries import AggregateNotFound, AuditCriteria, AuditLog, UnknownEventType
from commands.identity.users import ChangeProfile, RegisterUser
from domain.identity.accounts import credentials_id
from event_log.aggregate import Cause
from event_log.idempotency import receipt_id
from event_log.log import EventLog
from event_log.outcomes import Outcome
from event_log.writer import GroupCommitWriter
from parley.bootstrap import HANDLERS
from tests.builders import a_cause, a_handle, a_session


class Log:
    """An event log with its writer and its audit queries."""

    def __init__(self) -> None:
        self.events = EventLog(env={"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                                    "SQLITE_DBNAME": ":memory:"})
        self.writer = GroupCommitWriter(self.events, HANDLERS)
        self.audit = AuditLog(AuditLogReader(self.events))

    def run(self, command: Any, cause: Cause | None = None) -> Outcome[Any]:
        return self.writer.execute(command, cause or a_cause())

    def register(self, name: str = "Ada", cause: Cause | None = None) -> uuid.UUID:
        registered = self.run(RegisterUser(a_handle(), name, password_hash="$argon2id$secret"),
                              cause).result
        user_id: uuid.UUID = registered.user_id
        return user_id


@pytest.fixture
def log() -> Iterator[Log]:
    running = Log()
    running.writer.start()
    try:
        yield running
    finally:
        running.writer.stop()
        running.events.close()


def test_a_history_shows_each_event_with_its_position_cause_and_the_state_after_it(
        log: Log) -> None:
    registration = a_cause()
    ada = log.register("Ada", registration)
    renaming = a_cause(ada)
    renamed = log.run(ChangeProfile(ada, name="Ada King"), renaming)
    page = log.audit.history(ada)
    assert [e.type for e in page.entries] == ["User.Registered", "User.ProfileChanged"]
    assert page.next is None
    first, second = page.entries
    assert first.actor_id == registration.actor_id
    assert second.correlation_id == renaming.correlation_id and second.actor_id == ada
    assert second.position == renamed.position > first.position
    assert first.state is not None and first.state["name"] == "Ada"
    assert second.state is not None and second.state["name"] == "Ada King"


def test_a_history_pages_by_version_and_keeps_the_state_right(log: Log) -> None:
    ada = log.register()
    for name in ("Ada B", "Ada C", "Ada D"):
        log.run(ChangeProfile(ada, name=name))
    first = log.audit.history(ada, limit=3)
    assert [e.version for e in first.entries] == [1, 2, 3] and first.next == 3
    rest = log.audit.history(ada, first.next, limit=3)
    assert [e.version for e in rest.entries] == [4] and rest.next is None
    assert rest.entries[0].state is not None and rest.entries[0].state["name"] == "Ada D"
    assert [e.version for e in log.audit.stream_history(ada)] == [1, 2, 3, 4]


def test_an_unknown_aggregate_has_no_history_state_or_diff(log: Log) -> None:
    unknown = uuid.uuid4()
    with pytest.raises(AggregateNotFound):
        log.audit.history(unknown)
    with pytest.raises(AggregateNotFound):
        log.audit.stream_history(unknown)
    with pytest.raises(AggregateNotFound):
        log.audit.state(unknown)
    with pytest.raises(AggregateNotFound):
        log.audit.diff(unknown, 0, 1)


def test_the_state_as_of_a_version_or_a_time_and_the_diff_between_versions(log: Log) -> None:
    ada = log.register("Ada")
    between = datetime.now(UTC)
    time.sleep(0.01)
    log.run(ChangeProfile(ada, name="Ada King", avatar="blobs/1"))
    assert log.audit.state(ada, version=1).state["name"] == "Ada"
    assert log.audit.state(ada, at=between).version == 1
    assert log.audit.state(ada).state["name"] == "Ada King"
    with pytest.raises(AggregateNotFound):
        log.audit.state(ada, at=between - timedelta(days=1))
    with pytest.raises(AggregateNotFound):
        log.audit.state(ada, version=3)
    changes = {c.path: (c.before, c.after) for c in log.audit.diff(ada, 1, 2).changes}
    assert changes == {"name": ("Ada", "Ada King"), "avatar": (None, "blobs/1")}


def test_secrets_stay_redacted_in_a_credentials_history(log: Log) -> None:
    ada = log.register()
    (established,) = log.audit.history(credentials_id(ada)).entries
    assert established.payload["password_hash"] == "[redacted]"
    assert established.state is not None and established.state["password_hash"] == "[redacted]"
    assert "secret" not in str(established.as_json())


def test_an_actors_events_in_a_time_range(log: Log) -> None:
    ada = log.register()
    log.run(ChangeProfile(ada, name="Before"), a_cause(ada))
    start = datetime.now(UTC)
    time.sleep(0.01)
    log.run(ChangeProfile(ada, name="During"), a_cause(ada))
    log.register("Someone else")
    found = log.audit.search(AuditCriteria(actor_id=ada, since=start)).entries
    assert [e.payload["name"] for e in found] == ["During"]


def test_events_of_given_types_in_a_position_range(log: Log) -> None:
    ada = log.register()
    changed = log.run(ChangeProfile(ada, name="Ada King")).position
    log.register()
    found = log.audit.search(AuditCriteria(types=("User.Registered", "User.ProfileChanged"),
                                           until_position=changed)).entries
    assert [e.type for e in found] == ["User.Registered", "User.ProfileChanged"]
    with pytest.raises(UnknownEventType):
        log.audit.search(AuditCriteria(types=("User.Exploded",)))


def test_a_correlation_id_is_followed_across_aggregates(log: Log) -> None:
    request = a_cause()
    log.register(cause=request)
    log.register()
    found = log.audit.search(AuditCriteria(correlation_id=request.correlation_id)).entries
    assert {e.aggregate_type for e in found} == {"User", "Credentials"}


def test_a_page_stops_after_its_scan_budget_and_the_cursor_carries_on(
        log: Log, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audit_module, "SCAN_BUDGET", 4)
    monkeypatch.setattr(audit_module, "READ_BATCH", 2)
    users = [log.register() for _ in range(5)]  # two events each
    wanted = AuditCriteria(actor_id=None, types=("User.Registered",))
    rare = AuditCriteria(correlation_id=uuid.uuid4())
    page = log.audit.search(rare)
    assert page.entries == [] and page.next == 4
    assert log.audit.search(rare, after=8).next is None
    every = list(log.audit.stream(wanted))
    assert [e.aggregate_id for e in every] == users
    first = log.audit.search(AuditCriteria(), limit=3)
    assert len(first.entries) == 3 and first.next == first.entries[-1].position


def test_an_idempotency_receipt_shows_the_first_result_and_nothing_secret(log: Log) -> None:
    cause, (session, _) = a_cause(), a_session()
    command = RegisterUser(a_handle(), "Ada", password_hash="$argon2id$secret", session=session)
    first = log.writer.submit(command, cause, "register-once", "fp").result(timeout=10).result
    (issued,) = log.audit.history(receipt_id(cause.actor_id, "register-once")).entries
    assert (issued.type, issued.payload) == ("CommandReceipt.Issued", {
        "fingerprint": "fp", "result_topic": "commands.identity.users:UserRegistered",
        "result": {"user_id": str(first.user_id), "handle": first.handle, "name": "Ada",
                   "device_id": str(session.device_id)}})
    assert issued.state is not None and issued.state["result"] == issued.payload["result"]
    shown = str(issued.as_json())
    assert "secret" not in shown and session.refresh_digest not in shown
