"""Group invitations: contacts join a group at once; anyone else is invited and must accept."""

from __future__ import annotations

import pytest

from tests.builders import GroupClient, ParleyClient, Person
from tests.e2e.conftest import PROFILES

pytestmark = PROFILES


def create(calls: GroupClient, owner: Person, *members: Person) -> dict[str, object]:
    created = calls.call("POST", "/v1/groups", owner, json={
        "title": "Book club", "member_ids": [m.user_id for m in members]})
    assert created.status_code == 201, created.text
    body: dict[str, object] = created.json()
    return body


def pending(calls: GroupClient, who: Person, position: object) -> list[dict[str, object]]:
    listed = calls.call("GET", "/v1/groups/invitations", who, params={"position": position})
    assert listed.status_code == 200, listed.text
    invitations: list[dict[str, object]] = listed.json()["invitations"]
    return invitations


def test_a_non_contact_is_invited_sees_nothing_and_joins_on_accepting(
        parley: ParleyClient) -> None:
    calls = GroupClient(parley)
    ada, bob, eve = parley.register("Ada"), parley.register("Bob"), parley.register("Eve")
    parley.befriend(ada, bob)
    group = create(calls, ada, bob, eve)
    gid = group["conversation_id"]
    assert sorted(group["member_ids"]) == sorted([ada.user_id, bob.user_id])  # type: ignore[type-var]
    assert group["invited_ids"] == [eve.user_id]
    before = parley.sent(ada, str(gid), "before Eve joins")

    [invitation] = pending(calls, eve, before["position"])
    assert invitation["conversation_id"] == gid and invitation["inviter_id"] == ada.user_id
    assert invitation["title"] == "Book club"
    nothing = calls.call("GET", f"/v1/conversations/{gid}/messages", eve)
    assert nothing.status_code == 404, "nothing of the group before accepting"
    assert parley.send(eve, str(gid), "hi").status_code == 404

    accepted = calls.call("POST", f"/v1/groups/{gid}/invitations/accept", eve)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["accepted"] is True
    assert pending(calls, eve, accepted.json()["position"]) == []
    after = parley.sent(ada, str(gid), "welcome Eve")
    assert calls.texts(eve, str(gid), after["position"]) == ["welcome Eve"]
    members = calls.call("GET", f"/v1/conversations/{gid}/members", eve,
                         params={"position": after["position"]})
    assert eve.user_id in {m["user_id"] for m in members.json()}


def test_a_declined_invitation_is_gone_and_the_group_stays_hidden(parley: ParleyClient) -> None:
    calls = GroupClient(parley)
    ada, eve = parley.register("Ada"), parley.register("Eve")
    gid = create(calls, ada)["conversation_id"]
    added = calls.call("POST", f"/v1/groups/{gid}/members", ada, json={"user_ids": [eve.user_id]})
    assert added.status_code == 200 and added.json()["invited_ids"] == [eve.user_id]
    assert eve.user_id not in added.json()["member_ids"]
    declined = calls.call("POST", f"/v1/groups/{gid}/invitations/decline", eve)
    assert declined.status_code == 200 and declined.json()["accepted"] is False
    assert pending(calls, eve, declined.json()["position"]) == []
    again = calls.call("POST", f"/v1/groups/{gid}/invitations/accept", eve)
    assert again.status_code == 404, "answered already"
    assert calls.call("GET", f"/v1/conversations/{gid}", eve).status_code == 404


def test_only_an_invitee_answers_and_others_get_the_answer_for_a_random_id(
        parley: ParleyClient) -> None:
    calls = GroupClient(parley)
    ada, bob, eve = parley.register("Ada"), parley.register("Bob"), parley.register("Eve")
    gid = calls.create(ada, "Team", bob)
    random_id = "0b7d1c52-9e3f-4a48-b6c1-2d8e4f7a9c30"
    for verb in ("accept", "decline"):
        outsider = calls.call("POST", f"/v1/groups/{gid}/invitations/{verb}", eve)
        member = calls.call("POST", f"/v1/groups/{gid}/invitations/{verb}", bob)
        missing = calls.call("POST", f"/v1/groups/{random_id}/invitations/{verb}", eve)
        assert outsider.status_code == member.status_code == missing.status_code == 404
        assert outsider.json() | {"request_id": ""} == missing.json() | {"request_id": ""}
    unauthenticated = parley.http.get("/v1/groups/invitations")
    assert unauthenticated.status_code == 401
    assert unauthenticated.headers["content-type"] == "application/problem+json"


@pytest.mark.parley_env(PARLEY_MAX_PENDING_GROUP_INVITATIONS="2")
def test_a_person_has_at_most_the_configured_pending_invitations(parley: ParleyClient) -> None:
    calls = GroupClient(parley)
    ada, eve = parley.register("Ada"), parley.register("Eve")
    first = create(calls, ada, eve)
    create(calls, ada, eve)
    refused = calls.call("POST", "/v1/groups", ada, json={
        "title": "Third", "member_ids": [eve.user_id]})
    assert refused.status_code == 409, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    answered = calls.call("POST", f"/v1/groups/{first['conversation_id']}/invitations/decline",
                          eve)
    assert answered.status_code == 200
    assert calls.call("POST", "/v1/groups", ada, json={
        "title": "Third", "member_ids": [eve.user_id]}).status_code == 201
