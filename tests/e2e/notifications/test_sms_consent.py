"""SMS consent end to end on the embedded default, in process, with Twilio and Vonage stand-ins:
a user opts in through the API (wording and source recorded), a marketing SMS then goes; a
STOP texted back through the provider's signed inbound webhook withdraws it (TwiML with the
one confirmation), and the next marketing SMS is ruled out naming the STOP; a security code
still goes. Unsigned, forged, stale or replayed webhooks change nothing."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from commands.notifications.contact_points import AddPhone, ContactPointRules
from domain.notifications.notifications import Notification
from domain.notifications.sms_consent import SmsConsent, sms_consent_id
from parley.assembly import Parley
from parley.bootstrap import build
from parley.settings import Settings
from tests.builders import ParleyClient, Person, a_cause, an_api_key, now
from tests.providers import twilio, vonage
from tests.providers.servers import LocalServer

PUBLIC_URL = "https://parley.example"
TWILIO_INBOUND = "/v1/notifications/callbacks/sms/twilio-main/inbound"
VONAGE_INBOUND = "/v1/notifications/callbacks/sms/vonage-main/inbound"
FORM = {"content-type": "application/x-www-form-urlencoded"}
WORDING = "Get Parley offers by text, up to 4 msgs/month. Reply STOP to cancel."
STOPPED = "<Response><Message>Parley: you are unsubscribed"
EMPTY = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


@dataclass
class World:
    parley: Parley
    http: TestClient
    twilio: twilio.TwilioStandIn
    vonage: vonage.VonageStandIn
    key: str
    numbers: Iterator[int]

    def someone_with_a_phone(self) -> tuple[Person, str, str]:
        person = ParleyClient(self.http).register("Grace Hopper")
        number, point = f"+447911{next(self.numbers):06d}", uuid.uuid4()
        self.parley.writer.execute(AddPhone(uuid.UUID(person.user_id), point, number, None,
                                            now(), ContactPointRules(20)), a_cause())
        return person, number, str(point)

    def consent(self, person: Person, point: str, **body: Any) -> Any:
        return self.http.put("/v1/users/me/sms-consent", headers=person.auth, json={
            "contact_point_id": point, "wording": WORDING, "source": "app:settings"} | body)

    def trigger(self, person: Person, category: str = "marketing") -> Notification:
        answer = self.http.post("/v1/notifications", headers={
            "Authorization": f"Bearer {self.key}"}, json={
            "recipients": [person.user_id], "category": category, "priority": "normal",
            "plan": {"channels": ["sms"]}, "content": {"title": "Parley", "body": "Hello"}})
        assert answer.status_code == 202, answer.text
        found = self.parley.event_log.repository.get(
            uuid.UUID(answer.json()["notifications"][0]["notification_id"]))
        assert isinstance(found, Notification)
        return found

    def texted(self, number: str, body: str, message_id: str | None = None,
               token: str | None = None, url: str = TWILIO_INBOUND) -> Any:
        """A text from `number` as Twilio posts it to the number's inbound webhook."""
        fields = {"MessageSid": message_id or f"SM{uuid.uuid4().hex}", "SmsStatus": "received",
                  "AccountSid": self.twilio.account_sid, "From": number, "To": "+15005550006",
                  "Body": body, "NumMedia": "0", "ApiVersion": "2010-04-01"}
        signature = twilio.twilio_signature(PUBLIC_URL + url, fields,
                                            token or self.twilio.auth_token)
        return self.http.post(url, content=urlencode(fields),
                              headers=FORM | {"X-Twilio-Signature": signature})

    def texted_vonage(self, number: str, text: str, stamped: float | None = None,
                      secret: str | None = None) -> Any:
        fields = {"msisdn": number.lstrip("+"), "to": "15005550006", "messageId": uuid.uuid4().hex,
                  "text": text, "type": "text", "keyword": text.upper(),
                  "message-timestamp": "2026-12-02 09:00:00",
                  "timestamp": str(int(stamped or time.time())), "nonce": uuid.uuid4().hex}
        fields["sig"] = vonage.vonage_signature(fields, secret or self.vonage.signature_secret)
        return self.http.post(VONAGE_INBOUND, content=urlencode(fields), headers=FORM)

    def status(self, number: str) -> str:
        found = self.parley.event_log.repository.get(sms_consent_id(number))
        assert isinstance(found, SmsConsent)
        return found.status

    def events(self, number: str) -> list[Any]:
        stored = self.parley.event_log.events_of([sms_consent_id(number)])
        return [self.parley.event_log.mapper.to_domain_event(s)
                for s in stored.get(sms_consent_id(number), [])]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    twilio_stand_in, vonage_stand_in = twilio.TwilioStandIn(), vonage.VonageStandIn()
    with LocalServer(twilio_stand_in.app, tls=True) as twilio_server, \
            LocalServer(vonage_stand_in.app, tls=True) as vonage_server:
        providers = [
            {"name": "twilio-main", "kind": "twilio", "account_sid": twilio_stand_in.account_sid,
             "auth_token": twilio_stand_in.auth_token, "from_number": "+15005550006",
             "endpoint": twilio_server.url, "ca_file": twilio_server.ca_file,
             "timeout_seconds": 2},
            {"name": "vonage-main", "kind": "vonage", "api_key": vonage_stand_in.api_key,
             "api_secret": vonage_stand_in.api_secret, "from": "Parley",
             "signature_secret": vonage_stand_in.signature_secret,
             "endpoint": vonage_server.url, "ca_file": vonage_server.ca_file,
             "timeout_seconds": 2}]
        settings = Settings(database_url=None, data_dir=tmp_path_factory.mktemp("consent"),
                            public_url=PUBLIC_URL, notification_providers=json.dumps(providers))
        parley = build(settings)
        with TestClient(create_app(parley)) as http:
            issue, key = an_api_key()
            parley.writer.execute(issue, a_cause())
            yield World(parley, http, twilio_stand_in, vonage_stand_in, key.presented,
                        iter(range(1_000_000)))


