"""Receipts and unread counts over HTTP."""

from __future__ import annotations

from tests.builders import GroupClient, ParleyClient
from tests.e2e.conftest import PROFILES

pytestmark = PROFILES


def test_unread_counts_fall_as_a_member_reads(parley: ParleyClient) -> None:
    calls = GroupClient(parley)
    ada, bob = parley.register("Ada"), parley.register("Bob")
    chat = parley.open_direct(ada, bob)
    for i in range(3):
        last = parley.sent(ada, chat, f"news {i}")
    unread = calls.call("GET", "/v1/unread", bob, params={"position": last["position"]}).json()
    assert unread == {"total": 3, "conversations": {chat: 3}}
    assert calls.call("GET", "/v1/unread", ada).json()["total"] == 0, "own messages are read"
    read = calls.call("POST", f"/v1/conversations/{chat}/read", bob, json={"up_to_seq": 2})
    assert read.status_code == 200 and read.json()["read_seq"] == 2
    listed = calls.call("GET", "/v1/conversations", bob,
                        params={"position": read.json()["position"]}).json()["conversations"]
    assert [c["unread_count"] for c in listed] == [1]


def test_read_receipts_never_go_backwards(parley: ParleyClient) -> None:
    calls = GroupClient(parley)
    ada, bob = parley.register("Ada"), parley.register("Bob")
    chat = parley.open_direct(ada, bob)
    first = parley.sent(ada, chat, "one")
    parley.sent(ada, chat, "two")
    url = f"/v1/conversations/{chat}/read"
    assert calls.call("POST", url, bob, json={"up_to_seq": 2}).json()["read_seq"] == 2
    back = calls.call("POST", url, bob, json={"up_to_seq": 1})
    assert back.status_code == 200 and back.json()["read_seq"] == 2
    assert calls.call("POST", url, bob, json={"up_to_seq": 99}).status_code == 422
    receipts = calls.call("GET", f"/v1/messages/{first['message_id']}/receipts", ada,
                          params={"position": back.json()["position"]}).json()
    assert receipts["read_by"] == [bob.user_id]


def test_delivery_is_recorded_per_device(parley: ParleyClient) -> None:
    calls = GroupClient(parley)
    ada, bob = parley.register("Ada"), parley.register("Bob")
    chat = parley.open_direct(ada, bob)
    sent = parley.sent(ada, chat, "ping")
    delivered = calls.call("POST", f"/v1/conversations/{chat}/delivered", bob,
                           json={"up_to_seq": 1})
    assert delivered.status_code == 200
    receipts = calls.call("GET", f"/v1/messages/{sent['message_id']}/receipts", ada,
                          params={"position": delivered.json()["position"]}).json()
    assert receipts["read_by"] == []
    assert [d["user_id"] for d in receipts["delivered_to"]] == [bob.user_id]
    assert receipts["delivered_to"][0]["device_count"] == 1
    own = calls.call("GET", f"/v1/messages/{sent['message_id']}/receipts", bob).json()
    assert own["delivered_to"][0]["device_ids"] == [delivered.json()["device_id"]]


def test_strangers_cannot_mark_or_see_receipts(parley: ParleyClient) -> None:
    calls = GroupClient(parley)
    ada, bob, eve = parley.register("Ada"), parley.register("Bob"), parley.register("Eve")
    chat = parley.open_direct(ada, bob)
    sent = parley.sent(ada, chat, "ping")
    assert calls.call("POST", f"/v1/conversations/{chat}/read", eve,
                      json={"up_to_seq": 1}).status_code == 404
    assert calls.call("GET", f"/v1/messages/{sent['message_id']}/receipts", eve,
                      params={"position": sent["position"]}).status_code == 404
