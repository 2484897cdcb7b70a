"""Presence privacy and blocks over HTTP and WebSocket, on both profiles.

Presence (online, last seen) goes only to people who share a conversation, as the person's
privacy setting allows, never across a block; typing never crosses a block; and the blocker
stops receiving the blocked person's messages, reactions and receipts in shared groups.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from parley.launcher import ParleyProcesses
from tests.builders import GroupClient, ParleyClient, Person
from tests.e2e.conftest import PROFILES
from tests.e2e.test_contacts import Contacts, position
from tests.e2e.test_sync import drain, live_socket, receive_until, sent_texts

pytestmark = PROFILES


def privacy(parley: ParleyClient, who: Person, presence: str) -> httpx.Response:
    return parley.http.put("/v1/users/me/privacy", json={"presence": presence},
                           headers=who.auth)


def presence_of(parley: ParleyClient, viewer: Person, subject: Person) -> dict[str, Any]:
    response = parley.http.get(f"/v1/presence/{subject.user_id}", headers=viewer.auth)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def eventually(check: Callable[[], bool], what: str, seconds: float = 15) -> None:
    """For reads with no consistency token (presence): wait for the projections to catch up."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"never: {what}")
        time.sleep(0.1)


def test_the_privacy_setting_is_everyone_by_default_and_takes_only_known_values(
    parley: ParleyClient,
) -> None:
    ada = parley.register("Ada")
    assert parley.http.get("/v1/users/me/privacy", headers=ada.auth).json() == {
        "presence": "everyone"}
    changed = privacy(parley, ada, "contacts")
    assert changed.status_code == 200 and changed.json()["presence"] == "contacts"
    again = parley.http.get("/v1/users/me/privacy", params={"position": position(changed)},
                            headers=ada.auth)
    assert again.json() == {"presence": "contacts"}
    refused = privacy(parley, ada, "friends of friends")
    assert refused.status_code == 422
    assert refused.headers["content-type"].startswith("application/problem+json")
    profile = parley.http.get(f"/v1/users/{ada.user_id}", headers=ada.auth).json()
    assert "presence" not in profile and "presence_visible_to" not in profile


def test_presence_follows_the_privacy_setting(
    parley: ParleyClient, processes: ParleyProcesses,
) -> None:
    ada, bob = parley.register("Ada"), parley.register("Bob")
    chat = parley.open_direct(ada, bob)
    parley.messages(ada, chat, position=parley.sent(ada, chat, "hi")["position"])
    with live_socket(processes, bob):
        eventually(lambda: presence_of(parley, ada, bob)["online"], "bob online for ada")
        privacy(parley, bob, "nobody")
        eventually(lambda: presence_of(parley, ada, bob) == {
            "user_id": bob.user_id, "online": False, "last_seen": None},
            "bob's presence hidden from everyone")
        privacy(parley, bob, "contacts")
        time.sleep(0.5)
        assert presence_of(parley, ada, bob)["online"] is False, "ada is not bob's friend"
        contacts = Contacts(parley)
        contacts.ask(ada, bob)
        contacts.answer(bob, ada, "accept")
        eventually(lambda: presence_of(parley, ada, bob)["online"], "bob online for a friend")