def decided(world: World, notification: Notification) -> dict[str, Any]:
    stored = world.parley.event_log.events_of([notification.id])[notification.id]
    events = [world.parley.event_log.mapper.to_domain_event(s) for s in stored]
    [decision] = [e for e in events if isinstance(e, Notification.Decided)]
    return next(s for s in decision.steps if s["step"] == "sms_consent")


def test_marketing_sms_without_consent_is_ruled_out_saying_so(world: World) -> None:
    person, _, _ = world.someone_with_a_phone()

    notification = world.trigger(person)

    assert "sms" not in notification.channels
    step = decided(world, notification)
    assert step["ruled_out"] == [["sms", "no SMS consent"]]
    assert step["inputs"]["numbers"][0]["consent"] == "none"


def test_an_opt_in_is_recorded_with_its_wording_and_source_and_lets_sms_through(
        world: World) -> None:
    person, number, point = world.someone_with_a_phone()

    answer = world.consent(person, point)

    assert answer.status_code == 200, answer.text
    assert (answer.json()["consent"], answer.json()["recorded"]) == ("granted", True)
    [_, opted_in] = world.events(number)
    assert (opted_in.wording, opted_in.source, str(opted_in.user_id)) == (
        WORDING, "app:settings", person.user_id)
    assert world.consent(person, point).json()["recorded"] is False  # the same again
    [listed] = world.http.get("/v1/users/me/sms-consent", headers=person.auth).json()["numbers"]
    assert (listed["contact_point_id"], listed["number"], listed["consent"], listed["source"]) \
        == (point, number, "granted", "app:settings")
    notification = world.trigger(person)
    assert notification.channels == ["sms"]
    assert decided(world, notification)["inputs"]["numbers"][0]["consent_version"] == 2


@pytest.mark.parametrize("body", [{"wording": ""}, {"source": "not a source"},
                                  {"wording": "x" * 2001}, {"contact_point_id": "nope"}])
def test_a_malformed_opt_in_is_refused_and_records_nothing(world: World,
                                                           body: dict[str, Any]) -> None:
    person, number, point = world.someone_with_a_phone()

    answer = world.consent(person, point, **body)

    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert world.events(number) == []


