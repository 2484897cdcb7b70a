"""Aggregations (projections/read_model/aggregations.py) and derived differences in SQL, for
the embedded read store: GROUP BY for counts and sums, window functions for percentiles."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

from projections.read_model.aggregations import (
    TIME_BUCKET,
    Aggregated,
    Aggregation,
    Group,
    group_sort_key,
)
from projections.read_model.documents import Upsert


def json_path(field: str) -> str:
    if not field.replace("_", "").isalnum():
        raise ValueError(f"not a field name: {field!r}")
    return f"$.{field}"


def _value(field: str) -> str:
    return f"json_extract(body, '{json_path(field)}')"


DERIVE = """
UPDATE documents SET body = json_set(body, ?, json_extract(body, ?) - json_extract(body, ?))
WHERE collection = ? AND doc_id = ?
AND json_type(body, ?) IN ('integer', 'real') AND json_type(body, ?) IN ('integer', 'real')
"""


def derive_differences(connection: sqlite3.Connection, changes: Sequence[Upsert]) -> None:
    """Sets each change's differences from its document as it now stands (same transaction)."""
    connection.executemany(DERIVE, [
        (json_path(d.field), json_path(d.minuend), json_path(d.subtrahend), c.collection,
         c.doc_id, json_path(d.minuend), json_path(d.subtrahend))
        for c in changes for d in c.differences])


Where = Callable[[str, Sequence[Any]], tuple[str, list[Any]]]


def _keys(aggregation: Aggregation) -> tuple[list[str], list[str], list[Any]]:
    """The group key columns (SQL expressions), their names, and their parameters."""
    columns = [_value(f) for f in aggregation.group_by]
    names = list(aggregation.group_by)
    params: list[Any] = []
    if aggregation.interval_ms is not None and aggregation.time_field is not None:
        columns.append(f"(CAST({_value(aggregation.time_field)} AS INTEGER) / ?) * ?")
        params += [aggregation.interval_ms, aggregation.interval_ms]
        names.append(TIME_BUCKET)
    return columns, names, params


def aggregate(connection: sqlite3.Connection, where: Where,
              aggregation: Aggregation) -> Aggregated:
    clause, filter_params = where(aggregation.collection, aggregation.filters)
    columns, names, key_params = _keys(aggregation)
    keyed = ", ".join(f"{c} AS k{i}" for i, c in enumerate(columns))
    key_list = ", ".join(f"k{i}" for i in range(len(columns)))
    measures = ["COUNT(*)"] + [f"TOTAL({_value(f)})" for f in aggregation.sums] + [
        f"COUNT({_value(f)})" for f in aggregation.present]
    inner = (f"SELECT {keyed + ', ' if keyed else ''}body FROM documents WHERE {clause}")
    sql = (f"SELECT {key_list + ', ' if key_list else ''}{', '.join(measures)} "
           f"FROM ({inner}) {'GROUP BY ' + key_list if key_list else ''} "
           f"{'ORDER BY ' + key_list if key_list else ''} LIMIT ?")
    rows = connection.execute(sql, [*key_params, *filter_params,
                                    aggregation.max_groups + 1]).fetchall()
    if not key_list and rows and rows[0][0] == 0:
        rows = []  # no document: no group (as Elasticsearch answers)
    groups: dict[tuple[Any, ...], Group] = {}
    for row in rows[:aggregation.max_groups]:
        key = tuple(row[:len(names)])
        values = row[len(names):]
        sums = values[1:1 + len(aggregation.sums)]
        present = values[1 + len(aggregation.sums):]
        groups[key] = Group(dict(zip(names, key, strict=True)), int(values[0]),
                            dict(zip(aggregation.sums, map(float, sums), strict=True)),
                            dict(zip(aggregation.present, map(int, present), strict=True)))
    if aggregation.percentiles_of is not None and aggregation.percents:
        _percentiles(connection, aggregation, (clause, filter_params), columns, key_params,
                     groups)
    ordered = sorted(groups.values(), key=lambda g: group_sort_key(g, names))
    return Aggregated(ordered, truncated=len(rows) > aggregation.max_groups)


def _percentiles(connection: sqlite3.Connection, aggregation: Aggregation,
                 where: tuple[str, list[Any]], columns: list[str], key_params: list[Any],
                 groups: dict[tuple[Any, ...], Group]) -> None:
    """Nearest rank: the value at rank ceil(p/100 * n) of each group's ascending values."""
    assert aggregation.percentiles_of is not None
    value = _value(aggregation.percentiles_of)
    keyed = "".join(f"{c} AS k{i}, " for i, c in enumerate(columns))
    keys = ", ".join(f"k{i}" for i in range(len(columns)))
    partition = f"PARTITION BY {keys}" if keys else ""
    # ranks as integer per-mille arithmetic: ceil(p * n / 100) = (p1000 * n + 99999) / 100000
    wanted = " OR ".join("rn = max(1, (? * n + 99999) / 100000)" for _ in aggregation.percents)
    per_mille = [round(p * 1000) for p in aggregation.percents]
    sql = (f"SELECT {keys + ', ' if keys else ''}rn, n, v FROM ("
           f"SELECT {keys + ', ' if keys else ''}v, "
           f"ROW_NUMBER() OVER ({partition} ORDER BY v) AS rn, "
           f"COUNT(*) OVER ({partition}) AS n FROM ("
           f"SELECT {keyed}{value} AS v FROM documents WHERE {where[0]} "
           f"AND json_type(body, '{json_path(aggregation.percentiles_of)}') "
           f"IN ('integer', 'real'))) WHERE {wanted}")
    rows = connection.execute(sql, [*key_params, *where[1], *per_mille]).fetchall()
    width = len(columns)
    for row in rows:
        group = groups.get(tuple(row[:width]))
        if group is None:
            continue  # beyond max_groups
        rank, count, found = row[width], row[width + 1], row[width + 2]
        for percent, thousandths in zip(aggregation.percents, per_mille, strict=True):
            if rank == max(1, (thousandths * count + 99999) // 100000):
                group.percentiles[percent] = float(found)
    for group in groups.values():
        for percent in aggregation.percents:
            group.percentiles.setdefault(percent, None)
