"""Applies numbered SQL files once each, in order, recording them in `schema_version`."""

from __future__ import annotations

from pathlib import Path

import psycopg
from psycopg import sql

LOCK_KEY = 7_270_453_901
MIGRATIONS_DIR = Path(__file__).resolve().parent  # not importlib.resources: see below


def migration_files() -> list[tuple[int, str, str]]:
    """(version, name, sql) of every file in migrations/postgres, sorted by version."""
    # The editable install exposes top-level packages as namespace packages to a console
    # script run outside the checkout, and importlib.resources cannot list those.
    folder = MIGRATIONS_DIR / "postgres"
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            version = int(entry.name.split("_", 1)[0])
            found.append((version, entry.name, entry.read_text(encoding="utf-8")))
    return sorted(found)


def migrate(database_url: str, schema: str) -> list[str]:
    """Bring `schema` up to date; returns the names of the files applied now (idempotent)."""
    applied_now: list[str] = []
    with psycopg.connect(database_url, autocommit=False) as connection, \
            connection.transaction():
        connection.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
        connection.execute(
            sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema))
        )
        connection.execute(
            sql.SQL("SET LOCAL search_path TO {}").format(sql.Identifier(schema))
        )
        connection.execute(
            "CREATE TABLE IF NOT EXISTS schema_version ("
            " version integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {row[0] for row in connection.execute("SELECT version FROM schema_version")}
        for version, name, statements in migration_files():
            if version in done:
                continue
            connection.execute(statements.encode())
            connection.execute(
                "INSERT INTO schema_version (version, name) VALUES (%s, %s)", (version, name)
            )
            applied_now.append(name)
    return applied_now
