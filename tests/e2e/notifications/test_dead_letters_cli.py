"""The operators' dead-letter tools on both profiles, as real processes: a notification whose only
provider refuses it for good is dead-lettered for real (a stand-in business endpoint answering
400), `parley notifications dead-letters` lists it with whose it is, why and after how many
attempts, and `parley notifications redrive` sends it again exactly once, however often it is
named: the endpoint sees one more attempt, and a second redrive skips it.

One Parley per profile, shared with the other process modules of the package (each test makes
its own endpoint's owner): tests/e2e/notifications/deployments.py."""

from __future__ import annotations

import json
import re
import subprocess
from typing import Any

import pytest

from parley.launcher import ParleyProcesses
from tests.builders import ParleyClient
from tests.e2e.notifications import deployments
from tests.e2e.notifications.deployments import eventually, issue_key, trigger, with_a_webhook
from tests.providers.webhook_receiver import Answer, WebhookReceiver


@pytest.fixture
def receiver(webhook_endpoint: tuple[WebhookReceiver, str]) -> tuple[WebhookReceiver, str]:
    """The package's webhook endpoint, its records of earlier tests forgotten."""
    webhook_endpoint[0].reset()
    return webhook_endpoint


def parley_cli(processes: ParleyProcesses, *args: str) -> subprocess.CompletedProcess[str]:
    return deployments.parley_cli(processes, "notifications", *args, columns=400)


def listed(processes: ParleyProcesses) -> dict[str, dict[str, Any]]:
    shown = parley_cli(processes, "dead-letters", "--json")
    assert shown.returncode == 0, shown.stderr
    return {row["notification_id"]: row for row in map(json.loads, shown.stdout.splitlines())}


UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def table_rows_and_count(table: str) -> tuple[list[str], int]:
    """The notification ids of the table's rows (each row's first cell) and the count its
    caption says."""
    rows = re.findall(rf"^\W*({UUID})\b", table, flags=re.MULTILINE)
    [count] = re.findall(r"(\d+) dead letters?\b", table)
    return rows, int(count)


def test_a_dead_letter_is_listed_and_redriven_exactly_once(
        parley: ParleyClient, processes: ParleyProcesses,
        receiver: tuple[WebhookReceiver, str]) -> None:
    endpoint, url = receiver
    owner = with_a_webhook(parley, endpoint, url)
    endpoint.answer_next(1, Answer(400))  # refused for good: no retry, dead-lettered at once
    key = issue_key(processes.env)
    nid = trigger(parley, key, owner, ["webhook"], title="Build failed", body="Red.")

    eventually(lambda: endpoint.requests, "the first attempt")  # each listing is a process
    row = eventually(lambda: listed(processes).get(nid), "the dead letter listed")
    assert len(endpoint.requests) == 1
    assert row["recipient_id"] == owner.user_id and row["category"] == "system"
    assert row["attempts"] == 1 and "refused" in row["reason"]
    assert "400" in row["last_code"] and row["dead_lettered_at"]
    table = parley_cli(processes, "dead-letters")
    assert table.returncode == 0, table.stderr
    # the deployment is shared: other tests' dead letters may be listed beside ours
    rows, count = table_rows_and_count(table.stdout)
    assert nid in rows and count == len(rows) == len(set(rows))

    redriven = parley_cli(processes, "redrive", "--id", nid, "--id", nid)
    assert redriven.returncode == 0, redriven.stderr
    assert redriven.stdout.splitlines() == [f"redriven {nid}"]  # named twice, redriven once
    eventually(lambda: [d.payload["data"]["notification_id"] for d in endpoint.deliveries]
               == [nid], "the redriven notification delivered")

    again = parley_cli(processes, "redrive", "--id", nid)
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith(f"skipped {nid}")
    eventually(lambda: nid not in listed(processes), "the dead letter gone from the list")
    assert len(endpoint.requests) == 2  # the first attempt and the one redrive, no more


def test_redrive_all_sends_every_dead_letter_again_and_needs_ids_or_all(
        parley: ParleyClient, processes: ParleyProcesses,
        receiver: tuple[WebhookReceiver, str]) -> None:
    endpoint, url = receiver
    owner = with_a_webhook(parley, endpoint, url)
    endpoint.answer_next(2, Answer(400))
    key = issue_key(processes.env)
    nids = set()
    for title in ("First", "Second"):
        response = parley.http.post(
            "/v1/notifications", headers={"Authorization": f"Bearer {key}"},
            json={"recipients": [owner.user_id], "category": "system", "priority": "high",
                  "plan": {"channels": ["webhook"]}, "content": {"title": title, "body": "x"}})
        assert response.status_code == 202, response.text
        nids.add(response.json()["notifications"][0]["notification_id"])
    eventually(lambda: len(endpoint.requests) == 2, "both first attempts")
    # every dead letter there is: ours, and any an earlier test on this deployment left
    dead = eventually(lambda: nids <= (found := set(listed(processes))) and found,
                      "both dead letters listed")

    refused = parley_cli(processes, "redrive")
    assert refused.returncode == 2 and "--id" in refused.stderr

    everything = json.loads(parley_cli(processes, "redrive", "--all", "--json").stdout)
    # every one listed (a dead letter an earlier test left may have joined them since)
    assert dead <= set(everything["redriven"]) and everything["skipped"] == []
    eventually(lambda: {d.payload["data"]["notification_id"] for d in endpoint.deliveries}
               >= nids, "both redriven and delivered")
    assert len([r for r in endpoint.requests if r.payload["data"]["notification_id"] in nids]
               ) == 4
