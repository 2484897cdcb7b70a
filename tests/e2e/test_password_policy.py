"""New passwords follow the policy (domain/identity/passwords.py): weak ones get 422 naming
the rule.

The policy is the same code on both profiles, so this runs on the embedded one."""

from __future__ import annotations

import pytest

from tests.builders import ParleyClient, a_handle

HANDLE = a_handle("ada")


@pytest.mark.parametrize(("password", "rule"), [
    ("password", "common_password"),
    ("12345678", "trivial_password"),
    ("aaaaaaaa", "trivial_password"),
    ("        ", "trivial_password"),
    (HANDLE + "1", "context_password"),
    ("lovelace1!", "context_password"),
    ("parley2026", "context_password"),
    ("short", "password_length"),
])
def test_a_weak_password_is_refused_at_registration_with_the_rule_it_breaks(
    parley: ParleyClient, password: str, rule: str,
) -> None:
    response = parley.http.post("/v1/users", json={"handle": HANDLE, "name": "Ada Lovelace",
                                                   "password": password})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0] == {
        "field": "password", "type": rule, "message": response.json()["detail"]}


def test_a_long_passphrase_of_plain_words_is_accepted(parley: ParleyClient) -> None:
    response = parley.http.post("/v1/users", json={
        "handle": a_handle(), "name": "Ada Lovelace", "password": "correct horse battery"})
    assert response.status_code == 201, response.text