def test_a_blocked_pair_sees_neither_presence_nor_typing_of_the_other(
    parley: ParleyClient, processes: ParleyProcesses,
) -> None:
    calls, contacts = GroupClient(parley), Contacts(parley)
    ada, bob, cy = parley.register("Ada"), parley.register("Bob"), parley.register("Cy")
    group = calls.create(ada, "Club", bob, cy)
    blocked = contacts.block(ada, bob)
    contacts.blocked_by(ada, position(blocked))  # waits until the block is projected
    with live_socket(processes, ada) as ada_socket, live_socket(processes, cy) as cy_socket:
        receive_until(ada_socket, lambda f: any(x["type"] == "changes" for x in f))
        receive_until(cy_socket, lambda f: any(x["type"] == "changes" for x in f))
        with live_socket(processes, bob) as bob_socket:
            receive_until(bob_socket, lambda f: any(x["type"] == "changes" for x in f))
            receive_until(cy_socket, lambda f: any(
                x["type"] == "presence" and x["user_id"] == bob.user_id for x in f))
            for typer in (bob, cy):  # one channel, in order: bob's would arrive first
                answer = parley.http.post(f"/v1/conversations/{group}/typing",
                                          json={"typing": True}, headers=typer.auth)
                assert answer.status_code == 202
            frames = receive_until(ada_socket, lambda f: any(
                x["type"] == "typing" and x["user_id"] == cy.user_id for x in f))
            assert not [f for f in frames if f.get("user_id") == bob.user_id], frames
            bob_frames = receive_until(bob_socket, lambda f: any(
                x["type"] == "typing" for x in f))
            assert {f["user_id"] for f in bob_frames if f["type"] == "typing"} == {cy.user_id}
            assert presence_of(parley, ada, bob) == {
                "user_id": bob.user_id, "online": False, "last_seen": None}
            assert presence_of(parley, bob, ada)["last_seen"] is None
            assert presence_of(parley, cy, bob)["online"] is True


def message_texts(parley: ParleyClient, reader: Person, group: str, at: int) -> list[str]:
    return [m["text"] for m in parley.all_messages(reader, group, at)]


def test_the_blocker_stops_receiving_the_blocked_members_messages_in_a_group(
    parley: ParleyClient, processes: ParleyProcesses,
) -> None:
    calls, contacts = GroupClient(parley), Contacts(parley)
    ada, bob, cy = parley.register("Ada"), parley.register("Bob"), parley.register("Cy")
    group = calls.create(ada, "Club", bob, cy)
    parley.sent(bob, group, "said before the block")
    blocked = contacts.block(ada, bob)
    contacts.blocked_by(ada, position(blocked))
    with live_socket(processes, ada) as socket:
        receive_until(socket, lambda f: any(x["type"] == "changes" for x in f))
        from_cy = parley.sent(cy, group, "cy speaking")
        calls.call("PUT", f"/v1/messages/{from_cy['message_id']}/reactions/%F0%9F%91%8D", bob)
        parley.sent(bob, group, "bob speaking")
        last = parley.sent(cy, group, "cy again")
        frames = receive_until(socket, lambda f: "cy again" in sent_texts(f))
        assert sent_texts(frames) == ["cy speaking", "cy again"]
        assert not [c for f in frames if f["type"] == "changes" for c in f["changes"]
                    if c["kind"] == "reaction_added"]
    at = last["position"]
    assert message_texts(parley, ada, group, at) == ["cy again", "cy speaking"]
    assert message_texts(parley, cy, group, at) == [
        "cy again", "bob speaking", "cy speaking", "said before the block"]
    unread = parley.http.get("/v1/unread", params={"position": at}, headers=ada.auth).json()
    assert unread["total"] == 2
    found = parley.search(ada, "speaking", position=at).json()["messages"]
    assert [m["text"] for m in found] == ["cy speaking"]
    synced = [c["data"]["text"] for c in drain(parley, ada, 0, 100)[0]
              if c["kind"] == "message_sent"]
    assert synced == ["cy speaking", "cy again"]

    unblocked = contacts.unblock(ada, bob)
    contacts.blocked_by(ada, position(unblocked))
    assert message_texts(parley, ada, group, at) == message_texts(parley, cy, group, at)
    unread = parley.http.get("/v1/unread", params={"position": at}, headers=ada.auth).json()
    assert unread["total"] == 4


def test_the_conversation_list_hides_the_preview_of_a_blocked_senders_last_message(
    parley: ParleyClient,
) -> None:
    calls, contacts = GroupClient(parley), Contacts(parley)
    ada, bob = parley.register("Ada"), parley.register("Bob")
    group = calls.create(ada, "Club", bob)
    contacts.blocked_by(ada, position(contacts.block(ada, bob)))
    last = parley.sent(bob, group, "you cannot read this")
    listed = parley.http.get("/v1/conversations", params={"position": last["position"]},
                             headers=ada.auth).json()["conversations"]
    assert [(c["last_seq"], c["last_message_preview"], c["unread_count"]) for c in listed] \
        == [(1, None, 0)]
