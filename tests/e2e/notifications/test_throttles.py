"""Throttles end to end on the embedded default, in process: a service triggers through the API
more than a recipient's attention budget allows; what is over it is Throttled at dispatch,
held by the durable timer and released when the budget has a token again, and delivered to
a real local webhook receiver then. Its trace says the bucket's state. A critical category is
never held by the budget, and Parley's own chat pushes spend the same budget."""

from __future__ import annotations

import functools
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from domain.notifications.notifications import Notification
from domain.notifications.throttles import HOLD, RECIPIENT, THROTTLED
from tests.builders import Person
from tests.e2e.notifications import in_process as harness
from tests.e2e.notifications.in_process import (
    WEBHOOKS,
    InProcess,
    embedded,
    fcm_provider,
    in_process,
    webhook_receiver,
)
from tests.e2e.notifications.test_parley_notifications import registered_phone
from tests.providers.fcm import FcmStandIn
from tests.providers.webhook_receiver import WebhookReceiver

BUDGET, PERIOD_SECONDS = 2, 3.0  # a token every 1.5 s once spent
WAIT_SECONDS = 20.0
eventually = functools.partial(harness.eventually, timeout=WAIT_SECONDS)


@dataclass
class Engine(InProcess):
    receiver: WebhookReceiver
    receiver_url: str
    fcm: FcmStandIn

    def someone_with_a_webhook(self) -> Person:
        person = self.client.register("Busy Person")
        self.add_webhook(person, self.receiver, self.receiver_url + "/ok")
        return person

    def trigger(self, recipient: Person, category: str = "system") -> str:
        response = self.http.post("/v1/notifications", headers=self.service, json={
            "recipients": [recipient.user_id], "category": category, "priority": "normal",
            "plan": {"channels": ["webhook"]},
            "content": {"title": "Build finished", "body": "All green."}})
        assert response.status_code == 202, response.text
        return str(response.json()["notifications"][0]["notification_id"])

    def received_at(self, notification_id: str) -> float | None:
        for delivery in self.receiver.deliveries:
            if delivery.payload["data"]["notification_id"] == notification_id:
                return time.time()
        return None


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory, fcm: FcmStandIn) -> Iterator[Engine]:
    with webhook_receiver() as (receiving, url):
        settings = embedded(
            tmp_path_factory.mktemp("throttles") / "data", [WEBHOOKS, fcm_provider(fcm)],
            notification_allow_loopback_http=True, notification_timer_every_seconds=0.05,
            notification_recipient_limit=BUDGET,
            notification_recipient_period_seconds=PERIOD_SECONDS)
        with in_process(settings, Engine, receiver=receiving, receiver_url=url,
                        fcm=fcm) as running:
            yield running


def throttled_events(engine: Engine, notification_id: str) -> list[Any]:
    return [e for e in engine.events(notification_id) if isinstance(e, Notification.Throttled)]


def test_a_recipient_over_budget_is_throttled_held_and_released_when_a_token_comes(engine):
    person = engine.someone_with_a_webhook()
    first = [engine.trigger(person) for _ in range(BUDGET)]
    for nid in first:
        eventually(lambda nid=nid: engine.state(nid) == "delivered")
    over = engine.trigger(person)
    [throttled] = eventually(lambda: throttled_events(engine, over))
    assert (throttled.bucket, throttled.policy, throttled.channel) == (RECIPIENT, HOLD, "webhook")
    assert throttled.capacity == BUDGET
    assert throttled.refill_per_second == pytest.approx(BUDGET / PERIOD_SECONDS)
    assert 0 <= throttled.tokens < 1
    held = [e for e in engine.events(over) if isinstance(e, Notification.Held)]
    assert [(h.reason, h.until) for h in held] == [(THROTTLED, throttled.until)]
    assert engine.received_at(over) is None  # not sent while held

    eventually(lambda: engine.state(over) == "delivered")
    dispatched = [e for e in engine.events(over) if isinstance(e, Notification.Dispatched)]
    assert [d.at >= throttled.until for d in dispatched] == [True]  # never before its token
    assert throttled_events(engine, over) == [throttled]  # one token came, once

    response = engine.http.get(f"/v1/notifications/{over}/trace", headers=person.auth)
    assert response.status_code == 200, response.text
    [step] = [s for s in response.json()["steps"] if s["event"] == "Notification.Throttled"]
    assert step["step"] == "throttle"
    assert {k: step["details"][k] for k in ("bucket", "tokens", "capacity", "policy")} == {
        "bucket": RECIPIENT, "tokens": throttled.tokens, "capacity": BUDGET, "policy": HOLD}


def test_a_critical_category_is_never_held_by_the_recipients_budget(engine):
    person = engine.someone_with_a_webhook()
    alerts = [engine.trigger(person, "security") for _ in range(BUDGET + 2)]
    for nid in alerts:
        eventually(lambda nid=nid: engine.state(nid) == "delivered")
    assert [throttled_events(engine, nid) for nid in alerts] == [[]] * len(alerts)
    # and they spent nothing of it: the next non-critical ones still go at once
    spare = [engine.trigger(person) for _ in range(BUDGET)]
    for nid in spare:
        eventually(lambda nid=nid: engine.state(nid) == "delivered")
    assert [throttled_events(engine, nid) for nid in spare] == [[]] * BUDGET


def test_parleys_own_chat_pushes_spend_the_same_budget_as_a_services_notifications(engine):
    ada, bob = engine.client.register("Ada"), engine.someone_with_a_webhook()
    phone = registered_phone(engine.http, bob)
    conversation = engine.client.open_direct(ada, bob)
    engine.client.sent(ada, conversation, "Are you coming tonight?")
    eventually(lambda: engine.fcm.shown(phone))  # the push took one of Bob's two tokens
    spent = engine.trigger(bob)
    eventually(lambda: engine.state(spent) == "delivered")
    over = engine.trigger(bob)
    [throttled] = eventually(lambda: throttled_events(engine, over))
    assert throttled.bucket == RECIPIENT and throttled.tokens < 1
