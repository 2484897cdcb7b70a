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


def test_a_message_is_at_most_4096_bytes_and_its_raw_text_at_most_4096_characters(
    parley: ParleyClient,
) -> None:
    ada, bob = parley.register("Ada"), parley.register("Bob")
    chat = parley.open_direct(ada, bob)

    def errors(text: str) -> list[tuple[str, str, str]]:
        response = parley.send(ada, chat, text)
        assert response.status_code == 422, response.text
        return [(e["field"], e["type"], e["message"]) for e in response.json()["errors"]]

    assert parley.send(ada, chat, "😀" * 1024).status_code == 201  # 1024 characters, 4096 bytes
    # the rule: 4096 bytes of UTF-8, counted after NFC normalisation (the domain)
    assert errors("é" * 2049) == [("text", "rule", "a message is at most 4096 bytes of UTF-8")]
    assert errors("😀" * 1025) == [("text", "rule", "a message is at most 4096 bytes of UTF-8")]
    # the schema states the same number in its own unit, characters of the raw text: a longer
    # text is refused before the domain, even one that NFC would compose back under 4096 bytes
    too_long = [("text", "string_too_long", "String should have at most 4096 characters")]
    assert errors("x" * 4097) == too_long
    assert errors("a\u0308\u0304" * 1366) == too_long  # 4098 characters, 2732 bytes as NFC
