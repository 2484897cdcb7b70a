"""A notification's decision trace from its events (commands/notifications/trace.py): every step
in order with its outcome and facts, breakers as recorded at dispatch, events it does not know
rendered by name, and what each audience may not see."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from commands.notifications.trace import NotificationTrace, NotificationTraces, Viewer
from domain.notifications.circuits import ProviderCircuit
from domain.notifications.content import Content, Rendering
from domain.notifications.decisions import (
    ChannelsThatReach,
    Decision,
    RecipientFacts,
    RoutingRequest,
    decide,
)
from domain.notifications.errors import NotificationNotFound
from domain.notifications.notifications import Answer, Notification, PlannedDelivery
from domain.notifications.preference_steps import ChannelPreferences
from domain.notifications.preferences import PreferenceFacts
from domain.notifications.retries import RetryPolicy
from domain.notifications.throttles import HOLD, ThrottleVerdict
from event_log.aggregate import Cause, ParleyAggregate

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
CAUSE = Cause(uuid.uuid4(), uuid.uuid4())
POLICY = RetryPolicy(max_attempts=2, base_seconds=2.0, cap_seconds=60.0)
FACTS = RecipientFacts(frozenset({"fcm", "email"}), frozenset({"fcm", "email", "in_app"}))
CALLER = "apikey:k_billing"
SECRET_WORDS = ("Your code is 914 227", "Sign-in code")
SEVEN = NOW + timedelta(hours=22)
FIRST = uuid.uuid4()


class Escalated(ParleyAggregate.Event):
    """A step the trace has never heard of (as the next one added to the engine will be)."""

    bucket: str
    tokens: float
    body: str  # content in an unknown event: still never shown to an admin
    at: datetime


class SameKeyEarlier:
    """A step about what the service asked itself: its dedup key's earlier notification."""

    name = "dedup"

    def decide(self, request: RoutingRequest, facts: RecipientFacts,
               now: datetime) -> Decision:
        return Decision(self.name, inputs={"first_notification_id": str(FIRST)})


class QuietUntilSeven:
    """A decision step that looks at the recipient's own settings and holds."""

    name = "quiet_hours"

    def decide(self, request: RoutingRequest, facts: RecipientFacts,
               now: datetime) -> Decision:
        return Decision(self.name, hold_until=SEVEN,
                        inputs={"time_zone": "Europe/Lisbon", "window": ["22:00", "07:00"]})


class Log:
    """Events by aggregate, read as the library's event store reads them."""

    def __init__(self) -> None:
        self.events: dict[uuid.UUID, list[Any]] = {}

    def save(self, aggregate: ParleyAggregate) -> None:
        for event in aggregate.collect_events():
            self.events.setdefault(event.originator_id, []).append(event)

    def get(self, originator_id: uuid.UUID, *, gt: int | None = None, lte: int | None = None,
            desc: bool = False, limit: int | None = None) -> Iterator[Any]:
        found = [e for e in self.events.get(originator_id, [])
                 if (gt is None or e.originator_version > gt)
                 and (lte is None or e.originator_version <= lte)]
        return iter((found[::-1] if desc else found)[:limit])


def requested(channels: tuple[str, ...] = ("push", "email")) -> Notification:
    notification = Notification.request(
        uuid.uuid4(), uuid.uuid4(), category="security", priority="high", channels=channels,
        fallback_after_seconds=None, content=Content(SECRET_WORDS[1], SECRET_WORDS[0]),
        send_at=None, cancellation_key=None, caller=CALLER, at=NOW, cause=CAUSE)
    notification.route(decide(RoutingRequest("security", "high", channels, None), FACTS, NOW),
                       NOW, CAUSE)
    return notification


def attempt(notification: Notification, at: datetime, provider: str,
            answer: dict[str, Any]) -> None:
    kind = {"push": "fcm", "email": "email"}[str(notification.channel)]
    notification.dispatch([PlannedDelivery("cp-1", kind, provider)], at, CAUSE)
    [delivery] = notification.pending_deliveries()
    notification.record([Answer(uuid.UUID(delivery["delivery_id"]), provider, **answer)],
                        at, POLICY, 0.5, CAUSE)


UNAVAILABLE = {"accepted": False, "latency_ms": 212, "code": "UNAVAILABLE", "retryable": True}
TAKEN = {"accepted": True, "latency_ms": 35, "provider_message_id": "m-1"}


