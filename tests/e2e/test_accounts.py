"""Accounts over HTTP, on both profiles: passwords, sessions, devices and profiles."""

from __future__ import annotations

import json
from typing import Any

import httpx
import jwt
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.builders import ParleyClient, Person, a_handle
from tests.e2e.conftest import PROFILES

pytestmark = PROFILES
PASSWORD = "correct horse battery"


def sign_in(parley: ParleyClient, handle: str, password: str = PASSWORD,
            device_name: str = "Ada's laptop") -> httpx.Response:
    return parley.http.post("/v1/sessions", json={"handle": handle, "password": password,
                                                  "device_name": device_name})


def signed_in(parley: ParleyClient, handle: str, device_name: str = "laptop") -> dict[str, Any]:
    response = sign_in(parley, handle, device_name=device_name)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def same_answer(response: httpx.Response) -> dict[str, Any]:
    """A problem body without its request id, which differs on every request."""
    return {k: v for k, v in response.json().items() if k != "request_id"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_registration_answers_tokens_and_a_device(parley: ParleyClient) -> None:
    response = parley.http.post("/v1/users", json={"handle": a_handle(), "name": "Ada",
                                                   "password": PASSWORD})
    assert response.status_code == 201
    body = response.json()
    assert body["access_token"] and body["token_type"] == "Bearer" and "token" not in body
    assert body["refresh_token"] and body["device_id"] and 0 < body["expires_in"] <= 3600
    assert "password" not in response.text and "argon2" not in response.text


def test_signing_in_with_the_right_password_opens_a_new_device(parley: ParleyClient) -> None:
    ada = parley.register("Ada")
    grant = signed_in(parley, ada.handle, "phone")
    assert grant["user_id"] == ada.user_id
    devices = parley.http.get("/v1/devices", params={"position": grant["position"]},
                              headers=bearer(grant["access_token"])).json()["devices"]
    assert sorted(d["name"] for d in devices) == ["phone", "registration"]
    assert [d["current"] for d in devices if d["name"] == "phone"] == [True]


def test_a_wrong_password_and_an_unknown_handle_get_the_same_401(parley: ParleyClient) -> None:
    ada = parley.register("Ada")
    wrong = sign_in(parley, ada.handle, "not the password")
    unknown = sign_in(parley, a_handle())
    malformed = sign_in(parley, "no such handle!")
    assert wrong.status_code == unknown.status_code == malformed.status_code == 401
    assert same_answer(wrong) == same_answer(unknown) == same_answer(malformed)
    assert wrong.headers["content-type"] == "application/problem+json"


def test_a_refresh_token_works_once_and_gives_working_tokens(parley: ParleyClient) -> None:
    ada = parley.register("Ada")
    grant = signed_in(parley, ada.handle)
    first = parley.http.post("/v1/sessions/refresh", json={"refresh_token": grant["refresh_token"]})
    assert first.status_code == 200, first.text
    renewed = first.json()
    assert renewed["device_id"] == grant["device_id"]
    assert renewed["refresh_token"] != grant["refresh_token"]
    me = parley.http.get("/v1/users/me", headers=bearer(renewed["access_token"]))
    assert me.status_code == 200 and me.json()["user_id"] == ada.user_id
    # presenting the spent one again: 401, and the device is revoked (test_session_hardening)
    again = parley.http.post("/v1/sessions/refresh", json={"refresh_token": grant["refresh_token"]})
    assert again.status_code == 401


def test_signing_out_stops_that_device_and_nothing_else(parley: ParleyClient) -> None:
    ada = parley.register("Ada")
    laptop = signed_in(parley, ada.handle, "laptop")
    signed_out = parley.http.delete("/v1/sessions/current", headers=bearer(laptop["access_token"]))
    assert signed_out.status_code == 200, signed_out.text
    assert parley.http.get("/v1/users/me", headers=bearer(laptop["access_token"])).status_code \
        == 401
    refreshed = parley.http.post("/v1/sessions/refresh",
                                 json={"refresh_token": laptop["refresh_token"]})
    assert refreshed.status_code == 401
    assert parley.http.get("/v1/users/me", headers=ada.auth).status_code == 200


def test_a_revoked_device_is_refused_at_once_and_no_longer_listed(parley: ParleyClient) -> None:
    ada = parley.register("Ada")
    phone = signed_in(parley, ada.handle, "phone")
    revoked = parley.http.delete(f"/v1/devices/{phone['device_id']}", headers=ada.auth)
    assert revoked.status_code == 200, revoked.text
    assert parley.http.get("/v1/devices", headers=bearer(phone["access_token"])).status_code \
        == 401
    listed = parley.http.get("/v1/devices", headers=ada.auth,
                             params={"position": revoked.json()["position"]}).json()["devices"]
    assert [d["name"] for d in listed] == ["registration"]


def test_nobody_revokes_someone_elses_device(parley: ParleyClient) -> None:
    ada, eve = parley.register("Ada"), parley.register("Eve")
    phone = signed_in(parley, ada.handle, "phone")
    answer = parley.http.delete(f"/v1/devices/{phone['device_id']}", headers=eve.auth)
    assert answer.status_code == 404
    assert parley.http.get("/v1/users/me", headers=bearer(phone["access_token"])).status_code \
        == 200


def test_a_keyed_registration_retry_signs_in_again(parley: ParleyClient) -> None:
    body = {"handle": a_handle(), "name": "Ada", "password": PASSWORD}
    key = {"Idempotency-Key": "register-once"}
    first = parley.http.post("/v1/users", json=body, headers=key)
    again = parley.http.post("/v1/users", json=body, headers=key)
    assert first.status_code == again.status_code == 201
    assert first.json()["user_id"] == again.json()["user_id"]
    assert parley.http.get("/v1/users/me",
                           headers=bearer(again.json()["access_token"])).status_code == 200
    impostor = parley.http.post("/v1/users", json=body | {"password": "a different one"},
                                headers=key)
    assert impostor.status_code == 401


def test_a_profile_changes_and_is_seen_by_others(parley: ParleyClient) -> None:
    ada, bob = parley.register("Ada"), parley.register("Bob")
    changed = parley.http.patch("/v1/users/me", json={"name": "Ada King",
                                                      "avatar": "blobs/ada-1"},
                                headers=ada.auth)
    assert changed.status_code == 200, changed.text
    seen = parley.http.get(f"/v1/users/{ada.user_id}", headers=bob.auth,
                           params={"position": changed.json()["position"]}).json()
    assert (seen["name"], seen["avatar"], seen["handle"]) == ("Ada King", "blobs/ada-1",
                                                               ada.handle)
    cleared = parley.http.patch("/v1/users/me", json={"avatar": None}, headers=ada.auth)
    seen = parley.http.get("/v1/users/me", headers=ada.auth,
                           params={"position": cleared.json()["position"]}).json()
    assert (seen["name"], seen["avatar"]) == ("Ada King", None)


def test_people_are_found_by_handle_prefix_or_name_words(parley: ParleyClient) -> None:
    stem = a_handle("zq")
    ada = parley.register("Ada Lovelace", handle=f"{stem}_ada")
    parley.register("Charles Babbage", handle=f"{stem}_charles")
    last = parley.register("Grace Hopper")
    changed = parley.http.patch("/v1/users/me", json={"name": "Grace Brewster Hopper"},
                                headers=last.auth)

    def found(q: str) -> list[str]:
        response = parley.http.get("/v1/users", headers=ada.auth,
                                   params={"q": q, "position": changed.json()["position"]})
        assert response.status_code == 200, response.text
        return [u["handle"] for u in response.json()["users"]]

    assert found(f"@{stem}") == [f"{stem}_ada", f"{stem}_charles"]
    assert found(f"{stem}_c") == [f"{stem}_charles"]
    assert last.handle in found("brewster hopper")
    assert found(f"{stem}x") == []


def test_bad_account_input_gets_problem_answers(parley: ParleyClient) -> None:
    ada = parley.register("Ada")
    http = parley.http
    answers = {
        "short password": http.post("/v1/users", json={"handle": a_handle(), "name": "A",
                                                       "password": "short"}).status_code,
        "no password": http.post("/v1/users", json={"handle": a_handle(),
                                                    "name": "A"}).status_code,
        "long password": http.post("/v1/users", json={"handle": a_handle(), "name": "A",
                                                      "password": "x" * 129}).status_code,
        "no device name": http.post("/v1/sessions", json={"handle": ada.handle,
                                                          "password": PASSWORD}).status_code,
        "garbage refresh": http.post("/v1/sessions/refresh",
                                     json={"refresh_token": "nope"}).status_code,
        "empty profile change": http.patch("/v1/users/me", json={},
                                           headers=ada.auth).status_code,
        "null name": http.patch("/v1/users/me", json={"name": None},
                                headers=ada.auth).status_code,
        "long avatar": http.patch("/v1/users/me", json={"avatar": "x" * 257},
                                  headers=ada.auth).status_code,
        "control chars in avatar": http.patch("/v1/users/me", json={"avatar": "a\x07"},
                                              headers=ada.auth).status_code,
        "bad device id": http.delete("/v1/devices/not-a-uuid", headers=ada.auth).status_code,
        "unknown device": http.delete("/v1/devices/6b1f0e1e-0000-4000-8000-000000000000",
                                      headers=ada.auth).status_code,
        "empty search": http.get("/v1/users", params={"q": ""}, headers=ada.auth).status_code,
        "search without a token": http.get("/v1/users", params={"q": "ada"}).status_code,
    }
    assert answers == {"short password": 422, "no password": 422, "long password": 422,
                       "no device name": 422, "garbage refresh": 401,
                       "empty profile change": 422, "null name": 422, "long avatar": 422,
                       "control chars in avatar": 422, "bad device id": 422,
                       "unknown device": 404, "empty search": 422,
                       "search without a token": 401}


def test_an_access_token_without_a_device_is_refused(parley: ParleyClient) -> None:
    claims = {"sub": parley.register().user_id, "exp": 2**40}
    forged = jwt.encode(claims, "a guessed secret, long enough for HS256 not to warn")
    assert parley.http.get("/v1/users/me", headers=bearer(forged)).status_code == 401


ROUTES = [("POST", "/v1/users"), ("POST", "/v1/sessions"), ("POST", "/v1/sessions/refresh"),
          ("PATCH", "/v1/users/me"), ("POST", "/v1/contacts/requests"), ("POST", "/v1/blocks")]
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
ACCOUNT_BODIES = JSON_VALUES | st.fixed_dictionaries(
    {"handle": st.text(max_size=40), "password": st.text(max_size=140),
     "device_name": st.text(max_size=70), "name": st.text(max_size=90)}
) | st.fixed_dictionaries({"refresh_token": st.text(max_size=300)}) | st.fixed_dictionaries(
    {"avatar": st.none() | st.text(max_size=300), "name": st.none() | st.text(max_size=90)}
) | st.fixed_dictionaries({"user_id": st.uuids().map(str) | st.text(max_size=40)})


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=ACCOUNT_BODIES, route=st.sampled_from(ROUTES))
def test_random_account_and_contact_bodies_get_4xx_or_success(
    parley: ParleyClient, body: object, route: tuple[str, str]
) -> None:
    ada: Person | None = getattr(test_random_account_and_contact_bodies_get_4xx_or_success,
                                 "ada", None)
    if ada is None:
        ada = parley.register("Ada")
        test_random_account_and_contact_bodies_get_4xx_or_success.ada = ada  # type: ignore[attr-defined]
    method, path = route
    response = parley.http.request(method, path, content=json.dumps(body),
                                   headers=ada.auth | {"content-type": "application/json"})
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.headers["content-type"] == "application/problem+json"
