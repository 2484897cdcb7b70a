"""The text policy over HTTP: spoofing refused with a 422 that names the field, real writing
accepted, staff-like handles reserved, references only opaque keys or http(s) URLs."""

from __future__ import annotations

import httpx

from tests.builders import GroupClient, ParleyClient, a_handle


def refused(response: httpx.Response, field: str) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in response.json()["errors"]] == [field]


def test_names_messages_handles_and_references_follow_the_text_policy(
    parley: ParleyClient,
) -> None:
    persian = parley.register("\u0645\u06cc\u200c\u0631\u0648\u0645")  # with a ZWNJ
    coder = parley.register("Ada \U0001f469\u200d\U0001f4bb")
    assert parley.http.get("/v1/users/me", headers=coder.auth).json()["name"] == \
        "Ada \U0001f469\u200d\U0001f4bb"
    for handle in ("admin", "support", "parley_help", "security_team"):
        refused(parley.http.post("/v1/users", json={
            "handle": handle, "name": "Mallory", "password": "a long unguessable phrase"}),
            "handle")
    refused(parley.http.post("/v1/users", json={
        "handle": a_handle(), "name": "Mallory\u202e", "password": "a long unguessable phrase"}),
        "name")

    chat = parley.open_direct(persian, coder)
    refused(parley.send(coder, chat, "invoice\u202efdp.exe"), "text")
    refused(parley.send(coder, chat, "z" + "\u0301" * 30), "text")
    assert parley.send(coder, chat, "\u2764\ufe0f\u200d\U0001f525").status_code == 201

    for reference in ("javascript:alert(document.cookie)", "data:text/html,<script>"):
        refused(parley.http.patch("/v1/users/me", json={"avatar": reference},
                                  headers=coder.auth), "avatar")
        group = GroupClient(parley).create(coder, "Club", persian)
        refused(parley.http.patch(f"/v1/groups/{group}", json={"photo_ref": reference},
                                  headers=coder.auth), "photo_ref")
    assert parley.http.patch("/v1/users/me", json={"avatar": "https://cdn.example/ada.png"},
                             headers=coder.auth).status_code == 200
