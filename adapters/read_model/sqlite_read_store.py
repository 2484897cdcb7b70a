"""The embedded read store: documents as JSON in SQLite, text search with FTS5."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Sequence
from itertools import groupby
from pathlib import Path
from typing import Any

from adapters.read_model.sqlite_aggregations import aggregate, derive_differences
from projections.read_model.aggregations import Aggregated, Aggregation
from projections.read_model.documents import (
    AnyOf,
    Contains,
    DocumentChange,
    Eq,
    Filter,
    Page,
    PatchMatching,
    Prefix,
    Query,
    Range,
    Upsert,
    fill_in,
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    collection TEXT NOT NULL,
    doc_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (collection, doc_id)
);
CREATE INDEX IF NOT EXISTS documents_by_conversation ON documents (
    collection, json_extract(body, '$.conversation_id'), json_extract(body, '$.seq')
);
-- a person's notifications (the inbox's pages, its unread counts): a search, not a scan of all
CREATE INDEX IF NOT EXISTS documents_by_recipient ON documents (
    collection, json_extract(body, '$.recipient_id')
);
-- a ledger account's statement, newest first (a page, not a scan of every posting)
CREATE INDEX IF NOT EXISTS documents_by_account ON documents (
    collection, json_extract(body, '$.account_id'), json_extract(body, '$.position')
);
-- the payments a person sent (those received use documents_by_recipient)
CREATE INDEX IF NOT EXISTS documents_by_sender ON documents (
    collection, json_extract(body, '$.sender_id'), json_extract(body, '$.updated_ms')
);
CREATE VIRTUAL TABLE IF NOT EXISTS documents_text USING fts5(text);
CREATE TRIGGER IF NOT EXISTS documents_text_insert AFTER INSERT ON documents
WHEN json_extract(new.body, '$.text') IS NOT NULL BEGIN
    INSERT INTO documents_text (rowid, text) VALUES (new.rowid, json_extract(new.body, '$.text'));
END;
CREATE TRIGGER IF NOT EXISTS documents_text_update AFTER UPDATE ON documents BEGIN
    DELETE FROM documents_text WHERE rowid = old.rowid;
    INSERT INTO documents_text (rowid, text)
    SELECT new.rowid, json_extract(new.body, '$.text')
    WHERE json_extract(new.body, '$.text') IS NOT NULL;
END;
CREATE TABLE IF NOT EXISTS projection_positions (
    projection TEXT PRIMARY KEY,
    position INTEGER NOT NULL
);
"""

GET_MANY_AT_ONCE = 500  # ids per statement (well under SQLite's limit on parameters)

UPSERT = """
INSERT INTO documents (collection, doc_id, version, body) VALUES (?, ?, ?, ?)
ON CONFLICT (collection, doc_id) DO UPDATE
SET body = json_patch(documents.body, excluded.body), version = excluded.version
WHERE excluded.version > documents.version
"""

UPDATE_IF = """
UPDATE documents SET body = json_patch(body, ?), version = ?
WHERE collection = ? AND doc_id = ? AND version < ? AND json_extract(body, ?) = ?
"""

RECORD_POSITION = """
INSERT INTO projection_positions (projection, position) VALUES (?, ?)
ON CONFLICT (projection) DO UPDATE SET position = max(position, excluded.position)
"""


def fts_phrase(text: str) -> str:
    """Every word must match; user input never reaches FTS5's query syntax.

    NUL ends a string inside SQLite's FTS5 parser, so it separates words like a space does;
    a text with no word at all gives "" (which matches nothing: see `query`).
    """
    words = text.replace("\x00", " ").split()
    return " ".join('"' + word.replace('"', '""') + '"' for word in words)


def _kind_of(change: DocumentChange) -> str:
    if isinstance(change, PatchMatching):
        return "matching"
    return "upsert" if change.only_if is None else "conditional"


def _json_path(field: str) -> str:
    if not field.replace("_", "").isalnum():
        raise ValueError(f"not a field name: {field!r}")
    return f"$.{field}"


