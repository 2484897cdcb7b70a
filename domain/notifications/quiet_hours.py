"""Windows of local wall-clock time (a recipient's quiet hours, the SMS sending window) and
the first instant outside them, in the recipient's IANA time zone, DST-correct.

A window is [start, end) local time; start after end crosses midnight (22:00-07:00), start
equal to end is refused as empty. The hold end is the first instant at or after `at` whose
local time is outside every window: on the night the clocks change a 22:00-07:00 window ends
exactly at 07:00 local; an end that falls in a spring-forward gap ends at the jump (the
first local time past the gap); in a repeated fall-back hour, at the first time the end is
reached. Local time moves continuously except at a zone's transitions, so the only instants
at which it can leave a window are those where it reaches a window's end, and transitions:
those are the candidates, checked in order (no sampling of the answer itself).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from domain.errors import InvalidCommand

CLOCK: Final = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
# far beyond the longest window (a day) plus the largest DST jump (two hours, historically)
HORIZON: Final = timedelta(days=2)
SCAN_STEP: Final = timedelta(hours=3)  # transitions of one zone are months apart, never 3 h
# files of the system's zoneinfo folder that are not IANA names: the server's own zone
# (changes with the machine), and copies under posix/ and right/ (leap seconds: clocks 27 s off)
NOT_ZONES: Final = frozenset({"localtime", "posixrules"})
NOT_ZONE_FOLDERS: Final = frozenset({"posix", "right"})


class InvalidQuietHours(InvalidCommand):
    """A window that is malformed ("25:00", "7am") or empty (start equal to end)."""


class UnknownTimeZone(InvalidCommand):
    """A time zone that is not an IANA zone name."""


def clock_time(text: str, field: str) -> time:
    """"HH:MM", 24-hour."""
    match = CLOCK.match(text)
    if match is None:
        raise InvalidQuietHours(field, "a time of day as HH:MM, 24-hour (e.g. 22:00)")
    return time(int(match.group(1)), int(match.group(2)))


def time_zone(name: str, field: str = "time_zone") -> ZoneInfo:
    """The IANA zone of that name (e.g. Europe/London); none other (no paths, no offsets)."""
    if not name or len(name) > 64 or not re.fullmatch(r"[A-Za-z0-9_+\-/]+", name) \
            or name.startswith("/") or ".." in name or name in NOT_ZONES \
            or name.split("/", 1)[0] in NOT_ZONE_FOLDERS:
        raise UnknownTimeZone(field, "an IANA time zone name, e.g. Europe/London")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as error:  # OSError: a folder, Europe
        raise UnknownTimeZone(field, "an IANA time zone name, e.g. Europe/London") from error


@dataclass(frozen=True)
class LocalWindow:
    start: time
    end: time

    def __post_init__(self) -> None:
        if self.start == self.end:
            raise InvalidQuietHours("quiet_hours", "start and end are the same: the window "
                                                   "would be empty")

    @classmethod
    def parse(cls, start: str, end: str, field: str = "quiet_hours") -> LocalWindow:
        return cls(clock_time(start, f"{field}.start"), clock_time(end, f"{field}.end"))

    def contains(self, local: time) -> bool:
        local = local.replace(tzinfo=None, fold=0)
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def as_text(self) -> dict[str, str]:
        return {"start": self.start.strftime("%H:%M"), "end": self.end.strftime("%H:%M")}


def local_time(at: datetime, zone: ZoneInfo) -> time:
    return at.astimezone(zone).time()


def inside(windows: Sequence[LocalWindow], at: datetime, zone: ZoneInfo) -> bool:
    local = local_time(at, zone)
    return any(w.contains(local) for w in windows)


def first_instant_outside(windows: Sequence[LocalWindow], zone: ZoneInfo,
                          at: datetime) -> datetime:
    """`at` itself if its local time is outside every window, else the first instant after
    it whose local time is (UTC)."""
    at = at.astimezone(UTC)
    if not inside(windows, at, zone):
        return at
    ends = sorted(c for c in _end_instants(windows, zone, at) if c > at)
    # a transition matters only before the first end that is outside (if there is one)
    first_end = next((c for c in ends if not inside(windows, c, zone)), at + HORIZON)
    candidates = sorted([*ends, *_transitions(zone, at, first_end)])
    for candidate in candidates:
        if not inside(windows, candidate, zone):
            return candidate
    # windows covering every hour of the day between them: nothing is outside
    raise InvalidQuietHours("quiet_hours", "the windows leave no time of day to send")


def _end_instants(windows: Sequence[LocalWindow], zone: ZoneInfo,
                  at: datetime) -> Iterable[datetime]:
    local_day = at.astimezone(zone).date()
    for window in windows:
        for offset in range(-1, 3):
            yield from _instants_of(local_day + timedelta(days=offset), window.end, zone)


def _instants_of(day: date, wall: time, zone: ZoneInfo) -> Iterable[datetime]:
    """The instants (none, one, or two in a repeated hour) whose local time is `wall` on
    `day`."""
    for fold in (0, 1):
        local = datetime.combine(day, wall, tzinfo=zone).replace(fold=fold)
        instant = local.astimezone(UTC)
        back = instant.astimezone(zone)
        if back.replace(tzinfo=None) == local.replace(tzinfo=None, fold=0):
            yield instant


def _transitions(zone: ZoneInfo, start: datetime, until: datetime) -> Iterable[datetime]:
    """The instants in (start, until] at which the zone's UTC offset changes, to the
    second."""
    moment = start.replace(microsecond=0)
    while moment < until:
        following = min(moment + SCAN_STEP, until)
        if moment.astimezone(zone).utcoffset() != following.astimezone(zone).utcoffset():
            yield _bisect(zone, moment, following)
        moment = following


def _bisect(zone: ZoneInfo, before: datetime, after: datetime) -> datetime:
    """The first instant (whole seconds) with `after`'s offset, between the two."""
    offset = before.astimezone(zone).utcoffset()
    low, high = before, after
    while high - low > timedelta(seconds=1):
        middle = (low + (high - low) / 2).replace(microsecond=0)
        if middle.astimezone(zone).utcoffset() == offset:
            low = middle
        else:
            high = middle
    return high
