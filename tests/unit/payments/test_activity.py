"""A user's payment activity: sends count until released, receipts know new senders, reports
count distinct reporters, the median follows the last settled sends, and the history forgets
what is older than 31 days as the next event applies."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from domain.payments.activity import (
    HISTORY,
    MAX_COUNTERPARTIES,
    MAX_SENDS,
    MEDIAN_HISTORY,
    PaymentActivity,
    TooManyPayments,
    activity_id,
)
from domain.payments.errors import InvalidAmount
from event_log.log import EventLog
from tests.builders import a_cause

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
BO, CY = uuid.uuid4(), uuid.uuid4()


def an_activity() -> PaymentActivity:
    return PaymentActivity.start(uuid.uuid4(), a_cause())


def send(activity: PaymentActivity, amount: int, at: datetime = NOW, currency: str = "USD",
         recipient: uuid.UUID = BO, settle: bool = False) -> uuid.UUID:
    payment_id = uuid.uuid4()
    assert activity.record_send(payment_id, recipient, amount, currency, at, a_cause())
    if settle:
        assert activity.record_settled(payment_id, at, a_cause())
    return payment_id


def receive(activity: PaymentActivity, sender: uuid.UUID, amount: int = 1_000,
            at: datetime = NOW, currency: str = "USD") -> uuid.UUID:
    payment_id = uuid.uuid4()
    assert activity.record_receive(payment_id, sender, amount, currency, at, a_cause())
    return payment_id


def test_each_user_has_one_activity() -> None:
    user = uuid.uuid4()
    assert PaymentActivity.start(user, a_cause()).id == activity_id(user)
    assert activity_id(user) != activity_id(uuid.uuid4())


def test_sends_count_per_currency_from_the_window_start_inclusive() -> None:
    activity = an_activity()
    send(activity, 1_000, NOW - timedelta(hours=2))
    send(activity, 2_500, NOW - timedelta(hours=1))
    send(activity, 700, NOW, currency="EUR")
    assert activity.sent_in(NOW - timedelta(hours=2), "USD") == (2, 3_500)
    assert activity.sent_in(NOW - timedelta(hours=1), "USD") == (1, 2_500)
    assert activity.sent_in(NOW - timedelta(hours=2), "EUR") == (1, 700)
    assert activity.sent_count_since(NOW - timedelta(hours=2)) == 3


def test_a_send_recorded_again_counts_once() -> None:
    activity = an_activity()
    payment = send(activity, 1_000)
    assert not activity.record_send(payment, BO, 1_000, "USD", NOW, a_cause())
    assert activity.sent_in(NOW, "USD") == (1, 1_000)


def test_a_send_is_a_positive_whole_amount() -> None:
    with pytest.raises(InvalidAmount):
        an_activity().record_send(uuid.uuid4(), BO, 0, "USD", NOW, a_cause())


def test_a_released_send_no_longer_counts_and_releasing_again_does_nothing() -> None:
    activity = an_activity()
    payment = send(activity, 1_000)
    assert activity.release_send(payment, NOW, a_cause())
    assert activity.sent_in(NOW, "USD") == (0, 0)
    assert not activity.release_send(payment, NOW, a_cause())
    assert len(activity.collect_events()) == 3  # started, recorded, released: nothing more


def test_a_released_send_recorded_again_stays_released() -> None:
    activity = an_activity()
    payment = send(activity, 1_000)
    activity.release_send(payment, NOW, a_cause())
    assert not activity.record_send(payment, BO, 1_000, "USD", NOW, a_cause())
    assert activity.sent_in(NOW, "USD") == (0, 0)


def test_history_older_than_31_days_is_dropped_when_the_next_event_applies() -> None:
    activity = an_activity()
    send(activity, 1_000, NOW)
    receive(activity, CY, at=NOW)
    activity.record_report(uuid.uuid4(), NOW, a_cause())
    later = NOW + HISTORY
    assert activity.sent_in(NOW, "USD") == (1, 1_000)  # no event yet: nothing dropped
    send(activity, 5, later)  # exactly 31 days on: the first is the oldest kept
    assert activity.sent_in(NOW, "USD") == (2, 1_005)
    send(activity, 7, later + timedelta(seconds=1))
    assert activity.sent_in(NOW, "USD") == (2, 12)
    assert activity.received_in(NOW, "USD") == (0, 0)
    assert activity.reports_since(NOW) == 0
    assert len(activity.sent) == 2 and not activity.received and not activity.reports


def test_a_sender_is_new_to_a_recipient_only_on_their_first_payment() -> None:
    activity = an_activity()
    receive(activity, BO, at=NOW - timedelta(hours=3))
    receive(activity, BO, at=NOW - timedelta(hours=1))
    receive(activity, CY, at=NOW)
    assert activity.knows_sender(BO) and activity.knows_sender(CY)
    assert activity.new_senders_since(NOW - timedelta(hours=3)) == {BO, CY}
    assert activity.new_senders_since(NOW - timedelta(hours=2)) == {CY}
    assert activity.received_in(NOW - timedelta(hours=3), "USD") == (3, 3_000)
    assert activity.received_count_since(NOW - timedelta(hours=1)) == 2


def test_a_receipt_recorded_again_counts_once() -> None:
    activity = an_activity()
    payment = receive(activity, BO)
    assert not activity.record_receive(payment, BO, 1_000, "USD", NOW, a_cause())
    assert activity.received_count_since(NOW) == 1


def test_only_the_most_recent_senders_are_remembered() -> None:
    activity = an_activity()
    receive(activity, BO, at=NOW)
    for n in range(MAX_COUNTERPARTIES - 1):
        receive(activity, uuid.uuid4(), at=NOW + timedelta(seconds=n))
    assert activity.knows_sender(BO)
    receive(activity, uuid.uuid4(), at=NOW + timedelta(hours=1))
    assert not activity.knows_sender(BO)
    receive(activity, BO, at=NOW + timedelta(hours=2))
    assert BO in activity.new_senders_since(NOW + timedelta(hours=2))


def test_the_median_is_of_the_last_50_settled_sends_in_the_currency() -> None:
    activity = an_activity()
    assert activity.median_sent("USD") is None
    send(activity, 100, settle=True)
    send(activity, 400, settle=True)
    send(activity, 999_999)  # not settled: not in the median
    send(activity, 50, currency="EUR", settle=True)
    assert activity.median_sent("USD") == 250
    send(activity, 301, settle=True)
    assert activity.median_sent("USD") == 301
    for _ in range(MEDIAN_HISTORY):
        send(activity, 7, settle=True)
    assert (activity.median_sent("USD"), activity.settled_count("USD")) == (7, MEDIAN_HISTORY)
    assert activity.median_sent("EUR") == 50


def test_an_even_median_rounds_down_to_a_whole_minor_unit() -> None:
    activity = an_activity()
    send(activity, 1, settle=True)
    send(activity, 2, settle=True)
    median = activity.median_sent("USD")
    assert median == 1 and type(median) is int


def test_a_settlement_is_recorded_once_and_only_for_a_counted_send() -> None:
    activity = an_activity()
    payment = send(activity, 100, settle=True)
    assert not activity.record_settled(payment, NOW, a_cause())
    assert not activity.record_settled(uuid.uuid4(), NOW, a_cause())
    assert activity.settled_count("USD") == 1


def test_a_recipient_counts_as_paid_once_a_payment_to_them_settles() -> None:
    activity = an_activity()
    payment = send(activity, 100, recipient=BO)
    assert not activity.has_sent_to(BO)
    activity.record_settled(payment, NOW, a_cause())
    assert activity.has_sent_to(BO) and not activity.has_sent_to(CY)


def test_distinct_recipients_count_each_recipient_once() -> None:
    activity = an_activity()
    send(activity, 1, NOW - timedelta(hours=2), recipient=CY)
    send(activity, 1, NOW, recipient=BO)
    send(activity, 1, NOW, recipient=BO)
    assert activity.distinct_recipients_since(NOW - timedelta(hours=2)) == {BO, CY}
    assert activity.distinct_recipients_since(NOW) == {BO}


def test_reports_count_distinct_reporters_and_a_report_once() -> None:
    activity = an_activity()
    payment = uuid.uuid4()
    assert activity.record_report(BO, NOW - timedelta(days=2), a_cause(), payment)
    assert not activity.record_report(BO, NOW, a_cause(), payment)
    assert activity.record_report(BO, NOW, a_cause())  # about the user in general
    assert activity.record_report(CY, NOW, a_cause())
    assert not activity.record_report(activity.user_id, NOW, a_cause())  # oneself
    assert activity.reports_since(NOW - timedelta(days=2)) == 2
    assert activity.reports_since(NOW - timedelta(days=1)) == 2
    assert activity.reports_since(NOW + timedelta(seconds=1)) == 0


def test_sends_beyond_the_31_day_allowance_are_refused_until_old_ones_age_out() -> None:
    activity = an_activity()
    for n in range(MAX_SENDS):
        send(activity, 1, NOW + timedelta(seconds=n))
    with pytest.raises(TooManyPayments):
        send(activity, 1, NOW + timedelta(seconds=MAX_SENDS))
    send(activity, 1, NOW + HISTORY + timedelta(seconds=1))  # the first has aged out


def test_an_activity_reloads_the_same_from_its_snapshot_and_from_its_events() -> None:
    log = EventLog(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    activity = an_activity()
    released = send(activity, 300, NOW - timedelta(hours=1), settle=True)
    send(activity, 200, settle=True)
    activity.release_send(released, NOW, a_cause())
    receive(activity, BO)
    activity.record_report(CY, NOW, a_cause())
    log.save(activity)
    from_events: PaymentActivity = log.repository.get(activity.id)
    log.take_snapshot(activity.id)
    from_snapshot: PaymentActivity = log.repository.get(activity.id)
    for loaded in (from_events, from_snapshot):
        assert loaded.sent_in(NOW - timedelta(days=1), "USD") == (1, 200)
        assert loaded.median_sent("USD") == 200
        assert loaded.new_senders_since(NOW) == {BO}
        assert loaded.reports_since(NOW) == 1
        assert loaded.has_sent_to(BO)
        assert not loaded.record_send(released, BO, 300, "USD", NOW, a_cause())
