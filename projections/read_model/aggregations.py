"""Aggregation queries over a collection, computed by the read store: document counts, sums,
counts of present fields and percentiles per group of field values and fixed time buckets.

SQLite computes them in SQL; Elasticsearch with one composite aggregation (core: terms and
histogram sources; sum, value_count and percentiles sub-aggregations; no scripts).
Percentiles are nearest-rank in SQLite and t-digest estimates in Elasticsearch (exact at the
sample values for small groups, interpolated between neighbouring values otherwise).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from projections.read_model.documents import Aggregated, Aggregation, Group

__all__ = ["TIME_BUCKET", "Aggregated", "Aggregation", "Group", "group_sort_key"]

TIME_BUCKET = "time"  # in Group.key: its time bucket (the start, epoch milliseconds)


def group_sort_key(group: Group, fields: Sequence[str]) -> tuple[Any, ...]:
    """Groups in a stable order, the same from every store: by each key, None first."""
    values = [group.key.get(f) for f in fields]
    return tuple((value is not None, "" if value is None else value) for value in values)
