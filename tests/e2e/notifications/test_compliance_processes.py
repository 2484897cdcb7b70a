"""SMS consent and the compliance record on both profiles, as real processes (the package's
shared deployments; production reads PostgreSQL): a user opts in on a phone number and later
withdraws, and `GET /v1/admin/compliance/users/{id}?at=` and `parley compliance show --json`
(run against the profile's log) answer, at instants before, between and after, what was in
force, with the event that set it."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

from parley.launcher import ParleyProcesses
from tests.builders import ParleyClient, Person
from tests.e2e.notifications.deployments import parley_cli

WORDING = "Texts about offers from Parley, 2 a month. Reply STOP to cancel."


def moment() -> datetime:
    """Now, with a little room on both sides: the server stamps events with its own clock."""
    time.sleep(0.05)
    at = datetime.now(UTC)
    time.sleep(0.05)
    return at


def test_consent_given_then_withdrawn_is_answered_as_of_each_instant(
        parley: ParleyClient, processes: ParleyProcesses) -> None:
    auditor, ada = parley.register("Audrey Auditor"), parley.register("Ada")
    granted = parley_cli(processes, "roles", "grant", auditor.handle, "auditor")
    assert granted.returncode == 0, granted.stderr
    added = parley.http.post("/v1/users/me/contact-points/phone", headers=ada.auth,
                             json={"number": "+447911123458"})
    assert added.status_code == 201, added.text
    point = added.json()["contact_point_id"]
    before = moment()
    opted_in = parley.http.put("/v1/users/me/sms-consent", headers=ada.auth, json={
        "contact_point_id": point, "wording": WORDING, "source": "web:settings"})
    assert opted_in.status_code == 200, opted_in.text
    between = moment()
    withdrawn = parley.http.delete("/v1/users/me/sms-consent", headers=ada.auth,
                                   params={"contact_point_id": point})
    assert withdrawn.json()["consent"] == "revoked", withdrawn.text
    after = moment()

    def consent(at: datetime, who: Person = auditor) -> tuple[str, str, str | None]:
        answer = parley.http.get(f"/v1/admin/compliance/users/{ada.user_id}",
                                 params={"at": at.isoformat()}, headers=who.auth)
        assert answer.status_code == 200, answer.text
        [held] = answer.json()["sms_consents"]
        return held["consent"], held["wording"], held["event"] and held["event"]["source"]

    assert consent(before) == ("none", "", None)
    assert consent(between) == ("granted", WORDING, "web:settings")
    assert consent(after)[0::2] == ("revoked", "api")
    refused = parley.http.get(f"/v1/admin/compliance/users/{ada.user_id}", headers=ada.auth)
    assert refused.status_code == 403
    shown = parley_cli(processes, "compliance", "show", ada.handle, "--at",
                       between.isoformat(), "--json")
    assert shown.returncode == 0, shown.stderr
    body: dict[str, Any] = json.loads(shown.stdout)
    assert [c["consent"] for c in body["sms_consents"]] == ["granted"]
