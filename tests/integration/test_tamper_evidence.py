"""Tamper evidence on the real event stores: events written through the real write path, then
tampered with directly (as a superuser past the append-only guard, or with the SQLite file in
hand); verification names each kind of tampering at its position.
"""

from __future__ import annotations

import itertools
import sqlite3
import threading
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest

from commands.audit.checkpoints import write_checkpoint
from commands.audit.integrity import ChainRecords, verify_log
from domain.audit.chain_verification import BreakKind
from event_log.hash_chain import extend_chain
from event_log.log import EventLog
from event_log.writer import GroupCommitWriter
from migrations.runner import migrate
from parley.bootstrap import HANDLERS, chain_records, event_log_env
from parley.settings import Settings
from tests.builders import a_cause, a_registration, embedded_settings, now

KEY = b"auditor-key"
EVENTS = 12


class PostgresTampering:
    """Raw SQL on the namespace's tables, with the append-only triggers switched off."""

    events, links, checkpoints, position = "parley_events", "parley_event_hashes", \
        "parley_chain_checkpoints", "notification_id"

    def __init__(self, database_url: str, namespace: str) -> None:
        self.connection = psycopg.connect(database_url, autocommit=True,
                                          options=f"-c search_path={namespace}")

    def execute(self, statement: str, *params: Any) -> None:
        self.connection.execute("SET session_replication_role = replica")
        self.connection.execute(statement.replace("?", "%s").encode(), params)

    def close(self) -> None:
        self.connection.close()


class SQLiteTampering:
    """Raw SQL on the database file, after dropping the append-only triggers."""

    events, links, checkpoints, position = "stored_events", "parley_event_hashes", \
        "parley_chain_checkpoints", "rowid"

    def __init__(self, path: Path) -> None:
        self.connection = sqlite3.connect(path, isolation_level=None)

    def execute(self, statement: str, *params: Any) -> None:
        triggers = self.connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall()
        for (name,) in triggers:
            self.connection.execute(f"DROP TRIGGER {name}")
        self.connection.execute(statement, params)

    def close(self) -> None:
        self.connection.close()


Tampering = PostgresTampering | SQLiteTampering


class Store:
    """One profile's event log, a writer on it, and raw access to its tables."""

    def __init__(self, settings: Settings, tampering: Tampering) -> None:
        self.settings = settings
        self.log = EventLog(env=event_log_env(settings))
        self.writer = GroupCommitWriter(self.log, HANDLERS)
        self.writer.start()
        self.tampering = tampering

    @property
    def records(self) -> ChainRecords:
        return chain_records(self.log)

    def register(self, count: int) -> list[int]:
        futures = [self.writer.submit(a_registration(), a_cause())
                   for _ in range(count)]
        return [f.result(timeout=30).position for f in futures]

    def register_one_by_one(self, count: int) -> None:
        """Many small transactions, to interleave with another writer's."""
        for _ in range(count):
            self.writer.execute(a_registration(), a_cause())

    def positions(self) -> list[int]:
        return [e.position for e in self.records.logged_events(0, None, 10_000)]

    def first_break(self, **options: Any) -> tuple[BreakKind | None, int | None]:
        report = verify_log(self.records, key=KEY, batch_size=5, **options)
        brk = report.first_break
        return (brk.kind, brk.position) if brk else (None, None)

    def close(self) -> None:
        self.writer.stop()
        self.log.close()
        self.tampering.close()


def _leave_a_gap(store: Store) -> None:
    """A rolled-back transaction still uses a PostgreSQL sequence number: a gap, not tampering."""
    if isinstance(store.tampering, PostgresTampering):
        with pytest.raises(psycopg.errors.RaiseException), \
                store.tampering.connection.transaction():
            store.tampering.connection.execute(
                "INSERT INTO parley_events (originator_id, originator_version, topic, state)"
                " VALUES (gen_random_uuid(), 1, 'x', '\\x00')")
            store.tampering.connection.execute(
                "DO $$ BEGIN RAISE EXCEPTION 'roll back'; END $$")


