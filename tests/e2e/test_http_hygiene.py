"""HTTP itself: headers on every answer, request ids, methods, body limits, odd queries and
cursors, and outages answered as ordinary 503s on a connection that stays open."""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Iterator

from tests.builders import ParleyClient, Person, in_chunks
from tests.e2e.conftest import PROFILES

HUGE = 2**70  # beyond any 64-bit integer a store can compare with


def a_cursor(*after: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(after)).encode()).decode().rstrip("=")


def a_conversation_with_a_message(parley: ParleyClient) -> tuple[Person, str, int]:
    ada, bob = parley.register("Ada"), parley.register("Bob")
    conversation = parley.open_direct(ada, bob)
    position = int(str(parley.sent(ada, conversation, "hello there")["position"]))
    return ada, conversation, position


def test_every_answer_says_nosniff_and_no_store_and_not_which_server(
        parley: ParleyClient) -> None:
    ada = parley.register("Ada")
    answers = {
        "registration (carries tokens)": parley.http.post("/v1/users", json={
            "handle": f"h{uuid.uuid4().hex[:10]}", "name": "Hal",
            "password": "correct horse battery"}),
        "a query": parley.http.get("/v1/users/me", headers=ada.auth),
        "a problem": parley.http.get("/v1/users/me"),
        "not found": parley.http.get("/v1/nowhere"),
        "the spec": parley.http.get("/openapi.json"),
        "health": parley.http.get("/health"),
    }
    for what, response in answers.items():
        assert response.headers.get("x-content-type-options") == "nosniff", what
        assert response.headers.get("cache-control") == "no-store", what
        assert "server" not in response.headers, what


def test_docs_load_only_local_assets_under_a_content_security_policy(
        parley: ParleyClient) -> None:
    page = parley.http.get("/docs")
    assert page.status_code == 200
    assert "https://" not in page.text and "http://" not in page.text
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src 'self' 'sha256-" in policy
    for asset in re.findall(r'(?:src|href)="([^"]+)"', page.text):
        assert asset.startswith("/docs/assets/"), asset
        assert parley.http.get(asset).status_code == 200, asset


def test_the_request_id_is_echoed_kept_and_named_in_problems(parley: ParleyClient) -> None:
    mine = str(uuid.uuid4())
    kept = parley.http.get("/v1/users/me", headers={"X-Request-Id": mine})
    assert kept.status_code == 401
    assert kept.headers["x-request-id"] == mine and kept.json()["request_id"] == mine

    made = parley.http.get("/health")
    assert uuid.UUID(made.headers["x-request-id"])

    for malformed in ("not-a-uuid", "1234", "' OR 1=1"):
        refused = parley.http.get("/health", headers={"X-Request-Id": malformed})
        assert refused.status_code == 400, malformed
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["request_id"] == refused.headers["x-request-id"] != malformed


def test_a_command_records_the_request_id_as_its_correlation(parley: ParleyClient) -> None:
    ada, conversation, _ = a_conversation_with_a_message(parley)
    mine = str(uuid.uuid4())
    sent = parley.http.post(f"/v1/conversations/{conversation}/messages", json={"text": "hi"},
                            headers=ada.auth | {"X-Request-Id": mine})
    assert sent.status_code == 201 and sent.headers["x-request-id"] == mine
    spec = parley.http.get("/openapi.json").json()
    operation = spec["paths"]["/v1/conversations/{conversation_id}/messages"]["post"]
    assert any(p["name"] == "X-Request-Id" for p in operation["parameters"])
    assert "X-Request-Id" in operation["responses"]["201"]["headers"]


