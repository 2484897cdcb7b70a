"""The generic projection writer drops, after a write, each changed document's cache entry and
the hot-path entries of the rule the composition root gives it (it knows no context's rule)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from adapters.read_model.memory_cache import MemoryCache
from adapters.read_model.sqlite_read_store import SQLiteReadStore
from projections.read_model.documents import DocumentChange, ReadStore, Upsert
from projections.read_model.events import PositionedEvent
from projections.read_model.runner import ProjectionWriter, cache_key


class Notes:
    name = "notes"
    context = "tests"

    def changes(self, event: Any, position: int) -> Sequence[DocumentChange]:
        return [Upsert("notes", str(event), position, {"text": "hi"})]


def note_hot_paths(changes: Sequence[Upsert], _store: ReadStore) -> set[str]:
    return {f"hot:notes-of:{c.doc_id}" for c in changes}


def a_cache_holding(*keys: str) -> MemoryCache:
    cache = MemoryCache(ttl_seconds=600)
    for key in keys:
        cache.set(key, {"cached": True})
    return cache


def test_the_writer_drops_the_documents_and_the_hot_paths_its_rule_names(tmp_path: Path) -> None:
    store = SQLiteReadStore(tmp_path / "read.sqlite3")
    cache = a_cache_holding(cache_key("notes", "n1"), "hot:notes-of:n1", "hot:notes-of:n2")
    try:
        ProjectionWriter(store, cache, hot_paths=note_hot_paths).project(
            Notes(), [PositionedEvent(1, "n1")], 1)
        assert cache.get(cache_key("notes", "n1")) is None
        assert cache.get("hot:notes-of:n1") is None
        assert cache.get("hot:notes-of:n2") == {"cached": True}
    finally:
        store.close()


def test_a_writer_given_no_hot_path_rule_drops_only_the_changed_documents(
    tmp_path: Path,
) -> None:
    store = SQLiteReadStore(tmp_path / "read.sqlite3")
    cache = a_cache_holding(cache_key("notes", "n1"), "hot:notes-of:n1")
    try:
        ProjectionWriter(store, cache).project(Notes(), [PositionedEvent(1, "n1")], 1)
        assert cache.get(cache_key("notes", "n1")) is None
        assert cache.get("hot:notes-of:n1") == {"cached": True}
    finally:
        store.close()