def test_consent_on_someone_elses_number_answers_as_a_number_that_does_not_exist(
        world: World) -> None:
    person, _, _ = world.someone_with_a_phone()
    _, other_number, other_point = world.someone_with_a_phone()

    theirs = world.consent(person, other_point)
    random = world.consent(person, str(uuid.uuid4()))

    assert theirs.status_code == random.status_code == 404
    assert theirs.json()["detail"] == random.json()["detail"]
    assert world.events(other_number) == []


def test_stop_texted_back_withdraws_consent_with_one_confirmation(world: World) -> None:
    person, number, point = world.someone_with_a_phone()
    world.consent(person, point)

    first = world.texted(number, " stop ")
    again = world.texted(number, "STOP")

    assert first.status_code == 200 and first.headers["content-type"].startswith("text/xml")
    assert STOPPED in first.text
    assert again.status_code == 200 and again.text == EMPTY
    assert world.status(number) == "revoked"
    [listed] = world.http.get("/v1/users/me/sms-consent", headers=person.auth).json()["numbers"]
    assert (listed["consent"], listed["source"]) == ("revoked", "sms_reply")
    notification = world.trigger(person)
    assert "sms" not in notification.channels
    [shown] = decided(world, notification)["inputs"]["numbers"]
    assert (shown["consent"], shown["consent_source"]) == ("revoked", "sms_reply")
    assert world.trigger(person, "security").channels == ["sms"]  # transactional: no consent


def test_start_restores_and_a_replayed_stop_has_no_second_effect(world: World) -> None:
    person, number, point = world.someone_with_a_phone()
    world.consent(person, point)
    stop = world.texted(number, "STOP", message_id="SM" + "1" * 32)

    restarted = world.texted(number, "unstop")
    replayed = world.texted(number, "STOP", message_id="SM" + "1" * 32)

    assert "resubscribed" in restarted.text
    assert replayed.status_code == 200 and replayed.text == stop.text
    assert world.status(number) == "granted"
    assert [type(e).__name__ for e in world.events(number)] == [
        "Started", "OptedIn", "OptedOut", "OptedIn"]


def test_help_is_answered_with_the_help_text_and_changes_nothing(world: World) -> None:
    _, number, _ = world.someone_with_a_phone()

    answer = world.texted(number, "HELP")

    assert "Reply STOP to cancel" in answer.text
    assert world.events(number) == []


def test_an_unknown_number_is_answered_as_a_known_one(world: World) -> None:
    person, known, point = world.someone_with_a_phone()
    world.consent(person, point)

    unknown_stop = world.texted("+15550000001", "STOP")
    known_stop = world.texted(known, "STOP")
    unknown_other = world.texted("+15550000002", "hello?")

    assert unknown_stop.text == known_stop.text and STOPPED in known_stop.text
    assert unknown_other.text == EMPTY
    assert world.status("+15550000001") == "revoked"  # carriers: no texts to it from now


@pytest.mark.parametrize("how", ["unsigned", "forged", "unknown provider"])
def test_an_unsigned_or_forged_webhook_is_refused_and_changes_nothing(world: World,
                                                                     how: str) -> None:
    person, number, point = world.someone_with_a_phone()
    world.consent(person, point)
    if how == "unsigned":
        answer = world.http.post(TWILIO_INBOUND, headers=FORM, content=urlencode({
            "MessageSid": "SM1", "From": number, "Body": "STOP"}))
    elif how == "forged":
        answer = world.texted(number, "STOP", token="guessed-auth-token")
    else:
        answer = world.texted(number, "STOP",
                              url="/v1/notifications/callbacks/sms/nobody/inbound")

    assert answer.status_code == 403, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert world.status(number) == "granted"


def test_vonage_inbound_stop_is_verified_and_withdraws_consent(world: World) -> None:
    person, number, point = world.someone_with_a_phone()
    world.consent(person, point)

    stale = world.texted_vonage(number, "STOP", stamped=time.time() - 600)
    forged = world.texted_vonage(number, "STOP", secret="guessed")
    assert (stale.status_code, forged.status_code) == (403, 403)
    assert world.status(number) == "granted"

    answer = world.texted_vonage(number, "Stop")

    assert answer.status_code == 204, answer.text
    assert world.status(number) == "revoked"
