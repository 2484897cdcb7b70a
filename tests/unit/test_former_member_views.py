"""A former member's view of a message: as it stood at the log position where they left."""

from __future__ import annotations

from typing import Any

from projections.messaging.queries import as_of, edited_after, message_view, reader_view


def a_message(**fields: Any) -> dict[str, Any]:
    return {"message_id": "m", "conversation_id": "c", "sender_id": "ada", "seq": 1,
            "text": "v3", "revision": 3, "edited_at": "t3", "position": 10,
            "revisions": {"1": {"text": "v1", "at": "t1", "position": 10},
                          "2": {"text": "v2", "at": "t2", "position": 20},
                          "3": {"text": "v3", "at": "t3", "position": 40}},
            "reactions": {"👍": {"bob": {"15": True, "35": False}},
                          "🎉": {"cy": {"38": True}}}} | fields


FORMER = {"active": False, "joined_seq": 0, "left_seq": 1, "left_position": 30}
CURRENT = {"active": True, "joined_seq": 0, "left_seq": None, "left_position": None}


def test_a_former_member_sees_text_history_and_reactions_of_when_they_left() -> None:
    view = reader_view(a_message(), FORMER)
    assert (view["text"], view["revision"], view["edited_at"]) == ("v2", 2, "t2")
    assert view["reactions"] == [{"emoji": "👍", "count": 1, "user_ids": ["bob"]}]
    assert sorted(as_of(a_message(), 30)["revisions"]) == ["1", "2"]


def test_a_current_member_sees_the_message_as_it_stands() -> None:
    view = reader_view(a_message(), CURRENT)
    assert (view["text"], view["revision"]) == ("v3", 3)
    assert view["reactions"] == [{"emoji": "🎉", "count": 1, "user_ids": ["cy"]}]


def test_one_who_left_before_any_edit_sees_the_original_without_an_edit_time() -> None:
    view = reader_view(a_message(), FORMER | {"left_position": 12})
    assert (view["text"], view["revision"], view["edited_at"]) == ("v1", 1, None)
    assert view["reactions"] == []


def test_an_unsent_message_stays_unsent_for_former_members_too() -> None:
    unsent = a_message(text=None, revisions=None, reactions=None, unsent=True)
    view = reader_view(unsent, FORMER)
    assert (view["text"], view["unsent"], view["reactions"]) == (None, True, [])


def test_documents_projected_before_positions_were_recorded_read_as_before() -> None:
    legacy = a_message(revisions={"1": {"text": "v1", "at": "t1"}, "2": {"text": "v2",
                                                                          "at": "t2"}},
                       text="v2", revision=2, reactions={"👍": {"bob": True}})
    assert message_view(as_of(legacy, 30))["text"] == "v2"
    assert message_view(as_of(legacy, 30))["reactions"][0]["user_ids"] == ["bob"]
    assert not edited_after(legacy, 30)


def test_search_knows_when_the_current_text_is_newer_than_a_former_members_leaving() -> None:
    assert edited_after(a_message(), 30)
    assert not edited_after(a_message(), 40)
