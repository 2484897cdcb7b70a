"""Web Push end to end on the embedded default, in process: a service triggers a push through
the API, the engine dispatches it through the Web Push provider to a local push service that
checks VAPID, and the browser's own key decrypts what the user would see; a subscription the
push service says is gone is removed from the user's contact points."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from adapters.notifications.vapid import new_key_pair
from commands.notifications.contact_points import ContactPointRules, SubscribeWebPush
from commands.notifications.dispatch import message_key
from domain.notifications.contact_points import ContactPoints, contact_points_id
from tests.builders import Person, a_cause, now
from tests.e2e.notifications.in_process import InProcess, embedded, eventually, in_process
from tests.providers.webpush import Browser, PushService, Subscription

KEYS = new_key_pair()
FAST_RETRIES = {"notification_retry_base_seconds": 0.05, "notification_retry_cap_seconds": 0.2,
                "notification_timer_every_seconds": 0.05, "notification_max_attempts": 2}


@dataclass
class Engine(InProcess):
    browser: Browser

    def someone_subscribed(self) -> tuple[Person, Subscription, uuid.UUID]:
        """A user whose browser subscribed with Parley's applicationServerKey."""
        person = self.client.register("Web User")
        subscription = self.browser.subscribe(application_server_key=KEYS.application_server_key)
        point = uuid.uuid4()
        self.parley.writer.execute(SubscribeWebPush(
            uuid.UUID(person.user_id), uuid.uuid4(), point, subscription.endpoint,
            subscription.p256dh, subscription.auth, now(), ContactPointRules(20)), a_cause())
        return person, subscription, point

    def trigger(self, recipient: Person, channels: list[str], priority: str) -> str:
        response = self.http.post("/v1/notifications", headers=self.service, json={
            "recipients": [recipient.user_id], "category": "system", "priority": priority,
            "plan": {"channels": channels},
            "content": {"title": "Ada", "body": "Lunch at one? 🍜", "data": {"thread": "t-9"},
                        "deep_link": "parley://conversations/t-9"}})
        assert response.status_code == 202, response.text
        [notification] = response.json()["notifications"]
        return str(notification["notification_id"])


@pytest.fixture(scope="module")
def push_service() -> Iterator[PushService]:
    with PushService(tls=True) as service:
        yield service


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory,
            push_service: PushService) -> Iterator[Engine]:
    """One engine for the module (each test makes its own subscriber)."""
    providers = [{"name": "webpush", "kind": "webpush", "vapid_private_key": KEYS.private_key,
                  "subject": "mailto:ops@parley.example", "timeout_seconds": 2,
                  "ca_file": push_service.ca_file}]
    settings = embedded(tmp_path_factory.mktemp("webpush") / "data", providers, **FAST_RETRIES)
    with in_process(settings, Engine, browser=Browser(push_service)) as engine:
        yield engine


@pytest.fixture
def engine(running: Engine, push_service: PushService) -> Engine:
    """The module's engine, its push service's records of earlier tests forgotten."""
    push_service.reset()
    return running


def test_a_triggered_push_is_read_by_the_browser(engine: Engine,
                                                 push_service: PushService) -> None:
    person, subscription, point = engine.someone_subscribed()

    notification_id = engine.trigger(person, ["push"], "critical")

    [shown] = eventually(lambda: push_service.shown(subscription))
    assert (shown["title"], shown["body"], shown["data"], shown["deep_link"]) == (
        "Ada", "Lunch at one? 🍜", {"thread": "t-9"}, "parley://conversations/t-9")
    assert shown["notification_id"] == notification_id
    [message] = push_service.messages(subscription)
    assert message.urgency == "high"
    # the topic is the notification's to this browser, the same for every attempt: a retry
    # replaces an undelivered one instead of showing twice
    assert message.topic != uuid.UUID(shown["attempt_id"]).hex
    assert message.topic == message_key(uuid.UUID(notification_id), "push",
                                        str(point)).hex
    eventually(lambda: engine.notification(notification_id).state == "accepted")


def test_a_subscription_the_push_service_says_is_gone_is_removed(
        engine: Engine, push_service: PushService) -> None:
    person, subscription, point = engine.someone_subscribed()

    def points() -> set[str]:
        book = engine.parley.event_log.repository.get(
            contact_points_id(uuid.UUID(person.user_id)))
        assert isinstance(book, ContactPoints)
        return {str(p) for p in book.points}

    assert str(point) in points()
    push_service.unsubscribe(subscription)

    notification_id = engine.trigger(person, ["push", "in_app"], "normal")

    eventually(lambda: str(point) not in points())
    assert push_service.refusals == [(410, "unsubscribed")]
    inbox = eventually(lambda: engine.http.get("/v1/notifications",
                                               headers=person.auth).json()["notifications"])
    assert [n["notification_id"] for n in inbox] == [notification_id]


def test_a_browser_learns_the_key_to_subscribe_with(engine: Engine) -> None:
    person = engine.client.register("Web User")
    answer = engine.http.get("/v1/notifications/web-push-key", headers=person.auth)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"application_server_key": KEYS.application_server_key}
    assert engine.http.get("/v1/notifications/web-push-key").status_code == 401
