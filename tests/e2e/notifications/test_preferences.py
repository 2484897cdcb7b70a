"""Notification preferences, quiet hours and the SMS sending window end to end on the embedded
default, in process: a user sets them through `PUT /v1/users/me/notification-preferences`, a
service triggers through the API, and the real pipeline, timers and dispatcher act on them
against local receivers (a signed webhook endpoint, the Twilio stand-in). Each decision is
read back from the notification's `Decided` event. Holds are released by driving the
scheduler's command at the instant the window ends (never earlier)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

import pytest

from commands.notifications.contact_points import AddPhone, ContactPointRules
from commands.notifications.dispatch import ReleaseDue
from commands.notifications.sms_consent import GrantSmsConsent
from commands.notifications.unsubscribe import UnsubscribeEmail
from domain.notifications.notifications import Notification
from tests.builders import Person, a_cause, now
from tests.e2e.notifications.in_process import (
    WEBHOOKS,
    InProcess,
    embedded,
    eventually,
    in_process,
    twilio_provider,
    twilio_served,
    webhook_receiver,
)
from tests.providers import twilio
from tests.providers.webhook_receiver import WebhookReceiver

PATH = "/v1/users/me/notification-preferences"
NUMBER = "+447911123456"


@dataclass
class Engine(InProcess):
    receiver: WebhookReceiver
    receiver_url: str
    sms: twilio.TwilioStandIn

    def someone(self, *, webhook: bool = True, phone: bool = False) -> Person:
        person = self.client.register("Ada")
        user = uuid.UUID(person.user_id)
        if webhook:
            self.add_webhook(person, self.receiver, f"{self.receiver_url}/{person.user_id}")
        if phone:
            point = uuid.uuid4()
            self.parley.writer.execute(AddPhone(user, point, NUMBER, None, now(),
                                                ContactPointRules(20)), a_cause())
            self.parley.writer.execute(GrantSmsConsent(
                user, point, "Offers by text. Reply STOP to cancel.", "app:settings", now()),
                a_cause(user))
        return person

    def prefer(self, person: Person, body: dict[str, Any]) -> Any:
        return self.http.put(PATH, json=body, headers=person.auth)

    def trigger(self, person: Person, channels: list[str], category: str = "system") -> str:
        response = self.http.post("/v1/notifications", headers=self.service, json={
            "recipients": [person.user_id], "category": category, "priority": "normal",
            "plan": {"channels": channels},
            "content": {"title": "Build finished", "body": "All green."}})
        assert response.status_code == 202, response.text
        return str(response.json()["notifications"][0]["notification_id"])

    def step(self, notification_id: str, name: str) -> dict[str, Any]:
        [decided] = [e for e in self.events(notification_id)
                     if isinstance(e, Notification.Decided)]
        return next(s for s in decided.steps if s["step"] == name)

    def held(self, notification_id: str) -> Notification.Held:
        [held] = [e for e in self.events(notification_id) if isinstance(e, Notification.Held)]
        assert isinstance(held, Notification.Held)
        return held

    def release(self, notification_id: str, timer_id: int, at: datetime) -> None:
        self.parley.writer.execute(ReleaseDue(((uuid.UUID(notification_id), timer_id),), at),
                                   a_cause())

    def webhooks_for(self, person: Person) -> list[Any]:
        return [r for r in self.receiver.requests if person.user_id in r.path]


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    with webhook_receiver() as (receiving, url), twilio_served() as (stand_in, sms):
        settings = embedded(tmp_path_factory.mktemp("prefs") / "d",
                            [WEBHOOKS, twilio_provider(stand_in, sms)],
                            public_url="https://parley.example",
                            notification_allow_loopback_http=True,
                            notification_timer_every_seconds=0.05)
        with in_process(settings, Engine, receiver=receiving, receiver_url=url,
                        sms=stand_in) as engine:
            yield engine


def test_an_opted_out_channel_is_skipped_with_the_users_rule_in_the_decision(
        running: Engine) -> None:
    person = running.someone()
    assert running.prefer(person, {"channels": {"system": {"webhook": False}}}).status_code \
        == 200
    nid = running.trigger(person, ["webhook", "in_app"])
    step = running.step(nid, "preferences")
    assert step["outcome"] == "rule_out"
    assert step["inputs"]["channels"]["webhook"] == {"rule": "user", "enabled": False}
    routed = next(e for e in running.events(nid) if isinstance(e, Notification.Routed))
    assert routed.skipped == [["webhook", "preferences: opted out"]]
    eventually(lambda: running.notification(nid).state == "delivered")  # the inbox took it
    assert running.webhooks_for(person) == []


def test_a_critical_category_reaches_a_channel_the_user_switched_off(running: Engine) -> None:
    person = running.someone()
    running.prefer(person, {"channels": {"security": {"webhook": False}}})
    nid = running.trigger(person, ["webhook"], category="security")
    assert running.step(nid, "preferences")["inputs"]["channels"]["webhook"] == {
        "rule": "critical_bypass", "enabled": True, "user_choice": False}
    eventually(lambda: running.notification(nid).state == "delivered")
    assert len(running.webhooks_for(person)) == 1


def quiet_window_around(moment: datetime, zone: str) -> tuple[str, str, datetime]:
    """A window from an hour before `moment` to two hours after, in `zone`, and its end."""
    local = moment.astimezone(ZoneInfo(zone))
    start, end = local - timedelta(hours=1), local + timedelta(hours=2)
    end = end.replace(second=0, microsecond=0)
    return start.strftime("%H:%M"), end.strftime("%H:%M"), end.astimezone(UTC)


def test_inside_quiet_hours_it_is_held_until_they_end_and_released_then(
        running: Engine) -> None:
    person = running.someone()
    start, end, until = quiet_window_around(datetime.now(UTC), "Asia/Kolkata")
    assert running.prefer(person, {"time_zone": "Asia/Kolkata",
                                   "quiet_hours": {"start": start, "end": end}}
                          ).status_code == 200
    nid = running.trigger(person, ["webhook"])
    held = running.held(nid)
    assert (held.reason, held.until) == ("quiet_hours", until)
    step = running.step(nid, "quiet_hours")
    assert step["inputs"]["time_zone"] == "Asia/Kolkata"
    assert step["inputs"]["quiet_hours"] == {"start": start, "end": end}
    running.release(nid, held.timer_id, until - timedelta(seconds=1))  # never early
    assert running.notification(nid).state == "held"
    running.release(nid, held.timer_id, until)
    eventually(lambda: running.notification(nid).state == "delivered")
    assert len(running.webhooks_for(person)) == 1


def a_zone_where_sms_may_not_go(moment: datetime) -> str:
    """An IANA zone whose local time at `moment` is well inside 21:00-08:00."""
    for zone in sorted(available_timezones()):
        if zone.startswith(("Etc/", "posix/", "right/")) or "/" not in zone:
            continue
        hour = moment.astimezone(ZoneInfo(zone)).hour
        if hour >= 22 or hour < 7:
            return zone
    raise AssertionError("no zone is at night now")


def test_marketing_sms_at_night_local_waits_for_eight_even_when_released_before(
        running: Engine) -> None:
    """Released at 08:00 by the scheduler's command while this dispatcher's (real) clock
    still says night, the dispatch re-check holds it again: it is texted only once the
    dispatcher's own clock is in the window (that it is texted then, with a driven
    dispatcher clock: test_dispatch_recheck.py)."""
    person = running.someone(webhook=False, phone=True)
    zone = a_zone_where_sms_may_not_go(datetime.now(UTC) + timedelta(minutes=5))
    running.prefer(person, {"time_zone": zone})
    nid = running.trigger(person, ["sms"], category="marketing")
    held = running.held(nid)
    assert held.reason == "sms_window"
    local_until = held.until.astimezone(ZoneInfo(zone))
    assert (local_until.hour, local_until.minute) == (8, 0)
    assert running.step(nid, "sms_window")["inputs"]["time_zone"] == zone
    running.release(nid, held.timer_id, held.until)
    [_, again] = eventually(lambda: len(holds := [
        e for e in running.events(nid) if isinstance(e, Notification.Held)]) == 2 and holds)
    assert (again.reason, again.until) == ("sms_window", held.until)
    assert not any(isinstance(e, Notification.Dispatched) for e in running.events(nid))


def test_a_transactional_sms_at_night_goes_at_once(running: Engine) -> None:
    person = running.someone(webhook=False, phone=True)
    running.prefer(person, {"time_zone": a_zone_where_sms_may_not_go(datetime.now(UTC))})
    nid = running.trigger(person, ["sms"], category="account")
    assert running.step(nid, "sms_window")["inputs"]["applies"] is False
    eventually(lambda: running.notification(nid).state == "accepted")


def test_the_answer_shows_each_value_and_where_it_came_from(running: Engine) -> None:
    person = running.someone(webhook=False)
    fresh = running.http.get(PATH, headers=person.auth).json()
    assert fresh["time_zone"] == "UTC" and fresh["time_zone_source"] == "default"
    assert fresh["channels"]["marketing"]["email"] == {
        "enabled": True, "source": "default", "default": True, "critical": False}
    assert fresh["channels"]["security"]["email"]["critical"] is True
    changed = running.prefer(person, {"channels": {"marketing": {"email": False}},
                                      "locale": "PT-br", "time_zone": "Europe/London"}).json()
    assert changed["changes"] == 3
    assert changed["channels"]["marketing"]["email"]["source"] == "user"
    assert (changed["locale"], changed["time_zone_source"]) == ("pt-BR", "user")
    again = running.prefer(person, {"channels": {"marketing": {"email": None}}}).json()
    assert again["channels"]["marketing"]["email"]["source"] == "default"
    assert again["locale"] == "pt-BR"  # not named: unchanged
    assert running.prefer(person, {"locale": "pt-BR"}).json()["changes"] == 0


def test_an_email_unsubscribe_link_shows_as_the_source_of_that_choice(running: Engine) -> None:
    person = running.someone()
    running.parley.writer.execute(UnsubscribeEmail(uuid.UUID(person.user_id), "marketing",
                                                   now()), a_cause())
    shown = running.http.get(PATH, headers=person.auth).json()
    assert shown["channels"]["marketing"]["email"]["enabled"] is False
    assert shown["channels"]["marketing"]["email"]["source"] == "unsubscribe_link"
    assert shown["channels"]["system"]["email"]["source"] == "default"


@pytest.mark.parametrize(("body", "field"), [
    ({"channels": {"gossip": {"email": False}}}, "channels.gossip.email"),
    ({"channels": {"marketing": {"carrier_pigeon": False}}}, "channels.marketing.carrier_pigeon"),
    ({"time_zone": "Mars/Olympus_Mons"}, "time_zone"),
    ({"time_zone": "../../etc/passwd"}, "time_zone"),
    ({"quiet_hours": {"start": "22:00", "end": "22:00"}}, "quiet_hours"),
    ({"quiet_hours": {"start": "25:00", "end": "07:00"}}, "quiet_hours.start"),
    ({"locale": "english please"}, "locale"),
])
def test_bad_input_is_a_422_naming_the_field_and_changes_nothing(
        running: Engine, body: dict[str, Any], field: str) -> None:
    person = running.someone(webhook=False)
    before = running.http.get(PATH, headers=person.auth).json()
    mixed = {"channels": {"marketing": {"email": False}}} | body  # a good part is not kept
    answer = running.prefer(person, mixed)
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert field in [e["field"] for e in answer.json()["errors"]]
    assert running.http.get(PATH, headers=person.auth).json() == before


@pytest.mark.parametrize("body", [{"channels": []}, {"quiet_hours": "22-07"},
                                  {"timezone": "UTC"}, {"time_zone": 7}])
def test_a_malformed_body_is_a_422(running: Engine, body: dict[str, Any]) -> None:
    person = running.someone(webhook=False)
    answer = running.prefer(person, body)
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("application/problem+json")


def test_without_a_session_neither_reading_nor_changing_is_possible(running: Engine) -> None:
    assert running.http.get(PATH).status_code == 401
    assert running.http.put(PATH, json={"locale": "en"}).status_code == 401
