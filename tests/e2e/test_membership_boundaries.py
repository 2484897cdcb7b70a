"""Where membership ends: outsiders learn nothing, late joiners act only inside their window,
former members keep the conversation as it stood when they left."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.builders import GroupClient, ParleyClient, Person, answer_of
from tests.e2e.conftest import PROFILES

THUMBS, PARTY = quote("👍"), quote("🎉")


def send(parley: ParleyClient, who: Person, conversation_id: str,
         **body: Any) -> httpx.Response:
    return parley.http.post(f"/v1/conversations/{conversation_id}/messages",
                            json={"text": "hi"} | body, headers=who.auth)


@pytest.mark.parametrize("wrong", [
    {"reply_to": str(uuid.uuid4())},
    {"attachment_ids": [str(uuid.uuid4())]},
    {"text": "\x07 bell"},
    {"text": "", "attachment_ids": []},
])
def test_an_outsider_sending_to_a_direct_conversation_hears_what_a_random_id_answers(
        parley: ParleyClient, wrong: dict[str, Any]) -> None:
    ada, bob, eve = parley.register("Ada"), parley.register("Bob"), parley.register("Eve")
    chat = parley.open_direct(ada, bob)
    existing = send(parley, eve, chat, **wrong)
    missing = send(parley, eve, str(uuid.uuid4()), **wrong)
    assert answer_of(existing) == answer_of(missing)
    assert missing.status_code == 404 and missing.json()["detail"] == "no such conversation"


def test_an_outsider_who_blocked_one_of_a_pair_still_hears_no_such_conversation(
        parley: ParleyClient) -> None:
    ada, bob, eve = parley.register("Ada"), parley.register("Bob"), parley.register("Eve")
    chat = parley.open_direct(ada, bob)
    blocked = parley.http.post("/v1/blocks", json={"user_id": ada.user_id}, headers=eve.auth)
    assert blocked.status_code in (200, 201), blocked.text
    assert answer_of(send(parley, eve, chat)) == answer_of(send(parley, eve,
                                                                  str(uuid.uuid4())))


def test_direct_conversation_ids_are_not_the_ones_computed_from_the_pair(
        parley: ParleyClient) -> None:
    from domain.messaging.conversations import legacy_direct_conversation_id

    ada, bob = parley.register("Ada"), parley.register("Bob")
    chat = parley.open_direct(ada, bob)
    assert chat != str(legacy_direct_conversation_id(uuid.UUID(ada.user_id),
                                                     uuid.UUID(bob.user_id)))
    assert parley.open_direct(bob, ada) == chat


def befriend(parley: ParleyClient, first: Person, second: Person) -> None:
    """Contacts join a group at once when added (others would only be invited)."""
    asked = parley.http.post("/v1/contacts/requests", json={"user_id": second.user_id},
                             headers=first.auth)
    assert asked.status_code in (200, 201), asked.text
    accepted = parley.http.post(f"/v1/contacts/requests/{first.user_id}/accept",
                                headers=second.auth)
    assert accepted.status_code == 200, accepted.text


def a_group(parley: ParleyClient, owner: Person, *members: Person) -> str:
    for member in members:
        befriend(parley, owner, member)
    created = parley.http.post("/v1/groups", headers=owner.auth, json={
        "title": "Team", "member_ids": [m.user_id for m in members]})
    assert created.status_code == 201, created.text
    return str(created.json()["conversation_id"])


class LateJoiner:
    """Ada's group, where Cy joined after Ada's first message."""

    def __init__(self, parley: ParleyClient) -> None:
        self.calls = GroupClient(parley)
        self.ada, self.bob, self.cy = (parley.register(n) for n in ("Ada", "Bob", "Cy"))
        self.group = a_group(parley, self.ada, self.bob)
        befriend(parley, self.ada, self.cy)
        self.before = parley.sent(self.ada, self.group, "before you came")["message_id"]
        added = self.calls.call("POST", f"/v1/groups/{self.group}/members", self.ada,
                                json={"user_ids": [self.cy.user_id]})
        assert added.status_code == 200, added.text
        self.after = parley.sent(self.ada, self.group, "welcome")["message_id"]


@pytest.mark.parametrize("action", ["react", "unreact", "hide", "reply", "forward"])
def test_a_late_joiner_cannot_act_on_messages_from_before_they_joined(
        parley: ParleyClient, action: str) -> None:
    world = LateJoiner(parley)
    cy, calls = world.cy, world.calls
    elsewhere = parley.open_direct(cy, world.bob)

    def attempt(message_id: str) -> httpx.Response:
        if action == "react":
            return calls.call("PUT", f"/v1/messages/{message_id}/reactions/{THUMBS}", cy)
        if action == "unreact":
            return calls.call("DELETE", f"/v1/messages/{message_id}/reactions/{THUMBS}", cy)
        if action == "hide":
            return calls.call("POST", f"/v1/messages/{message_id}/hide", cy)
        if action == "reply":
            return send(parley, cy, world.group, reply_to=message_id)
        return calls.call("POST", f"/v1/messages/{message_id}/forward", cy,
                          json={"conversation_id": elsewhere})

    assert answer_of(attempt(world.before)) == answer_of(attempt(str(uuid.uuid4())))
    assert attempt(world.before).status_code == 404
    assert attempt(world.after).status_code in (200, 201)


@PROFILES
def test_a_former_member_sees_the_message_as_it_stood_when_they_left(
        parley: ParleyClient) -> None:
    calls = GroupClient(parley)
    ada, bob, cy = (parley.register(n) for n in ("Ada", "Bob", "Cy"))
    group = a_group(parley, ada, bob, cy)
    sent = parley.sent(ada, group, "meet at noon")
    url = f"/v1/messages/{sent['message_id']}"
    assert calls.call("PATCH", url, ada, json={"text": "meet at one"}).status_code == 200
    assert calls.call("PUT", f"{url}/reactions/{THUMBS}", bob).status_code == 200
    removed = calls.call("DELETE", f"/v1/groups/{group}/members/{cy.user_id}", ada)
    assert removed.status_code == 200, removed.text
    calls.call("PATCH", url, ada, json={"text": "meet at the secret place"})
    calls.call("DELETE", f"{url}/reactions/{THUMBS}", bob)
    last = calls.call("PUT", f"{url}/reactions/{PARTY}", ada).json()["position"]

    detail = calls.call("GET", url, cy, params={"position": last}).json()
    assert (detail["text"], detail["revision"]) == ("meet at one", 2)
    assert [r["text"] for r in detail["revisions"]] == ["meet at noon", "meet at one"]
    assert [(r["emoji"], r["user_ids"]) for r in detail["reactions"]] == [("👍", [bob.user_id])]
    listed = parley.all_messages(cy, group, last)
    assert [(m["text"], m["revision"], m["reactions"]) for m in listed] == [
        ("meet at one", 2, detail["reactions"])]
    assert parley.search(cy, "secret", position=last).json()["messages"] == []
    now = calls.call("GET", url, bob, params={"position": last}).json()
    assert now["text"] == "meet at the secret place"
    assert [r["emoji"] for r in now["reactions"]] == ["🎉"]
