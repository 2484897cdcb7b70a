"""The PostgreSQL event store: versioned migrations, an append-only log, complete metadata."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable

import psycopg
import pytest

from event_log.log import SNAPSHOT_EVERY, EventLog
from event_log.writer import GroupCommitWriter
from migrations.runner import migrate, migration_files
from parley.bootstrap import event_log_env
from parley.settings import Settings
from tests.builders import a_cause, a_direct_conversation, a_message, a_registration
from tests.integration.conftest import StartWriter

pytestmark = pytest.mark.services


@pytest.fixture
def event_log(open_postgres_log: Callable[..., EventLog]) -> EventLog:
    return open_postgres_log()


@pytest.fixture
def writer(start_writer: StartWriter) -> GroupCommitWriter:
    return start_writer()


def test_migrations_apply_once_each_and_in_order(database_url: str, namespace: str) -> None:
    applied = migrate(database_url, namespace)
    assert applied == [name for _, name, _ in migration_files()]
    assert migrate(database_url, namespace) == []
    with psycopg.connect(database_url) as connection:
        versions = connection.execute(
            f"SELECT version FROM {namespace}.schema_version ORDER BY version"
        ).fetchall()
    assert [v for (v,) in versions] == [v for v, _, _ in migration_files()]


@pytest.mark.parametrize("statement", [
    "UPDATE {ns}.parley_events SET topic = 'forged'",
    "DELETE FROM {ns}.parley_events",
    "TRUNCATE {ns}.parley_events",
])
def test_the_database_refuses_to_change_or_remove_events(
    writer: GroupCommitWriter, database_url: str, namespace: str, statement: str
) -> None:
    writer.execute(a_registration(), a_cause())
    with psycopg.connect(database_url) as connection:
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            connection.execute(statement.format(ns=namespace))
        connection.rollback()
        (count,) = connection.execute(
            f"SELECT count(*) FROM {namespace}.parley_events"
        ).fetchone() or (0,)
    assert count == 1


def test_each_stored_event_carries_its_metadata(
    writer: GroupCommitWriter, database_url: str, namespace: str
) -> None:
    cause = a_cause()
    outcome = writer.execute(a_registration(), cause)
    with psycopg.connect(database_url) as connection:
        row = connection.execute(
            f"SELECT originator_id, originator_version, topic, state, notification_id "
            f"FROM {namespace}.parley_events"
        ).fetchone()
    assert row is not None
    originator_id, version, topic, state, position = row
    fields = json.loads(state)
    assert (str(originator_id), version, position) == (str(outcome.result.user_id), 1,
                                                       outcome.position)
    assert topic == "domain.identity.users:User.Registered"
    assert fields["actor_id"]["_data_"] == cause.actor_id.hex
    assert fields["correlation_id"]["_data_"] == cause.correlation_id.hex
    assert "causation_id" in fields and "timestamp" in fields
    assert uuid.UUID(str(originator_id))


def test_a_long_conversation_loads_from_a_snapshot_not_its_whole_history(
    writer: GroupCommitWriter, database_url: str, namespace: str
) -> None:
    chat, ada, _ = a_direct_conversation(writer)
    futures = [writer.submit(a_message(ada, chat, f"m{i}"), a_cause(ada))
               for i in range(SNAPSHOT_EVERY + 20)]
    assert [f.result(timeout=60).result.seq for f in futures][-1] == SNAPSHOT_EVERY + 20
    with psycopg.connect(database_url) as connection:
        snapshots = connection.execute(
            f"SELECT originator_version FROM {namespace}.parley_snapshots "
            "WHERE originator_id = %s", (chat,)).fetchall()
    assert snapshots == [(SNAPSHOT_EVERY,)]

    fresh = EventLog(env=event_log_env(Settings(database_url=database_url, namespace=namespace))
                     | {"AGGREGATE_CACHE_MAXSIZE": ""})
    try:
        conversation = fresh.repository.get(chat)
        events_read = len(list(fresh.events.get(chat, gt=SNAPSHOT_EVERY)))
    finally:
        fresh.close()
    assert conversation.last_seq == SNAPSHOT_EVERY + 20 and events_read == 21
