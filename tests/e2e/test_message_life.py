"""After a message is sent: edits with history, unsend, reactions, delete for me, resends."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from tests.builders import GroupClient, ParleyClient
from tests.e2e.conftest import PROFILES

pytestmark = PROFILES
THUMBS = quote("👍")
PARTY = quote("🎉")


def test_an_edit_keeps_every_version_in_the_history(parley: ParleyClient) -> None:
    calls = GroupClient(parley)
    ada, bob = parley.register("Ada"), parley.register("Bob")
    chat = parley.open_direct(ada, bob)
    sent = parley.sent(ada, chat, "helo")
    edited = calls.call("PATCH", f"/v1/messages/{sent['message_id']}", ada, json={"text": "hello"})
    assert edited.status_code == 200 and edited.json()["revision"] == 2
    detail = calls.call("GET", f"/v1/messages/{sent['message_id']}", bob,
                        params={"position": edited.json()["position"]}).json()
    assert detail["text"] == "hello" and detail["revision"] == 2
    assert [r["text"] for r in detail["revisions"]] == ["helo", "hello"]
    assert parley.search(bob, "hello", position=edited.json()["position"]).json()["messages"]


@pytest.mark.parley_env(PARLEY_MAX_EDITS_PER_MESSAGE="3")
def test_a_message_is_edited_at_most_the_configured_number_of_times(
        parley: ParleyClient) -> None:
    calls = GroupClient(parley)
    ada, bob = parley.register("Ada"), parley.register("Bob")
    chat = parley.open_direct(ada, bob)
    url = f"/v1/messages/{parley.sent(ada, chat, 'v1')['message_id']}"
    for n in (2, 3, 4):
        edited = calls.call("PATCH", url, ada, json={"text": f"v{n}"}).json()
        assert edited["revision"] == n
    refused = calls.call("PATCH", url, ada, json={"text": "v5"})
    assert refused.status_code == 409, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["detail"] == "a message can be edited at most 3 times"
    # reads are eventually consistent: wait for the last accepted edit (a refusal has no position)
    detail = calls.call("GET", url, bob, params={"position": edited["position"]}).json()
    assert [r["text"] for r in detail["revisions"]] == ["v1", "v2", "v3", "v4"]


def test_the_conversation_list_previews_the_last_message_as_it_stands(
        parley: ParleyClient) -> None:
    calls = GroupClient(parley)
    ada, bob = parley.register("Ada"), parley.register("Bob")
    chat = parley.open_direct(ada, bob)
    first = parley.sent(ada, chat, "first words")
    last = parley.sent(ada, chat, "secret plans")

    def preview(position: int) -> str | None:
        listed = calls.call("GET", "/v1/conversations", bob, params={"position": position})
        return listed.json()["conversations"][0]["last_message_preview"]  # type: ignore[no-any-return]

    edited = calls.call("PATCH", f"/v1/messages/{first['message_id']}", ada,
                        json={"text": "first words, edited"})
    assert preview(edited.json()["position"]) == "secret plans", "not the last message"
    edited = calls.call("PATCH", f"/v1/messages/{last['message_id']}", ada,
                        json={"text": "public plans"})
    assert preview(edited.json()["position"]) == "public plans"
    unsent = calls.call("DELETE", f"/v1/messages/{last['message_id']}", ada)
    assert preview(unsent.json()["position"]) is None, "an unsent text leaves the list"


def test_nobody_edits_or_unsends_someone_elses_message(parley: ParleyClient) -> None:
    calls = GroupClient(parley)
    ada, bob = parley.register("Ada"), parley.register("Bob")
    chat = parley.open_direct(ada, bob)
    sent = parley.sent(ada, chat, "mine")
    url = f"/v1/messages/{sent['message_id']}"
    assert calls.call("PATCH", url, bob, json={"text": "yours"}).status_code == 403
    assert calls.call("DELETE", url, bob).status_code == 403


def test_an_unsent_message_leaves_a_tombstone_and_disappears_from_search(
    parley: ParleyClient,
) -> None:
    calls = GroupClient(parley)
    ada, bob = parley.register("Ada"), parley.register("Bob")
    chat = parley.open_direct(ada, bob)
    sent = parley.sent(ada, chat, "regrettable words")
    url = f"/v1/messages/{sent['message_id']}"
    calls.call("PUT", f"{url}/reactions/{THUMBS}", bob)
    unsent = calls.call("DELETE", url, ada)
    assert unsent.status_code == 200
    position = unsent.json()["position"]
    [tombstone] = parley.all_messages(bob, chat, position)
    assert tombstone["unsent"] is True and tombstone["text"] is None
    assert tombstone["reactions"] == []
    assert parley.search(bob, "regrettable", position=position).json()["messages"] == []
    assert calls.call("PUT", f"{url}/reactions/{PARTY}", bob).status_code == 409
    assert calls.call("PATCH", url, ada, json={"text": "again"}).status_code == 409


def test_each_person_reacts_at_most_once_with_each_emoji(parley: ParleyClient) -> None:
    calls = GroupClient(parley)
    ada, bob, cy = parley.register("Ada"), parley.register("Bob"), parley.register("Cy")
    group = calls.create(ada, "Fans", bob, cy)
    sent = parley.sent(ada, group, "we won")
    url = f"/v1/messages/{sent['message_id']}/reactions"
    for who, emoji in [(bob, THUMBS), (bob, THUMBS), (cy, THUMBS), (cy, PARTY)]:
        assert calls.call("PUT", f"{url}/{emoji}", who).status_code == 200
    last = calls.call("DELETE", f"{url}/{PARTY}", cy)
    detail = calls.call("GET", f"/v1/messages/{sent['message_id']}", ada,
                        params={"position": last.json()["position"]}).json()
    assert [(r["emoji"], r["count"]) for r in detail["reactions"]] == [("👍", 2)]
    assert sorted(detail["reactions"][0]["user_ids"]) == sorted([bob.user_id, cy.user_id])
    assert calls.call("PUT", f"{url}/{quote('ab')}", bob).status_code == 422


def test_delete_for_me_hides_a_message_from_me_only(parley: ParleyClient) -> None:
    calls = GroupClient(parley)
    ada, bob = parley.register("Ada"), parley.register("Bob")
    chat = parley.open_direct(ada, bob)
    parley.sent(ada, chat, "keep")
    sent = parley.sent(ada, chat, "hide me")
    hidden = calls.call("POST", f"/v1/messages/{sent['message_id']}/hide", bob)
    position = hidden.json()["position"]
    assert calls.texts(bob, chat, position) == ["keep"]
    assert calls.texts(ada, chat, position) == ["hide me", "keep"]


def test_a_resend_with_the_same_client_message_id_is_a_no_op(parley: ParleyClient) -> None:
    ada, bob = parley.register("Ada"), parley.register("Bob")
    chat = parley.open_direct(ada, bob)
    url = f"/v1/conversations/{chat}/messages"
    first = parley.http.post(url, headers=ada.auth, json={"text": "hi", "client_message_id": "c1"})
    again = parley.http.post(url, headers=ada.auth, json={"text": "hi", "client_message_id": "c1"})
    other = parley.http.post(url, headers=ada.auth, json={"text": "hi", "client_message_id": "c2"})
    assert first.json()["message_id"] == again.json()["message_id"]
    assert other.json()["message_id"] != first.json()["message_id"]
    assert GroupClient(parley).texts(bob, chat, other.json()["position"]) == ["hi", "hi"]


def test_strangers_cannot_touch_or_read_a_message(parley: ParleyClient) -> None:
    calls = GroupClient(parley)
    ada, bob, eve = parley.register("Ada"), parley.register("Bob"), parley.register("Eve")
    chat = parley.open_direct(ada, bob)
    sent = parley.sent(ada, chat, "private")
    url = f"/v1/messages/{sent['message_id']}"
    answers = [calls.call("GET", url, eve, params={"position": sent["position"]}).status_code,
               calls.call("PUT", f"{url}/reactions/{THUMBS}", eve).status_code,
               calls.call("POST", f"{url}/hide", eve).status_code,
               calls.call("PATCH", url, eve, json={"text": "x"}).status_code]
    assert answers == [404, 404, 404, 404]
