"""The production read store: one Elasticsearch index per collection.

Each document records the log position of the last event merged into it (`doc_version`).
A batch reads its documents (one `mget`), merges in Python only the changes newer than that,
and writes them back in one bulk request guarded by optimistic concurrency (`if_seq_no` /
`if_primary_term`, or `create` for new documents), so a redelivered or replayed event is a
no-op and a document never moves back in time. Scripts are not used: the Elasticsearch build
that `deploy/services.sh` runs has no scripting module.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from elasticsearch import BadRequestError, ConflictError, Elasticsearch, NotFoundError

from adapters.read_model.elasticsearch_aggregations import aggregate
from migrations.runner import MIGRATIONS_DIR
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
    matches,
    merge_patch,
    with_differences,
)

INTERNAL_FIELDS = ("doc_version", "doc_id")
MAX_MERGE_ATTEMPTS = 5
MAX_PATCHED_MATCHES = 10_000  # a message's feed changes: its send and its edits


class BulkFailed(Exception):
    """Elasticsearch refused some writes of a bulk request."""


def index_template(namespace: str) -> dict[str, Any]:
    """Mappings shared by every Parley index (migrations/elasticsearch): strings are keywords,
    `text` is full text."""
    raw = MIGRATIONS_DIR / "elasticsearch" / "documents_template.json"
    template: dict[str, Any] = json.loads(raw.read_text(encoding="utf-8"))
    template["index_patterns"] = [f"{namespace}-*"]
    return template


def generation_index(namespace: str, collection: str, generation: int) -> str:
    """The concrete index of one generation of a collection; `{namespace}-{collection}` is an
    alias to the generation serving queries, so a replay can switch generations atomically."""
    return f"{namespace}-{collection}-g{generation}"


@dataclass(frozen=True)
class _Matched(Upsert):
    """A patch's change of one document it matched, which still holds only while the document
    matches (a change earlier in the same write may have moved it out of the match)."""

    filters: tuple[Filter, ...] = ()


@dataclass
class _Deferred:
    changes: list[DocumentChange] = field(default_factory=list)
    indices: set[str] = field(default_factory=set)
    positions: dict[str, int] = field(default_factory=dict)


class ElasticsearchReadStore:
    """Reads and writes through the collections' aliases, or, for a replay being built,
    through `indices` (collection -> concrete index) with its own `positions_index`."""

    def __init__(self, url: str, namespace: str, collections: Sequence[str], *,
                 indices: Mapping[str, str] | None = None, positions_index: str | None = None,
                 refresh: bool = True) -> None:
        self._client = Elasticsearch(url, request_timeout=30, retry_on_timeout=True,
                                     max_retries=2)
        self._namespace = namespace
        self._collections = tuple(collections)
        self._indices = dict(indices or {})
        self._positions_index = positions_index or f"{namespace}-projection-positions"
        self._refresh = refresh
        self._deferral = threading.local()

    @property
    def client(self) -> Elasticsearch:
        return self._client

    def index(self, collection: str) -> str:
        return self._indices.get(collection) or f"{self._namespace}-{collection}"

    def ensure_indices(self) -> None:
        """Install the index template and create missing indices (idempotent): each
        collection's first generation behind its alias, and the positions index."""
        self._client.indices.put_index_template(
            name=f"{self._namespace}-documents", **index_template(self._namespace)
        )
        for collection in self._collections:
            name = self.index(collection)
            if self._client.indices.exists(index=name):
                continue
            if collection in self._indices:
                self._client.indices.create(index=name)
                continue
            try:
                self._client.indices.create(
                    index=generation_index(self._namespace, collection, 1),
                    aliases={name: {}})
            except BadRequestError as error:
                if error.error != "resource_already_exists_exception":
                    raise
        if not self._client.indices.exists(index=self._positions_index):
            try:
                self._client.indices.create(index=self._positions_index)
            except BadRequestError as error:
                if error.error != "resource_already_exists_exception":
                    raise

    @contextlib.contextmanager
    def deferred(self) -> Iterator[None]:
        """Applies within it are written at its end, together: one read of the documents, one
        bulk write, one refresh and one bulk of positions per consumer batch, instead of all of
        these per projection."""
        pending = _Deferred()
        self._deferral.pending = pending
        try:
            yield
        finally:
            self._deferral.pending = None
        self._write(pending.changes)
        if pending.indices:
            self._client.indices.refresh(index=",".join(sorted(pending.indices)))
        operations: list[dict[str, Any]] = []
        for projection, position in pending.positions.items():
            operations += [{"index": {"_index": self._positions_index, "_id": projection,
                                      "version": position, "version_type": "external"}},
                           {"position": position}]
        if operations:
            result = self._client.bulk(operations=operations)
            for item in result["items"]:
                outcome = item["index"]
                if "error" in outcome and outcome.get("status") != 409:
                    raise BulkFailed(f"recording a position failed: {outcome['error']}")

    def apply(self, changes: Sequence[DocumentChange], projection: str, position: int) -> None:
        pending: _Deferred | None = getattr(self._deferral, "pending", None)
        if pending is not None:
            pending.changes.extend(changes)
            pending.indices.update(self.index(c.collection) for c in changes)
            pending.positions[projection] = max(position,
                                                pending.positions.get(projection, 0))
            return
        self._write(changes)
        if changes and self._refresh:
            touched = sorted({self.index(c.collection) for c in changes})
            self._client.indices.refresh(index=",".join(touched))
        with contextlib.suppress(ConflictError):  # the recorded position is further along
            self._client.index(index=self._positions_index, id=projection,
                               document={"position": position}, version=position,
                               version_type="external", refresh=self._refresh)

    def apply_late(self, changes: Sequence[DocumentChange]) -> None:
        """Merges events that were parked and are projected after later ones: where a document
        has already moved past a change, what the document holds wins."""
        self._write(changes, late=True)
        if changes:
            touched = sorted({self.index(c.collection) for c in changes})
            self._client.indices.refresh(index=",".join(touched))

    def _write(self, changes: Sequence[DocumentChange], late: bool = False) -> None:
        pending = self._resolve(changes)
        for _attempt in range(MAX_MERGE_ATTEMPTS):
            if not pending:
                break
            pending = self._merge_and_write(pending, late)
        if pending:
            raise BulkFailed(f"{len(pending)} documents kept conflicting; giving up this batch")

    def _resolve(self, changes: Sequence[DocumentChange]) -> list[Upsert]:
        """Turns each patch of matching documents into upserts of the documents it may match:
        those stored that match (a search) and every one an earlier change of this same write
        touches (it may match by now). Each holds only if the document matches when the merge
        reaches it (`_Matched`), as SQLite's UPDATE ... WHERE decides."""
        resolved: list[Upsert] = []
        for change in changes:
            if isinstance(change, Upsert):
                resolved.append(change)
                continue
            ids = self._matching_ids(change) | {
                c.doc_id for c in resolved if c.collection == change.collection}
            resolved += [_Matched(change.collection, doc_id, change.version, change.fields,
                                  filters=tuple(change.filters)) for doc_id in sorted(ids)]
        return resolved

    def _matching_ids(self, patch: PatchMatching) -> set[str]:
        try:
            result = self._client.search(
                index=self.index(patch.collection), size=MAX_PATCHED_MATCHES, source=False,
                query={"bool": {"filter": [self._filter(f) for f in patch.filters]}})
        except NotFoundError:
            return set()
        return {hit["_id"] for hit in result["hits"]["hits"]}

    def _merge_and_write(self, changes: Sequence[Upsert], late: bool) -> list[Upsert]:
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
            recorded = newest = int(document.get("doc_version", 0))
            for change in sorted(by_document[key], key=lambda c: c.version):
                if not change.holds_for(document) or (
                        isinstance(change, _Matched) and not matches(document, change.filters)):
                    continue  # matched by what it was earlier in this write, not by now
                if change.version > newest:
                    document = merge_patch(document, change.fields)
                    newest = change.version
                elif late:
                    document = fill_in(document, change.fields)
            document = with_differences(document, [
                d for c in by_document[key] for d in c.differences])
            if newest == recorded and (not late or document == dict(current.get("_source", {}))):
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

    def get_many(self, collection: str, doc_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        if not doc_ids:
            return {}
        index = self.index(collection)
        found = self._client.mget(docs=[{"_index": index, "_id": d} for d in doc_ids])["docs"]
        # a missing index answers each id with an error, not a document
        return {d["_id"]: self._public(d["_source"]) for d in found if d.get("found")}

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

    def count(self, collection: str, filters: Sequence[Filter], up_to: int) -> int:
        if up_to <= 0:
            return 0
        try:  # the _count API: no hits fetched; each shard stops at `up_to` matches
            result = self._client.count(
                index=self.index(collection), terminate_after=up_to,
                query={"bool": {"filter": [self._filter(f) for f in filters]}})
        except NotFoundError:
            return 0
        return min(int(result["count"]), up_to)

    def aggregate(self, aggregation: Aggregation) -> Aggregated:
        return aggregate(self._client, self.index(aggregation.collection),
                         [self._filter(f) for f in aggregation.filters], aggregation)

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