def retried_then_fell_back(log: Log) -> Notification:
    notification = requested()
    attempt(notification, NOW, "fcm-main", UNAVAILABLE)
    assert notification.timer is not None
    later = notification.timer.due_at
    notification.release(notification.timer.timer_id, later, CAUSE)
    attempt(notification, later, "fcm-main", UNAVAILABLE)  # the last attempt: falls back
    attempt(notification, later, "smtp-main", TAKEN)
    log.save(notification)
    return notification


def trace(log: Log, notification: Notification, viewer: Viewer | None = None,
          providers: tuple[str, ...] = ()) -> NotificationTrace:
    return NotificationTraces(log, providers).trace(
        notification.id, viewer or Viewer.user(notification.recipient_id, is_admin=False))


def test_a_retried_then_fallen_back_notification_shows_each_attempt_and_answer_in_order():
    log = Log()
    notification = retried_then_fell_back(log)
    shown = trace(log, notification)
    assert [(s.step, s.outcome) for s in shown.steps] == [
        ("request", f"security (high) on push, email from {CALLER}"),
        ("decision", "send"),  # reachability
        ("decision", "send"),  # send_at
        ("routing", "channels: push, email"),
        ("queue", "queued for push, attempt 1"),
        ("dispatch", "push attempt 1 via fcm-main (breaker closed)"),
        ("answer", "fcm-main failed: UNAVAILABLE (212 ms, retryable)"),
        ("retry", f"push attempt 2 due {notification_retry_due(shown)}"),
        ("release", "retry timer came due"),
        ("queue", "queued for push, attempt 2"),
        ("dispatch", "push attempt 2 via fcm-main (breaker closed)"),
        ("answer", "fcm-main failed: UNAVAILABLE (212 ms, retryable)"),
        ("fallback", "push -> email: attempts exhausted"),
        ("queue", "queued for email, attempt 1"),
        ("dispatch", "email attempt 1 via smtp-main (breaker closed)"),
        ("answer", "smtp-main accepted (35 ms)"),
        ("accepted", "email accepted on attempt 1"),
    ]
    assert [s.name for s in shown.steps[1:3]] == ["reachability", "send_at"]
    assert [s.version for s in shown.steps] == [1, 2, 2, *range(3, 17)]
    assert shown.state == "accepted"
    failed = shown.steps[6].details
    assert (failed["provider"], failed["code"], failed["latency_ms"], failed["attempt"]) == (
        "fcm-main", "UNAVAILABLE", 212, 1)


def notification_retry_due(shown: NotificationTrace) -> str:
    [retry] = [s for s in shown.steps if s.step == "retry"]
    return str(retry.details["due_at"])


def test_a_notification_no_channel_can_reach_shows_why_it_was_suppressed():
    log = Log()
    notification = requested(("sms",))  # no phone number, and no SMS provider
    log.save(notification)
    steps = trace(log, notification).steps
    assert [(s.step, s.outcome) for s in steps] == [
        ("request", f"security (high) on sms from {CALLER}"),
        ("decision", "rule_out: sms (no provider is configured for it)"),
        ("decision", "send"),
        ("routing", "channels: none; sms skipped (reachability: no provider is configured "
                    "for it)"),
        ("suppressed", "suppressed: no channel can reach the recipient"),
    ]


def test_the_recipient_sees_the_title_and_an_admin_or_the_service_no_content_at_all():
    log = Log()
    notification = retried_then_fell_back(log)
    as_recipient = json.dumps([s.details for s in trace(log, notification).steps])
    assert SECRET_WORDS[1] in as_recipient and SECRET_WORDS[0] not in as_recipient
    for viewer in (Viewer.user(uuid.uuid4(), is_admin=True), Viewer.service(CALLER)):
        seen = trace(log, notification, viewer)
        text = json.dumps([(s.outcome, s.details) for s in seen.steps])
        assert not any(words in text for words in SECRET_WORDS), viewer
        assert seen.audience == viewer.audience


@pytest.mark.parametrize("viewer", [
    Viewer.user(uuid.uuid4(), is_admin=False), Viewer.service("apikey:k_someone_else")],
    ids=["another user", "another service"])
def test_anyone_else_is_told_what_a_random_id_is_told(viewer):
    log = Log()
    notification = retried_then_fell_back(log)
    with pytest.raises(NotificationNotFound) as theirs:
        NotificationTraces(log).trace(notification.id, viewer)
    with pytest.raises(NotificationNotFound) as random:
        NotificationTraces(log).trace(uuid.uuid4(), viewer)
    assert (type(theirs.value), str(theirs.value)) == (type(random.value), str(random.value))


