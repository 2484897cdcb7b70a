"""Payment limits: per payment, and over rolling 24 hours and 30 days, per tier and currency;
what is left is reported, a released payment gives its share back, and no sequence of
accepted payments ever goes over any window's limit."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.payments.activity import PaymentActivity
from domain.payments.limits import (
    DAY,
    DEFAULT_LIMITS,
    MONTH,
    UNVERIFIED,
    VERIFIED,
    Allowance,
    LimitExceeded,
    TierLimits,
    allowance,
    check,
    format_limits,
    parse_limits,
)
from domain.payments.money import DEFAULT_CURRENCIES
from tests.builders import a_cause

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
SMALL = parse_limits("unverified:USD=100/150/400;verified:USD=1000/1500/4000")


def an_activity() -> PaymentActivity:
    return PaymentActivity.start(uuid.uuid4(), a_cause())


def sent(activity: PaymentActivity, amount: int, at: datetime,
         currency: str = "USD") -> uuid.UUID:
    payment_id = uuid.uuid4()
    activity.record_send(payment_id, uuid.uuid4(), amount, currency, at, a_cause())
    return payment_id


def refusal(activity: PaymentActivity, amount: int, at: datetime = NOW,
            currency: str = "USD", tier: str = UNVERIFIED) -> LimitExceeded:
    with pytest.raises(LimitExceeded) as refused:
        check(SMALL, tier, activity, amount, currency, at)
    assert refused.value.field == "amount"
    return refused.value


def test_the_defaults_are_500_1000_3000_unverified_and_ten_times_verified() -> None:
    usd = TierLimits(50_000, 100_000, 300_000)
    assert DEFAULT_LIMITS[UNVERIFIED]["USD"] == usd
    assert DEFAULT_LIMITS[UNVERIFIED]["EUR"] == DEFAULT_LIMITS[UNVERIFIED]["GBP"] == usd
    assert DEFAULT_LIMITS[UNVERIFIED]["JPY"] == usd  # 50,000 yen: exponent 0
    assert DEFAULT_LIMITS[UNVERIFIED]["KWD"] == TierLimits(150_000, 300_000, 900_000)
    assert DEFAULT_LIMITS[VERIFIED]["USD"] == TierLimits(500_000, 1_000_000, 3_000_000)
    assert DEFAULT_LIMITS[VERIFIED]["KWD"] == TierLimits(1_500_000, 3_000_000, 9_000_000)
    assert DEFAULT_LIMITS[UNVERIFIED]["INR"].per_transaction == 4_000_000  # 40,000.00 rupees


def test_every_currency_accepted_by_default_has_default_limits_in_both_tiers() -> None:
    for tier in (UNVERIFIED, VERIFIED):
        assert set(DEFAULT_CURRENCIES) <= set(DEFAULT_LIMITS[tier])


def test_limits_read_back_from_the_string_they_are_written_as() -> None:
    assert parse_limits(format_limits(DEFAULT_LIMITS)) == DEFAULT_LIMITS


def test_the_settings_string_allows_spaces_around_separators() -> None:
    limits = parse_limits(" unverified : USD = 1 / 2 / 3 , EUR=4/5/6 ; verified:USD=7/8/9 ")
    assert limits[UNVERIFIED] == {"USD": TierLimits(1, 2, 3), "EUR": TierLimits(4, 5, 6)}
    assert limits[VERIFIED] == {"USD": TierLimits(7, 8, 9)}


@pytest.mark.parametrize(("text", "says"), [
    ("unverified:USD=1/2/3", "no limits for the verified tier"),
    ("gold:USD=1/2/3;unverified:USD=1/2/3;verified:USD=1/2/3", "does not start with a tier"),
    ("unverified:USD=1/2/3;unverified:USD=1/2/3;verified:USD=1/2/3", "named twice"),
    ("unverified:USD=1/2/3,USD=1/2/3;verified:USD=1/2/3", "USD is named twice"),
    ("unverified:usd=1/2/3;verified:USD=1/2/3", "is not CODE=per_payment/per_day/per_month"),
    ("unverified:USD=1/2;verified:USD=1/2/3", "is not CODE="),
    ("unverified:USD=1.5/2/3;verified:USD=1/2/3", "is not CODE="),
    ("unverified:USD=-1/2/3;verified:USD=1/2/3", "is not CODE="),
    ("unverified:USD=1e3/2/3;verified:USD=1/2/3", "is not CODE="),
    ("unverified:USD=3/2/1;verified:USD=1/2/3", "per payment <= per day <= per month"),
    ("unverified:USD=1/2/9999999999999999;verified:USD=1/2/3", "from 0 to"),
    ("unverified:USD=1/2/3;;verified:USD=1/2/3", "does not start with a tier"),
    ("", "does not start with a tier"),
])
def test_a_malformed_settings_string_is_refused_saying_what_is_wrong(text: str,
                                                                     says: str) -> None:
    with pytest.raises(ValueError, match="payment limits") as refused:
        parse_limits(text)
    assert says in str(refused.value)


def test_a_payment_up_to_the_per_payment_limit_passes_and_beyond_it_is_refused() -> None:
    activity = an_activity()
    assert check(SMALL, UNVERIFIED, activity, 100, "USD", NOW) == Allowance(100, 150, 400,
                                                                            "USD")
    refused = refusal(activity, 101)
    assert "most one payment" in refused.message
    assert refused.remaining == Allowance(100, 150, 400, "USD")


def test_the_24_hour_limit_rolls_over_the_last_24_hours_inclusive() -> None:
    activity = an_activity()
    sent(activity, 100, NOW - DAY)
    sent(activity, 40, NOW - timedelta(hours=1))
    assert check(SMALL, UNVERIFIED, activity, 10, "USD", NOW).today == 10
    refused = refusal(activity, 11)
    assert "24-hour" in refused.message
    assert refused.remaining == Allowance(10, 10, 260, "USD")
    later = NOW + timedelta(seconds=1)  # the first send is now over 24 hours old
    assert allowance(SMALL, UNVERIFIED, activity, "USD", later) == Allowance(100, 110, 260,
                                                                             "USD")


def test_the_30_day_limit_rolls_over_the_last_30_days() -> None:
    activity = an_activity()
    for days_ago in (29, 20, 10, 2):
        sent(activity, 100, NOW - timedelta(days=days_ago))
    assert allowance(SMALL, UNVERIFIED, activity, "USD", NOW) == Allowance(0, 150, 0, "USD")
    assert "30-day" in refusal(activity, 1).message
    a_day_later = NOW + timedelta(days=1, seconds=1)  # the one 29 days ago is out
    assert allowance(SMALL, UNVERIFIED, activity, "USD", a_day_later).this_month == 100


def test_the_tier_and_currency_choose_the_limits() -> None:
    activity = an_activity()
    sent(activity, 150, NOW)
    sent(activity, 999_999, NOW, currency="EUR")  # another currency counts separately
    assert allowance(SMALL, VERIFIED, activity, "USD", NOW) == Allowance(1000, 1350, 3850,
                                                                         "USD")
    assert allowance(SMALL, UNVERIFIED, activity, "USD", NOW).per_transaction == 0


def test_a_currency_or_tier_without_limits_allows_nothing() -> None:
    activity = an_activity()
    refused = refusal(activity, 1, currency="JPY")
    assert refused.remaining == Allowance(0, 0, 0, "JPY")
    assert "not open to unverified" in refused.message
    assert refusal(activity, 1, tier="business").remaining == Allowance(0, 0, 0, "USD")


def test_a_released_payment_gives_its_allowance_back() -> None:
    activity = an_activity()
    payment = sent(activity, 150, NOW)
    refusal(activity, 1)
    activity.release_send(payment, NOW, a_cause())
    assert check(SMALL, UNVERIFIED, activity, 100, "USD", NOW).today == 150


def test_the_refusal_names_no_amount() -> None:
    refused = refusal(an_activity(), 12_345)
    assert "12345" not in refused.message and "123.45" not in refused.message


STEPS = st.lists(st.tuples(st.integers(0, 3 * 24 * 3600),  # seconds after the previous one
                           st.integers(1, 120),  # the amount
                           st.booleans()),  # whether it is released at the next step
                 max_size=60)


@given(STEPS)
def test_payments_check_accepts_never_go_over_any_windows_limit(
        steps: list[tuple[int, int, bool]]) -> None:
    activity, at = an_activity(), NOW
    accepted: dict[uuid.UUID, tuple[datetime, int]] = {}
    to_release: uuid.UUID | None = None
    for gap, amount, release_next in steps:
        at += timedelta(seconds=gap)
        if to_release is not None:
            activity.release_send(to_release, at, a_cause())
            del accepted[to_release]
            to_release = None
        try:
            check(SMALL, UNVERIFIED, activity, amount, "USD", at)
        except LimitExceeded as refused:
            assert amount > refused.remaining.per_transaction
            continue
        payment = sent(activity, amount, at)
        accepted[payment] = (at, amount)
        to_release = payment if release_next else None
    limits = SMALL[UNVERIFIED]["USD"]
    for end, amount in accepted.values():
        assert amount <= limits.per_transaction
        in_day = [a for t, a in accepted.values() if end - DAY <= t <= end]
        in_month = [a for t, a in accepted.values() if end - MONTH <= t <= end]
        assert sum(in_day) <= limits.per_day and sum(in_month) <= limits.per_month
