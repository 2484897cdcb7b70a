"""The dispatch-time re-check end to end on the embedded default, in process, through HTTP and
the local FCM and Twilio stand-ins: a push FCM refuses falls back to SMS after 21:00
recipient-local and is held until 08:00 local, then texted; a user who switches a channel off
(PUT /v1/users/me/notification-preferences) while their notification waits out their quiet
hours does not get it there, it goes on the next channel, and the trace says why.

The dispatcher runs on a driven clock (it is the engine's own, built with `dispatch_settings`
and the engine's providers, queue and breakers; throttles are left out, the unit tests cover
them), so that a dispatch can happen hours after routing; holds are released by driving the
scheduler's command at the instant they end, as in test_preferences.py."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

import pytest

from commands.notifications.contact_points import AddPhone, ContactPointRules, RegisterDeviceToken
from commands.notifications.dispatch import ReleaseDue
from commands.notifications.dispatcher import Dispatcher
from commands.notifications.sms_consent import GrantSmsConsent
from domain.notifications.notifications import Notification
from parley.bootstrap import build
from parley.notification_engine import dispatch_settings
from tests.builders import Person, a_cause, now
from tests.e2e.notifications.in_process import (
    InProcess,
    embedded,
    eventually,
    fcm_provider,
    serving,
    twilio_provider,
    twilio_served,
)
from tests.providers import twilio
from tests.providers.fcm import FcmStandIn
from tests.providers.push_service import Refusal

NUMBER = "+447911123456"
UNREGISTERED = Refusal(404, "UNREGISTERED", field="message.token")


class DrivenClock:
    """The dispatcher's clock: the instant a test sets, else the real one."""

    def __init__(self) -> None:
        self.at: datetime | None = None

    def __call__(self) -> datetime:
        return self.at or datetime.now(UTC)


@dataclass
class Engine(InProcess):
    fcm: FcmStandIn
    sms: twilio.TwilioStandIn
    clock: DrivenClock

    def someone(self, zone: str) -> tuple[Person, str]:
        """A user in `zone` with an FCM token and a phone number that agreed to texts."""
        person = self.client.register("Ada")
        user = uuid.UUID(person.user_id)
        token = f"fcm-token:{uuid.uuid4().hex}{'x' * 30}"
        self.parley.writer.execute(RegisterDeviceToken(
            user, uuid.uuid4(), uuid.uuid4(), "fcm", token, now(), ContactPointRules(20)),
            a_cause())
        phone = uuid.uuid4()
        self.parley.writer.execute(AddPhone(user, phone, NUMBER, None, now(),
                                            ContactPointRules(20)), a_cause())
        self.parley.writer.execute(GrantSmsConsent(
            user, phone, "Offers by text. Reply STOP to cancel.", "app:settings", now()),
            a_cause(user))
        assert self.prefer(person, {"time_zone": zone}).status_code == 200
        return person, token

    def prefer(self, person: Person, body: dict[str, Any]) -> Any:
        return self.http.put("/v1/users/me/notification-preferences", json=body,
                             headers=person.auth)

    def trigger(self, person: Person) -> uuid.UUID:
        response = self.http.post("/v1/notifications", headers=self.service, json={
            "recipients": [person.user_id], "category": "marketing", "priority": "normal",
            "plan": {"channels": ["push", "sms"]},
            "content": {"title": "Winter sale", "body": "Half off until Sunday."}})
        assert response.status_code == 202, response.text
        return uuid.UUID(response.json()["notifications"][0]["notification_id"])

    def release(self, nid: uuid.UUID, held: Any) -> None:
        """The scheduler's command at the instant the hold ends, and the dispatcher then."""
        self.clock.at = held.until
        self.parley.writer.execute(ReleaseDue(((nid, held.timer_id),), held.until), a_cause())


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory, fcm: FcmStandIn) -> Iterator[Engine]:
    with twilio_served() as (stand_in, sms):
        settings = embedded(tmp_path_factory.mktemp("recheck") / "d",
                            [fcm_provider(fcm, timeout_seconds=2),
                             twilio_provider(stand_in, sms)],
                            public_url="https://parley.example",
                            notification_timer_every_seconds=0.05)
        parley = build(settings)
        engine, clock = parley.notification_engine, DrivenClock()
        assert engine is not None and engine.dispatcher is not None
        engine.dispatcher = Dispatcher(engine.queue, engine.providers, parley.writer.execute,
                                       engine.board, dispatch_settings(settings), clock)
        with serving(parley, Engine, fcm=fcm, sms=stand_in, clock=clock) as running:
            yield running