def test_a_wrong_method_answers_405_allowing_every_method_of_the_path(
        parley: ParleyClient) -> None:
    ada = parley.register("Ada")
    cases = {
        ("PUT", "/v1/users/me"): "GET, HEAD, PATCH",
        ("DELETE", "/v1/users"): "GET, HEAD, POST",
        ("POST", f"/v1/messages/{uuid.uuid4()}"): "DELETE, GET, HEAD, PATCH",
        # a literal path that a templated one would otherwise claim (and answer 422)
        ("GET", "/v1/conversations/direct"): "POST",
        ("DELETE", "/v1/contacts/requests"): "POST",
    }
    for (method, path), allowed in cases.items():
        response = parley.http.request(method, path, headers=ada.auth)
        assert response.status_code == 405, (method, path, response.text)
        assert response.headers["allow"] == allowed, (method, path)
        assert response.headers["content-type"] == "application/problem+json"
        anonymous = parley.http.request(method, path)  # the method is wrong before who asks
        assert anonymous.status_code == 405, (method, path, anonymous.text)


def test_a_chunked_body_over_the_limit_answers_413(parley: ParleyClient) -> None:
    ada = parley.register("Ada")
    oversized = json.dumps({"text": "x" * 200_000}).encode()  # the limit is 64 KiB

    def chunks() -> Iterator[bytes]:
        yield from in_chunks(oversized, 4096)

    response = parley.http.post("/v1/conversations/direct", content=chunks(),
                                headers=ada.auth | {"content-type": "application/json"})
    assert response.status_code == 413, response.text
    assert response.json()["title"] == "Body too large"


@PROFILES
def test_a_search_with_no_word_in_it_finds_nothing_instead_of_failing(
        parley: ParleyClient) -> None:
    ada, _, position = a_conversation_with_a_message(parley)
    for blank in ("   ", "\u00a0", "\u3000", "\x00", " \x00 ", "hello\x00"):
        messages = parley.http.get("/v1/search/messages",
                                   params={"q": blank, "position": position}, headers=ada.auth)
        assert messages.status_code == 200, (blank, messages.text)
        if blank.strip(" \x00\u00a0\u3000") == "":
            assert messages.json()["messages"] == [], blank
        users = parley.http.get("/v1/users", params={"q": blank}, headers=ada.auth)
        assert users.status_code == 200, (blank, users.text)
    found = parley.http.get("/v1/search/messages",
                            params={"q": "hello\x00there", "position": position},
                            headers=ada.auth)
    assert [m["text"] for m in found.json()["messages"]] == ["hello there"]


@PROFILES
def test_a_cursor_beyond_64_bits_is_refused_as_a_bad_cursor(parley: ParleyClient) -> None:
    ada, conversation, position = a_conversation_with_a_message(parley)
    for cursor in (a_cursor(HUGE, "x"), a_cursor(-HUGE, "x"), a_cursor(1, "\ud800")):
        for path, params in ((f"/v1/conversations/{conversation}/messages", {}),
                             ("/v1/search/messages", {"q": "hello"}),
                             ("/v1/conversations", {})):
            response = parley.http.get(
                path, params=params | {"cursor": cursor, "position": position},
                headers=ada.auth)
            assert response.status_code == 400, (path, cursor, response.text)
            assert response.json()["title"] == "Bad cursor"


def test_openapi_states_the_rules_the_server_enforces(parley: ParleyClient) -> None:
    spec = parley.http.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    registration = schemas["Registration"]["properties"]
    assert registration["password"]["minLength"] == 8
    assert registration["password"]["maxLength"] == 128
    assert registration["handle"]["pattern"]
    assert schemas["ProfileChange"]["minProperties"] == 1
    assert schemas["ChangeGroupRequest"]["minProperties"] == 1
    send = spec["paths"]["/v1/conversations/{conversation_id}/messages"]["post"]
    key = next(p for p in send["parameters"] if p["name"] == "Idempotency-Key")
    assert "pattern" in json.dumps(key["schema"])
    assert {"400", "413", "415"} <= set(send["responses"])


def test_a_handle_the_schema_refuses_is_refused(parley: ParleyClient) -> None:
    for handle in ("ad a", "ada!", "\u212aelvin", "ab"):  # U+212A lowercases to "k"
        response = parley.http.post("/v1/users", json={
            "handle": handle, "name": "Ada", "password": "correct horse battery"})
        assert response.status_code == 422, (handle, response.text)

