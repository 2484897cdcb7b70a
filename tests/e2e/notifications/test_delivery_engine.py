"""The delivery engine end to end on the embedded default, in process: a service triggers
through the API with its key, the engine routes, dispatches through a real provider adapter to
a real local receiver, retries what the receiver refuses for now, dead-letters what it refuses
for good, removes an address the receiver says is gone, and falls back to the next channel."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from domain.notifications.contact_points import ContactPoints, contact_points_id
from tests.builders import Person, now
from tests.e2e.notifications.in_process import (
    WEBHOOKS,
    InProcess,
    embedded,
    eventually,
    in_process,
    webhook_receiver,
)
from tests.providers.webhook_receiver import Answer, WebhookReceiver

FAST_RETRIES = {"notification_retry_base_seconds": 0.05, "notification_retry_cap_seconds": 0.2,
                "notification_timer_every_seconds": 0.05, "notification_max_attempts": 3}


@dataclass
class Engine(InProcess):
    receiver: WebhookReceiver
    receiver_url: str

    def someone_with_a_webhook(self, path: str = "/ok") -> tuple[Person, str]:
        person = self.client.register("Bot Owner")
        point = self.add_webhook(person, self.receiver, self.receiver_url + path)
        return person, str(point)

    def trigger(self, recipient: Person, channels: list[str], **extra: Any) -> dict[str, Any]:
        response = self.http.post("/v1/notifications", headers=self.service, json={
            "recipients": [recipient.user_id], "category": "system", "priority": "high",
            "plan": {"channels": channels, **extra.pop("plan", {})},
            "content": {"title": "Build finished", "body": "All green."}, **extra})
        assert response.status_code == 202, response.text
        body: dict[str, Any] = response.json()
        return body


@pytest.fixture(scope="module")
def receiver() -> Iterator[tuple[WebhookReceiver, str]]:
    with webhook_receiver() as receiving:
        yield receiving


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory,
            receiver: tuple[WebhookReceiver, str]) -> Iterator[Engine]:
    """One engine for the module (each test makes its own recipients and endpoints)."""
    receiving, url = receiver
    settings = embedded(tmp_path_factory.mktemp("engine") / "data", [WEBHOOKS],
                        notification_allow_loopback_http=True, **FAST_RETRIES)
    with in_process(settings, Engine, receiver=receiving, receiver_url=url) as engine:
        yield engine


@pytest.fixture
def engine(running: Engine) -> Engine:
    """The module's engine, its receiver's records of earlier tests forgotten."""
    running.receiver.reset()
    return running


def test_a_triggered_notification_reaches_the_receiver_signed_and_is_delivered(engine):
    person, _ = engine.someone_with_a_webhook()
    [notification] = engine.trigger(person, ["webhook"])["notifications"]
    nid = notification["notification_id"]
    eventually(lambda: engine.state(nid) == "delivered")
    [delivery] = engine.receiver.deliveries
    assert delivery.payload["data"]["notification_id"] == nid
    assert delivery.payload["data"]["title"] == "Build finished"


def test_a_refusal_for_now_is_retried_until_the_receiver_takes_it(engine):
    person, _ = engine.someone_with_a_webhook()
    engine.receiver.answer_next(2, Answer(503, (("retry-after", "0"),)))
    [notification] = engine.trigger(person, ["webhook"])["notifications"]
    nid = notification["notification_id"]
    eventually(lambda: engine.state(nid) == "delivered")
    assert len(engine.receiver.requests) == 3  # two refused, the third taken
    # one message however many attempts: webhook-id is the message key (ADR 0015)
    assert len({r.webhook_id for r in engine.receiver.requests}) == 1
    assert len(engine.receiver.deliveries) == 1


def test_a_receiver_refusing_every_attempt_dead_letters_it_after_the_last(engine):
    person, _ = engine.someone_with_a_webhook("/fail")
    [notification] = engine.trigger(person, ["webhook"])["notifications"]
    nid = notification["notification_id"]
    eventually(lambda: engine.state(nid) == "dead_lettered")
    assert len(engine.receiver.requests_to("/fail")) == FAST_RETRIES["notification_max_attempts"]


def test_an_endpoint_that_is_gone_is_removed_and_the_next_channel_tried(engine):
    person, point = engine.someone_with_a_webhook("/gone")
    [notification] = engine.trigger(person, ["webhook", "in_app"])["notifications"]
    nid = notification["notification_id"]
    eventually(lambda: engine.state(nid) == "dead_lettered")
    book = engine.parley.event_log.repository.get(contact_points_id(uuid.UUID(person.user_id)))
    assert isinstance(book, ContactPoints)
    assert point not in {str(p) for p in book.points}
    inbox = engine.http.get("/v1/notifications", headers=person.auth).json()
    assert [n["notification_id"] for n in inbox["notifications"]] == [nid]


def test_without_an_address_on_the_first_channel_the_next_one_is_used(engine):
    nobody = engine.client.register("No Hooks")
    [notification] = engine.trigger(nobody, ["webhook", "in_app"])["notifications"]
    assert notification["state"] == "delivered"  # no webhook: the inbox had it at once
    assert engine.notification(notification["notification_id"]).channels == []


def test_a_scheduled_notification_waits_and_can_be_cancelled_before_it_goes(engine):
    person, _ = engine.someone_with_a_webhook()
    answer = engine.trigger(person, ["webhook"], cancellation_key="nightly-1",
                            send_at=(now() + timedelta(hours=1)).isoformat())
    [notification] = answer["notifications"]
    assert notification["state"] == "held"
    cancelled = engine.http.delete("/v1/notifications", headers=engine.service,
                                   params={"cancellation_key": "nightly-1"})
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["cancelled"] == [notification["notification_id"]]
    assert engine.state(notification["notification_id"]) == "cancelled"
    assert engine.receiver.requests == []


def test_the_same_idempotency_key_and_body_answers_the_first_request_again(engine):
    person, _ = engine.someone_with_a_webhook()
    body = {"recipients": [person.user_id], "category": "system", "priority": "normal",
            "plan": {"channels": ["webhook"]}, "content": {"body": "once"}}
    headers = engine.service | {"Idempotency-Key": "export-42"}
    first = engine.http.post("/v1/notifications", headers=headers, json=body)
    again = engine.http.post("/v1/notifications", headers=headers, json=body)
    other = engine.http.post("/v1/notifications", headers=headers,
                             json=body | {"content": {"body": "twice"}})
    assert first.status_code == again.status_code == 202
    assert again.json()["request_id"] == first.json()["request_id"]
    assert other.status_code == 409
    eventually(lambda: engine.receiver.deliveries)
    time.sleep(0.3)
    assert len(engine.receiver.deliveries) == 1


def test_the_inbox_pages_newest_first_with_a_cursor(engine):
    person = engine.client.register("Reader")
    answers = [engine.trigger(person, ["in_app"]) for _ in range(3)]
    sent = [a["notifications"][0]["notification_id"] for a in answers]
    first = engine.http.get("/v1/notifications", headers=person.auth, params={
        "limit": 2, "position": answers[-1]["position"]}).json()
    assert [n["notification_id"] for n in first["notifications"]] == sent[:0:-1]
    assert first["unread"] == 3
    rest = engine.http.get("/v1/notifications", headers=person.auth,
                           params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert [n["notification_id"] for n in rest["notifications"]] == sent[:1]
    assert rest["next_cursor"] is None
    bad = engine.http.get("/v1/notifications", headers=person.auth,
                          params={"cursor": "bm90IG91cnM="})
    assert bad.status_code == 400
