"""The production read store: one Elasticsearch index per collection.

Each document records the log position of the last event merged into it (`doc_version`).
A batch reads its documents (one `mget`), merges in Python only the changes newer than that,
and writes them back in one bulk request guarded by optimistic concurrency (`if_seq_no` /
`if_primary_term`, or `create` for new documents), so a redelivered or replayed event is a
no-op and a document never moves back in time. Scripts are not used: the Elasticsearch build
that `deploy/services.sh` runs has no scripting module.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from importlib import resources
from typing import Any

from elasticsearch import ConflictError, Elasticsearch, NotFoundError

from projections.documents import (
    AnyOf,
    Contains,
    Eq,
    Filter,
    Page,
    Prefix,
    Query,
    Range,
    Upsert,
    merge_patch,
)

INTERNAL_FIELDS = ("doc_version", "doc_id")
MAX_MERGE_ATTEMPTS = 5


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
        pending = list(changes)
        for _attempt in range(MAX_MERGE_ATTEMPTS):
            if not pending:
                break
            pending = self._merge_and_write(pending)
        if pending:
            raise BulkFailed(f"{len(pending)} documents kept conflicting; giving up this batch")
        if changes:
            touched = sorted({self.index(c.collection) for c in changes})
            self._client.indices.refresh(index=",".join(touched))
        try:
            self._client.index(index=self._positions_index, id=projection,
                               document={"position": position}, version=position,
                               version_type="external", refresh=True)
        except ConflictError:
            pass  # the recorded position is already further along

    def _merge_and_write(self, changes: Sequence[Upsert]) -> list[Upsert]:
        """One read-merge-write round; returns the changes whose documents changed meanwhile."""
        by_document: dict[tuple[str, str], list[Upsert]] = {}
        for change in changes:
            by_document.setdefault((self.index(change.collection), change.doc_id), []).append(
                change)
        keys = list(by_document)
        found = self._client.mget(docs=[{"_index": i, "_id": d} for i, d in keys])["docs"]
        operations: list[dict[str, Any]] = []
        written: list[tuple[str, str]] = []
        for key, current in zip(keys, found, strict=True):
            exists = bool(current.get("found"))
            document = dict(current["_source"]) if exists else {}
            newest = int(document.get("doc_version", 0))
            for change in sorted(by_document[key], key=lambda c: c.version):
                if change.version > newest:
                    document = merge_patch(document, change.fields)
                    newest = change.version
            if newest == int(document.get("doc_version", 0)):
                continue  # nothing newer: a redelivery
            document |= {"doc_version": newest, "doc_id": key[1]}
            action: dict[str, Any] = {"_index": key[0], "_id": key[1]}
            if exists:
                action |= {"if_seq_no": current["_seq_no"],
                           "if_primary_term": current["_primary_term"]}
            operations += [{"index" if exists else "create": action}, document]
            written.append(key)
        if not operations:
            return []
        result = self._client.bulk(operations=operations)
        retry: set[tuple[str, str]] = set()
        for key, item in zip(written, result["items"], strict=True):
            outcome = next(iter(item.values()))
            if outcome.get("status") == 409:
                retry.add(key)
            elif "error" in outcome:
                raise BulkFailed(f"Elasticsearch refused a write: {outcome['error']}")
        return [c for c in changes if (self.index(c.collection), c.doc_id) in retry]

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
            "sort": [{query.sort_field: {"order": order, "unmapped_type": "long"}},
                     {"doc_id": {"order": order, "unmapped_type": "keyword"}}],
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
        if isinstance(condition, Range):
            bounds = {"gt": condition.gt, "lte": condition.lte}
            return {"range": {condition.field: {k: v for k, v in bounds.items()
                                                if v is not None}}}
        if isinstance(condition, Prefix):
            return {"prefix": {condition.field: {"value": condition.value}}}
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
