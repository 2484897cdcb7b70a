"""The fraud rules: each kind triggers at its threshold and not before it, a payment's score is
the sum of the scores of the rules it triggers and its outcome follows the score; rule sets
travel as checked documents and are versioned by publishing."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.payments.activity import HISTORY_SECONDS, PaymentActivity
from domain.payments.risk import (
    ALLOW,
    DECLINE,
    DEFAULT_RULES,
    KINDS,
    OUTCOMES,
    REVIEW,
    InvalidRuleSet,
    PaymentFacts,
    Rule,
    RuleResult,
    RuleSet,
    assess,
    rule_set_from_document,
)
from domain.payments.rule_sets import RISK_RULES_ID, RiskRules
from event_log.log import EventLog
from tests.builders import a_cause

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
SENDER, RECIPIENT = uuid.uuid4(), uuid.uuid4()


def facts(**changes: Any) -> PaymentFacts:
    """A payment of 10.00 USD between two year-old accounts on a year-old device."""
    values: dict[str, Any] = {
        "payment_id": uuid.uuid4(), "sender_id": SENDER, "recipient_id": RECIPIENT,
        "amount": 1_000, "currency": "USD", "at": NOW,
        "sender_account_created_at": NOW - timedelta(days=365),
        "sender_device_added_at": NOW - timedelta(days=365), "blocked": False}
    return PaymentFacts(**(values | changes))


def activity(user: uuid.UUID) -> PaymentActivity:
    return PaymentActivity.start(user, a_cause())


def sends(of: PaymentActivity, *amounts: int, at: datetime = NOW,
          recipient: uuid.UUID | None = None, currency: str = "USD",
          settle: bool = False) -> None:
    for amount in amounts:
        payment = uuid.uuid4()
        of.record_send(payment, recipient or uuid.uuid4(), amount, currency, at, a_cause())
        if settle:
            of.record_settled(payment, at, a_cause())


def receipts(of: PaymentActivity, *amounts: int, at: datetime = NOW,
             sender: uuid.UUID | None = None, currency: str = "USD") -> None:
    for amount in amounts:
        of.record_receive(uuid.uuid4(), sender or uuid.uuid4(), amount, currency, at,
                          a_cause())


def result(kind: str, payment: PaymentFacts, sender: PaymentActivity | None = None,
           recipient: PaymentActivity | None = None, params: Mapping[str, int] | None = None,
           **more: int) -> RuleResult:
    """The one result of a rule set of only this rule (its thresholds `params` and `more`)."""
    rule = Rule(kind, True, 10, {**(params or {}), **more})
    rule_set = RuleSet(1, (rule,), review_at=10, decline_at=20)
    assessment = assess(rule_set, payment, sender or activity(SENDER),
                        recipient or activity(RECIPIENT))
    (only,) = assessment.results
    return only


def triggered(kind: str, payment: PaymentFacts, sender: PaymentActivity | None = None,
              recipient: PaymentActivity | None = None, params: Mapping[str, int] | None = None,
              **more: int) -> bool:
    return result(kind, payment, sender, recipient, params, **more).triggered


def test_sender_velocity_count_triggers_on_the_payment_beyond_max_count_in_the_window() -> None:
    sender = activity(SENDER)
    sends(sender, 1, at=NOW - HOUR - timedelta(seconds=1))  # outside the window
    sends(sender, 1, 1, at=NOW - HOUR)
    params = {"window_seconds": 3600, "max_count": 3}
    assert not triggered("sender_velocity_count", facts(), sender, params=params)  # the 3rd
    sends(sender, 1, at=NOW - timedelta(minutes=1))
    assert triggered("sender_velocity_count", facts(), sender, params=params)  # the 4th
    assert result("sender_velocity_count", facts(), sender, params=params).detail["count"] == 4


def test_sender_velocity_amount_triggers_on_a_total_beyond_max_amount() -> None:
    sender = activity(SENDER)
    sends(sender, 600, at=NOW - HOUR)
    sends(sender, 5_000, currency="EUR")  # another currency's total is its own
    params = {"window_seconds": 3600, "max_amount": 1_000}
    assert not triggered("sender_velocity_amount", facts(amount=400), sender, params=params)
    assert triggered("sender_velocity_amount", facts(amount=401), sender, params=params)


def test_an_amount_threshold_may_be_set_per_currency() -> None:
    params = {"window_seconds": 3600, "max_amount": 1_000, "max_amount_JPY": 5_000}
    assert not triggered("sender_velocity_amount", facts(amount=5_000, currency="JPY"),
                         params=params)
    assert triggered("sender_velocity_amount", facts(amount=1_001), params=params)


def test_recipient_velocity_count_triggers_on_the_receipt_beyond_max_count() -> None:
    recipient = activity(RECIPIENT)
    receipts(recipient, 1, 1, at=NOW - timedelta(minutes=5))
    params = {"window_seconds": 3600, "max_count": 3}
    assert not triggered("recipient_velocity_count", facts(), recipient=recipient, params=params)
    receipts(recipient, 1)
    assert triggered("recipient_velocity_count", facts(), recipient=recipient, params=params)


def test_recipient_velocity_amount_triggers_on_a_total_beyond_max_amount() -> None:
    recipient = activity(RECIPIENT)
    receipts(recipient, 700, at=NOW - timedelta(minutes=5))
    receipts(recipient, 9_000, at=NOW - 2 * HOUR)  # outside the window
    params = {"window_seconds": 3600, "max_amount": 1_000}
    assert not triggered("recipient_velocity_amount", facts(amount=300),
                         recipient=recipient, params=params)
    assert triggered("recipient_velocity_amount", facts(amount=301), recipient=recipient,
                     params=params)


def test_new_account_triggers_below_min_age() -> None:
    week = timedelta(days=7)
    assert not triggered("new_account", facts(sender_account_created_at=NOW - week),
                         min_age_seconds=7 * 86_400)
    young = facts(sender_account_created_at=NOW - week + timedelta(seconds=1))
    assert triggered("new_account", young, min_age_seconds=7 * 86_400)
    assert result("new_account", young, min_age_seconds=1).detail["age_seconds"] == 604_799


def test_new_device_triggers_below_min_age_and_not_without_a_device() -> None:
    day = timedelta(days=1)
    assert not triggered("new_device", facts(sender_device_added_at=NOW - day),
                         min_age_seconds=86_400)
    assert triggered("new_device", facts(sender_device_added_at=NOW - day + HOUR),
                     min_age_seconds=86_400)
    assert not triggered("new_device", facts(sender_device_added_at=None),
                         min_age_seconds=86_400)


def test_unusual_amount_triggers_above_the_multiple_of_the_median_once_there_is_history() -> None:
    sender = activity(SENDER)
    sends(sender, 90, 100, settle=True)
    params = {"multiple_of_median": 5, "min_history": 3}
    assert not triggered("unusual_amount", facts(amount=10**9), sender, params=params)  # too few
    sends(sender, 110, settle=True)
    sends(sender, 1, 1, 1)  # not settled: not in the median
    assert not triggered("unusual_amount", facts(amount=500), sender, params=params)
    assert triggered("unusual_amount", facts(amount=501), sender, params=params)
    assert not triggered("unusual_amount", facts(amount=501, currency="EUR"), sender, params=params)


def test_counterparty_blocked_triggers_when_either_blocked_the_other() -> None:
    assert triggered("counterparty_blocked", facts(blocked=True))
    assert not triggered("counterparty_blocked", facts(blocked=False))


def test_counterparty_reported_triggers_at_min_reports_from_distinct_reporters() -> None:
    recipient, reporter = activity(RECIPIENT), uuid.uuid4()
    recipient.record_report(uuid.uuid4(), NOW - timedelta(days=2), a_cause())  # too old
    recipient.record_report(reporter, NOW - HOUR, a_cause(), uuid.uuid4())
    recipient.record_report(reporter, NOW - HOUR, a_cause(), uuid.uuid4())  # the same reporter
    params = {"window_seconds": 86_400, "min_reports": 2}
    assert not triggered("counterparty_reported", facts(), recipient=recipient, params=params)
    recipient.record_report(uuid.uuid4(), NOW, a_cause())
    assert triggered("counterparty_reported", facts(), recipient=recipient, params=params)


def test_many_recipients_triggers_beyond_max_distinct_recipients_in_the_window() -> None:
    sender, third, fourth = activity(SENDER), uuid.uuid4(), uuid.uuid4()
    sends(sender, 1, recipient=RECIPIENT, at=NOW - HOUR)
    sends(sender, 1, 1, recipient=third, at=NOW - HOUR)
    params = {"window_seconds": 86_400, "max_distinct": 3}
    assert not triggered("many_recipients", facts(), sender, params=params)  # one already paid
    assert not triggered("many_recipients", facts(recipient_id=fourth), sender, params=params)
    sends(sender, 1, recipient=fourth)
    assert triggered("many_recipients", facts(recipient_id=uuid.uuid4()), sender, params=params)


def test_mule_triggers_when_a_recipient_gets_more_new_senders_than_allowed() -> None:
    recipient = activity(RECIPIENT)
    receipts(recipient, 1, sender=uuid.uuid4(), at=NOW - HOUR)
    receipts(recipient, 1, sender=uuid.uuid4(), at=NOW - HOUR)
    params = {"window_seconds": 86_400, "max_new_senders": 3}
    assert not triggered("mule", facts(), recipient=recipient, params=params)  # the 3rd new one
    receipts(recipient, 1, sender=uuid.uuid4())
    assert triggered("mule", facts(), recipient=recipient, params=params)  # the 4th
    receipts(recipient, 1, sender=SENDER, at=NOW - timedelta(days=3))
    assert not triggered("mule", facts(), recipient=recipient, params=params)  # known sender


def test_a_payment_already_in_the_activity_counts_once() -> None:
    sender, recipient, payment = activity(SENDER), activity(RECIPIENT), facts(amount=600)
    sender.record_send(payment.payment_id, RECIPIENT, 600, "USD", NOW, a_cause())
    recipient.record_receive(payment.payment_id, SENDER, 600, "USD", NOW, a_cause())
    assert result("sender_velocity_count", payment, sender, window_seconds=60,
                  max_count=1).detail["count"] == 1
    assert result("sender_velocity_amount", payment, sender, window_seconds=60,
                  max_amount=1).detail["total"] == 600
    assert result("recipient_velocity_amount", payment, recipient=recipient,
                  window_seconds=60, max_amount=1).detail["total"] == 600
    assert result("mule", payment, recipient=recipient, window_seconds=60,
                  max_new_senders=1).detail["new_senders"] == 1


def test_the_score_sums_the_triggered_rules_and_sets_the_outcome() -> None:
    rules = (Rule("new_account", True, 30, {"min_age_seconds": 86_400}),
             Rule("new_device", True, 20, {"min_age_seconds": 86_400}),
             Rule("counterparty_blocked", True, 50, {}),
             Rule("mule", False, 1_000, {"window_seconds": 60, "max_new_senders": 0}))
    rule_set = RuleSet(7, rules, review_at=50, decline_at=100)
    young = {"sender_account_created_at": NOW - HOUR}
    cases = [(facts(), 0, ALLOW), (facts(**young), 30, ALLOW),
             (facts(**young, sender_device_added_at=NOW), 50, REVIEW),
             (facts(**young, sender_device_added_at=NOW, blocked=True), 100, DECLINE)]
    for payment, score, outcome in cases:
        assessment = assess(rule_set, payment, activity(SENDER), activity(RECIPIENT))
        assert (assessment.score, assessment.outcome, assessment.rule_set_version) == (
            score, outcome, 7)
        assert [r.kind for r in assessment.results] == ["new_account", "new_device",
                                                        "counterparty_blocked"]  # not mule


def test_the_defaults_review_a_new_account_on_a_new_device_paying_a_reported_user() -> None:
    recipient = activity(RECIPIENT)
    for _ in range(3):
        recipient.record_report(uuid.uuid4(), NOW - HOUR, a_cause())
    assessment = assess(DEFAULT_RULES, facts(), activity(SENDER), recipient)
    assert (assessment.outcome, assessment.score) == (REVIEW, 50)
    fresh = facts(sender_account_created_at=NOW - HOUR, sender_device_added_at=NOW - HOUR)
    assert assess(DEFAULT_RULES, fresh, activity(SENDER), recipient).outcome == REVIEW
    assert assess(DEFAULT_RULES, facts(), activity(SENDER), activity(RECIPIENT)).outcome == ALLOW
    assert assess(DEFAULT_RULES, facts(blocked=True), activity(SENDER),
                  activity(RECIPIENT)).outcome == DECLINE


def test_an_assessment_document_is_json_with_whole_numbers() -> None:
    document = assess(DEFAULT_RULES, facts(), activity(SENDER), activity(RECIPIENT)).as_document()
    assert json.loads(json.dumps(document)) == document
    assert set(document) == {"outcome", "score", "results", "rule_set_version"}
    numbers = [v for r in document["results"] for v in r["detail"].values()
               if not isinstance(v, str)]
    assert numbers and all(type(v) is int for v in numbers)


def test_a_rule_set_document_reads_back_as_the_same_rule_set() -> None:
    document = json.loads(json.dumps(DEFAULT_RULES.as_document()))
    assert rule_set_from_document(document) == DEFAULT_RULES
    assert {r.kind for r in DEFAULT_RULES.rules} == set(KINDS)


def edited(change: Any) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(json.dumps(DEFAULT_RULES.as_document()))
    change(document)
    return document


@pytest.mark.parametrize(("change", "field"), [
    (lambda d: d["rules"][0].update(kind="astrology"), "rules[0].kind"),
    (lambda d: d["rules"][0]["params"].update(max_count=-1), "rules[0].params.max_count"),
    (lambda d: d["rules"][0]["params"].pop("window_seconds"),
     "rules[0].params.window_seconds"),
    (lambda d: d["rules"][0]["params"].update(window_seconds=HISTORY_SECONDS + 1),
     "rules[0].params.window_seconds"),
    (lambda d: d["rules"][0]["params"].update(max_count=2.5), "rules[0].params.max_count"),
    (lambda d: d["rules"][0]["params"].update(max_count=True), "rules[0].params.max_count"),
    (lambda d: d["rules"][0]["params"].update(colour=1), "rules[0].params.colour"),
    (lambda d: d["rules"][0]["params"].update(max_amount_JPY=1),
     "rules[0].params.max_amount_JPY"),  # a count rule has no amounts
    (lambda d: d["rules"][1]["params"].update(max_amount_usd=1),
     "rules[1].params.max_amount_usd"),
    (lambda d: d["rules"][2].update(score=-5), "rules[2].score"),
    (lambda d: d["rules"][2].update(enabled="yes"), "rules[2].enabled"),
    (lambda d: d["rules"][2].pop("params"), "rules[2].params"),
    (lambda d: d["rules"][2].update(note="x"), "rules[2].note"),
    (lambda d: d["rules"].append("rule"), "rules[11]"),
    (lambda d: d.update(review_at=101), "decline_at"),
    (lambda d: d.update(review_at=0), "review_at"),
    (lambda d: d.pop("decline_at"), "decline_at"),
    (lambda d: d.update(rules={}), "rules"),
    (lambda d: d.update(extra=1), "extra"),
])
def test_an_invalid_rule_set_document_is_refused_naming_the_field(change: Any,
                                                                  field: str) -> None:
    with pytest.raises(InvalidRuleSet) as refused:
        rule_set_from_document(edited(change))
    assert refused.value.field == field


def test_before_any_publish_the_defaults_are_in_force_at_version_0() -> None:
    rules = RiskRules.start(a_cause())
    assert rules.id == RISK_RULES_ID
    assert rules.current() == DEFAULT_RULES
    own = RuleSet(3, DEFAULT_RULES.rules[:2], review_at=10, decline_at=20)
    assert rules.current(own).version == 0 and rules.current(own).rules == own.rules


def test_publishing_bumps_the_version_and_the_same_rules_again_record_nothing() -> None:
    rules, operator = RiskRules.start(a_cause()), uuid.uuid4()
    assert not rules.publish(edited(lambda d: None), "no change", operator, a_cause())
    stricter = edited(lambda d: d.update(review_at=40, version=99))  # its version is ignored
    assert rules.publish(stricter, "more reviews", operator, a_cause())
    assert (rules.current().version, rules.current().review_at) == (1, 40)
    assert not rules.publish(stricter, "again", operator, a_cause())
    assert rules.publish(edited(lambda d: None), "back to the defaults", operator, a_cause())
    assert (rules.current().version, rules.current().review_at) == (2, 50)
    published = [e for e in rules.collect_events() if isinstance(e, RiskRules.Published)]
    assert [(e.version, e.reason, e.operator) for e in published] == [
        (1, "more reviews", operator), (2, "back to the defaults", operator)]


def test_an_invalid_document_or_a_missing_reason_publishes_nothing() -> None:
    rules = RiskRules.start(a_cause())
    with pytest.raises(InvalidRuleSet):
        rules.publish(edited(lambda d: d.update(review_at=-1)), "oops", uuid.uuid4(), a_cause())
    with pytest.raises(InvalidRuleSet) as refused:
        rules.publish(edited(lambda d: d.update(review_at=40)), " ", uuid.uuid4(), a_cause())
    assert refused.value.field == "reason"
    assert rules.rules_version == 0 and rules.current() == DEFAULT_RULES


def test_published_rules_reload_from_the_log() -> None:
    log = EventLog(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    rules = RiskRules.start(a_cause())
    rules.publish(edited(lambda d: d["rules"][0].update(enabled=False)), "quiet", uuid.uuid4(),
                  a_cause())
    log.save(rules)
    loaded: RiskRules = log.repository.get(RISK_RULES_ID)
    assert loaded.current() == rules.current() and not loaded.current().rules[0].enabled


@st.composite
def rule_sets(draw: st.DrawFn) -> RuleSet:
    rules = []
    for kind in draw(st.lists(st.sampled_from(sorted(KINDS)), max_size=12)):
        params = {name: draw(st.integers(least, min(most, least + 5 * 86_400)))
                  for name, least, most in KINDS[kind][1]}
        rules.append(Rule(kind, draw(st.booleans()), draw(st.integers(0, 100)), params))
    review_at = draw(st.integers(1, 300))
    return RuleSet(0, tuple(rules), review_at, draw(st.integers(review_at, 600)))


@given(rule_sets(), st.integers(1, 5_000), st.integers(0, 10 * 86_400),
       st.integers(0, 4), st.booleans())
def test_the_score_is_the_sum_of_the_triggered_rules_and_the_outcome_rises_with_it(
        rule_set: RuleSet, amount: int, age_seconds: int, history: int,
        blocked: bool) -> None:
    sender, recipient = activity(SENDER), activity(RECIPIENT)
    sends(sender, *([100] * history), at=NOW - HOUR, settle=True)
    receipts(recipient, *([50] * history), at=NOW - HOUR)
    age = timedelta(seconds=age_seconds)
    payment = facts(amount=amount, sender_account_created_at=NOW - age,
                    sender_device_added_at=NOW - age / 2, blocked=blocked)
    assessment = assess(rule_set, payment, sender, recipient)
    enabled = [r for r in rule_set.rules if r.enabled]
    assert [r.kind for r in assessment.results] == [r.kind for r in enabled]
    assert assessment.score == sum(rule.score for rule, found in
                                   zip(enabled, assessment.results, strict=True)
                                   if found.triggered)
    assert assessment.outcome == rule_set.outcome(assessment.score)
    severities = [OUTCOMES.index(rule_set.outcome(s)) for s in range(0, 700, 7)]
    assert severities == sorted(severities)
