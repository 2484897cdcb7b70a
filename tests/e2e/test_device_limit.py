"""A user's devices are capped: a sign-in beyond the cap signs out the least recently used."""

from __future__ import annotations

from typing import Any

import pytest

from tests.builders import ParleyClient, Person, a_handle
from tests.e2e.conftest import PROFILES

pytestmark = [PROFILES, pytest.mark.parley_env(PARLEY_MAX_DEVICES_PER_USER="2")]


def signed_in(parley: ParleyClient, who: Person, device_name: str) -> dict[str, Any]:
    response = parley.http.post("/v1/sessions", json={
        "handle": who.handle, "password": "correct horse battery", "device_name": device_name})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def works(parley: ParleyClient, access_token: str) -> bool:
    me = parley.http.get("/v1/users/me", headers={"Authorization": f"Bearer {access_token}"})
    assert me.status_code in (200, 401), me.text
    return me.status_code == 200


def test_a_sign_in_beyond_the_cap_signs_out_the_least_recently_used_device(
        parley: ParleyClient) -> None:
    registered = parley.http.post("/v1/users", json={
        "handle": a_handle(), "name": "Ada", "password": "correct horse battery"}).json()
    ada = Person(registered["user_id"], registered["handle"], registered["access_token"])
    laptop = signed_in(parley, ada, "laptop")
    renewed = parley.http.post("/v1/sessions/refresh",
                               json={"refresh_token": registered["refresh_token"]})
    assert renewed.status_code == 200, renewed.text  # the first device is now the most recent
    phone = signed_in(parley, ada, "phone")
    assert not works(parley, laptop["access_token"]), "the laptop was least recently used"
    refused = parley.http.post("/v1/sessions/refresh",
                               json={"refresh_token": laptop["refresh_token"]})
    assert refused.status_code == 401
    assert works(parley, renewed.json()["access_token"]) and works(parley, phone["access_token"])
    devices = parley.http.get("/v1/devices", params={"position": phone["position"]},
                              headers={"Authorization": f"Bearer {phone['access_token']}"})
    assert sorted(d["name"] for d in devices.json()["devices"]) == ["phone", "registration"]


def test_a_signed_out_device_frees_its_place(parley: ParleyClient) -> None:
    ada = parley.register("Ada")
    laptop = signed_in(parley, ada, "laptop")
    signed_out = parley.http.delete("/v1/sessions/current", headers=ada.auth)
    assert signed_out.status_code in (200, 202), signed_out.text
    phone = signed_in(parley, ada, "phone")
    assert works(parley, laptop["access_token"]) and works(parley, phone["access_token"])