def test_an_id_of_anything_but_a_notification_is_no_notification_even_to_an_admin():
    log = Log()
    circuit = ProviderCircuit.start("fcm-main", "push", CAUSE)
    log.save(circuit)
    with pytest.raises(NotificationNotFound):
        NotificationTraces(log).trace(circuit.id, Viewer.user(uuid.uuid4(), is_admin=True))


def test_a_dispatch_shows_the_breaker_as_recorded_at_that_moment():
    log = Log()
    circuit = ProviderCircuit.start("fcm-main", "push", CAUSE)
    circuit.change("open", NOW - timedelta(seconds=5), 0.6, 25, NOW + timedelta(seconds=10),
                   CAUSE)
    circuit.change("half_open", NOW + timedelta(seconds=10), 0.0, 0, None, CAUSE)
    log.save(circuit)
    notification = requested(("push",))
    notification.dispatch([], NOW, CAUSE)  # every push provider's breaker open: none chosen
    notification.record([], NOW, POLICY, 0.5, CAUSE)
    log.save(notification)
    [dispatch] = [s for s in trace(log, notification, providers=("fcm-main", "smtp-main")).steps
                  if s.step == "dispatch"]
    assert dispatch.outcome == "push attempt 1: no provider could be used (breakers open)"
    assert dispatch.details["breakers"] == {"fcm-main": {
        "state": "open", "since": (NOW - timedelta(seconds=5)).isoformat(),
        "until": (NOW + timedelta(seconds=10)).isoformat(), "failure_rate": 0.6, "calls": 25}}


def test_an_event_it_does_not_know_appears_by_its_name_and_fields_without_content():
    log = Log()
    notification = requested(("push",))
    notification.trigger_event(Escalated, bucket="recipient", tokens=0.25,
                               body=SECRET_WORDS[0], at=NOW, **CAUSE.as_event_fields())
    log.save(notification)
    last = trace(log, notification, Viewer.user(uuid.uuid4(), is_admin=True)).steps[-1]
    assert (last.event, last.step) == ("Escalated", "escalated")
    assert last.outcome.startswith("Escalated: bucket=recipient, tokens=0.25")
    assert "body" not in last.details and SECRET_WORDS[0] not in last.outcome


def test_each_decision_is_a_step_and_a_service_sees_only_the_inputs_about_its_own_asking():
    log = Log()
    notification = Notification.request(
        uuid.uuid4(), uuid.uuid4(), category="system", priority="normal", channels=["push"],
        fallback_after_seconds=None, content=Content("t", "b"), send_at=None,
        cancellation_key=None, caller=CALLER, at=NOW, cause=CAUSE)
    request = RoutingRequest("system", "normal", ("push", "sms"), None)
    pipeline = (ChannelsThatReach(), SameKeyEarlier(), QuietUntilSeven())
    notification.route(decide(request, FACTS, NOW, pipeline), NOW, CAUSE)
    log.save(notification)
    mine = [s for s in trace(log, notification).steps if s.step == "decision"]
    assert [(s.name, s.outcome) for s in mine] == [
        ("reachability", "rule_out: sms (no provider is configured for it)"),
        ("dedup", "send"), ("quiet_hours", f"hold: until {SEVEN.isoformat()}")]
    assert mine[2].details["inputs"]["time_zone"] == "Europe/Lisbon"
    held = trace(log, notification).steps[-1]
    assert (held.step, held.outcome) == ("hold", f"held until {SEVEN.isoformat()} (quiet_hours)")
    theirs = [s for s in trace(log, notification, Viewer.service(CALLER)).steps
              if s.step == "decision"]
    assert [s.outcome for s in theirs] == [s.outcome for s in mine]
    assert ["inputs" in s.details for s in theirs] == [False, True, False]  # dedup's: its own
    assert theirs[1].details["inputs"] == {"first_notification_id": str(FIRST)}


def test_a_throttle_shows_the_bucket_and_a_read_receipt_elsewhere_shows_it_cancelled_it():
    log = Log()
    notification = requested(("push",))
    until = NOW + timedelta(seconds=40)
    notification.throttle(ThrottleVerdict("recipient", 0.25, 10.0, 0.0028, until, HOLD), NOW,
                          CAUSE)
    receipt = uuid.uuid4()  # the read receipt's event, on another device
    notification.withdraw("read_receipt", NOW + timedelta(seconds=5),
                          Cause(notification.recipient_id, uuid.uuid4(), receipt))
    log.save(notification)
    last = trace(log, notification).steps[-3:]
    assert [(s.step, s.outcome) for s in last] == [
        ("throttle", f"push: the recipient bucket had 0.25 of 10.0 tokens (refills 0.0028/s): "
                     f"hold until {until.isoformat()}"),
        ("hold", f"held until {until.isoformat()} (throttled)"),
        ("cancelled", "cancelled: read_receipt")]
    assert last[-1].caused_by == receipt


