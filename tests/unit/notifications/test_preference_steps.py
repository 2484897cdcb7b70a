"""The preference, quiet-hours and SMS-window steps: which rule matched is in the inputs;
critical categories bypass opt-outs and quiet hours; SMS is sent only 08:00-21:00 local."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from domain.notifications.decisions import (
    ChannelsThatReach,
    RecipientFacts,
    RoutingRequest,
    SendAt,
    decide,
)
from domain.notifications.pipeline import DECISION_STEPS
from domain.notifications.preference_steps import (
    CRITICAL_BYPASS,
    OPERATOR_DEFAULT,
    USER,
    ChannelPreferences,
    QuietHours,
    SmsSendingWindow,
)
from domain.notifications.preferences import PreferenceFacts

KINDS = frozenset({"fcm", "email", "phone", "in_app"})
NEW_YORK = ZoneInfo("America/New_York")


def facts(overrides: dict[str, bool] | None = None, defaults: dict[str, bool] | None = None,
          zone: str = "America/New_York", quiet: tuple[str, str] | None = None
          ) -> RecipientFacts:
    return RecipientFacts(KINDS, KINDS, preferences=PreferenceFacts(
        overrides or {}, defaults or {}, zone, "user", quiet))


def request(channels: tuple[str, ...] = ("push", "email", "in_app"), category: str = "message",
            *, critical: bool = False, transactional: bool = False,
            send_at: datetime | None = None) -> RoutingRequest:
    return RoutingRequest(category, "normal", channels, send_at, critical=critical,
                          transactional=transactional or critical)


def new_york(*fields: int) -> datetime:
    return datetime(*fields, tzinfo=NEW_YORK).astimezone(UTC)  # type: ignore[arg-type, misc]


NOON = new_york(2026, 7, 1, 12, 0)
LATE = new_york(2026, 7, 1, 23, 0)


def test_a_channel_the_user_switched_off_is_skipped_and_the_rule_is_the_users() -> None:
    decision = ChannelPreferences().decide(request(), facts({"email": False}), NOON)
    assert decision.ruled_out == (("email", "opted out"),)
    assert decision.inputs["channels"]["email"] == {"rule": USER, "enabled": False}
    assert decision.inputs["channels"]["push"] == {"rule": OPERATOR_DEFAULT, "enabled": True}


def test_an_operator_default_off_applies_until_the_user_switches_it_on() -> None:
    off = ChannelPreferences().decide(request(), facts(defaults={"push": False}), NOON)
    assert [c for c, _ in off.ruled_out] == ["push"]
    assert off.inputs["channels"]["push"]["rule"] == OPERATOR_DEFAULT
    on = ChannelPreferences().decide(request(), facts({"push": True}, {"push": False}), NOON)
    assert on.ruled_out == ()
    assert on.inputs["channels"]["push"] == {"rule": USER, "enabled": True}


def test_a_critical_category_goes_to_a_channel_the_user_switched_off() -> None:
    decision = ChannelPreferences().decide(request(category="security", critical=True),
                                           facts({"email": False}), NOON)
    assert decision.ruled_out == ()
    assert decision.inputs["channels"]["email"] == {"rule": CRITICAL_BYPASS, "enabled": True,
                                                    "user_choice": False}


def test_a_critical_category_still_needs_a_reachable_channel() -> None:
    unreachable = RecipientFacts(frozenset({"in_app"}), KINDS, preferences=facts().preferences)
    routing = decide(request(("email",), "security", critical=True), unreachable, NOON,
                     DECISION_STEPS)
    assert routing.channels == ()
    assert routing.suppressed is not None


def test_inside_quiet_hours_it_is_held_until_they_end_local() -> None:
    decision = QuietHours().decide(request(), facts(quiet=("22:00", "07:00")), LATE)
    assert decision.hold_until == new_york(2026, 7, 2, 7, 0)
    assert decision.inputs["quiet_hours"] == {"start": "22:00", "end": "07:00"}
    assert decision.inputs["local_time"] == "2026-07-01T23:00"
    assert decision.inputs["time_zone"] == "America/New_York"


def test_the_inbox_alone_is_not_held_by_quiet_hours() -> None:
    decision = QuietHours().decide(request(("in_app",)), facts(quiet=("22:00", "07:00")), LATE)
    assert decision.hold_until is None


def test_outside_quiet_hours_it_goes_now() -> None:
    assert QuietHours().decide(request(), facts(quiet=("22:00", "07:00")), NOON).hold_until \
        is None


def test_a_critical_one_is_not_held_by_quiet_hours() -> None:
    decision = QuietHours().decide(request(category="security", critical=True),
                                   facts(quiet=("22:00", "07:00")), LATE)
    assert decision.hold_until is None
    assert decision.inputs["bypassed"] is True


def test_quiet_hours_look_at_the_time_it_was_asked_for() -> None:
    at_night = new_york(2026, 7, 1, 23, 30)
    decision = QuietHours().decide(request(send_at=at_night), facts(quiet=("22:00", "07:00")),
                                   NOON)
    assert decision.hold_until == new_york(2026, 7, 2, 7, 0)


def test_the_pipeline_asks_preferences_right_after_reachability() -> None:
    names = [step.name for step in DECISION_STEPS]
    assert names[:2] == ["reachability", "preferences"]
    assert names.index("quiet_hours") < names.index("sms_window") < names.index("send_at")


def test_the_held_reason_is_quiet_hours_when_they_end_after_send_at() -> None:
    routing = decide(request(send_at=new_york(2026, 7, 1, 23, 30)),
                     facts(quiet=("22:00", "07:00")), NOON, DECISION_STEPS)
    assert routing.hold_reason == "quiet_hours"
    assert routing.hold_until == new_york(2026, 7, 2, 7, 0)


def test_marketing_sms_after_nine_pm_local_is_held_until_eight() -> None:
    decision = SmsSendingWindow().decide(request(("sms",), "marketing"), facts(), LATE)
    assert decision.hold_until == new_york(2026, 7, 2, 8, 0)
    assert decision.inputs["applies"] is True


def test_sms_outside_the_window_is_ruled_out_when_another_channel_remains() -> None:
    decision = SmsSendingWindow().decide(request(("sms", "push"), "marketing"), facts(), LATE)
    assert decision.hold_until is None
    assert [c for c, _ in decision.ruled_out] == ["sms"]


def test_transactional_sms_goes_at_any_hour() -> None:
    decision = SmsSendingWindow().decide(request(("sms",), "account", transactional=True),
                                         facts(), LATE)
    assert decision.hold_until is None and decision.ruled_out == ()


def test_the_sms_window_opens_only_once_quiet_hours_are_over_too() -> None:
    decision = SmsSendingWindow().decide(request(("sms",), "marketing"),
                                         facts(quiet=("07:30", "09:00")), LATE)
    assert decision.hold_until == new_york(2026, 7, 2, 9, 0)


def test_the_sms_window_is_read_in_the_recipients_zone() -> None:
    london_evening = datetime(2026, 7, 1, 21, 30, tzinfo=ZoneInfo("Europe/London"))
    # 16:30 in New York: open there
    decision = SmsSendingWindow().decide(request(("sms",), "marketing"), facts(),
                                         london_evening)
    assert decision.hold_until is None


def test_quiet_hours_covering_the_whole_sms_window_rule_sms_out() -> None:
    decision = SmsSendingWindow().decide(request(("sms",), "marketing"),
                                         facts(quiet=("07:00", "22:00")), LATE)
    assert [c for c, _ in decision.ruled_out] == ["sms"]


def test_a_channel_ruled_out_before_is_not_seen_by_later_steps() -> None:
    steps = (ChannelsThatReach(), ChannelPreferences(), QuietHours(), SmsSendingWindow(),
             SendAt())  # the SMS consent step (another's) left out: consent is not the point
    routing = decide(request(("sms", "push"), "marketing"), facts({"push": False}), LATE,
                     steps)
    # push switched off: SMS is the only channel left, so it waits for 08:00
    assert routing.channels == ("sms",)
    assert routing.hold_until == new_york(2026, 7, 2, 8, 0)
    assert routing.hold_reason == "sms_window"
