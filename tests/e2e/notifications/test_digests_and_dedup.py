"""Digests and dedup keys end to end on the embedded default, in process: concurrent HTTP
triggers (threads through one app, so the writer decides them in shared batches) land in one
digest with all their members, which the durable timer flushes once into one notification a
real webhook receiver gets once (and the inbox shows once); equal dedup keys fired at once
send exactly one; bad windows and keys are refused with problem+json and change nothing."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest

from domain.notifications.digests import Digest
from domain.notifications.notifications import Notification
from tests.builders import Person
from tests.e2e.notifications import in_process as harness
from tests.e2e.notifications.in_process import (
    WEBHOOKS,
    InProcess,
    embedded,
    in_process,
    webhook_receiver,
)
from tests.providers.webhook_receiver import WebhookReceiver

WAIT_SECONDS = 20.0
CONCURRENT = 16
WINDOW = 2
eventually = functools.partial(harness.eventually, timeout=WAIT_SECONDS, every=0.05)


@dataclass
class World(InProcess):
    receiver: WebhookReceiver
    receiver_url: str

    def someone_with_a_webhook(self) -> Person:
        person = self.client.register("Ada")
        self.add_webhook(person, self.receiver, self.receiver_url + "/ok")
        return person

    def post(self, body: dict[str, Any], key: int = 0) -> Any:
        return self.http.post("/v1/notifications", json=body,
                              headers={"Authorization": f"Bearer {self.keys[key]}"})

    def trigger(self, body: dict[str, Any], key: int = 0) -> dict[str, Any]:
        response = self.post(body, key)
        assert response.status_code == 202, response.text
        [made] = response.json()["notifications"]
        return dict(made)

    def digested_into(self, notification_id: str) -> uuid.UUID:
        [into] = [e.into for e in self.events(notification_id)
                  if isinstance(e, Notification.Digested)]
        return uuid.UUID(str(into))

    def get(self, aggregate_id: str | uuid.UUID) -> Any:
        return self.parley.event_log.repository.get(uuid.UUID(str(aggregate_id)))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    settings = embedded(tmp_path_factory.mktemp("digests") / "data", [WEBHOOKS],
                        notification_allow_loopback_http=True,
                        notification_timer_every_seconds=0.1,
                        notification_dedup_max_window_seconds=3600,
                        notification_digest_max_window_seconds=600)
    with webhook_receiver() as (receiving, url), in_process(
            settings, World, key_names=("book club", "shop"), receiver=receiving,
            receiver_url=url) as running:
        yield running


def a_body(person: Person, text: str = "hi", **extra: Any) -> dict[str, Any]:
    return {"recipients": [person.user_id], "category": "message", "priority": "normal",
            "plan": {"channels": ["webhook", "in_app"]},
            "content": {"title": "Grace", "body": text}} | extra


def at_once(calls: list[Callable[[], Any]]) -> list[Any]:
    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(lambda call: call(), calls))


BOOK_CLUB = {"key": "book-club", "window_seconds": WINDOW,
             "title": "{count} new messages in Book club"}


def test_concurrent_triggers_land_in_one_digest_sent_once_with_all_members(world: World) -> None:
    ada = world.someone_with_a_webhook()
    made = at_once([lambda i=i: world.trigger(a_body(ada, f"message {i}", digest=BOOK_CLUB))
                    for i in range(CONCURRENT)])
    assert {m["state"] for m in made} == {"digested"}
    members = {m["notification_id"] for m in made}
    intos = {world.digested_into(m) for m in members}
    assert len(intos) == 1  # one digest took them all
    [into] = intos

    def flushed() -> Digest | None:
        digest = world.get(into)
        return digest if digest.state == "flushed" else None

    digest = eventually(flushed)
    assert set(map(str, digest.member_ids)) == members and digest.count == CONCURRENT
    sent = world.get(digest.flushed_into)
    assert isinstance(sent, Notification)
    eventually(lambda: world.get(digest.flushed_into).state == "delivered")
    deliveries = [d for d in world.receiver.deliveries
                  if d.payload["data"].get("notification_id") == str(sent.id)]
    assert len(deliveries) == 1
    assert deliveries[0].payload["data"]["title"] == f"{CONCURRENT} new messages in Book club"
    assert not [d for d in world.receiver.deliveries
                if d.payload["data"].get("notification_id") in members]  # members sent nothing

    def inbox() -> list[dict[str, Any]]:
        page = world.http.get("/v1/notifications", headers=ada.auth).json()
        return list(page["notifications"])

    [shown] = eventually(inbox)
    assert shown["notification_id"] == str(sent.id)
    assert shown["title"] == f"{CONCURRENT} new messages in Book club"
    assert shown["data"]["count"] == CONCURRENT


def test_a_trigger_after_the_flush_opens_the_next_digest(world: World) -> None:
    ada = world.someone_with_a_webhook()
    first = world.trigger(a_body(ada, digest=BOOK_CLUB))
    one = world.digested_into(first["notification_id"])
    eventually(lambda: world.get(one).state == "flushed")
    later = world.trigger(a_body(ada, digest=BOOK_CLUB))
    two = world.digested_into(later["notification_id"])
    assert two != one
    eventually(lambda: world.get(two).state == "flushed")
    assert world.get(two).count == 1


def test_a_critical_notification_is_sent_alone_even_when_asked_to_be_digested(
        world: World) -> None:
    ada = world.someone_with_a_webhook()
    made = world.trigger(a_body(ada, category="security", digest=BOOK_CLUB))
    assert made["state"] != "digested"


def test_equal_dedup_keys_fired_at_once_send_exactly_one(world: World) -> None:
    ada = world.someone_with_a_webhook()
    key = f"order-{uuid.uuid4().hex[:8]}"
    made = at_once([lambda: world.trigger(a_body(ada, dedup_key=key, dedup_window_seconds=600))
                    for _ in range(CONCURRENT)])
    kept = [m for m in made if m["state"] != "suppressed"]
    assert len(kept) == 1
    first = kept[0]["notification_id"]
    for duplicate in (m for m in made if m["state"] == "suppressed"):
        [reason] = [e.reason for e in world.events(duplicate["notification_id"])
                    if isinstance(e, Notification.Suppressed)]
        assert first in reason
    other_caller = world.trigger(a_body(ada, dedup_key=key), key=1)
    assert other_caller["state"] != "suppressed"


@pytest.mark.parametrize(("extra", "field"), [
    ({"dedup_key": "x", "dedup_window_seconds": 3601}, "dedup_window_seconds"),
    ({"digest": {"key": "k", "window_seconds": 601}}, "digest.window_seconds"),
    ({"dedup_key": "has space"}, "dedup_key"),
    ({"digest": {"key": ""}}, "key"),
    ({"digest": {"key": "k", "extra": 1}}, "extra"),
])
def test_bad_windows_and_keys_are_refused_and_change_nothing(world: World, extra: dict[str, Any],
                                                             field: str) -> None:
    ada = world.someone_with_a_webhook()
    head = world.parley.event_log.recorder.max_notification_id()
    response = world.post(a_body(ada, **extra))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert field in response.text
    assert world.parley.event_log.recorder.max_notification_id() == head
