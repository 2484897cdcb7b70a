"""Multi-device sync: the feed by cursor, and the same feed live over a WebSocket."""

from __future__ import annotations

import contextlib
import json
import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

from websockets.sync.client import ClientConnection, connect

from parley.launcher import ParleyProcesses
from tests.builders import GroupClient, ParleyClient, Person
from tests.e2e.conftest import PROFILES

pytestmark = PROFILES


def feed(parley: ParleyClient, who: Person, since: int, limit: int = 200) -> dict[str, Any]:
    response = parley.http.get("/v1/sync", params={"since": since, "limit": limit},
                               headers=who.auth)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


def drain(parley: ParleyClient, who: Person, since: int, limit: int) -> tuple[list[Any], int]:
    changes: list[Any] = []
    while True:
        page = feed(parley, who, since, limit)
        changes += page["changes"]
        if page["cursor"] == since:
            return changes, since
        since = page["cursor"]


def wait_for_changes(parley: ParleyClient, who: Person, since: int, count: int) -> list[Any]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        changes, _ = drain(parley, who, since, 500)
        if len(changes) >= count:
            return changes
        time.sleep(0.1)
    raise AssertionError(f"only {len(changes)} of {count} changes arrived")


def test_a_device_catches_up_page_by_page_with_no_gap_and_no_duplicate(
    parley: ParleyClient,
) -> None:
    ada, bob = parley.register("Ada"), parley.register("Bob")
    chat = parley.open_direct(ada, bob)
    for i in range(25):
        parley.sent(ada, chat, f"while you were away {i}")
    wait_for_changes(parley, bob, 0, 26)
    changes, _ = drain(parley, bob, 0, limit=7)
    positions = [c["position"] for c in changes]
    assert positions == sorted(set(positions))
    texts = [c["data"]["text"] for c in changes if c["kind"] == "message_sent"]
    assert texts == [f"while you were away {i}" for i in range(25)]
    assert changes[0]["kind"] == "conversation_opened"


def test_the_feed_carries_edits_reactions_receipts_and_membership(parley: ParleyClient) -> None:
    calls = GroupClient(parley)
    ada, bob, cy = parley.register("Ada"), parley.register("Bob"), parley.register("Cy")
    group = calls.create(ada, "Club", bob)
    sent = parley.sent(ada, group, "hi")
    calls.call("PATCH", f"/v1/messages/{sent['message_id']}", ada, json={"text": "hello"})
    calls.call("PUT", f"/v1/messages/{sent['message_id']}/reactions/%F0%9F%91%8D", bob)
    calls.call("POST", f"/v1/conversations/{group}/read", bob, json={"up_to_seq": 1})
    parley.befriend(ada, cy)  # a contact joins at once (anyone else is only invited)
    calls.call("POST", f"/v1/groups/{group}/members", ada, json={"user_ids": [cy.user_id]})
    changes = wait_for_changes(parley, bob, 0, 6)
    assert [c["kind"] for c in changes] == ["group_created", "message_sent", "message_edited",
                                            "reaction_added", "read", "members_added"]
    edited, reacted = changes[2], changes[3]
    assert edited["data"]["message_id"] == reacted["data"]["message_id"] == sent["message_id"]
    newcomer = [c["kind"] for c in wait_for_changes(parley, cy, 0, 1)]
    assert newcomer == ["members_added"], "a newcomer sees nothing from before joining"


def test_private_changes_reach_only_their_owner(parley: ParleyClient) -> None:
    calls = GroupClient(parley)
    ada, bob = parley.register("Ada"), parley.register("Bob")
    chat = parley.open_direct(ada, bob)
    sent = parley.sent(ada, chat, "x")
    calls.call("POST", f"/v1/messages/{sent['message_id']}/hide", bob)
    last = parley.sent(ada, chat, "y")
    wait_for_changes(parley, ada, 0, 3)
    ada_kinds = [c["kind"] for c in drain(parley, ada, 0, 100)[0]]
    bob_kinds = [c["kind"] for c in wait_for_changes(parley, bob, 0, 4)]
    assert "message_hidden" in bob_kinds and "message_hidden" not in ada_kinds
    assert last["position"] > 0


def live_socket(processes: ParleyProcesses, who: Person, since: int = 0) -> ClientConnection:
    url = processes.base_url.replace("http://", "ws://") + f"/v1/live?since={since}"
    return connect(url, additional_headers=who.auth, open_timeout=10)


def receive_until(socket: ClientConnection, wanted: Any, timeout: float = 15) -> list[Any]:
    frames: list[Any] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        frames.append(json.loads(socket.recv(timeout=max(0.1, deadline - time.monotonic()))))
        if wanted(frames):
            return frames
    raise AssertionError(f"not received in time: {frames}")


def sent_texts(frames: list[Any]) -> list[str]:
    return [c["data"]["text"] for f in frames if f["type"] == "changes"
            for c in f["changes"] if c["kind"] == "message_sent"]


