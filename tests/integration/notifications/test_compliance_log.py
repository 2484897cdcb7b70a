"""The compliance record read from each event store Parley uses (SQLite embedded, PostgreSQL in
production): the same history, decided at driven instants, answers the same at each instant,
so the evidence does not depend on the profile."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from api.notifications.compliance import compliance_records
from commands.notifications.contact_points import AddPhone, ContactPointRules
from commands.notifications.sms_consent import GrantSmsConsent, ReceiveSmsReply
from commands.notifications.unsubscribe import UnsubscribeEmail
from event_log.log import EventLog
from event_log.writer import GroupCommitWriter
from parley.bootstrap import HANDLERS
from tests.builders import a_cause

NUMBER = "+447911123457"
START = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def instant(hours: float) -> datetime:
    return START + timedelta(hours=hours)


@pytest.fixture(params=["embedded", "production"])
def log(request: pytest.FixtureRequest) -> EventLog:
    if request.param == "embedded":
        embedded: EventLog = request.getfixturevalue("event_log")
        return embedded
    open_log: Callable[..., EventLog] = request.getfixturevalue("open_postgres_log")
    return open_log()


def test_each_store_answers_the_consents_and_unsubscribes_of_each_instant(
        log: EventLog, request: pytest.FixtureRequest) -> None:
    writer = GroupCommitWriter(log, HANDLERS)
    writer.start()
    request.addfinalizer(writer.stop)
    user, phone = uuid.uuid4(), uuid.uuid4()
    for command in (
            AddPhone(user, phone, NUMBER, None, instant(0), ContactPointRules(20)),
            GrantSmsConsent(user, phone, "Texts from Parley. Reply STOP to cancel.", "web:signup",
                            instant(1)),
            UnsubscribeEmail(user, "marketing", instant(2)),
            ReceiveSmsReply("vonage-main", "0A00000012345678", NUMBER, "STOP", instant(3)),
            ReceiveSmsReply("vonage-main", "0A00000012345679", NUMBER, "YES", instant(4))):
        writer.execute(command, a_cause(user))
    records = compliance_records(log)

    def consent(hours: float) -> tuple[str, str | None]:
        [held] = records.record(user, instant(hours)).sms_consents
        return held.status, None if held.event is None else held.event.source

    assert records.record(user, instant(-1)).sms_consents == []
    assert [consent(h) for h in (0.5, 1.5, 3.5, 4.5)] == [
        ("none", None), ("granted", "web:signup"), ("revoked", "sms_reply"),
        ("granted", "sms_reply")]
    assert records.record(user, instant(1.5)).email_unsubscribes == []
    [unsubscribed] = records.record(user, instant(2.5)).email_unsubscribes
    assert (unsubscribed.category, unsubscribed.event.at) == ("marketing", instant(2))
