"""Document changes that projectors produce, and the read-store port that applies them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Upsert:
    """Merge `fields` into document `doc_id` unless it already reflects `version` or later.

    `version` is the log position of the event, so a redelivered or replayed event is a no-op
    and a document never goes back in time.
    """

    collection: str
    doc_id: str
    version: int
    fields: dict[str, Any]


@dataclass(frozen=True)
class Eq:
    field: str
    value: Any


@dataclass(frozen=True)
class AnyOf:
    field: str
    values: Sequence[Any]


@dataclass(frozen=True)
class Contains:
    """The document's list field holds `value`."""

    field: str
    value: Any


Filter = Eq | AnyOf | Contains


@dataclass(frozen=True)
class Query:
    collection: str
    filters: Sequence[Filter] = ()
    sort_field: str = "position"
    descending: bool = True
    after: Sequence[Any] | None = None
    limit: int = 50
    text: str | None = None


@dataclass
class Page:
    documents: list[dict[str, Any]]
    next_after: list[Any] | None = field(default=None)


class ReadStore(Protocol):
    """Where read models live: SQLite in the embedded default, Elasticsearch in production."""

    def apply(self, changes: Sequence[Upsert], projection: str, position: int) -> None:
        """Apply changes, then record that `projection` has processed up to `position`."""

    def get(self, collection: str, doc_id: str) -> dict[str, Any] | None: ...

    def query(self, query: Query) -> Page: ...

    def position(self, projection: str) -> int: ...

    def close(self) -> None: ...


