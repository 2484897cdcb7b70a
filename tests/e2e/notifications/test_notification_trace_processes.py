"""The decision trace on both profiles, as real processes (the package's shared Parley per
profile, tests/e2e/notifications/deployments.py): a webhook the business's endpoint refuses for
good is dead-lettered, and both `GET /v1/notifications/{id}/trace` (the recipient's) and
`parley notifications trace ID` run as an operator's process against the profile's log
(PostgreSQL in production) show the attempt, the endpoint's answer and why it was given up."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from parley.launcher import ParleyProcesses
from tests.builders import ParleyClient
from tests.e2e.notifications.deployments import eventually, issue_key, trigger, with_a_webhook
from tests.providers.webhook_receiver import Answer, WebhookReceiver


def steps(body: dict[str, Any]) -> list[tuple[str, str]]:
    return [(s["step"], s["outcome"]) for s in body["steps"]]


def test_a_refused_webhook_is_traced_by_the_route_and_by_the_operators_command(
        parley: ParleyClient, processes: ParleyProcesses,
        webhook_endpoint: tuple[WebhookReceiver, str]) -> None:
    endpoint, url = webhook_endpoint
    endpoint.reset()
    owner = with_a_webhook(parley, endpoint, url)
    endpoint.answer_next(1, Answer(400))  # refused for good: dead-lettered after one attempt
    key = issue_key(processes.env)
    nid = trigger(parley, key, owner, ["webhook"], title="Deploy failed", body="Red.")

    def dead_lettered() -> dict[str, Any] | None:
        traced = parley.http.get(f"/v1/notifications/{nid}/trace", headers=owner.auth)
        assert traced.status_code == 200, traced.text
        body: dict[str, Any] = traced.json()
        return body if body["state"] == "dead_lettered" else None

    body = eventually(dead_lettered, "the notification dead-lettered")
    [answer] = [s for s in body["steps"] if s["step"] == "answer"]
    assert answer["details"]["provider"] == "hooks" and "400" in answer["details"]["code"]
    assert answer["details"]["retryable"] is False
    assert steps(body)[-1] == (
        "dead_letter", "dead-lettered after 1 attempt: webhook: the provider refused it")

    shown = subprocess.run([sys.executable, "-m", "parley", "notifications", "trace", nid,
                            "--json"], env=processes.env, capture_output=True, text=True,
                           timeout=60)
    assert shown.returncode == 0, shown.stderr
    operator = json.loads(shown.stdout)
    assert operator["audience"] == "admin"
    assert steps(operator) == steps(body)
    assert "Deploy failed" not in shown.stdout and "Red." not in shown.stdout
