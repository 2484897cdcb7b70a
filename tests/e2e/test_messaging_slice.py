"""The vertical slice, over HTTP, on both profiles: register, open, send, list, search."""

from __future__ import annotations

import uuid

import httpx

from tests.builders import ParleyClient, answer_of
from tests.e2e.conftest import PROFILES

pytestmark = PROFILES


def test_a_sent_message_can_be_read_back_with_its_position(parley: ParleyClient) -> None:
    ada, bob = parley.register("Ada"), parley.register("Bob")
    conversation = parley.open_direct(ada, bob)
    sent = parley.sent(ada, conversation, "hello, Bob")
    response = parley.messages(bob, conversation, position=sent["position"])
    assert response.status_code == 200
    [message] = response.json()["messages"]
    assert message["text"] == "hello, Bob" and message["sender_id"] == ada.user_id
    assert message["seq"] == 1


def test_opening_a_direct_conversation_twice_gives_the_same_one(parley: ParleyClient) -> None:
    ada, bob = parley.register("Ada"), parley.register("Bob")
    first = parley.http.post("/v1/conversations/direct", json={"peer_id": bob.user_id},
                             headers=ada.auth)
    second = parley.http.post("/v1/conversations/direct", json={"peer_id": ada.user_id},
                              headers=bob.auth)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["conversation_id"] == second.json()["conversation_id"]


def test_messages_come_newest_first_in_pages(parley: ParleyClient) -> None:
    ada, bob = parley.register("Ada"), parley.register("Bob")
    conversation = parley.open_direct(ada, bob)
    last = {}
    for i in range(7):
        last = parley.sent(ada if i % 2 else bob, conversation, f"message {i}")
    texts, cursor = [], None
    while True:
        params = {"limit": 3, "position": last["position"]} | ({"cursor": cursor} if cursor else {})
        page = parley.messages(ada, conversation, **params).json()
        texts += [m["text"] for m in page["messages"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert texts == [f"message {i}" for i in reversed(range(7))]


def test_search_finds_only_what_the_reader_can_see(parley: ParleyClient) -> None:
    ada, bob, eve = parley.register("Ada"), parley.register("Bob"), parley.register("Eve")
    ours = parley.open_direct(ada, bob)
    theirs = parley.open_direct(bob, eve)
    parley.sent(ada, ours, "the treasure is under the oak")
    last = parley.sent(eve, theirs, "the treasure is a secret")
    found = parley.search(ada, "treasure", position=last["position"]).json()["messages"]
    assert [m["text"] for m in found] == ["the treasure is under the oak"]
    found_by_bob = parley.search(bob, "treasure", position=last["position"]).json()["messages"]
    assert len(found_by_bob) == 2
    assert parley.search(eve, "oak", position=last["position"]).json()["messages"] == []


def test_a_non_member_learns_nothing_about_a_conversation(parley: ParleyClient) -> None:
    ada, bob, eve = parley.register("Ada"), parley.register("Bob"), parley.register("Eve")
    conversation = parley.open_direct(ada, bob)
    sent = parley.sent(ada, conversation, "private")
    as_stranger = parley.messages(eve, conversation, position=sent["position"])
    unknown = parley.messages(eve, str(uuid.uuid4()))
    assert as_stranger.status_code == unknown.status_code == 404
    assert as_stranger.json()["title"] == unknown.json()["title"]
    assert as_stranger.headers["content-type"] == "application/problem+json"
    assert parley.send(eve, conversation, "let me in").status_code == 404


def test_a_keyed_retry_sends_one_message(parley: ParleyClient) -> None:
    ada, bob = parley.register("Ada"), parley.register("Bob")
    conversation = parley.open_direct(ada, bob)
    key = {"Idempotency-Key": "retry-me-1"}
    first = parley.send(ada, conversation, "only once", headers=key)
    second = parley.send(ada, conversation, "only once", headers=key)
    assert first.status_code == second.status_code == 201
    assert first.json()["message_id"] == second.json()["message_id"]
    messages = parley.all_messages(bob, conversation, position=second.json()["position"])
    assert [m["text"] for m in messages] == ["only once"]


def test_nobody_opens_a_direct_conversation_with_themselves(parley: ParleyClient) -> None:
    ada = parley.register("Ada")
    refused = parley.http.post("/v1/conversations/direct", json={"peer_id": ada.user_id},
                               headers=ada.auth)
    status, headers, body = answer_of(refused)
    rule = "a direct conversation needs two different people"
    assert (status, headers["content-type"], body) == (422, "application/problem+json", {
        "type": "about:blank", "title": "Invalid request", "status": 422, "detail": rule,
        "errors": [{"field": "peer_id", "message": rule, "type": "rule"}]})
    assert parley.http.get("/v1/conversations", headers=ada.auth).json()["conversations"] == []


def test_every_route_but_registration_needs_a_valid_token(parley: ParleyClient) -> None:
    anonymous = parley.http.get("/v1/conversations")
    forged = parley.http.get("/v1/conversations", headers={"Authorization": "Bearer abc.def.ghi"})
    assert anonymous.status_code == forged.status_code == 401
    assert anonymous.headers["www-authenticate"] == "Bearer"


def test_bad_input_gets_a_problem_answer_and_changes_nothing(parley: ParleyClient) -> None:
    ada, bob = parley.register("Ada"), parley.register("Bob")
    conversation = parley.open_direct(ada, bob)
    http: httpx.Client = parley.http
    url = f"/v1/conversations/{conversation}/messages"
    answers = {
        "malformed json": http.post(url, content=b"{nope", headers=ada.auth
                                    | {"content-type": "application/json"}).status_code,
        "not json": http.post(url, content=b"text=hi", headers=ada.auth
                              | {"content-type": "text/plain"}).status_code,
        "too big": http.post(url, content=b"x" * 100_000, headers=ada.auth
                             | {"content-type": "application/json"}).status_code,
        "oversize text": parley.send(ada, conversation, "x" * 5000).status_code,
        "control chars": parley.send(ada, conversation, "bell\x07").status_code,
        "missing field": http.post(url, json={}, headers=ada.auth).status_code,
        "bad uuid": http.post("/v1/conversations/not-a-uuid/messages", json={"text": "hi"},
                              headers=ada.auth).status_code,
        "bad cursor": parley.messages(ada, conversation, cursor="!!!").status_code,
        "taken handle": http.post("/v1/users", json={"handle": ada.handle, "name": "Imposter",
                                                     "password": "long enough"}).status_code,
        "talk to self": http.post("/v1/conversations/direct", json={"peer_id": ada.user_id},
                                  headers=ada.auth).status_code,
        "unknown peer": http.post("/v1/conversations/direct",
                                  json={"peer_id": str(uuid.uuid4())},
                                  headers=ada.auth).status_code,
    }
    assert answers == {"malformed json": 400, "not json": 415, "too big": 413,
                       "oversize text": 422, "control chars": 422, "missing field": 422,
                       "bad uuid": 422, "bad cursor": 400, "taken handle": 409,
                       "talk to self": 422, "unknown peer": 404}
    last = parley.sent(ada, conversation, "still works")
    assert [m["text"] for m in parley.all_messages(bob, conversation, last["position"])] == [
        "still works"
    ]


def test_health_readiness_and_the_openapi_spec_are_published(parley: ParleyClient) -> None:
    assert parley.http.get("/health").json() == {"status": "ok"}
    ready = parley.http.get("/ready")
    assert ready.status_code == 200 and "projection_lag" in ready.json()
    paths = parley.http.get("/openapi.json").json()["paths"]
    assert "/v1/conversations/{conversation_id}/messages" in paths
