"""Document changes that projectors produce, and the read-store port that applies them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Difference:
    """`field` := the document's `minuend` minus its `subtrahend` once it has both, computed by
    the store after the merge (the Elasticsearch build has no scripts to do it at query time):
    e.g. a notification's request-to-delivery latency from the times two events set. It is
    recomputed from what the document holds, so the order the two arrive in does not matter."""

    field: str
    minuend: str
    subtrahend: str


def with_differences(document: dict[str, Any],
                     differences: Sequence[Difference]) -> dict[str, Any]:
    """The document with each difference it can compute set (as the SQLite store does)."""
    derived = dict(document)
    for difference in differences:
        minuend, subtrahend = derived.get(difference.minuend), derived.get(difference.subtrahend)
        if isinstance(minuend, int | float) and isinstance(subtrahend, int | float):
            derived[difference.field] = minuend - subtrahend
    return derived


@dataclass(frozen=True)
class Upsert:
    """Merge `fields` into document `doc_id` unless it already reflects `version` or later.

    The merge is a JSON merge patch (RFC 7396): nested objects merge key by key, and a `None`
    value removes its key.

    `version` is the log position of the event, so a redelivered or replayed event is a no-op
    and a document never goes back in time.

    `only_if` (field, value) makes the change conditional on the document as it stands: e.g.
    "clear the conversation's preview if its last message is the one unsent".

    `differences` are fields the store derives from the merged document (`Difference`).
    """

    collection: str
    doc_id: str
    version: int
    fields: dict[str, Any]
    only_if: tuple[str, Any] | None = None
    differences: tuple[Difference, ...] = ()

    def holds_for(self, document: dict[str, Any]) -> bool:
        return self.only_if is None or document.get(self.only_if[0]) == self.only_if[1]


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


@dataclass(frozen=True)
class Range:
    """`gt` < the document's numeric field <= `lte`; either bound may be absent."""

    field: str
    gt: int | None = None
    lte: int | None = None


@dataclass(frozen=True)
class Prefix:
    """The document's string field starts with `value` (case-sensitive)."""

    field: str
    value: str


Filter = Eq | AnyOf | Contains | Range | Prefix


@dataclass(frozen=True)
class PatchMatching:
    """Merge `fields` into every document of `collection` that matches all `filters` and does
    not yet reflect `version`; creates nothing. A read model scrubs what an event takes back
    this way: an unsend drops a message's text from every earlier feed change about it,
    whatever their positions, including changes written earlier in the same batch."""

    collection: str
    filters: tuple[Filter, ...]
    version: int
    fields: dict[str, Any]


DocumentChange = Upsert | PatchMatching


def matches(document: dict[str, Any], filters: Sequence[Filter]) -> bool:
    """Whether a document satisfies every filter, as the read stores evaluate them."""
    return all(_satisfies(document.get(f.field), f) for f in filters)


def _satisfies(value: Any, condition: Filter) -> bool:
    if isinstance(condition, Eq):
        return bool(value == condition.value)
    if isinstance(condition, AnyOf):
        return value in condition.values
    if isinstance(condition, Contains):
        return isinstance(value, list) and condition.value in value
    if isinstance(condition, Prefix):
        return isinstance(value, str) and value.startswith(condition.value)
    if not isinstance(value, int | float):
        return False
    return ((condition.gt is None or value > condition.gt)
            and (condition.lte is None or value <= condition.lte))


def merge_patch(target: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """RFC 7396 merge of `patch` into a copy of `target`."""
    merged = dict(target)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict):
            current = merged.get(key)
            merged[key] = merge_patch(current if isinstance(current, dict) else {}, value)
        else:
            merged[key] = value
    return merged


def fill_in(target: dict[str, Any], late: dict[str, Any]) -> dict[str, Any]:
    """Merges a change that arrives after later ones (a retried, parked event): it fills in
    what `target` lacks and removes what it removes (removals, like an unsend, always win),
    but never overwrites a value a later event has set."""
    merged = dict(target)
    for key, value in late.items():
        current = merged.get(key)
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict):
            merged[key] = fill_in(current if isinstance(current, dict) else {}, value)
        elif key not in merged:
            merged[key] = value
    return merged


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


@dataclass(frozen=True)
class Aggregation:
    """Counts, sums and percentiles the store computes (projections/read_model/aggregations.py):
    the documents of `collection` matching `filters`, grouped by the values of `group_by` (a
    document without one is in the group of None) and, with `interval_ms`, by the fixed bucket
    of `time_field` (epoch milliseconds; buckets aligned to the epoch)."""

    collection: str
    filters: Sequence[Filter] = ()
    group_by: Sequence[str] = ()
    time_field: str | None = None
    interval_ms: int | None = None
    sums: Sequence[str] = ()  # numeric fields summed per group
    present: Sequence[str] = ()  # fields counted per group where a document has them
    percentiles_of: str | None = None  # a numeric field
    percents: Sequence[float] = ()  # e.g. 50, 90, 99
    max_groups: int = 1000  # groups answered at most (more: `truncated`)


@dataclass
class Group:
    key: dict[str, Any]  # each group_by field's value, and "time": its bucket's start
    count: int
    sums: dict[str, float] = field(default_factory=dict)
    present: dict[str, int] = field(default_factory=dict)
    percentiles: dict[float, float | None] = field(default_factory=dict)


@dataclass
class Aggregated:
    groups: list[Group]
    truncated: bool = False  # there were more than max_groups groups


class ReadStore(Protocol):
    """Where read models live: SQLite in the embedded default, Elasticsearch in production."""

    def apply(self, changes: Sequence[DocumentChange], projection: str, position: int) -> None:
        """Apply changes in order, then record that `projection` has processed up to
        `position`."""

    def apply_late(self, changes: Sequence[DocumentChange]) -> None:
        """Apply changes of retried events that later ones may have overtaken (`fill_in`)."""

    def get(self, collection: str, doc_id: str) -> dict[str, Any] | None: ...

    def get_many(self, collection: str, doc_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Those of these documents that exist, by id, read by id in one go."""
        ...

    def query(self, query: Query) -> Page: ...

    def count(self, collection: str, filters: Sequence[Filter], up_to: int) -> int:
        """How many documents match every filter, counted no further than `up_to` (a
        count, not a read: nothing is loaded or decoded)."""
        ...

    def aggregate(self, aggregation: Aggregation) -> Aggregated:
        """Counts, sums and percentiles of matching documents per group
        (projections/read_model/aggregations.py), computed by the store."""
        ...

    def position(self, projection: str) -> int: ...

    def close(self) -> None: ...


