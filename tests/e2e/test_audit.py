"""Audit-log inspection over HTTP, in both profiles: only auditors and admins, secrets redacted."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx

from api.audit.log import DENIALS_RECORDED_PER_MINUTE
from domain.identity.accounts import credentials_id, refresh_grant_id
from parley.launcher import ParleyProcesses
from tests.builders import ParleyClient, Person
from tests.e2e.conftest import PROFILES

AUDIT = "/v1/audit"


def roles(processes: ParleyProcesses, action: str, person: Person, role: str) -> str:
    """`parley roles grant|revoke`, run from the operator's shell beside the processes."""
    done = subprocess.run([sys.executable, "-m", "parley", "roles", action, person.handle, role],
                          env=processes.env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def an_auditor(parley: ParleyClient, processes: ParleyProcesses) -> Person:
    auditor = parley.register("Grace Auditor")
    roles(processes, "grant", auditor, "auditor")
    return auditor


def get(parley: ParleyClient, who: Person, path: str, **params: Any) -> httpx.Response:
    return parley.http.get(AUDIT + path, params=params, headers=who.auth)


def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def rename(parley: ParleyClient, who: Person, name: str,
           request_id: uuid.UUID | None = None) -> dict[str, Any]:
    headers = who.auth | ({"X-Request-Id": str(request_id)} if request_id else {})
    response = parley.http.patch("/v1/users/me", json={"name": name}, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def every_page(parley: ParleyClient, who: Person, path: str,
               **params: Any) -> tuple[list[dict[str, Any]], int]:
    """Follows `next` to the end; answers every event and how many pages it took."""
    events: list[dict[str, Any]] = []
    after, pages = 0, 0
    while True:
        page = ok(get(parley, who, path, after=after, **params))
        events.extend(page["events"])
        pages += 1
        if page["next"] is None:
            return events, pages
        after = page["next"]


@PROFILES
def test_only_auditors_may_inspect_and_every_refusal_is_logged_and_recorded(
        parley: ParleyClient, processes: ParleyProcesses) -> None:
    mallory = parley.register("Mallory")
    refused = get(parley, mallory, "/events", actor=mallory.user_id)
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    probed = f"{AUDIT}/aggregates/{uuid.uuid4()}/state"
    assert parley.http.get(probed, headers=mallory.auth).status_code == 403
    assert parley.http.get(AUDIT + "/events").status_code == 401

    denial = next(json.loads(line) for line in processes.log_tail("serve").splitlines()
                  if "audit access denied" in line)
    assert denial["user_id"] == mallory.user_id and denial["path"] == AUDIT + "/events"
    assert denial["at"]

    auditor = an_auditor(parley, processes)
    recorded = ok(get(parley, auditor, "/events", types="UserRoles.AuditAccessDenied",
                      actor=mallory.user_id))["events"]
    assert [e["payload"]["path"] for e in recorded] == [AUDIT + "/events", probed]
    assert all(e["actor_id"] == mallory.user_id for e in recorded)

    roles(processes, "grant", mallory, "admin")
    assert get(parley, mallory, "/event-types").status_code == 200
    roles(processes, "revoke", mallory, "admin")
    assert get(parley, mallory, "/event-types").status_code == 403


@PROFILES
def test_an_auditor_follows_an_aggregate_through_its_history_states_and_diffs(
        parley: ParleyClient, processes: ParleyProcesses) -> None:
    auditor = an_auditor(parley, processes)
    ada = parley.register("Ada Lovelace")
    request_id = uuid.uuid4()
    before_rename = datetime.now(UTC)
    time.sleep(0.05)
    renamed = rename(parley, ada, "Ada King", request_id)

    history = ok(get(parley, auditor, f"/aggregates/{ada.user_id}/events"))
    registered, changed = history["events"]
    assert history["next"] is None
    assert (registered["type"], changed["type"]) == ("User.Registered", "User.ProfileChanged")
    assert changed["actor_id"] == ada.user_id and changed["correlation_id"] == str(request_id)
    assert "causation_id" in changed and changed["position"] == renamed["position"]
    assert registered["state"]["name"] == "Ada Lovelace"
    assert changed["state"]["name"] == "Ada King" and changed["version"] == 2

    path = f"/aggregates/{ada.user_id}"
    assert ok(get(parley, auditor, f"{path}/state", version=1))["state"]["name"] == \
        "Ada Lovelace"
    as_then = ok(get(parley, auditor, f"{path}/state", at=before_rename.isoformat()))
    assert as_then["version"] == 1
    assert ok(get(parley, auditor, f"{path}/state"))["state"]["name"] == "Ada King"
    diff = ok(get(parley, auditor, f"{path}/diff", **{"from": 1, "to": 2}))
    assert diff["changes"] == [{"path": "name", "before": "Ada Lovelace", "after": "Ada King"}]

    unknown = get(parley, auditor, f"/aggregates/{uuid.uuid4()}/events")
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"
    assert get(parley, auditor, f"{path}/state", version=9).status_code == 404
    assert get(parley, auditor, f"{path}/diff", **{"from": 2, "to": 1}).status_code == 422
    assert get(parley, auditor, f"{path}/state", at="soon").status_code == 422
    assert get(parley, auditor, "/aggregates/not-a-uuid/events").status_code == 422


@PROFILES
def test_password_hashes_and_token_digests_never_reach_an_auditor(
        parley: ParleyClient, processes: ParleyProcesses) -> None:
    auditor = an_auditor(parley, processes)
    registration = parley.http.post("/v1/users", json={
        "handle": f"ada{uuid.uuid4().hex[:8]}", "name": "Ada", "password": "correct horse"})
    ada = registration.json()
    credentials = ok(get(parley, auditor, f"/aggregates/{credentials_id(uuid.UUID(ada['user_id']))}"
                                          "/events"))["events"]
    grant_id = refresh_grant_id(uuid.UUID(ada["device_id"]))
    grant = ok(get(parley, auditor, f"/aggregates/{grant_id}/events"))["events"]
    state = ok(get(parley, auditor, f"/aggregates/{grant_id}/state"))["state"]
    assert credentials[0]["payload"]["password_hash"] == "[redacted]"
    assert credentials[0]["state"]["password_hash"] == "[redacted]"
    assert grant[0]["payload"]["token_digest"] == "[redacted]"
    assert state["token_digest"] == "[redacted]"
    export = get(parley, auditor, "/events", actor=ada["user_id"], format="jsonl").text
    for shown in (json.dumps([credentials, grant, state]), export):
        assert "argon2" not in shown and ada["refresh_token"] not in shown


@PROFILES
def test_an_auditor_searches_by_actor_type_time_and_correlation_in_pages(
        parley: ParleyClient, processes: ParleyProcesses) -> None:
    auditor = an_auditor(parley, processes)
    ada, bob = parley.register("Ada"), parley.register("Bob")
    rename(parley, ada, "Ada early")
    start = datetime.now(UTC)
    time.sleep(0.05)
    request_id = uuid.uuid4()
    for step in range(5):
        rename(parley, ada, f"Ada {step}", request_id if step == 2 else None)
    rename(parley, bob, "Bob later")

    mine, pages = every_page(parley, auditor, "/events", actor=ada.handle,
                             **{"from": start.isoformat()}, limit=2)
    assert [e["payload"]["name"] for e in mine] == [f"Ada {s}" for s in range(5)]
    assert pages >= 3

    renames = ok(get(parley, auditor, "/events", types="User.ProfileChanged",
                     **{"from": mine[0]["position"], "until": mine[-1]["position"]}))
    assert [e["actor_id"] for e in renames["events"]] == [ada.user_id] * 5

    followed = ok(get(parley, auditor, "/events", correlation_id=str(request_id)))["events"]
    assert [e["payload"]["name"] for e in followed] == ["Ada 2"]

    export = get(parley, auditor, "/events", actor=ada.user_id, format="jsonl",
                 **{"from": start.isoformat()})
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in export.text.splitlines()]
    assert lines == mine

    assert get(parley, auditor, "/events", types="User.Exploded").status_code == 422
    assert get(parley, auditor, "/events", **{"from": "last tuesday"}).status_code == 422
    assert get(parley, auditor, "/events", limit=0).status_code == 422
    assert get(parley, auditor, "/events", actor="not a handle!").status_code == 422


def test_repeated_refusals_are_recorded_only_up_to_a_budget(
        parley: ParleyClient, processes: ParleyProcesses) -> None:
    mallory = parley.register("Mallory")
    for _ in range(DENIALS_RECORDED_PER_MINUTE + 5):
        assert get(parley, mallory, f"/aggregates/{uuid.uuid4()}/events").status_code == 403

    auditor = an_auditor(parley, processes)
    recorded = ok(get(parley, auditor, "/events", types="UserRoles.AuditAccessDenied",
                      actor=mallory.user_id))["events"]
    assert len(recorded) == DENIALS_RECORDED_PER_MINUTE
