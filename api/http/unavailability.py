"""Which errors mean "a backing service is unreachable": each answers 503 with Retry-After.

They are mapped class by class as ordinary exception handlers (not through a catch-all
`Exception` handler, which Starlette runs in its outermost layer and re-raises after
answering: the server then logs a traceback and drops the client's keep-alive connection).
Anything else that escapes a route is a bug and stays a 500.
"""

from __future__ import annotations

import logging
import sqlite3

import elastic_transport
import eventsourcing.persistence as eventsourcing_persistence
import psycopg
import redis.exceptions
from fastapi import FastAPI, Request
from fastapi.responses import Response

from api.http.problem_json import problem_response

log = logging.getLogger(__name__)

# The libraries' own "could not reach it / it did not answer in time" errors. (psycopg_pool's
# PoolTimeout is a psycopg.OperationalError; elasticsearch's ConnectionError and
# ConnectionTimeout are elastic_transport.TransportErrors, its HTTP error answers are not.)
UNAVAILABLE: tuple[type[Exception], ...] = (
    psycopg.OperationalError,
    psycopg.InterfaceError,
    eventsourcing_persistence.OperationalError,
    eventsourcing_persistence.InterfaceError,
    eventsourcing_persistence.ConnectionUnavailableError,
    elastic_transport.TransportError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    ConnectionError,
    TimeoutError,
    sqlite3.OperationalError,
)

# SQLite's OperationalError also covers faults that are ours (a malformed statement, a
# missing table): only these mean the file is busy or cannot be reached right now.
SQLITE_UNAVAILABLE = ("database is locked", "database table is locked", "unable to open",
                      "disk i/o error", "database or disk is full", "interrupted")


def is_unavailable(error: BaseException) -> bool:
    """True for an outage worth retrying; False for a fault that must surface as a 500."""
    sqlite_error = error if isinstance(error, sqlite3.OperationalError) else error.__cause__
    if isinstance(sqlite_error, sqlite3.OperationalError):
        message = str(sqlite_error).lower()
        return any(reason in message for reason in SQLITE_UNAVAILABLE)
    return isinstance(error, UNAVAILABLE)


def install_unavailability_handlers(app: FastAPI) -> None:
    """503 with Retry-After for each outage class, as an ordinary answer."""
    async def unavailable(request: Request, error: Exception) -> Response:
        if not is_unavailable(error):
            raise error  # a bug, not an outage: the server's 500 handler logs it
        log.warning("dependency unavailable on %s %s: %s", request.method, request.url.path,
                    type(error).__name__)
        return problem_response(503, "Service unavailable",
                                "a backing service is unreachable; retry shortly",
                                headers={"Retry-After": "1"})

    for error_class in UNAVAILABLE:
        app.add_exception_handler(error_class, unavailable)