def _open_store(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    if kind == "postgres":
        database_url = request.getfixturevalue("database_url")
        namespace = request.getfixturevalue("namespace")
        migrate(database_url, namespace)
        request.addfinalizer(lambda: _drop_schema(database_url, namespace))
        settings = Settings(database_url=database_url, namespace=namespace)
        tampering: Tampering = PostgresTampering(database_url, namespace)
    else:
        settings = embedded_settings(tmp_path)
        tampering = SQLiteTampering(tmp_path / "events.sqlite3")
    opened = Store(settings, tampering)
    request.addfinalizer(opened.close)
    opened.register(EVENTS // 2)
    _leave_a_gap(opened)
    opened.register(EVENTS - EVENTS // 2)
    return opened


def _drop_schema(database_url: str, namespace: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute(f"DROP SCHEMA {namespace} CASCADE".encode())


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.services)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    return _open_store(request.param, request, tmp_path)


@pytest.fixture
def postgres_store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    return _open_store("postgres", request, tmp_path)


def test_a_log_written_through_the_write_path_is_intact(store: Store) -> None:
    assert len(store.positions()) == EVENTS
    report = verify_log(store.records, key=KEY, batch_size=5)
    assert report.intact and report.events_checked == EVENTS
    assert report.last_position == store.positions()[-1]


def test_a_changed_payload_is_found_at_its_position(store: Store) -> None:
    target = store.positions()[4]
    t = store.tampering
    t.execute(f"UPDATE {t.events} SET state = ? WHERE {t.position} = ?",
              b'{"handle":"mallory"}', target)
    assert store.first_break() == (BreakKind.CHANGED, target)


def test_a_deleted_event_is_found_at_its_position(store: Store) -> None:
    target = store.positions()[7]
    t = store.tampering
    t.execute(f"DELETE FROM {t.events} WHERE {t.position} = ?", target)
    assert store.first_break() == (BreakKind.DELETED, target)


def test_an_event_deleted_with_its_link_is_still_found(store: Store) -> None:
    target = store.positions()[7]
    t = store.tampering
    t.execute(f"DELETE FROM {t.events} WHERE {t.position} = ?", target)
    t.execute(f"DELETE FROM {t.links} WHERE notification_id = ?", target)
    assert store.first_break() == (BreakKind.DELETED, target)


def test_an_inserted_event_is_found_at_its_position(store: Store) -> None:
    inserted = store.positions()[-1] + 1
    t = store.tampering
    t.execute(f"INSERT INTO {t.events} ({t.position}, originator_id, originator_version, "
              "topic, state) VALUES (?, ?, 1, 'domain.users:User.Registered', ?)",
              inserted, str(uuid.uuid4()), b'{"handle":"mallory"}')
    assert store.first_break() == (BreakKind.INSERTED, inserted)


@pytest.mark.services
def test_an_event_inserted_into_a_gap_with_a_forged_link_is_found(postgres_store: Store) -> None:
    store = postgres_store
    positions = store.positions()
    gaps = [p + 1 for p, q in itertools.pairwise(positions) if q > p + 1]
    inserted = gaps[0]
    t = store.tampering
    t.execute(f"INSERT INTO {t.events} ({t.position}, originator_id, originator_version, "
              "topic, state) VALUES (?, ?, 1, 'domain.users:User.Registered', ?)",
              inserted, str(uuid.uuid4()), b'{"handle":"mallory"}')
    smuggled = store.records.logged_events(inserted - 1, inserted, 1)
    (forged,) = extend_chain(store.records.link_before(inserted), smuggled)
    t.execute(f"INSERT INTO {t.links} VALUES (?, ?, ?, ?)", forged.position,
              forged.previous_position, forged.event_digest, forged.hash)
    assert store.first_break() == (BreakKind.INSERTED, inserted)


def test_two_events_swapped_in_the_log_are_reported_as_reordered(store: Store) -> None:
    first, second = store.positions()[2], store.positions()[9]
    t = store.tampering
    t.execute(f"UPDATE {t.events} SET {t.position} = -1 WHERE {t.position} = ?", first)
    t.execute(f"UPDATE {t.events} SET {t.position} = ? WHERE {t.position} = ?", first, second)
    t.execute(f"UPDATE {t.events} SET {t.position} = ? WHERE {t.position} = -1", second)
    assert store.first_break() == (BreakKind.REORDERED, first)


def test_a_rewritten_and_relinked_log_is_caught_by_the_signed_checkpoint(store: Store) -> None:
    checkpoint = write_checkpoint(store.records, KEY, now()).checkpoint
    assert checkpoint is not None
    target = store.positions()[3]
    t = store.tampering
    t.execute(f"UPDATE {t.events} SET state = ? WHERE {t.position} = ?",
              b'{"handle":"mallory"}', target)
    # The attacker knows the algorithm and recomputes every link from the change on.
    relinked = extend_chain(store.records.link_before(target),
                            store.records.logged_events(target - 1, None, 10_000))
    t.execute(f"DELETE FROM {t.links} WHERE notification_id >= ?", target)
    for link in relinked:
        t.execute(f"INSERT INTO {t.links} VALUES (?, ?, ?, ?)", link.position,
                  link.previous_position, link.event_digest, link.hash)
    assert verify_log(store.records, key=None, batch_size=5).checkpoints_checked == 1
    assert store.first_break(until=checkpoint.position - 1) == (None, None)
    assert store.first_break() == (BreakKind.REWRITTEN, checkpoint.position)
    # ... and re-signing the checkpoint without the key is a forgery.
    t.execute(f"UPDATE {t.checkpoints} SET head_hash = ? WHERE position = ?",
              relinked[-1].hash, checkpoint.position)
    assert store.first_break() == (BreakKind.FORGED_CHECKPOINT, checkpoint.position)


def test_a_tail_deleted_with_its_links_after_a_checkpoint_is_truncation(store: Store) -> None:
    checkpoint = write_checkpoint(store.records, KEY, now()).checkpoint
    assert checkpoint is not None
    kept = store.positions()[-4]
    t = store.tampering
    t.execute(f"DELETE FROM {t.events} WHERE {t.position} > ?", kept)
    t.execute(f"DELETE FROM {t.links} WHERE notification_id > ?", kept)
    assert store.first_break() == (BreakKind.TRUNCATED, checkpoint.position)
    # what `parley audit verify` used to ask: the range up to the shortened log's end
    assert store.first_break(until=kept) == (BreakKind.TRUNCATED, checkpoint.position)
    assert store.first_break(until=kept - 1) == (None, None)


def test_the_chain_tables_are_append_only(store: Store) -> None:
    write_checkpoint(store.records, KEY, now())
    for table in ("parley_event_hashes", "parley_chain_checkpoints"):
        for statement in (f"UPDATE {table} SET hash = hash" if "hashes" in table
                          else f"UPDATE {table} SET signature = signature",
                          f"DELETE FROM {table}"):
            with pytest.raises((psycopg.Error, sqlite3.Error), match="append-only"):
                _run_as_an_ordinary_writer(store, statement)


def _run_as_an_ordinary_writer(store: Store, statement: str) -> None:
    if isinstance(store.tampering, PostgresTampering):
        with store.tampering.connection.transaction():
            store.tampering.connection.execute("SET LOCAL session_replication_role = origin")
            store.tampering.connection.execute(statement.encode())
    else:
        store.tampering.connection.execute(statement)


def test_concurrent_writers_in_two_processes_never_fork_the_chain(store: Store) -> None:
    other = Store(store.settings, store.tampering)
    try:
        threads = [threading.Thread(target=s.register_one_by_one, args=(50,))
                   for s in (store, other) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        other.writer.stop()
        other.log.close()
    report = verify_log(store.records, key=KEY)
    assert report.intact and report.events_checked == EVENTS + 300


@pytest.mark.services
def test_the_migration_links_events_stored_before_the_chain_as_the_recorder_does(
    postgres_store: Store,
) -> None:
    store = postgres_store
    written = store.records.chain_links(0, None, 10_000)
    store.tampering.execute("DELETE FROM parley_event_hashes")
    store.tampering.execute("SELECT parley_chain_link_stored_events()")
    assert store.records.chain_links(0, None, 10_000) == written
    with pytest.raises(psycopg.errors.RaiseException, match="would hide tampering"):
        store.tampering.execute("SELECT parley_chain_link_stored_events()")


def test_an_embedded_log_from_before_the_chain_is_linked_when_opened(tmp_path: Path) -> None:
    settings = embedded_settings(tmp_path)
    unchained_env = event_log_env(settings) | {"APPLICATION_RECORDER_TOPIC": ""}
    before = EventLog(env=unchained_env)
    writer = GroupCommitWriter(before, HANDLERS)
    writer.start()
    for _ in range(7):
        writer.execute(a_registration(), a_cause())
    writer.stop()
    before.close()
    with sqlite3.connect(tmp_path / "events.sqlite3") as connection:
        assert connection.execute("SELECT count(*) FROM sqlite_master "
                                  "WHERE name = 'parley_event_hashes'").fetchone() == (0,)
    reopened = EventLog(env=event_log_env(settings))
    try:
        report = verify_log(chain_records(reopened), key=None)
    finally:
        reopened.close()
    assert report.intact and report.events_checked == 7
