"""The production read store: one Elasticsearch index per collection.

Every write is a scripted upsert guarded by the event's log position (`doc_version`), so a
redelivered or replayed event is a no-op and a document never moves back in time.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from importlib import resources
from typing import Any

from elasticsearch import Elasticsearch, NotFoundError

from projections.documents import AnyOf, Contains, Eq, Filter, Page, Query, Upsert

GUARDED_MERGE = """
if (ctx._source.containsKey('doc_version') && ctx._source.doc_version >= params.version) {
  ctx.op = 'noop';
} else {
  for (entry in params.fields.entrySet()) { ctx._source[entry.getKey()] = entry.getValue(); }
  ctx._source.doc_version = params.version;
  ctx._source.doc_id = params.id;
}
"""

RAISE_POSITION = """
if (ctx._source.containsKey('position') && ctx._source.position >= params.position) {
  ctx.op = 'noop';
} else { ctx._source.position = params.position; }
"""

INTERNAL_FIELDS = ("doc_version", "doc_id")


class BulkFailed(Exception):
    """Elasticsearch refused some writes of a bulk request."""


def index_template(namespace: str) -> dict[str, Any]:
    """Mappings shared by every Parley index (migrations/elasticsearch): strings are keywords,
    `text` is full text."""
    raw = (resources.files("migrations") / "elasticsearch" / "documents_template.json")
    template: dict[str, Any] = json.loads(raw.read_text(encoding="utf-8"))
    template["index_patterns"] = [f"{namespace}-*"]
    return template


class ElasticsearchReadStore:
    def __init__(self, url: str, namespace: str, collections: Sequence[str]) -> None:
        self._client = Elasticsearch(url, request_timeout=30, retry_on_timeout=True,
                                     max_retries=2)
        self._namespace = namespace
        self._collections = tuple(collections)
        self._positions_index = f"{namespace}-projection-positions"

    def index(self, collection: str) -> str:
        return f"{self._namespace}-{collection}"

    def ensure_indices(self) -> None:
        """Install the index template and create missing indices (idempotent)."""
        self._client.indices.put_index_template(
            name=f"{self._namespace}-documents", **index_template(self._namespace)
        )
        for name in [*map(self.index, self._collections), self._positions_index]:
            if not self._client.indices.exists(index=name):
                self._client.indices.create(index=name)

    def apply(self, changes: Sequence[Upsert], projection: str, position: int) -> None:
        if changes:
            operations: list[dict[str, Any]] = []
            for change in changes:
                operations.append({"update": {"_index": self.index(change.collection),
                                              "_id": change.doc_id, "retry_on_conflict": 3}})
                operations.append({
                    "scripted_upsert": True, "upsert": {},
                    "script": {"source": GUARDED_MERGE, "lang": "painless",
                               "params": {"version": change.version, "fields": change.fields,
                                          "id": change.doc_id}},
                })
            result = self._client.bulk(operations=operations)
            if result.get("errors"):
                failures = [item for item in result["items"]
                            if "error" in next(iter(item.values()))]
                raise BulkFailed(f"{len(failures)} writes refused; first: {failures[0]}")
            touched = sorted({self.index(c.collection) for c in changes})
            self._client.indices.refresh(index=",".join(touched))
        self._client.update(
            index=self._positions_index, id=projection, scripted_upsert=True, upsert={},
            script={"source": RAISE_POSITION, "lang": "painless",
                    "params": {"position": position}},
            refresh=True, retry_on_conflict=5,
        )

    def get(self, collection: str, doc_id: str) -> dict[str, Any] | None:
        try:
            found = self._client.get(index=self.index(collection), id=doc_id)
        except NotFoundError:
            return None
        return self._public(found["_source"])

    def query(self, query: Query) -> Page:
        must: list[dict[str, Any]] = []
        if query.text:
            must.append({"match": {"text": {"query": query.text, "operator": "and"}}})
        order = "desc" if query.descending else "asc"
        body: dict[str, Any] = {
            "query": {"bool": {"filter": [self._filter(f) for f in query.filters],
                               "must": must}},
            "sort": [{query.sort_field: order}, {"doc_id": order}],
            "size": query.limit + 1,
        }
        if query.after is not None:
            body["search_after"] = list(query.after)
        try:
            result = self._client.search(index=self.index(query.collection), **body)
        except NotFoundError:
            return Page([])
        hits = result["hits"]["hits"]
        documents = [self._public(h["_source"]) for h in hits[: query.limit]]
        next_after = list(hits[query.limit - 1]["sort"]) if len(hits) > query.limit else None
        return Page(documents, next_after)

    @staticmethod
    def _filter(condition: Filter) -> dict[str, Any]:
        if isinstance(condition, Eq | Contains):
            return {"term": {condition.field: condition.value}}
        if isinstance(condition, AnyOf):
            return {"terms": {condition.field: list(condition.values)}}
        raise TypeError(f"unknown filter {condition!r}")

    @staticmethod
    def _public(source: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in source.items() if k not in INTERNAL_FIELDS}

    def position(self, projection: str) -> int:
        try:
            found = self._client.get(index=self._positions_index, id=projection)
        except NotFoundError:
            return 0
        return int(found["_source"].get("position", 0))

    def ping(self) -> None:
        self._client.cluster.health()

    def close(self) -> None:
        self._client.close()