def a_zone_at(moment: datetime, first_hour: int, last_hour: int) -> str:
    """An IANA zone whose local hour at `moment` is from `first_hour` to `last_hour`."""
    for zone in sorted(available_timezones()):
        if zone.startswith(("Etc/", "posix/", "right/")) or "/" not in zone:
            continue
        if first_hour <= moment.astimezone(ZoneInfo(zone)).hour <= last_hour:
            return zone
    raise AssertionError(f"no zone is between {first_hour}:00 and {last_hour}:59 now")


def next_local(moment: datetime, zone: str, hour: int, minute: int = 0) -> datetime:
    """The first instant after `moment` at which it is hour:minute in `zone`."""
    local = moment.astimezone(ZoneInfo(zone))
    at = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if at <= local:
        at = (local + timedelta(days=1)).replace(hour=hour, minute=minute, second=0,
                                                 microsecond=0)
    return at.astimezone(UTC)


def test_a_push_that_fails_after_nine_pm_local_falls_back_to_sms_held_until_eight(
        running: Engine) -> None:
    zone = a_zone_at(datetime.now(UTC) + timedelta(minutes=2), 9, 18)  # SMS kept at routing
    person, token = running.someone(zone)
    running.fcm.script.for_token(token, UNREGISTERED)  # the app was uninstalled
    late = next_local(datetime.now(UTC), zone, 22, 30)
    running.clock.at = late  # the push is dispatched (and refused) at 22:30 local

    nid = running.trigger(person)

    held = eventually(lambda: next(iter(running.events(nid, Notification.Held)), None))
    [fell_back] = running.events(nid, Notification.FellBack)
    assert (fell_back.from_channel, fell_back.to_channel) == ("push", "sms")
    [rechecked] = running.events(nid, Notification.Rechecked)
    assert (rechecked.channel, rechecked.outcome) == ("sms", "held")
    local_until = held.until.astimezone(ZoneInfo(zone))
    assert (held.reason, local_until.hour, local_until.minute) == ("sms_window", 8, 0)
    assert [d for d in running.events(nid, Notification.Dispatched) if d.channel == "sms"] \
        == []  # not texted at 22:30
    texted_before = len(running.sms.messages)

    running.release(nid, held)

    eventually(lambda: running.state(nid) == "accepted")
    assert len(running.sms.messages) == texted_before + 1
    assert running.sms.messages[-1].to == NUMBER
    [dispatched] = [d for d in running.events(nid, Notification.Dispatched)
                    if d.channel == "sms"]
    assert dispatched.at == held.until


def test_a_channel_switched_off_during_quiet_hours_is_not_used_and_the_trace_says_why(
        running: Engine) -> None:
    moment = datetime.now(UTC)
    zone = a_zone_at(moment + timedelta(minutes=2), 10, 16)  # quiet hours end before 21:00
    person, token = running.someone(zone)
    local = moment.astimezone(ZoneInfo(zone))
    end = (local + timedelta(hours=2)).replace(second=0, microsecond=0)
    assert running.prefer(person, {"quiet_hours": {
        "start": (local - timedelta(hours=1)).strftime("%H:%M"),
        "end": end.strftime("%H:%M")}}).status_code == 200
    nid = running.trigger(person)
    [held] = running.events(nid, Notification.Held)
    assert held.reason == "quiet_hours"

    switched = running.prefer(person, {"channels": {"marketing": {"push": False}}})
    assert switched.status_code == 200
    running.release(nid, held)

    eventually(lambda: running.state(nid) == "accepted")
    assert running.fcm.shown(token) == []  # never on the switched-off channel
    assert running.sms.messages[-1].to == NUMBER
    trace = running.http.get(f"/v1/notifications/{nid}/trace", headers=person.auth)
    assert trace.status_code == 200
    steps = trace.json()["steps"]
    [recheck] = [s for s in steps if s["step"] == "recheck"]
    assert recheck["outcome"] == ("push re-checked at dispatch: given up "
                                  "(preferences: opted out since routing)")
    preferences = next(s for s in recheck["details"]["steps"] if s["step"] == "preferences")
    assert preferences["inputs"]["channels"]["push"] == {"rule": "user", "enabled": False}
    assert [s["outcome"] for s in steps if s["step"] == "fallback"] == [
        "push -> sms: preferences: opted out since routing"]
