"""Compliance time travel on the embedded default, in process: one user's preferences, quiet
hours, SMS consent and email unsubscribes change over a driven clock (each command decided at
its own instant), and `GET /v1/admin/compliance/users/{id}?at=` (and `parley compliance show`)
answers at several instants what was in force then, with the event that set it. Only
auditors and admins may ask; a bad `at` is a 422."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from commands.identity.roles import GrantRole
from commands.notifications.contact_points import AddPhone, ContactPointRules
from commands.notifications.preferences import ChangeNotificationPreferences
from commands.notifications.sms_consent import GrantSmsConsent, ReceiveSmsReply
from commands.notifications.unsubscribe import UnsubscribeEmail
from domain.identity.roles import operator_actor_id
from domain.notifications.preferences import PreferenceChanges
from event_log.aggregate import Cause
from parley.assembly import Parley
from parley.bootstrap import build
from parley.cli import app as parley_cli
from parley.settings import Settings
from tests.builders import ParleyClient, Person, a_cause

NUMBER = "+447911123456"
WORDING = "Get Parley offers by text, up to 4 msgs/month. Reply STOP to cancel."
START = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)  # the driven clock's first instant
CATEGORIES = frozenset({"marketing", "message", "security"})


def instant(hours: float) -> datetime:
    return START + timedelta(hours=hours)


@dataclass
class History:
    parley: Parley
    http: TestClient
    data_dir: Path
    user: Person
    auditor: Person
    stranger: Person
    phone: uuid.UUID

    def at(self, when: datetime | str, who: Person | None = None) -> Any:
        moment = when.isoformat() if isinstance(when, datetime) else when
        return self.http.get(f"/v1/admin/compliance/users/{self.user.user_id}",
                             params={"at": moment}, headers=(who or self.auditor).auth)


def preferences(parley: Parley, user: uuid.UUID, changes: PreferenceChanges,
                when: datetime) -> None:
    parley.writer.execute(ChangeNotificationPreferences(user, changes, "api", when, CATEGORIES),
                          a_cause(user))


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Iterator[History]:
    """Hour 0 a phone; 1 the time zone and quiet hours; 2 SMS consent; 3 marketing email
    unsubscribed; 4 marketing SMS off, quiet hours moved; 5 STOP texted; 6 quiet hours off."""
    data_dir = tmp_path_factory.mktemp("compliance")
    parley = build(Settings(database_url=None, data_dir=data_dir))
    with TestClient(create_app(parley)) as http:
        client = ParleyClient(http)
        user, auditor, stranger = (client.register(n) for n in ("Ada", "Aud", "Eve"))
        user_id, phone = uuid.UUID(user.user_id), uuid.uuid4()
        parley.writer.execute(GrantRole(uuid.UUID(auditor.user_id), "auditor", "compliance"),
                              Cause(operator_actor_id("compliance"), uuid.uuid4()))
        execute = parley.writer.execute
        execute(AddPhone(user_id, phone, NUMBER, None, instant(0), ContactPointRules(20)),
                a_cause(user_id))
        preferences(parley, user_id, PreferenceChanges(
            {}, "Europe/London", True, ("22:00", "07:00"), True), instant(1))
        execute(GrantSmsConsent(user_id, phone, WORDING, "app:settings", instant(2)),
                a_cause(user_id))
        execute(UnsubscribeEmail(user_id, "marketing", instant(3)), a_cause(user_id))
        preferences(parley, user_id, PreferenceChanges(
            {("marketing", "sms"): False}, quiet_hours=("23:00", "06:30"),
            quiet_hours_given=True), instant(4))
        execute(ReceiveSmsReply("twilio-main", "SM" + "a" * 32, NUMBER, "STOP", instant(5)),
                a_cause())
        preferences(parley, user_id, PreferenceChanges({}, quiet_hours_given=True),
                    instant(6))
        yield History(parley, http, data_dir, user, auditor, stranger, phone)


def quiet_hours(state: dict[str, Any]) -> tuple[str | None, str | None]:
    return state["quiet_start"], state["quiet_end"]


def consent_of(body: dict[str, Any]) -> tuple[str, str, str | None]:
    [consent] = body["sms_consents"]
    event = consent["event"]
    return consent["consent"], consent["wording"], event and event["source"]


def test_before_anything_was_set_nothing_is_in_force(history: History) -> None:
    body = history.at(instant(-1)).json()

    assert (body["email_unsubscribes"], body["sms_consents"], body["preferences"]) == (
        [], [], None)


def test_a_number_added_but_never_asked_has_no_consent(history: History) -> None:
    body = history.at(instant(0.5)).json()

    assert consent_of(body) == ("none", "", None)
    assert body["preferences"] is None


def test_quiet_hours_and_zone_as_first_set(history: History) -> None:
    body = history.at(instant(1.5)).json()

    state = body["preferences"]["state"]
    assert (state["time_zone"], quiet_hours(state)) == ("Europe/London", ("22:00", "07:00"))
    assert {e["event"]["source"] for e in body["preferences"]["events"]} == {"api"}


def test_consent_as_granted_with_its_wording_and_event(history: History) -> None:
    body = history.at(instant(2.5)).json()

    assert consent_of(body) == ("granted", WORDING, "app:settings")
    [consent] = body["sms_consents"]
    assert consent["event"]["type"] == "SmsConsent.OptedIn"
    assert datetime.fromisoformat(consent["event"]["at"]) == instant(2)
    assert consent["event"]["actor_id"] == history.user.user_id
    assert body["email_unsubscribes"] == []


def test_the_unsubscribe_and_the_changed_preferences_in_their_turn(history: History) -> None:
    at_three = history.at(instant(3.5)).json()
    at_four = history.at(instant(4.5)).json()

    [unsubscribe] = at_three["email_unsubscribes"]
    assert unsubscribe["category"] == "marketing"
    assert unsubscribe["event"]["source"] == "email_unsubscribe_link"
    assert at_three["preferences"]["state"]["overrides"] == {}
    state = at_four["preferences"]["state"]
    assert state["overrides"] == {"marketing": {"sms": False}}
    assert quiet_hours(state) == ("23:00", "06:30")
    assert consent_of(at_four)[0] == "granted"


def test_the_stop_and_the_cleared_quiet_hours_later(history: History) -> None:
    at_five = history.at(instant(5.5)).json()
    now = history.at(instant(24 * 365)).json()

    assert consent_of(at_five) == ("revoked", "STOP", "sms_reply")
    assert quiet_hours(at_five["preferences"]["state"]) == ("23:00", "06:30")
    assert quiet_hours(now["preferences"]["state"]) == (None, None)
    assert consent_of(now)[0] == "revoked"


def test_an_instant_is_read_with_its_offset(history: History) -> None:
    """09:00+02:00 is 07:00 UTC, before anything: 12:30+02:00 is hour 1.5."""
    early = history.at("2025-03-01T09:00:00+02:00").json()
    later = history.at("2025-03-01T12:30:00+02:00").json()

    assert early["preferences"] is None and later["preferences"] is not None


@pytest.mark.parametrize("at", ["yesterday", "2025-13-01T00:00:00Z", "1741"])
def test_a_bad_instant_is_refused(history: History, at: str) -> None:
    answer = history.at(at)

    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"


def test_only_auditors_and_admins_may_ask(history: History) -> None:
    for who in (history.user, history.stranger):
        answer = history.at(instant(3), who)
        assert answer.status_code == 403
        assert answer.headers["content-type"] == "application/problem+json"


def test_an_unknown_user_is_not_found(history: History) -> None:
    answer = history.http.get(f"/v1/admin/compliance/users/{uuid.uuid4()}",
                              headers=history.auditor.auth)

    assert answer.status_code == 404


def test_the_cli_answers_the_same_as_a_table_and_as_json(history: History) -> None:
    env = {"PARLEY_DATA_DIR": str(history.data_dir), "PARLEY_DATABASE_URL": "", "COLUMNS": "300"}
    runner = CliRunner()
    as_json = runner.invoke(parley_cli, ["compliance", "show", history.user.user_id, "--at",
                                         instant(2.5).isoformat(), "--json"], env=env)
    table = runner.invoke(parley_cli, ["compliance", "show", history.user.handle, "--at",
                                       instant(5.5).isoformat()], env=env)
    bad = runner.invoke(parley_cli, ["compliance", "show", history.user.user_id, "--at",
                                     "soon"], env=env)

    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.stdout) == history.at(instant(2.5)).json()
    assert table.exit_code == 0, table.output
    assert NUMBER in table.stdout and "revoked" in table.stdout
    assert "SmsConsent.OptedOut v3" in table.stdout and "sms_reply" in table.stdout
    assert bad.exit_code == 2


def test_a_value_set_again_shows_its_earlier_event_as_superseded(history: History) -> None:
    at_four = history.at(instant(4.5)).json()["preferences"]["events"]
    now = history.at(instant(24 * 365)).json()["preferences"]["events"]

    def kinds(events: list[dict[str, Any]], superseded: bool) -> list[str]:
        return [e["event"]["type"].rpartition(".")[2] for e in events
                if e["superseded"] is superseded]

    assert kinds(at_four, True) == ["QuietHoursSet"]  # hour 1's 22:00, moved at hour 4
    assert sorted(kinds(at_four, False)) == ["ChannelPreferenceSet", "QuietHoursSet",
                                             "TimeZoneSet"]
    assert kinds(now, True) == ["QuietHoursSet", "QuietHoursSet"]  # cleared at hour 6
    assert "QuietHoursCleared" in kinds(now, False)


def test_the_cli_shows_what_set_each_value_and_history_only_when_asked(
        history: History) -> None:
    env = {"PARLEY_DATA_DIR": str(history.data_dir), "PARLEY_DATABASE_URL": "", "COLUMNS": "300"}
    runner = CliRunner()
    at = ["compliance", "show", history.user.user_id, "--at", instant(4.5).isoformat()]
    table = runner.invoke(parley_cli, at, env=env)
    with_history = runner.invoke(parley_cli, [*at, "--history"], env=env)

    assert table.exit_code == 0 and with_history.exit_code == 0, table.output
    def quiet_hours_lines(text: str) -> list[str]:
        return [line for line in text.splitlines() if "QuietHoursSet" in line]

    # the payload's first 60 characters show the window's end: 06:30 (hour 4), 07:00 (hour 1)
    assert [('"06:30"' in line) for line in quiet_hours_lines(table.stdout)] == [True]
    assert '"07:00"' not in table.stdout and "Superseded" not in table.stdout
    in_force, _, older = with_history.stdout.partition("Superseded by a later event")
    assert in_force == table.stdout + "\n"
    assert [('"07:00"' in line) for line in quiet_hours_lines(older)] == [True]
