"""SMS end to end on the embedded default, in process: a notification triggered through the API
goes out through the Twilio (or Vonage) adapter to its local stand-in, which later posts its
signed status callbacks to Parley; the callback route verifies them and the real receipt handler
moves the notification (delivered; undelivered gives the channel up); a forged one changes
nothing."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest

from commands.notifications.contact_points import AddPhone, ContactPointRules
from tests.builders import Person, a_cause, now
from tests.e2e.notifications.in_process import (
    InProcess,
    embedded,
    eventually,
    in_process,
    twilio_provider,
    twilio_served,
)
from tests.providers import twilio, vonage
from tests.providers.servers import LocalServer

NUMBER = "+447911123456"
FORM = {"content-type": "application/x-www-form-urlencoded"}


@pytest.fixture(scope="module")
def twilio_service() -> Iterator[tuple[twilio.TwilioStandIn, LocalServer]]:
    with twilio_served() as served:
        yield served


@dataclass
class Engine(InProcess):
    stand_in: twilio.TwilioStandIn

    def someone_with_a_phone(self) -> Person:
        person = self.client.register("Grace Hopper")
        self.parley.writer.execute(AddPhone(uuid.UUID(person.user_id), uuid.uuid4(), NUMBER,
                                            None, now(), ContactPointRules(20)), a_cause())
        return person

    def trigger(self, recipient: Person) -> str:
        response = self.http.post(
            "/v1/notifications", headers=self.service,
            json={"recipients": [recipient.user_id], "category": "security", "priority": "high",
                  "plan": {"channels": ["sms"]},
                  "content": {"title": "Parley", "body": "Your code is 824193"}})
        assert response.status_code == 202, response.text
        [notification] = response.json()["notifications"]
        return str(notification["notification_id"])

    def sent(self, notification_id: str) -> twilio.TwilioMessage:
        eventually(lambda: self.state(notification_id) == "accepted")
        return eventually(lambda: next((m for m in self.stand_in.messages
                                        if notification_id in (m.status_callback or "")), None))

    def post(self, callback: twilio.SignedCallback) -> Any:
        """Post a callback as Twilio would, to this process (the URL's path and query)."""
        parts = urlsplit(callback.url)
        return self.http.post(f"{parts.path}?{parts.query}", content=urlencode(callback.fields),
                              headers=callback.headers)


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory,
            twilio_service: tuple[twilio.TwilioStandIn, LocalServer]) -> Iterator[Engine]:
    """One engine for the module's Twilio tests (each test makes its own recipient)."""
    stand_in, server = twilio_service
    settings = embedded(tmp_path_factory.mktemp("sms") / "data",
                        [twilio_provider(stand_in, server)], public_url="https://parley.example")
    with in_process(settings, Engine, stand_in=stand_in) as engine:
        yield engine


@pytest.fixture
def engine(running: Engine) -> Engine:
    """The module's Twilio engine, its stand-in's records of earlier tests forgotten."""
    running.stand_in.reset()
    return running


def test_an_sms_is_sent_and_twilios_delivered_callback_marks_it_delivered(
        engine: Engine) -> None:
    nid = engine.trigger(engine.someone_with_a_phone())
    message = engine.sent(nid)
    assert engine.stand_in.handset(NUMBER) == ["Parley\nYour code is 824193"]
    assert message.status_callback is not None
    assert message.status_callback.startswith(
        "https://parley.example/v1/notifications/callbacks/sms/twilio-main?")
    assert engine.post(engine.stand_in.status_callback(message, "sent")).status_code == 204
    assert engine.post(engine.stand_in.status_callback(message, "delivered")).status_code == 204
    eventually(lambda: engine.state(nid) == "delivered")


def test_an_undelivered_callback_gives_the_channel_up(engine: Engine) -> None:
    nid = engine.trigger(engine.someone_with_a_phone())
    message = engine.sent(nid)
    callback = engine.stand_in.status_callback(message, "undelivered", error_code="30003")
    assert engine.post(callback).status_code == 204
    eventually(lambda: engine.state(nid) in ("dead_lettered", "suppressed"))


def test_a_forged_callback_is_refused_and_changes_nothing(engine: Engine) -> None:
    nid = engine.trigger(engine.someone_with_a_phone())
    message = engine.sent(nid)
    forged = engine.stand_in.status_callback(message, "delivered", auth_token="guessed")
    assert engine.post(forged).status_code == 403
    time.sleep(0.3)
    assert engine.state(nid) == "accepted"


@pytest.fixture(scope="module")
def vonage_service() -> Iterator[tuple[vonage.VonageStandIn, LocalServer]]:
    stand_in = vonage.VonageStandIn()
    with LocalServer(stand_in.app, tls=True) as server:
        yield stand_in, server


def test_vonages_signed_delivery_receipt_marks_it_delivered(
        tmp_path: Path, vonage_service: tuple[vonage.VonageStandIn, LocalServer]) -> None:
    stand_in, server = vonage_service
    providers = [{"name": "vonage-main", "kind": "vonage", "api_key": stand_in.api_key,
                  "api_secret": stand_in.api_secret, "from": "Parley",
                  "signature_secret": stand_in.signature_secret, "endpoint": server.url,
                  "ca_file": server.ca_file, "timeout_seconds": 2}]
    settings = embedded(tmp_path / "data", providers, public_url="https://parley.example")
    with in_process(settings, Engine, stand_in=twilio.TwilioStandIn()) as engine:
        http = engine.http
        nid = engine.trigger(engine.someone_with_a_phone())
        eventually(lambda: engine.state(nid) == "accepted")
        [message] = stand_in.messages
        assert stand_in.handset(NUMBER) == ["Parley\nYour code is 824193"]
        receipt = stand_in.receipt(message, "delivered")
        parts = urlsplit(receipt.url)
        forged = stand_in.receipt(message, "delivered", secret="guessed")
        assert http.post(f"{parts.path}?{parts.query}", content=urlencode(forged.fields),
                         headers=FORM).status_code == 403
        assert engine.state(nid) == "accepted"
        assert http.post(f"{parts.path}?{parts.query}", content=urlencode(receipt.fields),
                         headers=FORM).status_code == 204
        eventually(lambda: engine.state(nid) == "delivered")