class SQLiteReadStore:
    """Read models in one SQLite file; documents and positions change in one transaction."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._local = threading.local()
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connection() as connection:
            connection.executescript(SCHEMA)

    def _connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(self._path, timeout=30, isolation_level=None)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            self._local.connection = connection
        return connection

    def apply(self, changes: Sequence[DocumentChange], projection: str, position: int) -> None:
        connection = self._connection()
        connection.execute("BEGIN IMMEDIATE")
        try:
            for kind, run in groupby(changes, key=_kind_of):
                if kind == "matching":
                    for patch in run:
                        assert isinstance(patch, PatchMatching)
                        self._patch_matching(connection, patch)
                    continue
                upserts = [c for c in run if isinstance(c, Upsert)]
                if kind == "conditional":
                    connection.executemany(UPDATE_IF, [
                        (json.dumps(c.fields), c.version, c.collection, c.doc_id, c.version,
                         _json_path(c.only_if[0]), c.only_if[1])
                        for c in upserts if c.only_if is not None])
                else:
                    connection.executemany(UPSERT, [
                        (c.collection, c.doc_id, c.version, json.dumps(c.fields))
                        for c in upserts])
                derive_differences(connection, [c for c in upserts if c.differences])
            connection.execute(RECORD_POSITION, (projection, position))
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")

    def _patch_matching(self, connection: sqlite3.Connection, patch: PatchMatching) -> None:
        clauses, params = self._where(patch.collection, patch.filters)
        connection.execute(
            f"UPDATE documents SET body = json_patch(body, ?), version = ? "
            f"WHERE {clauses} AND version < ?",
            [json.dumps(patch.fields), patch.version, *params, patch.version])

    def apply_late(self, changes: Sequence[DocumentChange]) -> None:
        connection = self._connection()
        connection.execute("BEGIN IMMEDIATE")
        try:
            for change in changes:
                if isinstance(change, PatchMatching):
                    self._patch_matching_late(connection, change)
                else:
                    self._upsert_late(connection, change)
                    derive_differences(connection, [change] if change.differences else [])
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")

    def _upsert_late(self, connection: sqlite3.Connection, change: Upsert) -> None:
        row = connection.execute(
            "SELECT body, version FROM documents WHERE collection = ? AND doc_id = ?",
            (change.collection, change.doc_id)).fetchone()
        if row is not None and not change.holds_for(json.loads(row[0])):
            return
        if row is None and change.only_if is not None:
            return
        if row is None or change.version > row[1]:
            connection.execute(UPSERT, (change.collection, change.doc_id,
                                        change.version, json.dumps(change.fields)))
            return
        body = fill_in(json.loads(row[0]), change.fields)
        connection.execute(
            "UPDATE documents SET body = ? WHERE collection = ? AND doc_id = ?",
            (json.dumps(body), change.collection, change.doc_id))

    def _patch_matching_late(self, connection: sqlite3.Connection,
                             patch: PatchMatching) -> None:
        clauses, params = self._where(patch.collection, patch.filters)
        rows = connection.execute(f"SELECT doc_id FROM documents WHERE {clauses}",
                                  params).fetchall()
        for (doc_id,) in rows:
            self._upsert_late(connection, Upsert(patch.collection, doc_id, patch.version,
                                                 patch.fields))

    def get(self, collection: str, doc_id: str) -> dict[str, Any] | None:
        row = self._connection().execute(
            "SELECT body FROM documents WHERE collection = ? AND doc_id = ?",
            (collection, doc_id),
        ).fetchone()
        return json.loads(row[0]) if row else None

    def get_many(self, collection: str, doc_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(doc_ids), GET_MANY_AT_ONCE):
            chunk = list(doc_ids[start:start + GET_MANY_AT_ONCE])
            marks = ", ".join("?" for _ in chunk)
            rows = self._connection().execute(
                f"SELECT doc_id, body FROM documents WHERE collection = ? AND doc_id IN ({marks})",
                [collection, *chunk]).fetchall()
            found.update((row[0], json.loads(row[1])) for row in rows)
        return found

    def _where(self, collection: str, filters: Sequence[Filter]) -> tuple[str, list[Any]]:
        clauses = ["collection = ?"]
        params: list[Any] = [collection]
        for condition in filters:
            clause, values = self._filter_sql(condition)
            clauses.append(clause)
            params.extend(values)
        return " AND ".join(clauses), params

    def query(self, query: Query) -> Page:
        sort = f"json_extract(body, '{_json_path(query.sort_field)}')"
        where, params = self._where(query.collection, query.filters)
        clauses = [where]
        if query.text and not fts_phrase(query.text):
            return Page([])  # no word to look for (blank, spaces of any script, NUL)
        if query.text:
            clauses.append(
                "rowid IN (SELECT rowid FROM documents_text WHERE documents_text MATCH ?)"
            )
            params.append(fts_phrase(query.text))
        if query.after is not None:
            clauses.append(f"({sort}, doc_id) {'<' if query.descending else '>'} (?, ?)")
            params.extend(query.after)
        order = "DESC" if query.descending else "ASC"
        sql = (
            f"SELECT body, {sort}, doc_id FROM documents WHERE {' AND '.join(clauses)} "
            f"ORDER BY {sort} {order}, doc_id {order} LIMIT ?"
        )
        params.append(query.limit + 1)
        rows = self._connection().execute(sql, params).fetchall()
        documents = [json.loads(r[0]) for r in rows[: query.limit]]
        next_after = None
        if len(rows) > query.limit:
            last = rows[query.limit - 1]
            next_after = [last[1], last[2]]
        return Page(documents, next_after)

    def count(self, collection: str, filters: Sequence[Filter], up_to: int) -> int:
        where, params = self._where(collection, filters)
        # the LIMIT inside stops the scan at `up_to` matches, however many there are
        row = self._connection().execute(
            f"SELECT COUNT(*) FROM (SELECT 1 FROM documents WHERE {where} LIMIT ?)",
            [*params, max(up_to, 0)],
        ).fetchone()
        return int(row[0])

    def aggregate(self, aggregation: Aggregation) -> Aggregated:
        return aggregate(self._connection(), self._where, aggregation)

    @staticmethod
    def _filter_sql(condition: Filter) -> tuple[str, list[Any]]:
        if isinstance(condition, Eq):
            return f"json_extract(body, '{_json_path(condition.field)}') = ?", [condition.value]
        if isinstance(condition, AnyOf):
            if not condition.values:
                return "0", []
            marks = ", ".join("?" for _ in condition.values)
            return (
                f"json_extract(body, '{_json_path(condition.field)}') IN ({marks})",
                list(condition.values),
            )
        if isinstance(condition, Contains):
            return (
                f"EXISTS (SELECT 1 FROM json_each(body, '{_json_path(condition.field)}') "
                "WHERE value = ?)",
                [condition.value],
            )
        if isinstance(condition, Range):
            path = f"json_extract(body, '{_json_path(condition.field)}')"
            clauses, values = [], []
            if condition.gt is not None:
                clauses.append(f"{path} > ?")
                values.append(condition.gt)
            if condition.lte is not None:
                clauses.append(f"{path} <= ?")
                values.append(condition.lte)
            return (" AND ".join(clauses) or "1"), values
        if isinstance(condition, Prefix):
            path = f"json_extract(body, '{_json_path(condition.field)}')"
            return f"substr({path}, 1, length(?)) = ?", [condition.value, condition.value]
        raise TypeError(f"unknown filter {condition!r}")

    def position(self, projection: str) -> int:
        row = self._connection().execute(
            "SELECT position FROM projection_positions WHERE projection = ?", (projection,)
        ).fetchone()
        return int(row[0]) if row else 0

    def close(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None
