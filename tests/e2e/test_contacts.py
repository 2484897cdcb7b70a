"""Contacts and blocks over HTTP, on both profiles."""

from __future__ import annotations

from typing import Any

import httpx

from tests.builders import ParleyClient, Person
from tests.e2e.conftest import PROFILES

pytestmark = PROFILES


class Contacts:
    """The contact and block calls, as a person would make them."""

    def __init__(self, parley: ParleyClient) -> None:
        self.http = parley.http

    def ask(self, who: Person, whom: Person) -> httpx.Response:
        return self.http.post("/v1/contacts/requests", json={"user_id": whom.user_id},
                              headers=who.auth)

    def answer(self, who: Person, requester: Person, verb: str) -> httpx.Response:
        return self.http.post(f"/v1/contacts/requests/{requester.user_id}/{verb}",
                              headers=who.auth)

    def cancel(self, who: Person, whom: Person) -> httpx.Response:
        return self.http.delete(f"/v1/contacts/requests/{whom.user_id}", headers=who.auth)

    def unfriend(self, who: Person, whom: Person) -> httpx.Response:
        return self.http.delete(f"/v1/contacts/{whom.user_id}", headers=who.auth)

    def block(self, who: Person, whom: Person) -> httpx.Response:
        return self.http.post("/v1/blocks", json={"user_id": whom.user_id}, headers=who.auth)

    def unblock(self, who: Person, whom: Person) -> httpx.Response:
        return self.http.delete(f"/v1/blocks/{whom.user_id}", headers=who.auth)

    def of(self, who: Person, position: int) -> dict[str, list[str]]:
        response = self.http.get("/v1/contacts", params={"position": position},
                                 headers=who.auth)
        assert response.status_code == 200, response.text
        body: dict[str, list[dict[str, Any]]] = response.json()
        return {group: [p["handle"] for p in people] for group, people in body.items()}

    def blocked_by(self, who: Person, position: int) -> list[str]:
        response = self.http.get("/v1/blocks", params={"position": position}, headers=who.auth)
        assert response.status_code == 200, response.text
        return [p["handle"] for p in response.json()["blocked"]]


def position(response: httpx.Response) -> int:
    assert response.status_code < 300, response.text
    return int(response.json()["position"])


NOBODY: dict[str, list[str]] = {"friends": [], "incoming": [], "outgoing": []}


def test_an_accepted_request_makes_two_friends(parley: ParleyClient) -> None:
    ada, bob = parley.register("Ada"), parley.register("Bob")
    contacts = Contacts(parley)
    asked = contacts.ask(ada, bob)
    assert asked.status_code == 201 and asked.json()["state"] == "outgoing"
    assert contacts.of(bob, position(asked)) == NOBODY | {"incoming": [ada.handle]}
    assert contacts.of(ada, position(asked)) == NOBODY | {"outgoing": [bob.handle]}
    accepted = contacts.answer(bob, ada, "accept")
    assert accepted.json()["state"] == "friend"
    assert contacts.of(ada, position(accepted)) == NOBODY | {"friends": [bob.handle]}
    assert contacts.of(bob, position(accepted)) == NOBODY | {"friends": [ada.handle]}


def test_declined_cancelled_and_unfriended_leave_nothing(parley: ParleyClient) -> None:
    ada, bob, cy = parley.register("Ada"), parley.register("Bob"), parley.register("Cy")
    contacts = Contacts(parley)
    contacts.ask(ada, bob)
    declined = contacts.answer(bob, ada, "decline")
    assert declined.status_code == 200
    contacts.ask(ada, cy)
    cancelled = contacts.cancel(ada, cy)
    assert cancelled.status_code == 200
    contacts.ask(bob, cy)
    contacts.answer(cy, bob, "accept")
    unfriended = contacts.unfriend(cy, bob)
    assert unfriended.status_code == 200
    for who in (ada, bob, cy):
        assert contacts.of(who, position(unfriended)) == NOBODY


def test_asking_someone_who_asked_you_makes_you_friends(parley: ParleyClient) -> None:
    ada, bob = parley.register("Ada"), parley.register("Bob")
    contacts = Contacts(parley)
    contacts.ask(ada, bob)
    again = contacts.ask(ada, bob)
    assert again.status_code == 200 and again.json()["state"] == "outgoing"
    mutual = contacts.ask(bob, ada)
    assert mutual.json()["state"] == "friend"
    assert contacts.of(ada, position(mutual))["friends"] == [bob.handle]
    assert contacts.ask(ada, bob).status_code == 409


def test_answers_to_requests_that_do_not_exist_are_404(parley: ParleyClient) -> None:
    ada, bob = parley.register("Ada"), parley.register("Bob")
    contacts = Contacts(parley)
    assert contacts.answer(bob, ada, "accept").status_code == 404
    contacts.ask(ada, bob)
    answers = [contacts.answer(ada, bob, "accept").status_code,  # one's own request
               contacts.cancel(bob, ada).status_code,  # someone else's request
               contacts.unfriend(ada, bob).status_code]  # not friends yet
    assert answers == [404, 404, 404]


def test_a_block_ends_the_friendship_and_stops_new_requests(parley: ParleyClient) -> None:
    ada, bob = parley.register("Ada"), parley.register("Bob")
    contacts = Contacts(parley)
    contacts.ask(ada, bob)
    contacts.answer(bob, ada, "accept")
    blocked = contacts.block(ada, bob)
    assert blocked.status_code == 201
    assert contacts.block(ada, bob).status_code == 200
    assert contacts.of(bob, position(blocked)) == NOBODY
    assert contacts.blocked_by(ada, position(blocked)) == [bob.handle]
    refused = contacts.ask(bob, ada)
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    assert contacts.ask(ada, bob).status_code == 403  # the blocker must unblock first
    unblocked = contacts.unblock(ada, bob)
    assert unblocked.status_code == 200
    assert contacts.blocked_by(ada, position(unblocked)) == []
    assert contacts.of(ada, position(unblocked)) == NOBODY  # friendship does not come back
    assert contacts.ask(bob, ada).status_code == 201


def test_bad_contact_input_gets_problem_answers(parley: ParleyClient) -> None:
    ada = parley.register("Ada")
    stranger = Person("6b1f0e1e-0000-4000-8000-000000000000", "nobody", "")
    contacts = Contacts(parley)
    http = parley.http
    answers = {
        "ask oneself": contacts.ask(ada, ada).status_code,
        "ask a stranger": contacts.ask(ada, stranger).status_code,
        "block oneself": contacts.block(ada, ada).status_code,
        "block a stranger": contacts.block(ada, stranger).status_code,
        "unblock someone not blocked": contacts.unblock(ada, stranger).status_code,
        "bad uuid": http.post("/v1/contacts/requests", json={"user_id": "x"},
                              headers=ada.auth).status_code,
        "bad path uuid": http.delete("/v1/contacts/x", headers=ada.auth).status_code,
        "no token": http.get("/v1/contacts").status_code,
    }
    assert answers == {"ask oneself": 422, "ask a stranger": 404, "block oneself": 422,
                       "block a stranger": 404, "unblock someone not blocked": 404,
                       "bad uuid": 422, "bad path uuid": 422, "no token": 401}
