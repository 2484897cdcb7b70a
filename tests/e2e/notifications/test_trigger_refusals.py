"""Bad triggers are refused with a clear problem+json answer, and nothing is half-written: the
log does not move for a refused trigger."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from parley.assembly import Parley
from parley.bootstrap import build
from tests.builders import ParleyClient, Person, a_cause, an_api_key, embedded_settings, now


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Parley, TestClient]]:
    parley = build(embedded_settings(Path(tmp_path_factory.mktemp("refusals")) / "data"))
    with TestClient(create_app(parley)) as http:
        yield parley, http


@pytest.fixture(scope="module")
def keys(world: tuple[Parley, TestClient]) -> dict[str, str]:
    parley, _ = world
    made = {}
    for name, scopes in (("trigger", ("notifications:trigger",)),
                         ("reader", ("notifications:read",))):
        issue, key = an_api_key(*scopes, name=name)
        parley.writer.execute(issue, a_cause())
        made[name] = key.presented
    return made


@pytest.fixture(scope="module")
def ada(world: tuple[Parley, TestClient]) -> Person:
    return ParleyClient(world[1]).register("Ada")


def body(ada: Person, **changes: Any) -> dict[str, Any]:
    return {"recipients": [ada.user_id], "category": "system", "priority": "normal",
            "plan": {"channels": ["push", "in_app"]},
            "content": {"title": "Hi", "body": "there"}} | changes


def refused(world: tuple[Parley, TestClient], key: str | None, payload: dict[str, Any],
            status: int) -> dict[str, Any]:
    parley, http = world
    head = parley.event_log.recorder.max_notification_id()
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    response = http.post("/v1/notifications", headers=headers, json=payload)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert parley.event_log.recorder.max_notification_id() == head  # nothing written
    answer: dict[str, Any] = response.json()
    return answer


def fields(problem: dict[str, Any]) -> set[str]:
    return {error["field"] for error in problem.get("errors", [])}


def test_no_key_or_a_user_token_is_401(world, ada):
    refused(world, None, body(ada), 401)
    refused(world, ada.token, body(ada), 401)


def test_a_key_without_the_trigger_scope_is_403(world, keys, ada):
    problem = refused(world, keys["reader"], body(ada), 403)
    assert "notifications:trigger" in problem["detail"]


def test_an_unknown_recipient_is_named(world, keys, ada):
    stranger = str(uuid.uuid4())
    problem = refused(world, keys["trigger"], body(ada, recipients=[ada.user_id, stranger]),
                      422)
    assert fields(problem) == {"recipients[1]"}


def test_a_category_the_deployment_does_not_define(world, keys, ada):
    problem = refused(world, keys["trigger"], body(ada, category="lottery_win"), 422)
    assert fields(problem) == {"category"}


def test_a_channel_or_priority_that_does_not_exist(world, keys, ada):
    refused(world, keys["trigger"], body(ada, plan={"channels": ["pigeon"]}), 422)
    refused(world, keys["trigger"], body(ada, priority="urgent"), 422)
    refused(world, keys["trigger"], body(ada, plan={"channels": []}), 422)


def test_content_beyond_what_a_channel_of_the_plan_carries(world, keys, ada):
    big = {"title": "Hi", "body": "x" * 5000}
    problem = refused(world, keys["trigger"], body(ada, content=big), 422)
    assert "push" in problem["detail"] or "payload" in problem["detail"]
    long_sms = {"title": "", "body": "ж" * 700}  # UCS-2: 11 segments
    refused(world, keys["trigger"], body(ada, plan={"channels": ["sms"]}, content=long_sms), 422)


def test_a_send_at_in_the_past_or_too_far_ahead(world, keys, ada):
    past = (now() - timedelta(hours=1)).isoformat()
    ahead = (now() + timedelta(days=31)).isoformat()
    assert fields(refused(world, keys["trigger"], body(ada, send_at=past), 422)) == {"send_at"}
    assert fields(refused(world, keys["trigger"], body(ada, send_at=ahead), 422)) == {"send_at"}


def test_too_many_recipients_or_none(world, keys, ada):
    refused(world, keys["trigger"], body(ada, recipients=[]), 422)
    many = [str(uuid.uuid4()) for _ in range(1001)]
    refused(world, keys["trigger"], body(ada, recipients=many), 422)


def test_unknown_fields_and_malformed_links_are_refused(world, keys, ada):
    refused(world, keys["trigger"], body(ada, sound="loud"), 422)
    refused(world, keys["trigger"], body(ada, content={"body": "x",
                                                       "deep_link": "not a link"}), 422)


def test_a_good_trigger_after_all_that_is_accepted(world, keys, ada):
    _, http = world
    response = http.post("/v1/notifications", headers={
        "Authorization": f"Bearer {keys['trigger']}"}, json=body(ada))
    assert response.status_code == 202, response.text
