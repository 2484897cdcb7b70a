"""Quiet hours and sending windows in the recipient's own zone: the hold ends at the first
instant whose local time is outside the window, across DST transitions of every shape."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.notifications.quiet_hours import (
    InvalidQuietHours,
    LocalWindow,
    UnknownTimeZone,
    first_instant_outside,
    inside,
    time_zone,
)

ZONES = ("America/New_York", "Europe/London", "Australia/Lord_Howe", "Asia/Kolkata",
         "Pacific/Apia", "America/Sao_Paulo", "Asia/Tehran", "Pacific/Chatham",
         "America/St_Johns", "Europe/Chisinau", "Pacific/Kiritimati", "UTC")
NIGHT = LocalWindow(time(22), time(7))


def local(zone: str, *fields: int, fold: int = 0) -> datetime:
    """The instant of that wall time in the zone, in UTC (an aware time in a repeated hour
    never equals one of another zone: PEP 495)."""
    wall = datetime(*fields, tzinfo=ZoneInfo(zone), fold=fold)  # type: ignore[arg-type, misc]
    return wall.astimezone(UTC)


def test_a_window_over_the_spring_forward_night_ends_at_seven_local() -> None:
    at = local("America/New_York", 2026, 3, 7, 23, 30)
    end = first_instant_outside([NIGHT], ZoneInfo("America/New_York"), at)
    assert end == local("America/New_York", 2026, 3, 8, 7, 0)
    assert end - at == timedelta(hours=6, minutes=30)  # an hour shorter than the wall clock


def test_a_window_over_the_fall_back_night_ends_at_seven_local() -> None:
    at = local("Europe/London", 2026, 10, 24, 22, 0)
    end = first_instant_outside([NIGHT], ZoneInfo("Europe/London"), at)
    assert end == local("Europe/London", 2026, 10, 25, 7, 0)
    assert end - at == timedelta(hours=10)


def test_an_end_inside_the_spring_forward_gap_ends_at_the_jump() -> None:
    window = LocalWindow(time(1), time(2, 30))
    at = local("America/New_York", 2026, 3, 8, 1, 15)
    end = first_instant_outside([window], ZoneInfo("America/New_York"), at)
    assert end == datetime(2026, 3, 8, 7, 0, tzinfo=UTC)  # 03:00 EDT, the first time past 02:30
    assert end.astimezone(ZoneInfo("America/New_York")).time() == time(3)


def test_an_end_in_the_repeated_hour_is_the_first_time_it_is_reached() -> None:
    window = LocalWindow(time(0, 30), time(1, 30))
    zone = ZoneInfo("America/New_York")
    first_pass = local("America/New_York", 2026, 11, 1, 1, 10)
    assert first_instant_outside([window], zone, first_pass) == \
        local("America/New_York", 2026, 11, 1, 1, 30)
    second_pass = local("America/New_York", 2026, 11, 1, 1, 10, fold=1)
    assert first_instant_outside([window], zone, second_pass) == \
        local("America/New_York", 2026, 11, 1, 1, 30, fold=1)


def test_lord_howe_half_hour_shift_is_respected() -> None:
    window = LocalWindow(time(1), time(2, 15))  # 02:00 -> 02:30 on the first Sunday of April
    zone = ZoneInfo("Australia/Lord_Howe")
    at = local("Australia/Lord_Howe", 2026, 10, 4, 1, 45)  # October: 02:00 jumps to 02:30
    end = first_instant_outside([window], zone, at)
    assert end.astimezone(zone).time() == time(2, 30)


def test_outside_the_window_means_now() -> None:
    at = local("Asia/Kolkata", 2026, 6, 1, 12, 0)
    assert first_instant_outside([NIGHT], ZoneInfo("Asia/Kolkata"), at) == at


def test_a_window_of_the_same_day_ends_that_day() -> None:
    lunch = LocalWindow(time(12), time(13, 30))
    at = local("Europe/London", 2026, 6, 1, 12, 10)
    assert first_instant_outside([lunch], ZoneInfo("Europe/London"), at) == \
        local("Europe/London", 2026, 6, 1, 13, 30)


def test_two_windows_end_where_neither_holds() -> None:
    sms_closed = LocalWindow(time(21), time(8))
    quiet = LocalWindow(time(7, 30), time(9))
    at = local("Europe/London", 2026, 6, 1, 23, 0)
    assert first_instant_outside([sms_closed, quiet], ZoneInfo("Europe/London"), at) == \
        local("Europe/London", 2026, 6, 2, 9, 0)


def test_an_empty_window_is_refused() -> None:
    with pytest.raises(InvalidQuietHours):
        LocalWindow.parse("22:00", "22:00")


@pytest.mark.parametrize("text", ["24:00", "7", "7:00", "07:60", "07:00:00", " 07:00", ""])
def test_a_malformed_time_is_refused(text: str) -> None:
    with pytest.raises(InvalidQuietHours):
        LocalWindow.parse(text, "07:00")


@pytest.mark.parametrize("name", ["Mars/Olympus", "../../etc/passwd", "/etc/localtime", "",
                                  "+05:30", "a" * 80, "Europe/London\x00"])
def test_an_unknown_time_zone_is_refused(name: str) -> None:
    with pytest.raises(UnknownTimeZone):
        time_zone(name)


clock = st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45]))
windows = st.tuples(clock, clock).filter(lambda w: w[0] != w[1]).map(lambda w: LocalWindow(*w))
# instants around the transitions of the 2020s (and everything between)
instants = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 12, 31),
                        timezones=st.just(UTC))


def near_transitions(zone: ZoneInfo) -> st.SearchStrategy[datetime]:
    """Instants within a day of one of the zone's 2026 transitions (most draws then cross
    one), as well as anywhere."""
    marks = []
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    while moment.year == 2026:
        following = moment + timedelta(hours=1)
        if moment.astimezone(zone).utcoffset() != following.astimezone(zone).utcoffset():
            marks.append(following)
        moment = following
    if not marks:
        return instants
    return st.one_of(instants, st.builds(
        lambda mark, minutes: mark + timedelta(minutes=minutes),
        st.sampled_from(marks), st.integers(-26 * 60, 2 * 60)))


@settings(max_examples=200, deadline=None)
@given(zone_name=st.sampled_from(ZONES), data=st.data(), window=windows)
def test_the_hold_ends_at_the_first_instant_outside_the_window(
        zone_name: str, data: st.DataObject, window: LocalWindow) -> None:
    zone = ZoneInfo(zone_name)
    at = data.draw(near_transitions(zone))
    end = first_instant_outside([window], zone, at)
    assert end >= at
    assert not inside([window], end, zone)
    if end > at:
        assert inside([window], end - timedelta(seconds=1), zone)
        # a day's window and its DST shift; two days when the gap outside it falls in the
        # hour the clocks skip (London, 01:15-01:00 on 29 March: no 01:00-01:15 that night)
        assert end - at <= timedelta(hours=49)
        moment = at
        while moment < end:
            assert inside([window], moment, zone), moment
            moment += timedelta(minutes=10)
