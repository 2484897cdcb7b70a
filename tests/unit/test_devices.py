"""The device roster's rules: at most a set number of devices stay in force."""

from __future__ import annotations

import uuid
from datetime import timedelta

from domain.identity.device_roster import DeviceRoster
from tests.builders import a_cause, now


def test_the_roster_retires_the_least_recently_used_devices_beyond_the_cap() -> None:
    ada = uuid.uuid4()
    roster = DeviceRoster.start(ada, a_cause(ada))
    old, recent, revoked = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    for device in (recent, old, revoked):
        roster.enroll(device, {d: now() for d in roster.device_ids}, 10, a_cause(ada))
    newest = uuid.uuid4()
    last_used = {old: now() - timedelta(days=3), recent: now()}  # `revoked` is no longer in force
    assert roster.enroll(newest, last_used, 2, a_cause(ada)) == (old,)
    assert roster.device_ids == (recent, newest)


def test_the_roster_retires_nothing_within_the_cap() -> None:
    ada = uuid.uuid4()
    roster = DeviceRoster.start(ada, a_cause(ada))
    first = uuid.uuid4()
    assert roster.enroll(first, {}, 2, a_cause(ada)) == ()
    assert roster.enroll(uuid.uuid4(), {first: now()}, 2, a_cause(ada)) == ()
    assert len(roster.device_ids) == 2
