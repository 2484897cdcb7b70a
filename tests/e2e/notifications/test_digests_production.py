"""Digests and dedup keys on the production profile, as real processes (the package's shared
deployment: `parley serve` writing to PostgreSQL, the due-time index in Elasticsearch):
concurrent HTTP triggers land in one digest flushed once into one inbox notification counting
them all; equal dedup keys fired at once send exactly one."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from domain.notifications.notifications import Notification
from event_log.log import EventLog
from parley.assembly import event_log_env
from parley.settings import Settings
from tests.builders import ParleyClient, Person
from tests.e2e.notifications.deployments import Deployment, eventually, issue_key

pytestmark = pytest.mark.services
CONCURRENT = 12
WAIT_SECONDS = 45.0


@pytest.fixture(scope="module")
def production(production_deployment: Deployment) -> Iterator[tuple[httpx.Client, str, EventLog]]:
    running = production_deployment.processes
    log = EventLog(env=event_log_env(Settings(
        database_url=running.env["PARLEY_DATABASE_URL"],
        namespace=running.env["PARLEY_NAMESPACE"], pg_pool_size=2)))
    with httpx.Client(base_url=running.base_url, timeout=60) as http:
        yield http, issue_key(running.env), log
    log.close()


def a_body(person: Person, **extra: Any) -> dict[str, Any]:
    return {"recipients": [person.user_id], "category": "message", "priority": "normal",
            "plan": {"channels": ["in_app"]}, "content": {"title": "Grace", "body": "hi"}} | extra


def fired_at_once(http: httpx.Client, key: str, bodies: list[dict[str, Any]]) -> list[Any]:
    def post(body: dict[str, Any]) -> Any:
        response = http.post("/v1/notifications", json=body,
                             headers={"Authorization": f"Bearer {key}"})
        assert response.status_code == 202, response.text
        return response.json()["notifications"][0]

    with ThreadPoolExecutor(len(bodies)) as pool:
        return list(pool.map(post, bodies))


def test_on_the_production_profile_concurrent_triggers_are_one_digest_sent_once(
        production: tuple[httpx.Client, str, EventLog]) -> None:
    http, key, log = production
    ada = ParleyClient(http).register("Ada")
    digest = {"key": "book-club", "window_seconds": 3,
              "title": "{count} new messages in Book club"}
    made = fired_at_once(http, key, [a_body(ada, digest=digest) for _ in range(CONCURRENT)])
    assert {m["state"] for m in made} == {"digested"}
    intos = {e.into for m in made
             for e in log.repository.event_store.get(uuid.UUID(m["notification_id"]))
             if isinstance(e, Notification.Digested)}
    assert len(intos) == 1

    def inbox() -> list[dict[str, Any]]:
        answer = http.get("/v1/notifications", headers=ada.auth)
        return list(answer.json()["notifications"]) if answer.status_code == 200 else []

    [shown] = eventually(inbox, timeout=WAIT_SECONDS)
    assert shown["title"] == f"{CONCURRENT} new messages in Book club"
    assert shown["data"]["count"] == CONCURRENT
    time.sleep(1.0)  # a second flush would have shown by now
    assert len(inbox()) == 1


def test_on_the_production_profile_equal_dedup_keys_at_once_send_exactly_one(
        production: tuple[httpx.Client, str, EventLog]) -> None:
    http, key, _ = production
    ada = ParleyClient(http).register("Ada")
    body = a_body(ada, dedup_key=f"order-{uuid.uuid4().hex[:8]}")
    made = fired_at_once(http, key, [body] * CONCURRENT)
    assert sum(m["state"] != "suppressed" for m in made) == 1
