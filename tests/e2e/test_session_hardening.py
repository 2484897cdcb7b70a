"""What a stolen or forged credential is worth, over HTTP on both profiles: old tokens, reused
refresh tokens, and the device ids that are half of a token (nobody sees anyone else's)."""

from __future__ import annotations

import time
from typing import Any

import httpx
import jwt
import pytest

from parley.launcher import ParleyProcesses
from parley.signing_keys import generate_key
from tests.builders import GroupClient, ParleyClient, Person, a_handle
from tests.e2e.conftest import PROFILES
from tests.e2e.test_sync import live_socket, receive_until, wait_for_changes

pytestmark = PROFILES
SERVER_KEY = generate_key()  # the server's own key, so that only the claims are at fault
PASSWORD = "correct horse battery"
TEN_YEARS = 10 * 365 * 24 * 3600


def registered(parley: ParleyClient) -> dict[str, Any]:
    response = parley.http.post("/v1/users", json={"handle": a_handle(), "name": "Ada",
                                                   "password": PASSWORD})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def signed_in(parley: ParleyClient, handle: str, device_name: str) -> dict[str, Any]:
    response = parley.http.post("/v1/sessions", json={"handle": handle, "password": PASSWORD,
                                                      "device_name": device_name})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def refreshed(parley: ParleyClient, refresh_token: str) -> httpx.Response:
    return parley.http.post("/v1/sessions/refresh", json={"refresh_token": refresh_token})


def problem(response: httpx.Response) -> dict[str, Any]:
    """The answer, without what differs per request."""
    return {k: v for k, v in response.json().items() if k != "request_id"}


def me(parley: ParleyClient, access_token: str) -> int:
    response = parley.http.get("/v1/users/me",
                               headers={"Authorization": f"Bearer {access_token}"})
    return response.status_code


def token_for(grant: dict[str, Any], issued_at: int, expires_at: int) -> str:
    claims = {"sub": grant["user_id"], "did": grant["device_id"], "iat": issued_at,
              "exp": expires_at, "pos": grant["position"]}
    return jwt.encode(claims, SERVER_KEY, algorithm="HS256")


def test_registration_answers_its_bearer_token_once_as_access_token(
        parley: ParleyClient) -> None:
    body = registered(parley)
    assert "token" not in body
    assert me(parley, body["access_token"]) == 200
    documented = parley.http.get("/openapi.json").json()["components"]["schemas"]["Registered"]
    assert "access_token" in documented["properties"] and "token" not in documented["properties"]


@pytest.mark.parley_env(PARLEY_SECRET_KEY=SERVER_KEY)
def test_a_token_older_than_the_access_lifetime_is_refused_whatever_its_expiry_says(
        parley: ParleyClient) -> None:
    grant = registered(parley)
    now = int(time.time())
    assert me(parley, token_for(grant, now, now + 900)) == 200, "signed with the server's key"
    issued_long_ago = token_for(grant, now - 900 - 120, now + TEN_YEARS)
    assert me(parley, issued_long_ago) == 401


def test_reusing_a_rotated_out_refresh_token_revokes_the_device_and_all_its_tokens(
        parley: ParleyClient) -> None:
    ada = registered(parley)
    laptop = signed_in(parley, ada["handle"], "laptop")
    first = refreshed(parley, laptop["refresh_token"])
    assert first.status_code == 200, first.text
    current = first.json()
    assert me(parley, current["access_token"]) == 200

    reused = refreshed(parley, laptop["refresh_token"])  # a thief's copy of the spent token
    assert reused.status_code == 401
    assert problem(reused) == problem(refreshed(parley, "not.a-token.at-all")), "tells nothing"
    assert refreshed(parley, current["refresh_token"]).status_code == 401
    assert me(parley, current["access_token"]) == 401
    assert me(parley, laptop["access_token"]) == 401
    assert me(parley, ada["access_token"]) == 200, "the user's other devices keep working"
    devices = parley.http.get("/v1/devices", headers={
        "Authorization": f"Bearer {ada['access_token']}"}).json()["devices"]
    assert [d["name"] for d in devices] == ["registration"]


def test_an_unknown_refresh_token_for_a_real_device_revokes_nothing(
        parley: ParleyClient) -> None:
    ada = registered(parley)
    made_up = f"{ada['user_id']}.{ada['device_id']}.{generate_key()}"
    assert refreshed(parley, made_up).status_code == 401
    assert refreshed(parley, ada["refresh_token"]).status_code == 200
    assert me(parley, ada["access_token"]) == 200


def delivered(calls: GroupClient, who: Person, chat: str, token: str | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else who.auth
    response = calls.http.post(f"/v1/conversations/{chat}/delivered", headers=headers,
                               json={"up_to_seq": 1})
    assert response.status_code == 200, response.text
    return response.json()


def test_receipts_show_other_peoples_devices_only_as_a_count(parley: ParleyClient) -> None:
    calls = GroupClient(parley)
    ada, bob, cy = parley.register("Ada"), parley.register("Bob"), parley.register("Cy")
    chat = calls.create(ada, "Book club", bob, cy)
    sent = parley.sent(ada, chat, "ping")
    bob_phone = signed_in(parley, bob.handle, "phone")
    bobs = {delivered(calls, bob, chat)["device_id"],
            delivered(calls, bob, chat, bob_phone["access_token"])["device_id"]}
    last = delivered(calls, cy, chat)
    url, position = f"/v1/messages/{sent['message_id']}/receipts", {"position": last["position"]}

    seen_by_ada = calls.call("GET", url, ada, params=position)
    assert {d["user_id"]: (d["device_count"], d["device_ids"])
            for d in seen_by_ada.json()["delivered_to"]} == {bob.user_id: (2, []),
                                                              cy.user_id: (1, [])}
    assert not any(device in seen_by_ada.text for device in bobs | {last["device_id"]})
    seen_by_bob = calls.call("GET", url, bob, params=position).json()["delivered_to"]
    assert {d["user_id"]: d["device_ids"] for d in seen_by_bob} == {
        bob.user_id: sorted(bobs), cy.user_id: []}


def test_the_feed_and_the_live_stream_name_only_the_readers_own_devices(
        parley: ParleyClient, processes: ParleyProcesses) -> None:
    calls = GroupClient(parley)
    ada, bob = parley.register("Ada"), parley.register("Bob")
    chat = parley.open_direct(ada, bob)
    with live_socket(processes, ada) as socket:
        receive_until(socket, lambda f: any(x["type"] == "changes" for x in f))
        parley.sent(ada, chat, "ping")
        bobs_device = delivered(calls, bob, chat)["device_id"]
        frames = receive_until(socket, lambda f: any(
            c["kind"] == "delivered" for x in f if x["type"] == "changes" for c in x["changes"]))
    live = [c for x in frames if x["type"] == "changes" for c in x["changes"]
            if c["kind"] == "delivered"]
    by_ada = [c for c in wait_for_changes(parley, ada, 0, 3) if c["kind"] == "delivered"]
    by_bob = [c for c in wait_for_changes(parley, bob, 0, 3) if c["kind"] == "delivered"]
    for change in (*live, *by_ada):
        assert change["data"] == {"user_id": bob.user_id, "seq": 1}
    assert [c["data"]["device_id"] for c in by_bob] == [bobs_device]
