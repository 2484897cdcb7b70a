"""Groups over HTTP: roles decide who may do what; membership decides what one sees."""

from __future__ import annotations

from tests.builders import GroupClient, ParleyClient
from tests.e2e.conftest import PROFILES

pytestmark = PROFILES


def test_a_group_is_created_with_its_owner_and_members(parley: ParleyClient) -> None:
    groups = GroupClient(parley)
    ada, bob, cy = parley.register("Ada"), parley.register("Bob"), parley.register("Cy")
    group = groups.create(ada, "Book club", bob, cy)
    sent = parley.sent(bob, group, "hello club")
    members = groups.call("GET", f"/v1/conversations/{group}/members", cy,
                          params={"position": sent["position"]}).json()
    assert {(m["user_id"], m["role"]) for m in members} == {
        (ada.user_id, "owner"), (bob.user_id, "member"), (cy.user_id, "member")}
    listed = groups.call("GET", "/v1/conversations", cy).json()["conversations"]
    assert [(c["title"], c["last_message_preview"]) for c in listed] == [
        ("Book club", "hello club")]


def test_a_removed_member_keeps_what_they_saw_and_sees_nothing_after(
    parley: ParleyClient,
) -> None:
    groups = GroupClient(parley)
    ada, bob = parley.register("Ada"), parley.register("Bob")
    group = groups.create(ada, "Plans", bob)
    parley.sent(ada, group, "before")
    removed = groups.call("DELETE", f"/v1/groups/{group}/members/{bob.user_id}", ada)
    assert removed.status_code == 200
    after = parley.sent(ada, group, "after")
    assert groups.texts(bob, group, after["position"]) == ["before"]
    assert groups.texts(ada, group, after["position"]) == ["after", "before"]
    assert parley.send(bob, group, "let me back").status_code == 404
    found = parley.search(bob, "after", position=after["position"]).json()["messages"]
    assert found == []
    still = parley.search(bob, "before", position=after["position"]).json()["messages"]
    assert [m["text"] for m in still] == ["before"]


def test_roles_decide_who_may_manage_the_group(parley: ParleyClient) -> None:
    groups = GroupClient(parley)
    ada, bob, cy = parley.register("Ada"), parley.register("Bob"), parley.register("Cy")
    group = groups.create(ada, "Team", bob, cy)
    assert groups.call("PATCH", f"/v1/groups/{group}", bob,
                       json={"title": "Mine now"}).status_code == 403
    assert groups.call("PUT", f"/v1/groups/{group}/members/{bob.user_id}/role", ada,
                       json={"role": "admin"}).status_code == 200
    renamed = groups.call("PATCH", f"/v1/groups/{group}", bob, json={"title": "Renamed"})
    assert renamed.status_code == 200 and renamed.json()["title"] == "Renamed"
    assert groups.call("DELETE", f"/v1/groups/{group}/members/{ada.user_id}",
                       bob).status_code == 403
    assert groups.call("POST", f"/v1/groups/{group}/leave", ada).status_code == 403
    handed = groups.call("POST", f"/v1/groups/{group}/owner", ada,
                         json={"user_id": cy.user_id})
    assert handed.status_code == 200 and handed.json()["owner_id"] == cy.user_id
    left = groups.call("POST", f"/v1/groups/{group}/leave", ada)
    assert left.status_code == 200
    view = groups.call("GET", f"/v1/conversations/{group}", cy,
                       params={"position": left.json()["position"]}).json()
    assert view["owner_id"] == cy.user_id and view["title"] == "Renamed"


def test_a_group_is_renamed_and_re_photographed_in_one_change_or_not_at_all(
    parley: ParleyClient,
) -> None:
    groups = GroupClient(parley)
    ada, bob = parley.register("Ada"), parley.register("Bob")
    group = groups.create(ada, "Plans", bob)
    both = groups.call("PATCH", f"/v1/groups/{group}", ada,
                       json={"title": "Trip", "photo_ref": "photos/trip.png"})
    assert both.status_code == 200
    assert (both.json()["title"], both.json()["photo_ref"]) == ("Trip", "photos/trip.png")
    half_bad = groups.call("PATCH", f"/v1/groups/{group}", ada,
                           json={"title": "Never", "photo_ref": "bad\x07ref"})
    assert half_bad.status_code == 422
    assert half_bad.headers["content-type"] == "application/problem+json"
    empty = groups.call("PATCH", f"/v1/groups/{group}", ada, json={})
    assert empty.status_code == 422
    later = parley.sent(ada, group, "see you there")
    listed = groups.call("GET", "/v1/conversations", bob,
                         params={"position": later["position"]}).json()["conversations"]
    assert [(c["title"], c.get("photo_ref")) for c in listed] == [("Trip", "photos/trip.png")]


def test_non_members_and_strangers_learn_nothing_about_a_group(parley: ParleyClient) -> None:
    groups = GroupClient(parley)
    ada, eve = parley.register("Ada"), parley.register("Eve")
    group = groups.create(ada, "Secret")
    for method, url, body in [
        ("GET", f"/v1/conversations/{group}", None),
        ("GET", f"/v1/conversations/{group}/members", None),
        ("PATCH", f"/v1/groups/{group}", {"title": "x"}),
        ("POST", f"/v1/groups/{group}/leave", None),
        ("POST", f"/v1/groups/{group}/members", {"user_ids": [eve.user_id]}),
    ]:
        answer = groups.call(method, url, eve, json=body)
        assert answer.status_code == 404, (method, url, answer.text)


def test_member_settings_are_the_members_own(parley: ParleyClient) -> None:
    groups = GroupClient(parley)
    ada, bob = parley.register("Ada"), parley.register("Bob")
    group = groups.create(ada, "Noisy", bob)
    changed = groups.call("PUT", f"/v1/conversations/{group}/settings", bob, json={
        "muted_until": "2030-01-01T00:00:00Z", "archived": True, "pinned": True})
    assert changed.status_code == 200
    position = changed.json()["position"]
    mine = groups.call("GET", f"/v1/conversations/{group}", bob,
                       params={"position": position}).json()["my_settings"]
    theirs = groups.call("GET", f"/v1/conversations/{group}", ada,
                         params={"position": position}).json()["my_settings"]
    assert (mine["archived"], mine["pinned"], mine["muted_until"][:4]) == (True, True, "2030")
    assert (theirs["archived"], theirs["pinned"], theirs["muted_until"]) == (False, False, None)


def test_a_blocked_person_cannot_reach_the_blocker_anywhere(parley: ParleyClient) -> None:
    groups = GroupClient(parley)
    ada, bob = parley.register("Ada"), parley.register("Bob")
    chat = parley.open_direct(ada, bob)
    blocked = groups.call("POST", "/v1/blocks", ada, json={"user_id": bob.user_id})
    assert blocked.status_code == 201
    answers = {
        "send": parley.send(bob, chat, "hello?").status_code,
        "reply": parley.send(ada, chat, "go away").status_code,
        "open": groups.call("POST", "/v1/conversations/direct", bob,
                            json={"peer_id": ada.user_id}).status_code,
        "add to group": groups.call("POST", "/v1/groups", bob,
                                    json={"title": "Trap", "member_ids": [ada.user_id]}
                                    ).status_code,
    }
    assert answers == {"send": 403, "reply": 403, "open": 403, "add to group": 403}
    unblocked = groups.call("DELETE", f"/v1/blocks/{bob.user_id}", ada)
    assert unblocked.status_code == 200
    assert parley.send(bob, chat, "hello again").status_code == 201
