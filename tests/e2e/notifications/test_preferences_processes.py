"""Preferences on both profiles, as real processes (the package's shared Parley per profile,
tests/e2e/notifications/deployments.py): a user switches a channel off through the API, reads
it back from the profile's log (PostgreSQL in production), and the trigger's decision, read
through the notification's trace, names the rule that matched: the user's for an ordinary
category (the channel skipped), the critical bypass for a security alert (sent anyway)."""

from __future__ import annotations

from typing import Any

from parley.launcher import ParleyProcesses
from tests.builders import ParleyClient, Person
from tests.e2e.notifications import deployments
from tests.e2e.notifications.deployments import eventually, issue_key, with_a_webhook
from tests.providers.webhook_receiver import WebhookReceiver

PATH = "/v1/users/me/notification-preferences"


def trigger(parley: ParleyClient, processes: ParleyProcesses, owner: Person, category: str,
            channels: list[str]) -> str:
    return deployments.trigger(parley, issue_key(processes.env), owner, channels, category,
                               "Sign-in", "New device.")


def settled(parley: ParleyClient, owner: Person, nid: str) -> dict[str, Any]:
    def delivered() -> dict[str, Any] | None:
        traced = parley.http.get(f"/v1/notifications/{nid}/trace", headers=owner.auth)
        assert traced.status_code == 200, traced.text
        body: dict[str, Any] = traced.json()
        return body if body["state"] == "delivered" else None

    found: dict[str, Any] = eventually(delivered, "the notification delivered")
    return found


def decision(body: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in body["steps"] if s["step"] == "decision" and s["name"] == name)


def test_a_switched_off_channel_is_skipped_and_a_critical_alert_still_goes(
        parley: ParleyClient, processes: ParleyProcesses,
        webhook_endpoint: tuple[WebhookReceiver, str]) -> None:
    endpoint, url = webhook_endpoint
    owner = with_a_webhook(parley, endpoint, url)
    changed = parley.http.put(PATH, headers=owner.auth, json={
        "channels": {"system": {"webhook": False}, "security": {"webhook": False}},
        "time_zone": "Europe/London"})
    assert changed.status_code == 200, changed.text
    shown = parley.http.get(PATH, headers=owner.auth).json()
    assert shown["channels"]["system"]["webhook"]["source"] == "user"
    assert shown["time_zone"] == "Europe/London"

    skipped = settled(parley, owner, trigger(parley, processes, owner, "system",
                                             ["webhook", "in_app"]))
    step = decision(skipped, "preferences")
    assert step["details"]["inputs"]["channels"]["webhook"] == {"rule": "user",
                                                                "enabled": False}
    assert not [s for s in skipped["steps"] if s["step"] == "dispatch"]

    sent = settled(parley, owner, trigger(parley, processes, owner, "security", ["webhook"]))
    assert decision(sent, "preferences")["details"]["inputs"]["channels"]["webhook"][
        "rule"] == "critical_bypass"
    assert [s for s in sent["steps"] if s["step"] == "dispatch"]