def test_a_template_rendering_names_the_template_and_version_but_shows_no_admin_its_words():
    log = Log()
    template = uuid.uuid4()
    words = Content("Código de acesso", "Use 914 227.", html="<p>Use <b>914 227</b>.</p>")
    notification = Notification.request(
        uuid.uuid4(), uuid.uuid4(), category="security", priority="high", channels=("email",),
        fallback_after_seconds=None, content=words, send_at=None, cancellation_key=None,
        caller=CALLER, at=NOW, cause=CAUSE,
        renderings=[Rendering("email", template, 3, "pt", "pt-BR", words)])
    log.save(notification)

    steps = trace(log, notification, Viewer.user(uuid.uuid4(), is_admin=True)).steps
    assert [s.step for s in steps] == ["request", "template"]
    rendered = steps[1]
    assert rendered.outcome == f"email: template {template} v3 in pt (asked pt-BR)"
    assert not {"title", "body", "html"} & set(rendered.details)
    assert "renderings" not in steps[0].details
    [theirs] = [s for s in trace(log, notification).steps if s.step == "template"]
    assert theirs.details["title"] == "Código de acesso" and "html" not in theirs.details
    assert notification.rendered["email"]["html"] == words.html


def test_a_log_written_before_renderings_moved_into_the_request_still_traces_its_template():
    log = Log()
    notification = requested(("email",))
    template = uuid.uuid4()
    notification.trigger_event(  # as version 1 recorded it: an event of its own
        Notification.TemplateRendered, channel="email", template_id=template, version=3,
        locale="pt", asked_locale=None, title="Código", body="Use 914 227.", html=None,
        **CAUSE.as_event_fields())
    log.save(notification)

    [rendered] = [s for s in trace(log, notification).steps if s.step == "template"]
    assert rendered.outcome == f"email: template {template} v3 in pt (asked no locale)"
    assert notification.rendered["email"]["body"] == "Use 914 227."


def test_a_request_of_version_1_upcasts_to_one_without_renderings() -> None:
    state: dict[str, Any] = {"title": "t"}
    Notification.Requested.upcast_v1_v2(state)
    assert state == {"title": "t", "renderings": []}


class LooksAtAddresses:
    """A step whose inputs carry addresses under fields the trace has no name for."""

    name = "reachability_detail"

    def decide(self, request: RoutingRequest, facts: RecipientFacts,
               now: datetime) -> Decision:
        return Decision(self.name, inputs={"reply_to": ADDRESS, "seen": [ADDRESS, "fcm"],
                                           "email": ADDRESS})


ADDRESS = "ada.lovelace@example.com"


@pytest.mark.parametrize("viewer", ["recipient", "admin"])
def test_an_opted_out_email_shows_its_rule_in_the_trace_but_never_an_address(viewer):
    log = Log()
    notification = Notification.request(
        uuid.uuid4(), uuid.uuid4(), category="marketing", priority="normal",
        channels=["email", "push"], fallback_after_seconds=None, content=Content("t", "b"),
        send_at=None, cancellation_key=None, caller=CALLER, at=NOW, cause=CAUSE)
    facts = RecipientFacts(FACTS.address_kinds, FACTS.provided_kinds, preferences=PreferenceFacts(
        {"email": False}, {}, "Europe/Lisbon", "user"))
    request = RoutingRequest("marketing", "normal", ("email", "push"), None)
    pipeline = (ChannelsThatReach(), ChannelPreferences(), LooksAtAddresses())
    notification.route(decide(request, facts, NOW, pipeline), NOW, CAUSE)
    log.save(notification)
    who = (Viewer.user(notification.recipient_id, is_admin=False) if viewer == "recipient"
           else Viewer.user(uuid.uuid4(), is_admin=True))
    steps = trace(log, notification, who).steps
    [preferences] = [s for s in steps if s.name == "preferences"]
    assert preferences.details["inputs"]["channels"] == {
        "email": {"rule": "user", "enabled": False},
        "push": {"rule": "operator_default", "enabled": True}}
    assert preferences.outcome == "rule_out: email (opted out)"
    [looked] = [s for s in steps if s.name == "reachability_detail"]
    assert looked.details["inputs"] == {"seen": ["fcm"]}
    said = json.dumps([[s.outcome, s.details] for s in steps])
    assert ADDRESS not in said