def test_a_socket_receives_new_messages_live_and_resumes_after_a_reconnect(
    parley: ParleyClient, processes: ParleyProcesses,
) -> None:
    ada, bob = parley.register("Ada"), parley.register("Bob")
    chat = parley.open_direct(ada, bob)
    with live_socket(processes, bob) as socket:
        receive_until(socket, lambda f: any(x["type"] == "changes" for x in f))
        parley.sent(ada, chat, "live one")
        frames = receive_until(socket, lambda f: "live one" in sent_texts(f))
        cursor = [f for f in frames if f["type"] == "changes"][-1]["cursor"]
    parley.sent(ada, chat, "while offline")
    with live_socket(processes, bob, since=cursor) as socket:
        frames = receive_until(socket, lambda f: "while offline" in sent_texts(f))
        assert sent_texts(frames) == ["while offline"]


def test_typing_reaches_the_other_members_and_is_never_stored(
    parley: ParleyClient, processes: ParleyProcesses,
) -> None:
    ada, bob = parley.register("Ada"), parley.register("Bob")
    chat = parley.open_direct(ada, bob)
    opened = parley.sent(ada, chat, "hello")
    with live_socket(processes, bob) as socket:
        receive_until(socket, lambda f: "hello" in sent_texts(f))
        answer = parley.http.post(f"/v1/conversations/{chat}/typing", json={"typing": True},
                                  headers=ada.auth)
        assert answer.status_code == 202
        frames = receive_until(socket, lambda f: any(x["type"] == "typing" for x in f))
        [typing] = [f for f in frames if f["type"] == "typing"]
        assert (typing["user_id"], typing["conversation_id"]) == (ada.user_id, chat)
    changes, _ = drain(parley, bob, opened["position"], 100)
    assert all(c["kind"] != "typing" for c in changes)


def test_a_socket_without_a_valid_token_is_refused(processes: ParleyProcesses) -> None:
    url = processes.base_url.replace("http://", "ws://") + "/v1/live?token=forged"
    try:
        with connect(url, open_timeout=10) as socket:
            socket.recv(timeout=5)
    except Exception as error:  # noqa: BLE001 - any refusal will do; success would not
        assert "403" in str(error) or "1008" in str(error), error
    else:
        raise AssertionError("the socket was accepted")


def test_presence_shows_online_while_a_socket_is_open_then_last_seen(
    parley: ParleyClient, processes: ParleyProcesses,
) -> None:
    ada, bob, eve = parley.register("Ada"), parley.register("Bob"), parley.register("Eve")
    chat = parley.open_direct(ada, bob)
    parley.sent(ada, chat, "hi")
    url = f"/v1/presence/{bob.user_id}"
    with live_socket(processes, ada) as watcher:
        receive_until(watcher, lambda f: "hi" in sent_texts(f))
        with live_socket(processes, bob):
            frames = receive_until(watcher, lambda f: any(x["type"] == "presence" for x in f))
            assert [f["online"] for f in frames if f["type"] == "presence"] == [True]
            assert parley.http.get(url, headers=ada.auth).json()["online"] is True
        receive_until(watcher, lambda f: any(x["type"] == "presence" and not x["online"]
                                             for x in f))
    offline = parley.http.get(url, headers=ada.auth).json()
    assert offline["online"] is False and offline["last_seen"]
    assert parley.http.get(url, headers=eve.auth).status_code == 404


def test_syncing_while_messages_stream_in_misses_and_repeats_nothing(
    parley: ParleyClient, processes: ParleyProcesses,
) -> None:
    import threading

    import httpx

    ada, bob = parley.register("Ada"), parley.register("Bob")
    chat = parley.open_direct(ada, bob)
    sent_ids: list[str] = []

    def keep_sending() -> None:
        with httpx.Client(base_url=processes.base_url, timeout=30) as http:
            sender = ParleyClient(http)
            for i in range(300):
                sent_ids.append(str(sender.sent(ada, chat, f"stream {i}")["message_id"]))

    sending = threading.Thread(target=keep_sending)
    sending.start()
    seen: list[str] = []
    cursor = 0
    while sending.is_alive() or len(seen) < 300:
        page = feed(parley, bob, cursor, limit=50)
        seen += [c["data"]["message_id"] for c in page["changes"] if c["kind"] == "message_sent"]
        cursor = page["cursor"]
        if not sending.is_alive() and len(seen) < 300 and not page["changes"]:
            time.sleep(0.05)
            if len(feed(parley, bob, cursor, limit=50)["changes"]) == 0 and _settled(
                    parley, bob, cursor):
                break
    sending.join()
    assert sorted(seen) == sorted(sent_ids) and len(seen) == len(set(seen)) == 300


