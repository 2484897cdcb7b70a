"""`GET /v1/admin/notifications/analytics` and `parley notifications stats` on both profiles, as
real processes: notifications triggered through the API, sent to the package's stand-in
webhook endpoint (one taken, one refused for good) and to the inbox (one read), are counted by
category, channel, provider and status, with their latency and cost; bad input is a 422
problem and anyone but an admin is refused.

One Parley per profile, shared with the package's other process modules: each test counts
only what was requested in its own time range (the package's modules run one at a time)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from parley.launcher import ParleyProcesses
from tests.builders import ParleyClient, Person
from tests.e2e.notifications.deployments import eventually, issue_key, parley_cli, trigger
from tests.providers.webhook_receiver import Answer, WebhookReceiver

URL = "/v1/admin/notifications/analytics"


def analytics(parley: ParleyClient, who: Person, **params: Any) -> httpx.Response:
    return parley.http.get(URL, params=params, headers=who.auth)


def test_what_was_sent_delivered_failed_and_read_is_counted_with_latency_and_cost(
        parley: ParleyClient, processes: ParleyProcesses, admin: Person,
        webhook_endpoint: tuple[WebhookReceiver, str]) -> None:
    endpoint, url = webhook_endpoint
    endpoint.reset()
    owner = parley.register("Bot Owner")
    made = parley.http.post("/v1/users/me/contact-points/webhooks", headers=owner.auth,
                            json={"url": url + "/ok"})
    assert made.status_code == 201, made.text
    endpoint.hold(made.json()["secret"])
    key = issue_key(processes.env)
    since = datetime.now(UTC) - timedelta(seconds=1)
    trigger(parley, key, owner, ["webhook"])
    eventually(lambda: endpoint.deliveries, "the first webhook delivered")
    endpoint.answer_next(1, Answer(400))  # refused for good: dead-lettered
    trigger(parley, key, owner, ["webhook"])
    read = trigger(parley, key, owner, ["in_app"])
    trigger(parley, key, owner, ["in_app"])
    eventually(lambda: parley.http.post(f"/v1/notifications/{read}/read",
                                        headers=owner.auth).status_code == 200, "read")
    window = {"from": since.isoformat(), "to": (datetime.now(UTC) + timedelta(minutes=1))
              .isoformat(), "group_by": "category,channel,provider"}

    def counted() -> dict[str, Any] | None:
        answer = analytics(parley, admin, **window)
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        groups = {(g["channel"], g["provider"]): g for g in body["groups"]
                  if g["category"] == "system"}
        hooks, inbox = groups.get(("webhook", "hooks")), groups.get(("in_app", "inbox"))
        done = (hooks and hooks["statuses"]["delivered"] == 1
                and hooks["statuses"]["failed"] == 1 and inbox and inbox["opened"] == 1)
        return body if done else None

    body = eventually(counted, "the four notifications counted")
    hooks = next(g for g in body["groups"] if g["channel"] == "webhook")
    assert (hooks["notifications"], hooks["sent"], hooks["delivered"]) == (2, 2, 1)
    assert hooks["rates"]["delivered"] == 0.5 and hooks["rates"]["failed"] == 0.5
    inbox = next(g for g in body["groups"] if g["channel"] == "in_app")
    assert (inbox["notifications"], inbox["delivered"], inbox["rates"]["opened"]) == (2, 2, 0.5)
    [high] = [r for r in body["latency"] if r["priority"] == "high"]
    assert high["delivered"] == 3 and 0 <= high["p50_ms"] <= high["p99_ms"] < 60_000
    [cost] = [c for c in body["cost"] if c["provider"] == "hooks"]
    assert (cost["messages"], cost["cost_micros"], cost["priced_cost_micros"]) == (1, 0, None)

    shown = parley_cli(processes, "notifications", "stats", "--from", window["from"],
                       "--to", window["to"], "--json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["groups"] == body["groups"]
    table = parley_cli(processes, "notifications", "stats", "--from", window["from"],
                       "--group-by", "channel,status")
    assert table.returncode == 0, table.stderr
    assert "webhook" in table.stdout and "Request to delivery" in table.stdout

    rebuilt = parley_cli(processes, "replay", "notification_analytics", "--json")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "notification_analytics" in json.loads(rebuilt.stdout.splitlines()[-1])[
        "switched_to"]
    again = analytics(parley, admin, **window).json()
    assert (again["groups"], again["latency"], again["cost"]) == (
        body["groups"], body["latency"], body["cost"])  # the read model rebuilt from the log


@pytest.mark.parametrize(("params", "field"), [
    ({"group_by": "channel,recipient"}, "group_by"),
    ({"group_by": "Channel;DROP"}, "group_by"),
    ({"interval": "fortnight"}, "interval"),
    ({"from": "2026-12-02T00:00:00Z", "to": "2026-12-01T00:00:00Z"}, "from"),
    ({"from": "2024-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, "to"),
    ({"from": "2026-10-01T00:00:00Z", "to": "2026-12-01T00:00:00Z", "interval": "hour"},
     "interval"),
    ({"from": "2026-12-01T00:00:00", "to": "2026-12-02T00:00:00"}, "from"),
    ({"from": "yesterday"}, "from"),
    ({"to": "0001-01-01T00:00:00Z"}, "from"),  # its default `from` is before year 1
])
def test_bad_input_is_a_422_problem(parley: ParleyClient, admin: Person,
                                    params: dict[str, str], field: str) -> None:
    answer = analytics(parley, admin, **params)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert field in json.dumps(answer.json()["errors"])


def test_bad_cli_input_is_a_one_line_error(processes: ParleyProcesses) -> None:
    refused = parley_cli(processes, "notifications", "stats", "--interval", "fortnight")
    assert refused.returncode == 2 and refused.stderr.startswith("parley: --interval")


def test_anyone_but_an_admin_is_refused(parley: ParleyClient) -> None:
    someone = parley.register("Mallory")
    refused = analytics(parley, someone)
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert parley.http.get(URL).status_code == 401
