"""Replies, forwards, mentions; paging history both ways, jumping to a message; search filters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.builders import AttachmentClient, GroupClient, ParleyClient, a_file, answer_of
from tests.e2e.conftest import PROFILES

pytestmark = PROFILES


def test_a_reply_quotes_a_message_of_the_same_conversation_only(parley: ParleyClient) -> None:
    calls = GroupClient(parley)
    ada, bob, cy = parley.register("Ada"), parley.register("Bob"), parley.register("Cy")
    chat, other = parley.open_direct(ada, bob), parley.open_direct(ada, cy)
    question = parley.sent(ada, chat, "lunch?")
    url = f"/v1/conversations/{chat}/messages"
    reply = calls.call("POST", url, bob, json={"text": "yes", "reply_to": question["message_id"]})
    assert reply.status_code == 201
    elsewhere = parley.sent(ada, other, "hi cy")
    wrong = calls.call("POST", url, bob, json={"text": "?", "reply_to": elsewhere["message_id"]})
    assert wrong.status_code == 404
    [latest, _] = parley.all_messages(ada, chat, reply.json()["position"])
    assert latest["reply_to"] == question["message_id"]


def test_forwarding_copies_a_visible_message_into_another_conversation(
    parley: ParleyClient,
) -> None:
    calls = GroupClient(parley)
    ada, bob, cy = parley.register("Ada"), parley.register("Bob"), parley.register("Cy")
    chat, other = parley.open_direct(ada, bob), parley.open_direct(bob, cy)
    original = parley.sent(ada, chat, "the meeting moved to 3pm")
    forwarded = calls.call("POST", f"/v1/messages/{original['message_id']}/forward", bob,
                           json={"conversation_id": other},
                           params={"position": original["position"]})
    assert forwarded.status_code == 201
    [copy] = parley.all_messages(cy, other, forwarded.json()["position"])
    assert copy["text"] == "the meeting moved to 3pm"
    assert copy["forwarded_from"] == original["message_id"] and copy["sender_id"] == bob.user_id
    stranger = calls.call("POST", f"/v1/messages/{original['message_id']}/forward", cy,
                          json={"conversation_id": other})
    assert stranger.status_code == 404


UNSENT_ANSWER = {"type": "about:blank", "title": "Conflict", "status": 409,
                 "detail": "the message was unsent"}


def test_forwarding_an_unsent_message_is_a_conflict_whatever_the_target(
    parley: ParleyClient,
) -> None:
    calls = GroupClient(parley)
    ada, bob, cy, dee = (parley.register(n) for n in ("Ada", "Bob", "Cy", "Dee"))
    chat, other = parley.open_direct(ada, bob), parley.open_direct(bob, cy)
    not_bobs, blocked = parley.open_direct(ada, cy), parley.open_direct(bob, dee)
    assert calls.call("POST", "/v1/blocks", dee, json={"user_id": bob.user_id}).status_code \
        in (200, 201)
    sent = parley.sent(ada, chat, "the meeting moved to 3pm")
    unsent = calls.call("DELETE", f"/v1/messages/{sent['message_id']}", ada)
    assert unsent.status_code == 200, unsent.text
    attachment = AttachmentClient(parley).uploaded(ada, a_file())
    only_a_file = calls.call("POST", f"/v1/conversations/{chat}/messages", ada, json={
        "text": "", "attachment_ids": [attachment["attachment_id"]]})
    assert only_a_file.status_code == 201, only_a_file.text
    position = only_a_file.json()["position"]

    def forward(message_id: str, target: str) -> tuple[int, dict[str, str], object]:
        return answer_of(calls.call("POST", f"/v1/messages/{message_id}/forward", bob,
                                    json={"conversation_id": target},
                                    params={"position": position}))

    # the message is checked before the conversation it goes to: a conflict in every case
    for target in (other, not_bobs, blocked):
        status, headers, body = forward(sent["message_id"], target)
        assert (status, headers["content-type"], body) == (
            409, "application/problem+json", UNSENT_ANSWER)
    # attachments are never forwarded, so a message of only attachments has nothing to copy
    assert forward(only_a_file.json()["message_id"], other)[::2] == (409, UNSENT_ANSWER)
    assert parley.all_messages(cy, other, position) == []


def test_mentions_resolve_to_members_only(parley: ParleyClient) -> None:
    calls = GroupClient(parley)
    ada, bob, eve = parley.register("Ada"), parley.register("Bob"), parley.register("Eve")
    group = calls.create(ada, "Team", bob)
    sent = parley.sent(ada, group, f"@{bob.handle} and @{eve.handle} and @{ada.handle}, look")
    [message] = parley.all_messages(bob, group, sent["position"])
    assert message["mention_ids"] == [bob.user_id]


def test_history_pages_both_ways_and_jumps_to_a_message(parley: ParleyClient) -> None:
    calls = GroupClient(parley)
    ada, bob = parley.register("Ada"), parley.register("Bob")
    chat = parley.open_direct(ada, bob)
    sent = [parley.sent(ada, chat, f"m{i}") for i in range(1, 11)]
    url = f"/v1/conversations/{chat}/messages"
    older = calls.call("GET", url, bob, params={
        "from_seq": 6, "limit": 3, "position": sent[-1]["position"]}).json()
    assert [m["text"] for m in older["messages"]] == ["m5", "m4", "m3"]
    newer = calls.call("GET", url, bob, params={"direction": "newer", "from_seq": 6,
                                                "limit": 3}).json()
    assert [m["text"] for m in newer["messages"]] == ["m7", "m8", "m9"]
    rest = calls.call("GET", url, bob, params={"direction": "newer", "from_seq": 6, "limit": 3,
                                               "cursor": newer["next_cursor"]}).json()
    assert [m["text"] for m in rest["messages"]] == ["m10"] and rest["next_cursor"] is None
    around = calls.call("GET", f"/v1/messages/{sent[4]['message_id']}/context", bob,
                        params={"limit": 4}).json()
    assert [m["text"] for m in around["messages"]] == ["m4", "m5", "m6", "m7"]


def test_search_narrows_by_conversation_sender_and_date(parley: ParleyClient) -> None:
    ada, bob, cy = parley.register("Ada"), parley.register("Bob"), parley.register("Cy")
    chat, other = parley.open_direct(ada, bob), parley.open_direct(ada, cy)
    parley.sent(ada, chat, "report draft")
    parley.sent(bob, chat, "report comments")
    last = parley.sent(cy, other, "report final")

    def found(**filters: str) -> list[str]:
        response = parley.search(ada, "report", position=last["position"], **filters)
        assert response.status_code == 200, response.text
        return sorted(m["text"] for m in response.json()["messages"])

    assert found() == ["report comments", "report draft", "report final"]
    assert found(conversation_id=chat) == ["report comments", "report draft"]
    assert found(sender_id=bob.user_id) == ["report comments"]
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    yesterday = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    assert found(sent_from=tomorrow) == []
    assert len(found(sent_from=yesterday, sent_until=tomorrow)) == 3
    assert found(has_attachments="true") == []
