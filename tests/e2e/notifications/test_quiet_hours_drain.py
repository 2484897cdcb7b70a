"""Quiet hours drain at the throttle, most urgent first, end to end on the embedded default in
process: a recipient with quiet hours and a per-recipient budget is sent notifications of
mixed priorities during the window (each held until it ends); at the window's end the
scheduler's command releases them all at once, and the real dispatcher sends them to a local
signed webhook receiver most urgent first, never more than the bucket allows per period; the
rest are Throttled, held, and released by the durable timer when their tokens come."""

from __future__ import annotations

import functools
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from commands.notifications.dispatch import ReleaseDue
from domain.notifications.channels import BULK, HIGH, NORMAL, rank
from domain.notifications.notifications import Notification
from domain.notifications.throttles import HOLD, RECIPIENT, THROTTLED
from tests.builders import Person, a_cause
from tests.e2e.notifications import in_process as harness
from tests.e2e.notifications.in_process import (
    WEBHOOKS,
    InProcess,
    embedded,
    in_process,
    webhook_receiver,
)
from tests.e2e.notifications.test_preferences import quiet_window_around
from tests.providers.webhook_receiver import WebhookReceiver

BUDGET, PERIOD_SECONDS = 2, 1.0  # a token every half second once the two are spent
ZONE = "America/Sao_Paulo"
# the order they are asked for during the night: no priority first
PRIORITIES_ASKED = (BULK, NORMAL, HIGH, BULK, NORMAL, HIGH, NORMAL)
WAIT_SECONDS = 30.0
eventually = functools.partial(harness.eventually, timeout=WAIT_SECONDS)


@dataclass
class Engine(InProcess):
    receiver: WebhookReceiver
    receiver_url: str

    def someone_asleep(self) -> tuple[Person, datetime]:
        """Someone with a webhook, inside quiet hours now: and when they end."""
        person = self.client.register("Night Owl")
        self.add_webhook(person, self.receiver, f"{self.receiver_url}/{person.user_id}")
        start, end, until = quiet_window_around(datetime.now(UTC), ZONE)
        response = self.http.put("/v1/users/me/notification-preferences", headers=person.auth,
                                 json={"time_zone": ZONE,
                                       "quiet_hours": {"start": start, "end": end}})
        assert response.status_code == 200, response.text
        return person, until

    def trigger(self, person: Person, priority: str) -> uuid.UUID:
        response = self.http.post("/v1/notifications", headers=self.service, json={
            "recipients": [person.user_id], "category": "system", "priority": priority,
            "plan": {"channels": ["webhook"]},
            "content": {"title": f"A {priority} one", "body": "Overnight news."}})
        assert response.status_code == 202, response.text
        return uuid.UUID(response.json()["notifications"][0]["notification_id"])


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    with webhook_receiver() as (receiving, url):
        settings = embedded(
            tmp_path_factory.mktemp("quiet-drain") / "data", [WEBHOOKS],
            notification_allow_loopback_http=True, notification_timer_every_seconds=0.05,
            notification_recipient_limit=BUDGET,
            notification_recipient_period_seconds=PERIOD_SECONDS)
        with in_process(settings, Engine, receiver=receiving, receiver_url=url) as running:
            yield running


def of(events: list[Any], kind: type) -> list[Any]:
    return [e for e in events if isinstance(e, kind)]


def test_at_the_end_of_quiet_hours_they_drain_most_urgent_first_at_the_budgets_rate(
        engine: Engine) -> None:
    person, until = engine.someone_asleep()
    asked = {engine.trigger(person, priority): priority for priority in PRIORITIES_ASKED}
    holds = {nid: of(engine.events(nid), Notification.Held) for nid in asked}
    assert {(h.reason, h.until) for [h] in holds.values()} == {("quiet_hours", until)}
    assert {engine.state(nid) for nid in asked} == {"held"}

    # the window ends: the scheduler releases every one in one command, in no helpful order
    released_at = time.time()
    engine.parley.writer.execute(ReleaseDue(
        tuple((nid, h.timer_id) for nid, [h] in holds.items()), until), a_cause())
    for nid in asked:
        eventually(lambda nid=nid: engine.state(nid) == "delivered")

    dispatched = {nid: of(engine.events(nid), Notification.Dispatched) for nid in asked}
    assert all(len(d) == 1 for d in dispatched.values())  # each sent once
    order = sorted(asked, key=lambda nid: dispatched[nid][0].at)
    # most urgent first: the ranks of the priorities in the order they went never go down
    assert [rank(asked[nid]) for nid in order] == sorted(rank(p) for p in PRIORITIES_ASKED)
    # never more than the bucket allows: the k-th send waits for the k-th token
    start = dispatched[order[0]][0].at.timestamp()
    assert start >= released_at - 1
    for k, nid in enumerate(order):
        earliest = start + max(0, k + 1 - BUDGET) * PERIOD_SECONDS / BUDGET
        assert dispatched[nid][0].at.timestamp() >= earliest - 0.05, (k, asked[nid])

    # the first BUDGET went at once; each other one was Throttled once, held until its
    # token, and released then by the durable timer
    assert all(of(engine.events(nid), Notification.Throttled) == [] for nid in order[:BUDGET])
    for nid in order[BUDGET:]:
        [throttled] = of(engine.events(nid), Notification.Throttled)
        assert (throttled.bucket, throttled.policy) == (RECIPIENT, HOLD)
        held = of(engine.events(nid), Notification.Held)
        assert [(h.reason, h.until) for h in held] == [("quiet_hours", until),
                                                        (THROTTLED, throttled.until)]
        assert dispatched[nid][0].at >= throttled.until  # never before its token
    # and the receiver saw them most urgent first (those of one batch in any order)
    by_id = {str(nid): priority for nid, priority in asked.items()}
    seen = [by_id[d.payload["data"]["notification_id"]] for d in engine.receiver.deliveries
            if d.payload["data"]["notification_id"] in by_id]
    assert [rank(p) for p in seen] == sorted(rank(p) for p in PRIORITIES_ASKED)
