"""Operators' HTTP routes: projection status, parked events, retry and replays (admins only)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx

from parley.launcher import ParleyProcesses
from tests.builders import ParleyClient, Person
from tests.e2e.conftest import PROFILES
from tests.e2e.test_replay import parley_command


def an_admin(processes: ParleyProcesses, parley: ParleyClient) -> Person:
    person = parley.register("Grace Operator")
    granted = parley_command(processes, "roles", "grant", person.handle, "admin")
    assert granted.returncode == 0, granted.stderr[-2000:]
    return person


def finished(http: httpx.Client, admin: Person, location: str) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job: dict[str, Any] = http.get(location, headers=admin.auth).json()
        if job["state"] != "running":
            return job
        time.sleep(0.2)
    raise AssertionError("the replay did not finish in time")


@PROFILES
def test_an_admin_rebuilds_a_projection_over_http_while_it_keeps_serving(
        processes: ParleyProcesses, parley: ParleyClient) -> None:
    admin = an_admin(processes, parley)
    ada, bob = parley.register("Ada"), parley.register("Bob")
    conversation = parley.open_direct(ada, bob)
    for n in range(30):
        parley.send(ada, conversation, f"message {n}")
    http = parley.http

    statuses = http.get("/v1/admin/projections", headers=admin.auth)
    assert statuses.status_code == 200, statuses.text
    assert {"messaging", "feed", "users"} <= {s["projection"] for s in statuses.json()}

    plan = http.post("/v1/admin/replays", json={"all": True, "dry_run": True},
                     headers=admin.auth)
    assert plan.status_code == 200, plan.text
    assert plan.json()["switches"] is True and plan.json()["events"] > 60

    started = http.post("/v1/admin/replays", json={"projections": ["messaging"]},
                        headers=admin.auth)
    assert started.status_code == 202, started.text
    job = finished(http, admin, started.headers["Location"])
    assert job["state"] == "done", job
    assert job["summary"]["switched_to"] == {"messaging": 2}
    assert len(parley.all_messages(bob, conversation)) == 30

    retried = http.post("/v1/admin/projections/retry", json={}, headers=admin.auth)
    assert retried.status_code == 200 and retried.json() == []
    parked = http.get("/v1/admin/projections/parked", headers=admin.auth)
    assert parked.status_code == 200 and parked.json() == []


@PROFILES
def test_only_admins_operate_and_bad_requests_are_refused_clearly(
        processes: ParleyProcesses, parley: ParleyClient) -> None:
    someone = parley.register("Mallory")
    http = parley.http
    for method, url, body in (("GET", "/v1/admin/projections", None),
                              ("POST", "/v1/admin/replays", {"all": True}),
                              ("POST", "/v1/admin/projections/retry", {})):
        refused = http.request(method, url, json=body, headers=someone.auth)
        assert refused.status_code == 403, (url, refused.text)
        assert refused.headers["content-type"].startswith("application/problem+json")
    assert http.get("/v1/admin/projections").status_code == 401

    admin = an_admin(processes, parley)
    for body in ({}, {"projections": ["nonsense"]}, {"all": True, "into": "Not A Name"},
                 {"all": True, "until_time": "2026-11-26T10:00:00"}, {"all": True, "x": 1}):
        answer = http.post("/v1/admin/replays", json=body, headers=admin.auth)
        assert answer.status_code == 422, (body, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")
    missing = http.get(f"/v1/admin/replays/{uuid.uuid4()}", headers=admin.auth)
    assert missing.status_code == 404
