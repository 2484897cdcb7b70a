"""The re-check at dispatch (commands/notifications/recheck.py), through the trigger, dispatch
and timer handlers on an in-memory log: an SMS that comes due after 21:00 recipient-local is
held until 08:00, a channel opted out of (preferences, an email unsubscribe, a STOP) since
routing is given up for the next one saying why, only the numbers whose consent stands are
texted, critical categories bypass it as at routing, nothing is recorded when nothing changed,
a repeat decides the same, and under throttles it happens before any token is asked for."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from commands.notifications.contact_points import (
    AddPhone,
    AddWebhookEndpoint,
    ContactPointRules,
    add_phone,
    add_webhook_endpoint,
)
from commands.notifications.dispatch import (
    DispatchesStarted,
    ProviderAnswered,
    RecordAnswers,
    ReleaseDue,
    StartDispatches,
    record_answers,
    release_due,
    start_dispatches,
)
from commands.notifications.preferences import (
    ChangeNotificationPreferences,
    change_preferences,
)
from commands.notifications.sms_consent import (
    GrantSmsConsent,
    WithdrawSmsConsent,
    grant_sms_consent,
    withdraw_sms_consent,
)
from commands.notifications.throttles import Throttling
from commands.notifications.trace_steps import steps_of
from commands.notifications.trigger import (
    DEFAULT_CATEGORIES,
    NotificationsRequested,
    TriggerNotifications,
    trigger_notifications,
)
from domain.identity.users import User
from domain.notifications.contact_points import ContactPoints, contact_points_id
from domain.notifications.content import Content
from domain.notifications.endpoints import new_signing_secret
from domain.notifications.notifications import (
    ACCEPTED,
    DISPATCHING,
    HELD,
    QUEUED,
    SUPPRESSED,
    Answer,
    Notification,
)
from domain.notifications.preferences import PreferenceChanges
from domain.notifications.throttles import BucketRule, ThrottlePolicy
from event_log.batch import Batch
from event_log.log import EventLog
from tests.builders import a_cause, a_handle

ZONE = "America/New_York"
EVENING = datetime(2026, 7, 1, 20, 0, tzinfo=ZoneInfo(ZONE)).astimezone(UTC)  # 20:00 local
LATE = EVENING + timedelta(hours=2, minutes=30)  # 22:30 local
EIGHT = datetime(2026, 7, 2, 8, 0, tzinfo=ZoneInfo(ZONE)).astimezone(UTC)
NUMBER, OTHER_NUMBER = "+447911123456", "+447911123499"
PROVIDERS = {"webhook": ("hooks",), "phone": ("twilio",), "email": ("smtp",)}
KINDS = frozenset({"webhook", "phone", "email", "in_app"})
WORDING = "Offers by text. Reply STOP to cancel."


class World:
    """One recipient on an in-memory log, and the handlers run as the writer runs them."""

    def __init__(self) -> None:
        self.log = EventLog(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
        user = User.register(a_handle(), "Ada", a_cause())
        self.log.save(user)
        self.user = user.id
        self.webhook = uuid.uuid4()
        self.phones: dict[str, uuid.UUID] = {}

    def run(self, handler: Callable[[Batch, Any, Any], Any], command: Any) -> Any:
        batch = Batch(self.log.repository)
        result = handler(batch, command, a_cause())
        self.log.save(*batch.touched())
        return result

    def with_webhook(self) -> World:
        self.run(add_webhook_endpoint, AddWebhookEndpoint(
            self.user, self.webhook, "https://hooks.example.com/in", new_signing_secret(),
            EVENING - timedelta(days=1), ContactPointRules(20)))
        return self

    def with_phone(self, number: str = NUMBER, consent: bool = True) -> World:
        point = self.phones[number] = uuid.uuid4()
        self.run(add_phone, AddPhone(self.user, point, number, None,
                                     EVENING - timedelta(days=1), ContactPointRules(20)))
        if consent:
            self.run(grant_sms_consent, GrantSmsConsent(
                self.user, point, WORDING, "app:settings", EVENING - timedelta(days=1)))
        return self

    def with_email(self) -> World:
        batch = Batch(self.log.repository)
        book = batch.find(ContactPoints, contact_points_id(self.user))
        if book is None:
            book = ContactPoints.start(self.user, a_cause())
        self.email = uuid.uuid4()
        at = EVENING - timedelta(days=1)
        book.add_email(self.email, "ada@example.com", 20, at, a_cause())
        book.verify_email(self.email, at, a_cause())
        self.log.save(book)
        return self

    def prefer(self, at: datetime, channels: dict[tuple[str, str], bool | None] | None = None
               ) -> None:
        """Their New York zone, and these (category, channel) choices."""
        self.run(change_preferences, ChangeNotificationPreferences(
            self.user, PreferenceChanges(channels or {}, time_zone=ZONE, time_zone_given=True),
            "api", at, frozenset(DEFAULT_CATEGORIES)))

    def trigger(self, channels: tuple[str, ...], category: str = "marketing",
                at: datetime = EVENING, send_at: datetime | None = None) -> uuid.UUID:
        result = self.run(trigger_notifications, TriggerNotifications(
            uuid.uuid4(), "apikey:shop", (self.user,), category, "normal", channels,
            Content("Sale", "Half off today."), at, send_at=send_at, provided_kinds=KINDS))
        assert isinstance(result, NotificationsRequested)
        return result.notification_ids[0]

    def dispatch(self, nid: uuid.UUID, at: datetime,
                 throttling: Throttling | None = None) -> DispatchesStarted:
        started = self.run(start_dispatches, StartDispatches((nid,), at, PROVIDERS,
                                                             throttling=throttling))
        assert isinstance(started, DispatchesStarted)
        return started

    def fail(self, nid: uuid.UUID, started: DispatchesStarted, at: datetime) -> None:
        self.run(record_answers, RecordAnswers(tuple(ProviderAnswered(nid, Answer(
            s.delivery.attempt_id, s.provider, accepted=False, latency_ms=3, code="410"))
            for s in started.to_send), at))

    def accept(self, nid: uuid.UUID, started: DispatchesStarted, at: datetime) -> None:
        self.run(record_answers, RecordAnswers(tuple(ProviderAnswered(nid, Answer(
            s.delivery.attempt_id, s.provider, accepted=True, latency_ms=3,
            provider_message_id="m1")) for s in started.to_send), at))

    def release(self, nid: uuid.UUID, at: datetime) -> None:
        timer = self.notification(nid).timer
        assert timer is not None
        self.run(release_due, ReleaseDue(((nid, timer.timer_id),), at))

    def notification(self, nid: uuid.UUID) -> Notification:
        found = self.log.repository.get(nid)
        assert isinstance(found, Notification)
        return found

    def events(self, nid: uuid.UUID, kind: type | None = None) -> list[Any]:
        events = list(self.log.repository.event_store.get(nid))
        return events if kind is None else [e for e in events if isinstance(e, kind)]


def someone() -> World:
    world = World()
    world.prefer(EVENING - timedelta(days=1))  # their zone: New York
    return world


def fallen_back_to_sms(world: World, at: datetime) -> uuid.UUID:
    """A marketing notification on webhook then SMS, triggered at 20:00 local (SMS kept), its
    webhook failing at `at`: it falls back to SMS, queued at `at`."""
    nid = world.trigger(("webhook", "sms"))
    assert world.notification(nid).channels == ["webhook", "sms"]
    world.fail(nid, world.dispatch(nid, at), at)
    assert (world.notification(nid).state, world.notification(nid).channel) == (QUEUED, "sms")
    return nid


def test_an_sms_fallback_due_after_nine_pm_local_is_held_until_eight_then_texted() -> None:
    world = someone().with_webhook().with_phone()
    nid = fallen_back_to_sms(world, LATE)

    assert world.dispatch(nid, LATE).to_send == ()

    [rechecked] = world.events(nid, Notification.Rechecked)
    assert (rechecked.channel, rechecked.outcome, rechecked.reason) == ("sms", "held", None)
    window = next(s for s in rechecked.steps if s["step"] == "sms_window")
    assert (window["outcome"], window["inputs"]["local_time"]) == ("hold", "2026-07-01T22:30")
    held = world.events(nid, Notification.Held)[-1]
    assert (held.reason, held.until) == ("sms_window", EIGHT)
    world.release(nid, EIGHT)
    sent = world.dispatch(nid, EIGHT).to_send
    assert [s.delivery.address.value for s in sent] == [NUMBER]
    assert len(world.events(nid, Notification.Rechecked)) == 1  # at 08:00 nothing changed


def test_an_sms_fallback_in_the_window_is_texted_at_once() -> None:
    world = someone().with_webhook().with_phone()
    nid = fallen_back_to_sms(world, EVENING + timedelta(minutes=5))

    assert len(world.dispatch(nid, EVENING + timedelta(minutes=5)).to_send) == 1
    assert world.events(nid, Notification.Rechecked) == []


def test_a_channel_opted_out_of_during_a_hold_is_given_up_for_the_next_saying_why() -> None:
    world = someone().with_webhook().with_phone()
    nid = world.trigger(("webhook", "sms"), category="system", send_at=EVENING
                        + timedelta(minutes=30))
    assert world.notification(nid).state == HELD
    world.prefer(EVENING + timedelta(minutes=10), {("system", "webhook"): False})
    world.release(nid, EVENING + timedelta(minutes=30))

    assert world.dispatch(nid, EVENING + timedelta(minutes=30)).to_send == ()

    [rechecked] = world.events(nid, Notification.Rechecked)
    assert (rechecked.outcome, rechecked.reason) == (
        "given_up", "preferences: opted out since routing")
    preferences = next(s for s in rechecked.steps if s["step"] == "preferences")
    assert preferences["inputs"]["channels"]["webhook"] == {"rule": "user", "enabled": False}
    [fell_back] = world.events(nid, Notification.FellBack)
    assert (fell_back.from_channel, fell_back.to_channel, fell_back.reason) == (
        "webhook", "sms", "preferences: opted out since routing")
    assert [s.delivery.channel for s in world.dispatch(nid, EVENING + timedelta(
        minutes=30)).to_send] == ["sms"]


def test_the_last_channel_opted_out_of_since_routing_is_suppressed_not_dead_lettered() -> None:
    world = someone().with_webhook()
    nid = world.trigger(("webhook",), category="system", send_at=EVENING + timedelta(hours=1))
    world.prefer(EVENING, {("system", "webhook"): False})
    world.release(nid, EVENING + timedelta(hours=1))

    world.dispatch(nid, EVENING + timedelta(hours=1))

    notification = world.notification(nid)
    assert notification.state == SUPPRESSED
    [suppressed] = world.events(nid, Notification.Suppressed)
    assert suppressed.reason == "webhook: preferences: opted out since routing"
    assert world.events(nid, Notification.Dispatched) == []


def test_an_email_unsubscribe_since_routing_gives_email_up() -> None:
    world = someone().with_email().with_webhook()
    nid = world.trigger(("email", "webhook"), send_at=EVENING + timedelta(hours=1))
    batch = Batch(world.log.repository)
    book = batch.find(ContactPoints, contact_points_id(world.user))
    assert book is not None and book.unsubscribe_email("marketing", EVENING, a_cause())
    world.log.save(book)
    world.release(nid, EVENING + timedelta(hours=1))

    sent = world.dispatch(nid, EVENING + timedelta(hours=1)).to_send

    [rechecked] = world.events(nid, Notification.Rechecked)
    assert rechecked.reason == "reachability: unsubscribed since routing"
    assert sent == () and world.notification(nid).channel == "webhook"


def test_a_stop_since_routing_gives_sms_up_and_names_the_consent_it_read() -> None:
    world = someone().with_phone().with_webhook()
    soon = EVENING + timedelta(minutes=30)
    nid = world.trigger(("sms", "webhook"), send_at=soon)
    assert world.notification(nid).channels == ["sms", "webhook"]
    world.run(withdraw_sms_consent, WithdrawSmsConsent(world.user, world.phones[NUMBER],
                                                       EVENING + timedelta(minutes=1)))
    world.release(nid, soon)

    world.dispatch(nid, soon)

    [rechecked] = world.events(nid, Notification.Rechecked)
    assert rechecked.reason == "sms_consent: no SMS consent since routing"
    consent = next(s for s in rechecked.steps if s["step"] == "sms_consent")
    assert consent["inputs"]["numbers"][0]["consent"] == "revoked"
    assert NUMBER not in repr(rechecked.steps)
    assert world.notification(nid).channel == "webhook"


def test_only_the_numbers_whose_consent_stands_are_texted() -> None:
    world = someone().with_phone(NUMBER).with_phone(OTHER_NUMBER, consent=False)
    nid = world.trigger(("sms",))
    assert world.notification(nid).channels == ["sms"]  # one consented number keeps SMS

    sent = world.dispatch(nid, EVENING).to_send

    assert [s.delivery.address.value for s in sent] == [NUMBER]
    [rechecked] = world.events(nid, Notification.Rechecked)
    assert (rechecked.outcome, rechecked.left_out) == (
        "narrowed", [str(world.phones[OTHER_NUMBER])])
    [dispatched] = world.events(nid, Notification.Dispatched)
    assert [d["contact_point_id"] for d in dispatched.deliveries] == [
        str(world.phones[NUMBER])]


def test_a_transactional_sms_goes_to_every_number_at_any_hour() -> None:
    world = someone().with_phone(NUMBER, consent=False).with_phone(OTHER_NUMBER, consent=False)
    nid = world.trigger(("sms",), category="account", at=LATE)

    sent = world.dispatch(nid, LATE).to_send

    assert sorted(s.delivery.address.value for s in sent) == [NUMBER, OTHER_NUMBER]
    assert world.events(nid, Notification.Rechecked) == []


def test_a_critical_category_bypasses_the_recheck_as_at_routing() -> None:
    world = someone().with_webhook().with_phone()
    nid = world.trigger(("webhook", "sms"), category="security")
    world.prefer(EVENING, {("security", "webhook"): False, ("security", "sms"): False})
    world.fail(nid, world.dispatch(nid, LATE), LATE)

    sent = world.dispatch(nid, LATE).to_send  # SMS at 22:30 local, switched off

    assert [s.delivery.channel for s in sent] == ["sms"]
    assert world.events(nid, Notification.Rechecked) == []


def test_nothing_is_recorded_when_nothing_changed() -> None:
    world = someone().with_webhook()
    nid = world.trigger(("webhook",), category="system")
    before = len(world.events(nid))

    world.accept(nid, world.dispatch(nid, EVENING), EVENING)

    added = [type(e).__qualname__ for e in world.events(nid)[before:]]
    assert added == ["Notification.Dispatched", "Notification.Accepted",
                     "Notification.ChannelAccepted"]
    assert world.notification(nid).state == ACCEPTED


def decided(world: World, nid: uuid.UUID, at: datetime) -> list[tuple[str, dict[str, Any]]]:
    """What StartDispatches would record, decided on the log as it is (not saved)."""
    batch = Batch(world.log.repository)
    start_dispatches(batch, StartDispatches((nid,), at, PROVIDERS), a_cause())
    return [(type(e).__qualname__, {k: v for k, v in vars(e).items()
                                    if k not in ("timestamp", "correlation_id", "actor_id",
                                                 "causation_id")})
            for a in batch.touched() for e in a.pending_events]


def test_a_repeat_of_the_command_decides_the_same() -> None:
    world = someone().with_webhook().with_phone().with_phone(OTHER_NUMBER, consent=False)
    held = fallen_back_to_sms(world, LATE)
    narrowed = world.trigger(("sms",))

    for nid, at in ((held, LATE), (narrowed, EVENING)):
        first, again = decided(world, nid, at), decided(world, nid, at)
        assert first == again
        assert "Notification.Rechecked" in [name for name, _ in first]


def test_under_throttles_it_is_rechecked_before_any_token_is_asked_for() -> None:
    throttling = Throttling(ThrottlePolicy(providers={"twilio": BucketRule.per_period(50, 60)}))
    world = someone().with_webhook().with_phone().with_phone(OTHER_NUMBER, consent=False)
    given_up = fallen_back_to_sms(world, LATE)

    assert world.dispatch(given_up, LATE, throttling).asking == ()  # held, no token asked
    assert world.notification(given_up).state == HELD

    narrowed = world.trigger(("sms",))
    asked = world.dispatch(narrowed, EVENING, throttling)
    [ask] = asked.asking
    assert [(a.bucket, a.tokens) for a in ask.asks] == [("provider:twilio", 1)]  # one number
    assert world.events(narrowed, Notification.Rechecked) == []  # not while it waits
    granted = Throttling(throttling.policy, {narrowed: None})
    assert len(world.dispatch(narrowed, EVENING, granted).to_send) == 1
    assert len(world.events(narrowed, Notification.Rechecked)) == 1
    assert world.notification(narrowed).state == DISPATCHING


def test_the_trace_says_what_the_recheck_did_in_a_sentence() -> None:
    world = someone().with_webhook().with_phone()
    nid = fallen_back_to_sms(world, LATE)
    world.dispatch(nid, LATE)
    [rechecked] = world.events(nid, Notification.Rechecked)

    [step] = steps_of(rechecked, "service", breakers=None)  # type: ignore[arg-type]

    assert (step.step, step.outcome) == (
        "recheck", f"sms re-checked at dispatch: held until {EIGHT.isoformat()} (sms_window)")
    assert "inputs" not in repr(step.details)  # a service never sees the recipient's settings
