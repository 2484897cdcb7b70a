"""Aggregation queries over a collection, computed by the read store: document counts, sums,
counts of present fields and percentiles per group of field values and fixed time buckets.

SQLite computes them in SQL; Elasticsearch with one composite aggregation (core: terms and
histogram sources; sum, value_count and percentiles sub-aggregations; no scripts).
Percentiles are nearest-rank in SQLite and t-digest estimates in Elasticsearch (exact at the
sample values for small groups, interpolated between neighbouring values otherwise).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from projections.read_model.documents import Filter

TIME_BUCKET = "time"  # the key of a group's time bucket (its start, epoch milliseconds)


@dataclass(frozen=True)
class Aggregation:
    """Group the documents of `collection` matching `filters` by the values of `group_by`
    (a document without one is in the group of None) and, with `interval_ms`, by the fixed
    bucket of `time_field` (epoch milliseconds; buckets aligned to the epoch)."""

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
    key: dict[str, Any]  # each group_by field's value, and TIME_BUCKET's
    count: int
    sums: dict[str, float] = field(default_factory=dict)
    present: dict[str, int] = field(default_factory=dict)
    percentiles: dict[float, float | None] = field(default_factory=dict)


@dataclass
class Aggregated:
    groups: list[Group]
    truncated: bool = False  # there were more than max_groups groups


def nearest_rank_index(count: int, percent: float) -> int:
    """The 1-based rank of the nearest-rank percentile among `count` ascending values."""
    return max(1, math.ceil(percent / 100 * count))


def group_sort_key(group: Group, fields: Sequence[str]) -> tuple[Any, ...]:
    """Groups in a stable order, the same from every store: by each key, None first."""
    values = [group.key.get(f) for f in fields]
    return tuple((value is not None, "" if value is None else value) for value in values)
