"""The chain's two tables, read (and checkpoints written) the same way in SQLite and PostgreSQL.

`parley_event_hashes` holds one link per event, written by the chained recorders in the
transaction that stores the event; `parley_chain_checkpoints` holds signed heads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from event_log.hash_chain import ChainLink, Checkpoint, LoggedEvent

LINKS_TABLE = "parley_event_hashes"
CHECKPOINTS_TABLE = "parley_chain_checkpoints"

Row = Mapping[str, Any]


def link_from_row(row: Row) -> ChainLink:
    return ChainLink(row["notification_id"], row["previous_id"], bytes(row["event_digest"]),
                     bytes(row["hash"]))


class ChainTables:
    """Mixed into a chained application recorder; the recorder supplies the three hooks."""

    placeholder = "?"

    def _table(self, name: str) -> str:
        return name

    def _rows(self, statement: str, params: Sequence[Any]) -> list[Row]:
        raise NotImplementedError

    def _write(self, statement: str, params: Sequence[Any]) -> int:
        """Runs `statement` in its own transaction and answers how many rows it changed."""
        raise NotImplementedError

    def _stored_moment(self, moment: datetime) -> Any:
        return moment

    def _loaded_moment(self, value: Any) -> datetime:
        assert isinstance(value, datetime)
        return value

    def _range(self, column: str, after: int, until: int | None) -> tuple[str, list[Any]]:
        p = self.placeholder
        if until is None:
            return f"{column} > {p}", [after]
        return f"{column} > {p} AND {column} <= {p}", [after, until]

    def chain_links(self, after: int, until: int | None, limit: int) -> list[ChainLink]:
        where, params = self._range("notification_id", after, until)
        rows = self._rows(f"SELECT * FROM {self._table(LINKS_TABLE)} WHERE {where} "
                          f"ORDER BY notification_id LIMIT {self.placeholder}", [*params, limit])
        return [link_from_row(row) for row in rows]

    def link_before(self, position: int) -> ChainLink | None:
        rows = self._rows(f"SELECT * FROM {self._table(LINKS_TABLE)} WHERE notification_id < "
                          f"{self.placeholder} ORDER BY notification_id DESC LIMIT 1", [position])
        return link_from_row(rows[0]) if rows else None

    def chain_head(self) -> ChainLink | None:
        rows = self._rows(f"SELECT * FROM {self._table(LINKS_TABLE)} "
                          "ORDER BY notification_id DESC LIMIT 1", [])
        return link_from_row(rows[0]) if rows else None

    def position_of_digest(self, digest: bytes, other_than: int) -> int | None:
        # A full scan, but only once a break has been found, to tell a move from a change.
        p = self.placeholder
        rows = self._rows(f"SELECT notification_id FROM {self._table(LINKS_TABLE)} "
                          f"WHERE event_digest = {p} AND notification_id <> {p} LIMIT 1",
                          [digest, other_than])
        return int(rows[0]["notification_id"]) if rows else None

    def checkpoints(self, after: int, until: int | None, limit: int) -> list[Checkpoint]:
        where, params = self._range("position", after, until)
        rows = self._rows(f"SELECT * FROM {self._table(CHECKPOINTS_TABLE)} WHERE {where} "
                          f"ORDER BY position LIMIT {self.placeholder}", [*params, limit])
        return [self._checkpoint(row) for row in rows]

    def latest_checkpoint(self) -> Checkpoint | None:
        rows = self._rows(f"SELECT * FROM {self._table(CHECKPOINTS_TABLE)} "
                          "ORDER BY position DESC LIMIT 1", [])
        return self._checkpoint(rows[0]) if rows else None

    def insert_checkpoint(self, checkpoint: Checkpoint) -> bool:
        p = self.placeholder
        changed = self._write(
            f"INSERT INTO {self._table(CHECKPOINTS_TABLE)} "
            f"(position, head_hash, signed_at, signature) VALUES ({p}, {p}, {p}, {p}) "
            "ON CONFLICT (position) DO NOTHING",
            [checkpoint.position, checkpoint.head_hash,
             self._stored_moment(checkpoint.signed_at), checkpoint.signature],
        )
        return changed == 1

    def _checkpoint(self, row: Row) -> Checkpoint:
        return Checkpoint(row["position"], bytes(row["head_hash"]),
                          self._loaded_moment(row["signed_at"]), bytes(row["signature"]))


def logged_event(position: int, originator_id: Any, originator_version: int, topic: str,
                 state: bytes) -> LoggedEvent:
    """A stored event as the chain sees it (ids in their canonical text form)."""
    return LoggedEvent(position, str(originator_id), originator_version, topic, bytes(state))