def feed_at(parley: ParleyClient, who: Person, position: int) -> list[Any]:
    """The whole feed as of `position` (read your writes): an Elasticsearch bulk is not
    atomic to readers, so a read without it may see a batch's new change before the patch of
    older changes written in the same bulk."""
    response = parley.http.get("/v1/sync", params={"since": 0, "position": position},
                               headers=who.auth)
    assert response.status_code == 200, response.text
    changes: list[Any] = response.json()["changes"]
    return changes


def _settled(parley: ParleyClient, who: Person, cursor: int) -> bool:
    time.sleep(1.0)
    return not feed(parley, who, cursor)["changes"]


def test_an_unsent_message_leaves_no_text_in_the_feed_a_new_device_reads(
    parley: ParleyClient,
) -> None:
    calls = GroupClient(parley)
    ada, bob = parley.register("Ada"), parley.register("Bob")
    chat = parley.open_direct(ada, bob)
    sent = parley.sent(ada, chat, "regrettable words")
    calls.call("PATCH", f"/v1/messages/{sent['message_id']}", ada, json={"text": "still bad"})
    unsent = calls.call("DELETE", f"/v1/messages/{sent['message_id']}", ada).json()
    changes = feed_at(parley, bob, unsent["position"])
    assert [c["kind"] for c in changes] == ["conversation_opened", "message_sent",
                                            "message_edited", "message_unsent"]
    assert "regrettable" not in json.dumps(changes) and "still bad" not in json.dumps(changes)
    assert changes[1]["data"]["message_id"] == sent["message_id"]
    assert changes[1]["data"].get("unsent") is True


def test_an_edit_leaves_only_the_current_text_in_the_feed(parley: ParleyClient) -> None:
    calls = GroupClient(parley)
    ada, bob = parley.register("Ada"), parley.register("Bob")
    chat = parley.open_direct(ada, bob)
    sent = parley.sent(ada, chat, "first draft")
    url = f"/v1/messages/{sent['message_id']}"
    calls.call("PATCH", url, ada, json={"text": "second draft"})
    last = calls.call("PATCH", url, ada, json={"text": "final words"}).json()
    changes = feed_at(parley, bob, last["position"])
    texts = [c["data"]["text"] for c in changes if c["kind"] in ("message_sent",
                                                                 "message_edited")]
    assert texts == ["final words"] * 3


def test_a_socket_opened_after_an_unsend_is_never_replayed_its_text(
    parley: ParleyClient, processes: ParleyProcesses,
) -> None:
    calls = GroupClient(parley)
    ada, bob = parley.register("Ada"), parley.register("Bob")
    chat = parley.open_direct(ada, bob)
    sent = parley.sent(ada, chat, "regrettable words")
    wait_for_changes(parley, bob, 0, 2)  # the send is in the feed's read model
    with read_models_lagging(processes, seconds=1.5):  # ... the unsend not yet
        unsent = calls.call("DELETE", f"/v1/messages/{sent['message_id']}", ada).json()
        with live_socket(processes, bob) as socket:
            frames = receive_until(socket, lambda f: any(
                c["kind"] == "message_unsent" for x in f if x["type"] == "changes"
                for c in x["changes"]))
    assert "regrettable" not in json.dumps(frames)
    assert unsent["position"] > sent["position"]


def test_a_device_signed_in_after_an_unsend_syncs_no_text_while_read_models_lag(
    parley: ParleyClient, processes: ParleyProcesses,
) -> None:
    ada, bob = parley.register("Ada"), parley.register("Bob", password="staple battery horse")
    chat = parley.open_direct(ada, bob)
    sent = parley.sent(ada, chat, "regrettable words")
    wait_for_changes(parley, bob, 0, 2)  # the send is in the feed's read model
    with read_models_lagging(processes, seconds=1.5):  # ... the unsend not yet
        GroupClient(parley).call("DELETE", f"/v1/messages/{sent['message_id']}", ada)
        tablet = parley.http.post("/v1/sessions", json={
            "handle": bob.handle, "password": "staple battery horse", "device_name": "tablet"})
        assert tablet.status_code == 201, tablet.text
        first_sync = parley.http.get("/v1/sync", params={"since": 0}, headers={
            "Authorization": f"Bearer {tablet.json()['access_token']}"})
    assert first_sync.status_code == 200, first_sync.text
    assert "regrettable" not in first_sync.text


@contextlib.contextmanager
def read_models_lagging(processes: ParleyProcesses, seconds: float) -> Iterator[None]:
    """In production, the projector paused for `seconds`, as on a loaded machine (the
    embedded runner lives in the server and is not paused)."""
    projector = processes.running.get("project")
    if projector is None:
        yield
        return
    projector.send_signal(signal.SIGSTOP)
    resumed = threading.Timer(seconds, projector.send_signal, [signal.SIGCONT])
    resumed.start()
    try:
        yield
    finally:
        resumed.cancel()
        projector.send_signal(signal.SIGCONT)
