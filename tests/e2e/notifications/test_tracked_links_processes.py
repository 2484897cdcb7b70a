"""Tracked links on both profiles as real processes (the package's shared deployments; in
production the log is PostgreSQL and analytics Elasticsearch): an email through the SMTP
stand-in carries its link as a tracked link under the public URL; following it twice redirects
both times and is recorded once, in the recipient's trace and the admin's analytics; an in-app
tap is recorded for its recipient alone."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from domain.notifications.tracked_links import LINKS_PATH
from tests.builders import ParleyClient, Person, answer_of
from tests.e2e.notifications.deployments import (
    EACH_PROFILE,
    PUBLIC_URL,
    Deployment,
    eventually,
    issue_key,
    parley_cli,
)
from tests.providers.smtp import SmtpRelay

REPORT = "https://shop.example.com/reports/2026-12?format=pdf&lang=en"
TRACKED = re.compile(re.escape(PUBLIC_URL + LINKS_PATH) + r"/k1\.[\w-]+\.[\w-]+")


@pytest.fixture(scope="module", params=EACH_PROFILE)
def deployment(request: pytest.FixtureRequest) -> Deployment:
    found: Deployment = request.getfixturevalue(f"{request.param}_deployment")
    return found


@pytest.fixture(scope="module")
def parley(deployment: Deployment) -> Iterator[ParleyClient]:
    with httpx.Client(base_url=deployment.processes.base_url, timeout=30,
                      follow_redirects=False) as http:
        yield ParleyClient(http)


@pytest.fixture(scope="module")
def key(deployment: Deployment) -> str:
    return issue_key(deployment.processes.env)


def with_mailbox(parley: ParleyClient, deployment: Deployment) -> tuple[Person, str]:
    """Someone with a verified email address (verified by the token its link carries)."""
    person = parley.register("Reader")
    mailbox = f"reader-{uuid.uuid4().hex[:8]}@example.org"
    added = parley.http.post("/v1/users/me/contact-points/email", json={"address": mailbox},
                             headers=person.auth)
    assert added.status_code == 201, added.text
    token = deployment.verification.token(uuid.UUID(person.user_id),
                                          uuid.UUID(added.json()["contact_point_id"]),
                                          datetime.now(UTC))
    verified = parley.http.post("/v1/contact-points/verify", json={"token": token})
    assert verified.status_code == 200, verified.text
    return person, mailbox


def trigger(parley: ParleyClient, key: str, person: Person, channels: list[str],
            title: str) -> str:
    response = parley.http.post("/v1/notifications", headers={"Authorization": f"Bearer {key}"},
                                json={"recipients": [person.user_id], "category": "system",
                                      "plan": {"channels": channels}, "content": {
                                          "title": title, "body": f"Your report: {REPORT}"}})
    assert response.status_code == 202, response.text
    return str(response.json()["notifications"][0]["notification_id"])


def clicked_steps(parley: ParleyClient, person: Person, nid: str) -> list[str]:
    trace = parley.http.get(f"/v1/notifications/{nid}/trace", headers=person.auth)
    assert trace.status_code == 200, trace.text
    return [s["outcome"] for s in trace.json()["steps"] if s["step"] == "clicked"]


def test_a_tracked_link_redirects_and_is_counted_once_in_the_trace_and_the_analytics(
        parley: ParleyClient, deployment: Deployment, relay: SmtpRelay, key: str) -> None:
    person, mailbox = with_mailbox(parley, deployment)
    admin = parley.register("Grace Operator")
    granted = parley_cli(deployment.processes, "roles", "grant", admin.handle, "admin")
    assert granted.returncode == 0, granted.stderr
    since = datetime.now(UTC) - timedelta(seconds=1)
    title = f"Monthly report {uuid.uuid4().hex[:6]}"
    nid = trigger(parley, key, person, ["email"], title)

    mail: EmailMessage = eventually(lambda: next((m for m in relay.inbox(mailbox)
                                                  if m["Subject"] == title), None), "the mail")
    text = next(part for part in mail.iter_parts()).get_content()
    [link] = TRACKED.findall(text)
    assert REPORT not in text
    followed = [parley.http.get(urlsplit(link).path) for _ in range(2)]

    assert [(f.status_code, f.headers["location"]) for f in followed] == [(302, REPORT)] * 2
    assert clicked_steps(parley, person, nid) == [
        "link 0 clicked on email (said by a tracked link)"]
    window = {"from": since.isoformat(), "group_by": "category,channel",
              "to": (datetime.now(UTC) + timedelta(minutes=1)).isoformat()}

    def counted() -> dict[str, Any] | None:
        answer = parley.http.get("/v1/admin/notifications/analytics", params=window,
                                 headers=admin.auth)
        assert answer.status_code == 200, answer.text
        return next((g for g in answer.json()["groups"]
                     if g["channel"] == "email" and g["clicked"]), None)

    email = eventually(counted, "the click counted")
    assert email["clicked"] == 1


def test_an_in_app_tap_is_recorded_for_its_recipient_alone(
        parley: ParleyClient, key: str) -> None:
    person, stranger = parley.register("Bo"), parley.register("Eve")
    nid = trigger(parley, key, person, ["in_app"], "Report ready")
    url = f"/v1/notifications/{nid}/click"

    tapped = eventually(lambda: (r := parley.http.post(url, json={"link": 0},
                                                       headers=person.auth))
                        .status_code == 200 and r, "the tap")
    theirs = parley.http.post(url, json={"link": 0}, headers=stranger.auth)
    random = parley.http.post(f"/v1/notifications/{uuid.uuid4()}/click", json={"link": 0},
                              headers=stranger.auth)

    assert tapped.json()["link"] == REPORT and tapped.json()["recorded"] is True
    assert theirs.status_code == 404 and answer_of(theirs) == answer_of(random)
    assert clicked_steps(parley, person, nid) == [
        "link 0 clicked on in_app (said by the app)"]
