"""One contract every read store must keep: SQLite (embedded) and Elasticsearch (production)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.read_model.elasticsearch_read_store import ElasticsearchReadStore
from adapters.read_model.sqlite_read_store import SQLiteReadStore
from projections.read_model.documents import (
    AnyOf,
    Contains,
    Eq,
    PatchMatching,
    Prefix,
    Query,
    Range,
    ReadStore,
    Upsert,
)


@pytest.fixture(params=["sqlite", pytest.param("elasticsearch", marks=pytest.mark.services)])
def store(request: pytest.FixtureRequest, tmp_path: Path, namespace: str) -> Iterator[ReadStore]:
    if request.param == "sqlite":
        sqlite = SQLiteReadStore(tmp_path / "read.sqlite3")
        yield sqlite
        sqlite.close()
        return
    services = request.getfixturevalue("services")
    elastic = ElasticsearchReadStore(services["PARLEY_ELASTICSEARCH_URL"], namespace,
                                     ["notes"])
    elastic.ensure_indices()
    yield elastic
    elastic._client.indices.delete(index=f"{namespace}-*")
    elastic.close()


def note(doc_id: str, version: int, **fields: object) -> Upsert:
    return Upsert("notes", doc_id, version, {"note_id": doc_id, **fields})


def test_an_upsert_creates_then_merges_fields(store: ReadStore) -> None:
    store.apply([note("a", 1, text="first words", tags=["x"])], "p", 1)
    store.apply([Upsert("notes", "a", 2, {"colour": "red"})], "p", 2)
    assert store.get("notes", "a") == {"note_id": "a", "text": "first words", "tags": ["x"],
                                       "colour": "red"}


def test_an_older_or_repeated_version_never_changes_a_document(store: ReadStore) -> None:
    store.apply([note("a", 5, text="five")], "p", 5)
    store.apply([note("a", 5, text="five again"), note("a", 3, text="three")], "p", 5)
    assert store.get("notes", "a") == {"note_id": "a", "text": "five"}


def test_positions_are_recorded_per_projection_and_never_go_back(store: ReadStore) -> None:
    store.apply([], "p", 7)
    store.apply([], "p", 4)
    store.apply([], "q", 2)
    assert (store.position("p"), store.position("q"), store.position("r")) == (7, 2, 0)


def test_a_missing_document_is_none(store: ReadStore) -> None:
    assert store.get("notes", "nope") is None


def test_queries_filter_sort_and_page_with_a_cursor(store: ReadStore) -> None:
    store.apply([note(f"n{i}", i, group="g" if i % 2 else "h", rank=i, tags=[f"t{i % 3}"])
                 for i in range(1, 11)], "p", 10)
    first = store.query(Query("notes", [Eq("group", "g")], sort_field="rank", limit=3))
    assert [d["rank"] for d in first.documents] == [9, 7, 5]
    second = store.query(Query("notes", [Eq("group", "g")], sort_field="rank", limit=3,
                               after=first.next_after))
    assert [d["rank"] for d in second.documents] == [3, 1] and second.next_after is None
    ascending = store.query(Query("notes", [AnyOf("note_id", ["n2", "n4", "n9"])],
                                  sort_field="rank", descending=False))
    assert [d["rank"] for d in ascending.documents] == [2, 4, 9]
    tagged = store.query(Query("notes", [Contains("tags", "t0")], sort_field="rank"))
    assert [d["rank"] for d in tagged.documents] == [9, 6, 3]
    assert store.query(Query("notes", [AnyOf("note_id", [])])).documents == []


def test_text_search_finds_documents_holding_every_word(store: ReadStore) -> None:
    store.apply([note("a", 1, text="the quick brown fox", rank=1),
                 note("b", 2, text="the lazy brown dog", rank=2),
                 note("c", 3, text="quick thinking", rank=3)], "p", 3)

    def found(words: str) -> list[str]:
        page = store.query(Query("notes", sort_field="rank", text=words))
        return [d["note_id"] for d in page.documents]

    assert found("brown") == ["b", "a"]
    assert found("quick brown") == ["a"]
    assert found('"fox" OR dog') == []
    assert found("absent") == []


def test_text_changes_are_searchable_after_an_update(store: ReadStore) -> None:
    store.apply([note("a", 1, text="before", rank=1)], "p", 1)
    store.apply([Upsert("notes", "a", 2, {"text": "after"})], "p", 2)
    assert store.query(Query("notes", sort_field="rank", text="before")).documents == []
    assert len(store.query(Query("notes", sort_field="rank", text="after")).documents) == 1


def test_nested_objects_merge_key_by_key_and_none_removes(store: ReadStore) -> None:
    store.apply([note("a", 1, text="hello", reactions={"👍": {"u1": True}})], "p", 1)
    store.apply([Upsert("notes", "a", 2, {"reactions": {"👍": {"u2": True}, "🎉": {"u1": True}}})],
                "p", 2)
    store.apply([Upsert("notes", "a", 3, {"reactions": {"👍": {"u1": None}}, "text": None})],
                "p", 3)
    assert store.get("notes", "a") == {"note_id": "a",
                                       "reactions": {"👍": {"u2": True}, "🎉": {"u1": True}}}
    assert store.query(Query("notes", text="hello")).documents == []


def test_range_filters_bound_numbers_on_either_side(store: ReadStore) -> None:
    store.apply([note(f"n{i}", i, rank=i) for i in range(1, 8)], "p", 7)

    def ranks(**bounds: int) -> list[int]:
        page = store.query(Query("notes", [Range("rank", **bounds)], sort_field="rank"))
        return [d["rank"] for d in page.documents]

    assert ranks(gt=2, lte=5) == [5, 4, 3]
    assert ranks(gt=5) == [7, 6]
    assert ranks(lte=2) == [2, 1]


def test_a_count_is_of_the_matching_documents_and_stops_at_its_bound(store: ReadStore) -> None:
    store.apply([note(f"n{i}", i, group="g" if i % 3 else "h", open=i % 2 == 0)
                 for i in range(1, 13)], "p", 12)
    assert store.count("notes", [Eq("group", "g")], up_to=100) == 8
    assert store.count("notes", [Eq("group", "g"), Eq("open", True)], up_to=100) == 4
    assert store.count("notes", [AnyOf("note_id", ["n1", "n2", "none"])], up_to=100) == 2
    assert store.count("notes", [Eq("group", "g")], up_to=5) == 5
    assert store.count("notes", [Eq("group", "nobody's")], up_to=100) == 0
    assert store.count("never_written", [], up_to=100) == 0


def test_documents_are_read_by_id_in_one_go_and_missing_ones_left_out(
        store: ReadStore) -> None:
    store.apply([note(f"n{i}", i, rank=i) for i in range(1, 6)], "p", 5)
    assert store.get_many("notes", ["n4", "nope", "n2"]) == {
        "n4": {"note_id": "n4", "rank": 4}, "n2": {"note_id": "n2", "rank": 2}}
    assert store.get_many("notes", []) == {}
    assert store.get_many("never_written", ["n1"]) == {}


def test_prefix_filters_match_the_start_of_a_string_exactly(store: ReadStore) -> None:
    handles = ["ada", "ada_l", "adam", "bada", "Ada", "a%b", "a_c", "abc"]
    store.apply([note(f"n{i}", i, handle=h, rank=i) for i, h in enumerate(handles, 1)], "p", 8)

    def starting(prefix: str) -> list[str]:
        page = store.query(Query("notes", [Prefix("handle", prefix)], sort_field="rank",
                                 descending=False))
        return [d["handle"] for d in page.documents]

    assert starting("ada") == ["ada", "ada_l", "adam"]
    assert starting("ada_") == ["ada_l"]
    assert starting("a%") == ["a%b"]
    assert starting("a_") == ["a_c"]
    assert starting("adamant") == []


def test_a_late_change_fills_in_gaps_but_never_overwrites_later_values(
        store: ReadStore) -> None:
    store.apply([Upsert("notes", "a", 9, {"note_id": "a", "text": "edited"})], "p", 9)

    store.apply_late([note("a", 4, text="original", colour="red", secret=None)])
    store.apply_late([note("b", 5, text="only now")])

    assert store.get("notes", "a") == {"note_id": "a", "text": "edited", "colour": "red"}
    assert store.get("notes", "b") == {"note_id": "b", "text": "only now"}
    assert store.position("p") == 9, "a late change records no progress"


def test_a_late_removal_removes(store: ReadStore) -> None:
    store.apply([note("a", 9, text="words")], "p", 9)
    store.apply_late([Upsert("notes", "a", 3, {"text": None})])
    assert store.get("notes", "a") == {"note_id": "a"}


@pytest.mark.services
def test_deferred_applies_become_visible_and_recorded_together_at_the_end(
        services: dict[str, str], namespace: str) -> None:
    elastic = ElasticsearchReadStore(services["PARLEY_ELASTICSEARCH_URL"], namespace,
                                     ["notes", "cards"])
    elastic.ensure_indices()
    try:
        with elastic.deferred():
            elastic.apply([note("a", 3, text="deferred words")], "p", 3)
            elastic.apply([Upsert("cards", "c", 4, {"text": "deferred card"})], "q", 4)
            elastic.apply([], "p", 5)
            assert elastic.position("p") == 0, "positions wait for the refresh"
        assert (elastic.position("p"), elastic.position("q")) == (5, 4)
        assert [d["note_id"] for d in elastic.query(Query("notes", text="deferred")).documents
                ] == ["a"]
        assert len(elastic.query(Query("cards", text="card")).documents) == 1
    finally:
        elastic.client.indices.delete(index=f"{namespace}-*")
        elastic.close()


def test_a_conditional_change_applies_only_while_the_document_matches(
        store: ReadStore) -> None:
    store.apply([note("c", 1, last="m1", preview="hello")], "p", 1)
    store.apply([Upsert("notes", "c", 2, {"preview": None}, only_if=("last", "m0"))], "p", 2)
    assert store.get("notes", "c") == {"note_id": "c", "last": "m1", "preview": "hello"}

    store.apply([Upsert("notes", "c", 3, {"preview": None}, only_if=("last", "m1")),
                 note("c", 4, last="m2", preview="new")], "p", 4)
    store.apply([Upsert("notes", "gone", 5, {"x": 1}, only_if=("last", "m1"))], "p", 5)

    assert store.get("notes", "c") == {"note_id": "c", "last": "m2", "preview": "new"}
    assert store.get("notes", "gone") is None


def test_a_patch_of_matching_documents_merges_into_every_older_match_and_creates_none(
        store: ReadStore) -> None:
    store.apply([note("a", 1, about="m1", kind="sent", data={"text": "secret", "n": 1}),
                 note("b", 2, about="m1", kind="reacted", data={"emoji": "x"}),
                 note("c", 3, about="m2", kind="sent", data={"text": "other"})], "p", 3)
    scrub = PatchMatching("notes", (Eq("about", "m1"), AnyOf("kind", ["sent"])), 4,
                          {"data": {"text": None, "gone": True}})
    store.apply([scrub, PatchMatching("notes", (Eq("about", "nobody"),), 5, {"x": 1})], "p", 5)

    assert store.get("notes", "a") == {"note_id": "a", "about": "m1", "kind": "sent",
                                       "data": {"n": 1, "gone": True}}
    assert store.get("notes", "b")["data"] == {"emoji": "x"}  # type: ignore[index]
    assert store.get("notes", "c")["data"] == {"text": "other"}  # type: ignore[index]
    assert store.query(Query("notes", [Eq("about", "nobody")])).documents == []
    store.apply([note("a", 4, data={"text": "redelivered"})], "p", 5)
    assert "text" not in store.get("notes", "a")["data"], "the patch moved its version on"  # type: ignore[index]


def test_a_patch_of_matching_documents_sees_those_written_before_it_in_the_same_apply(
        store: ReadStore) -> None:
    store.apply([note("a", 1, about="m1", data={"text": "secret"}),
                 PatchMatching("notes", (Eq("about", "m1"),), 2, {"data": {"text": None}}),
                 note("b", 3, about="m1", data={"text": "after"})], "p", 3)
    assert store.get("notes", "a") == {"note_id": "a", "about": "m1", "data": {}}
    assert store.get("notes", "b")["data"] == {"text": "after"}  # type: ignore[index]


def test_a_late_patch_of_matching_documents_still_removes(store: ReadStore) -> None:
    store.apply([note("a", 9, about="m1", data={"text": "secret", "seen": True})], "p", 9)
    store.apply_late([PatchMatching("notes", (Eq("about", "m1"),), 5,
                                    {"data": {"text": None, "seen": False}})])
    assert store.get("notes", "a")["data"] == {"seen": True}  # type: ignore[index]
