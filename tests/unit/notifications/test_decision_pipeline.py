"""The decision pipeline's fold and its record: every step's answer, with what it looked at,
is recorded on the notification (`Decided`) before the channels it may use (`Routed`)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

from domain.notifications.content import Content
from domain.notifications.decisions import (
    HOLD,
    REROUTE,
    RULE_OUT,
    SEND,
    SUPPRESS,
    ChannelsThatReach,
    Decision,
    RecipientFacts,
    RoutingRequest,
    SendAt,
    decide,
)
from domain.notifications.notifications import HELD, Notification
from domain.notifications.pipeline import DECISION_STEPS
from event_log.aggregate import Cause

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
CAUSE = Cause(uuid.uuid4(), uuid.uuid4())
EVERYWHERE = RecipientFacts(frozenset({"fcm", "email", "phone", "in_app"}),
                            frozenset({"fcm", "email", "phone", "in_app"}))


class Answers:
    """A step that answers what it was given (a stand-in for a step of another helper)."""

    def __init__(self, name: str, decision: Decision) -> None:
        self.name = name
        self._decision = decision

    def decide(self, request: RoutingRequest, facts: RecipientFacts,
               now: datetime) -> Decision:
        return self._decision


def a_request(channels: tuple[str, ...] = ("push", "email", "in_app"),
              send_at: datetime | None = None) -> RoutingRequest:
    return RoutingRequest("system", "normal", channels, send_at)


def routed(routing_steps: tuple[Answers, ...], channels: tuple[str, ...] = ("push", "email"),
           send_at: datetime | None = None) -> Notification:
    notification = Notification.request(
        uuid.uuid4(), uuid.uuid4(), category="system", priority="normal", channels=channels,
        fallback_after_seconds=None, content=Content("Title", "Body"), send_at=send_at,
        cancellation_key=None, caller="apikey:test", at=NOW, cause=CAUSE)
    routing = decide(a_request(channels, send_at), EVERYWHERE, NOW,
                     (ChannelsThatReach(), *routing_steps, SendAt()))
    notification.route(routing, NOW, CAUSE)
    return notification


def test_the_pipeline_starts_with_reachability_and_ends_with_send_at() -> None:
    names = [step.name for step in DECISION_STEPS]
    assert names[0] == "reachability"
    assert names[-1] == "send_at"
    assert len(set(names)) == len(names)


def test_every_step_is_recorded_in_order_before_the_routing() -> None:
    rule = Answers("preferences", Decision("preferences", ruled_out=(("email", "opted out"),),
                                           inputs={"email": {"rule": "user"}}))
    notification = routed((rule,))
    events = notification.collect_events()
    kinds = [type(e).__name__ for e in events]
    assert kinds[:3] == ["Requested", "Decided", "Routed"]
    decided = events[1]
    assert isinstance(decided, Notification.Decided)
    assert [s["step"] for s in decided.steps] == ["reachability", "preferences", "send_at"]
    assert decided.steps[1] == {"step": "preferences", "outcome": RULE_OUT,
                                "ruled_out": [["email", "opted out"]],
                                "inputs": {"email": {"rule": "user"}}}
    routed_event = events[2]
    assert isinstance(routed_event, Notification.Routed)
    assert routed_event.skipped == [["email", "preferences: opted out"]]


def test_a_record_holds_only_json_types() -> None:
    until = NOW + timedelta(hours=3)
    decision = Decision("quiet_hours", hold_until=until,
                        inputs={"local": NOW.time(), "zones": frozenset({"b", "a"}),
                                "window": ("22:00", "07:00")})
    record = decision.record()
    assert json.loads(json.dumps(record)) == record
    assert record["hold_until"] == until.isoformat()
    assert record["inputs"]["zones"] == ["a", "b"]
    assert record["outcome"] == HOLD


def test_the_latest_hold_wins_and_names_its_step_as_the_held_reason() -> None:
    quiet_end = NOW + timedelta(hours=5)
    quiet = Answers("quiet_hours", Decision("quiet_hours", hold_until=quiet_end))
    notification = routed((quiet,), send_at=NOW + timedelta(hours=1))
    assert notification.state == HELD
    held = [e for e in notification.collect_events() if isinstance(e, Notification.Held)]
    assert held[0].until == quiet_end
    assert held[0].reason == "quiet_hours"


def test_a_send_at_later_than_every_other_hold_is_the_reason() -> None:
    quiet = Answers("quiet_hours", Decision("quiet_hours", hold_until=NOW + timedelta(hours=1)))
    notification = routed((quiet,), send_at=NOW + timedelta(hours=2))
    held = [e for e in notification.collect_events() if isinstance(e, Notification.Held)]
    assert held[0].reason == "send_at"


def test_a_suppression_ends_the_pipeline_and_is_the_last_step_recorded() -> None:
    dedup = Answers("dedup", Decision("dedup", suppress="a duplicate", inputs={"first": "n-1"}))
    notification = routed((dedup,))
    events = notification.collect_events()
    decided = next(e for e in events if isinstance(e, Notification.Decided))
    assert [s["step"] for s in decided.steps] == ["reachability", "dedup"]
    assert decided.steps[-1]["outcome"] == SUPPRESS
    assert decided.steps[-1]["reason"] == "a duplicate"
    suppressed = next(e for e in events if isinstance(e, Notification.Suppressed))
    assert suppressed.reason == "dedup: a duplicate"


def test_a_reroute_reorders_the_kept_channels_and_skips_those_it_leaves_out() -> None:
    routing = decide(a_request(("push", "email", "sms", "in_app")), EVERYWHERE, NOW,
                     (ChannelsThatReach(),
                      Answers("sms_window", Decision("sms_window",
                                                     reroute=("email", "push", "in_app"))),
                      SendAt()))
    assert routing.channels == ("email", "push", "in_app")
    assert routing.skipped == (("sms", "sms_window: rerouted"),)
    assert routing.trace[1].outcome == REROUTE


def test_a_reroute_cannot_bring_back_a_channel_an_earlier_step_ruled_out() -> None:
    facts = RecipientFacts(frozenset({"email", "in_app"}), EVERYWHERE.provided_kinds)
    routing = decide(a_request(("push", "email")), facts, NOW,
                     (ChannelsThatReach(),
                      Answers("x", Decision("x", reroute=("push", "email")))))
    assert routing.channels == ("email",)
    assert [c for c, _ in routing.skipped] == ["push"]


def test_a_step_that_changes_nothing_records_send() -> None:
    routing = decide(a_request(), EVERYWHERE, NOW, (ChannelsThatReach(), SendAt()))
    assert [d.outcome for d in routing.trace] == [SEND, SEND]
    assert routing.trace[0].inputs["address_kinds"] == sorted(EVERYWHERE.address_kinds)


def test_earliest_is_the_send_at_when_it_is_later_than_now() -> None:
    later = NOW + timedelta(minutes=5)
    assert a_request(send_at=later).earliest(NOW) == later
    assert a_request(send_at=NOW - timedelta(seconds=5)).earliest(NOW) == NOW
    assert a_request().earliest(NOW) == NOW
