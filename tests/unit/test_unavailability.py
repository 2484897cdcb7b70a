"""Which errors are outages (503, retry) and which are faults of ours (500)."""

from __future__ import annotations

import sqlite3

import elastic_transport
import eventsourcing.persistence as persistence
import psycopg
import psycopg_pool
import pytest
import redis.exceptions

from api.http.unavailability import is_unavailable


def caused_by(error: Exception, cause: BaseException) -> Exception:
    error.__cause__ = cause
    return error


@pytest.mark.parametrize("error", [
    psycopg.OperationalError("server closed the connection unexpectedly"),
    psycopg_pool.PoolTimeout("couldn't get a connection after 5.00 sec"),
    persistence.OperationalError("connection refused"),
    persistence.InterfaceError("the connection is closed"),
    elastic_transport.ConnectionError("connection refused"),
    elastic_transport.ConnectionTimeout("timed out"),
    redis.exceptions.ConnectionError("Error 111 connecting"),
    redis.exceptions.TimeoutError("Timeout reading from socket"),
    sqlite3.OperationalError("database is locked"),
    sqlite3.OperationalError("unable to open database file"),
    caused_by(persistence.OperationalError("locked"), sqlite3.OperationalError(
        "database is locked")),
], ids=lambda e: f"{type(e).__module__}.{type(e).__name__}")
def test_an_unreachable_or_busy_backing_service_is_an_outage(error: Exception) -> None:
    assert is_unavailable(error)


@pytest.mark.parametrize("error", [
    sqlite3.OperationalError("no such column: bodyy"),
    sqlite3.OperationalError("fts5: syntax error near \"\""),
    caused_by(persistence.OperationalError("x"), sqlite3.OperationalError("no such table: x")),
    ValueError("a bug"),
    KeyError("missing"),
], ids=repr)
def test_a_fault_of_ours_is_not_an_outage(error: Exception) -> None:
    assert not is_unavailable(error)
