"""Aggregations (projections/read_model/aggregations.py) in Elasticsearch: one composite
aggregation (terms and histogram sources, paged by `after_key`) with sum, value_count and
percentiles sub-aggregations; all core, no scripts."""

from __future__ import annotations

from typing import Any

from elasticsearch import Elasticsearch, NotFoundError

from projections.read_model.aggregations import (
    TIME_BUCKET,
    Aggregated,
    Aggregation,
    Group,
    group_sort_key,
)

PAGE = 500  # composite buckets per request


def _sources(aggregation: Aggregation) -> list[dict[str, Any]]:
    sources: list[dict[str, Any]] = [
        {f: {"terms": {"field": f, "missing_bucket": True}}} for f in aggregation.group_by]
    if aggregation.interval_ms is not None and aggregation.time_field is not None:
        sources.append({TIME_BUCKET: {"histogram": {"field": aggregation.time_field,
                                                    "interval": aggregation.interval_ms}}})
    return sources


def _measures(aggregation: Aggregation) -> dict[str, Any]:
    measures: dict[str, Any] = {}
    for i, name in enumerate(aggregation.sums):
        measures[f"sum{i}"] = {"sum": {"field": name}}
    for i, name in enumerate(aggregation.present):
        measures[f"present{i}"] = {"value_count": {"field": name}}
    if aggregation.percentiles_of is not None and aggregation.percents:
        measures["percentiles"] = {"percentiles": {
            "field": aggregation.percentiles_of, "percents": list(aggregation.percents),
            "keyed": False}}
    return measures


def _group(bucket: dict[str, Any], aggregation: Aggregation) -> Group:
    key = dict(bucket["key"])
    if TIME_BUCKET in key and key[TIME_BUCKET] is not None:
        key[TIME_BUCKET] = int(key[TIME_BUCKET])
    group = Group(key, int(bucket["doc_count"]))
    for i, name in enumerate(aggregation.sums):
        group.sums[name] = float(bucket[f"sum{i}"]["value"] or 0.0)
    for i, name in enumerate(aggregation.present):
        group.present[name] = int(bucket[f"present{i}"]["value"])
    if "percentiles" in bucket:
        for entry in bucket["percentiles"]["values"]:
            value = entry.get("value")
            group.percentiles[float(entry["key"])] = None if value is None else float(value)
    return group


def aggregate(client: Elasticsearch, index: str, filters: list[dict[str, Any]],
              aggregation: Aggregation) -> Aggregated:
    query = {"bool": {"filter": filters}}
    sources = _sources(aggregation)
    measures = _measures(aggregation)
    if not sources:  # one group of everything
        try:
            result = client.search(index=index, size=0, query=query, aggs=measures,
                                   track_total_hits=True)
        except NotFoundError:
            return Aggregated([])
        total = int(result["hits"]["total"]["value"])
        if total == 0:
            return Aggregated([])
        bucket = {"key": {}, "doc_count": total, **result.get("aggregations", {})}
        return Aggregated([_group(bucket, aggregation)])
    groups: list[Group] = []
    after: dict[str, Any] | None = None
    while len(groups) <= aggregation.max_groups:
        composite: dict[str, Any] = {"sources": sources, "size": PAGE}
        if after is not None:
            composite["after"] = after
        try:
            result = client.search(index=index, size=0, query=query, aggs={
                "groups": {"composite": composite, "aggs": measures}})
        except NotFoundError:
            return Aggregated([])
        page = result["aggregations"]["groups"]
        groups += [_group(b, aggregation) for b in page["buckets"]]
        after = page.get("after_key")
        if after is None or len(page["buckets"]) < PAGE:
            break
    names = [*aggregation.group_by, *([TIME_BUCKET] if len(sources) > len(
        aggregation.group_by) else [])]
    ordered = sorted(groups, key=lambda g: group_sort_key(g, names))
    return Aggregated(ordered[:aggregation.max_groups],
                      truncated=len(ordered) > aggregation.max_groups)
