"""The decision trace end to end on the embedded default, in process: a push FCM keeps refusing
for now is retried, falls back to the recipient's webhook and is delivered there, and its trace
(`GET /v1/notifications/{id}/trace`, `parley notifications trace ID`) shows every attempt in
order with FCM's answer; one that no channel can reach shows why it was suppressed; only its
recipient, an admin and the service that triggered it may see it, everyone else gets the answer
of a random id."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from commands.identity.roles import GrantRole
from commands.notifications.contact_points import (
    AddWebhookEndpoint,
    ContactPointRules,
    RegisterDeviceToken,
)
from domain.identity.roles import operator_actor_id
from domain.notifications.endpoints import new_signing_secret
from domain.notifications.notifications import Notification
from parley.assembly import Parley
from parley.bootstrap import build
from parley.cli import app
from parley.settings import Settings
from tests.builders import ParleyClient, Person, a_cause, an_api_key, answer_of, now
from tests.e2e.notifications.deployments import ACCOUNT
from tests.e2e.notifications.test_delivery_engine import FAST_RETRIES, eventually
from tests.providers.fcm import FcmStandIn
from tests.providers.push_service import Refusal
from tests.providers.servers import LocalServer
from tests.providers.webhook_receiver import WebhookReceiver

UNAVAILABLE = Refusal(503, "UNAVAILABLE", retry_after="0")
ATTEMPTS = 2
TITLE, BODY = "Your sign-in code", "Use 914 227 within ten minutes."


@dataclass
class Traced:
    parley: Parley
    http: TestClient
    client: ParleyClient
    fcm: FcmStandIn
    receiver: WebhookReceiver
    receiver_url: str
    key: str
    env: dict[str, str]

    def service(self, key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.key}"}

    def reachable(self, name: str) -> tuple[Person, str]:
        """Someone with a phone (an FCM token) and a webhook endpoint."""
        person = self.client.register(name)
        token = f"fcm-token:{uuid.uuid4().hex}{'x' * 30}"
        rules = ContactPointRules(20, allow_loopback_http=True)
        self.parley.writer.execute(RegisterDeviceToken(
            uuid.UUID(person.user_id), uuid.uuid4(), uuid.uuid4(), "fcm", token, now(), rules),
            a_cause())
        secret = new_signing_secret()
        self.receiver.hold(secret)
        self.parley.writer.execute(AddWebhookEndpoint(
            uuid.UUID(person.user_id), uuid.uuid4(), self.receiver_url + "/ok", secret, now(),
            rules), a_cause())
        return person, token

    def trigger(self, recipient: Person, channels: list[str]) -> str:
        response = self.http.post("/v1/notifications", headers=self.service(), json={
            "recipients": [recipient.user_id], "category": "security", "priority": "high",
            "plan": {"channels": channels}, "content": {"title": TITLE, "body": BODY}})
        assert response.status_code == 202, response.text
        return str(response.json()["notifications"][0]["notification_id"])

    def state(self, notification_id: str) -> str:
        found = self.parley.event_log.repository.get(uuid.UUID(notification_id))
        assert isinstance(found, Notification)
        return found.state

    def trace(self, notification_id: str, auth: dict[str, str]) -> Any:
        return self.http.get(f"/v1/notifications/{notification_id}/trace", headers=auth)


@pytest.fixture(scope="module")
def traced(tmp_path_factory: pytest.TempPathFactory, fcm: FcmStandIn) -> Iterator[Traced]:
    receiving = WebhookReceiver(new_signing_secret())
    data = Path(tmp_path_factory.mktemp("trace")) / "data"
    providers = json.dumps([
        {"name": "fcm-main", "kind": "fcm", "project_id": fcm.project_id,
         "service_account": ACCOUNT.key_file(fcm.token_uri), "endpoint": fcm.url,
         "timeout_seconds": 3, "ca_file": fcm.ca_file},
        {"name": "hooks", "kind": "webhook", "timeout_seconds": 3}])
    settings = Settings(database_url=None, data_dir=data, notification_providers=providers,
                        notification_allow_loopback_http=True,
                        **FAST_RETRIES | {"notification_max_attempts": ATTEMPTS})
    env = {"PARLEY_DATA_DIR": str(data), "PARLEY_DATABASE_URL": "",
           "PARLEY_NOTIFICATION_PROVIDERS": providers}
    with LocalServer(receiving) as server:
        parley = build(settings)
        with TestClient(create_app(parley)) as http:
            issue, key = an_api_key()
            parley.writer.execute(issue, a_cause())
            yield Traced(parley, http, ParleyClient(http), fcm, receiving, server.url,
                         key.presented, env)


@pytest.fixture(scope="module")
def fell_back(traced: Traced) -> tuple[Person, str]:
    """A push FCM refused for now on every attempt, delivered by the webhook after it."""
    person, token = traced.reachable("Ada Fallback")
    traced.fcm.script.for_token(token, UNAVAILABLE)
    nid = traced.trigger(person, ["push", "webhook"])
    eventually(lambda: traced.state(nid) == "delivered")
    return person, nid


def steps(body: dict[str, Any]) -> list[tuple[str, str]]:
    return [(s["step"], s["outcome"]) for s in body["steps"]]


def test_a_retried_then_fallen_back_notification_shows_each_attempt_with_its_answer(
        traced, fell_back):
    person, nid = fell_back
    response = traced.trace(nid, person.auth)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["state"], body["audience"], body["category"]) == (
        "delivered", "recipient", "security")
    shown = [(step, outcome) for step, outcome in steps(body)
             if step in ("dispatch", "answer", "retry", "fallback", "delivered")]
    retry = next(s for s in body["steps"] if s["step"] == "retry")["details"]
    assert [(step, outcome.split(" (")[0] if step == "answer" else outcome)
            for step, outcome in shown] == [
        ("dispatch", "push attempt 1 via fcm-main (breaker closed)"),
        ("answer", "fcm-main failed: UNAVAILABLE"),
        ("retry", f"push attempt 2 due {retry['due_at']}"),
        ("dispatch", "push attempt 2 via fcm-main (breaker closed)"),
        ("answer", "fcm-main failed: UNAVAILABLE"),
        ("fallback", "push -> webhook: attempts exhausted"),
        ("dispatch", "webhook attempt 1 via hooks (breaker closed)"),
        ("answer", "hooks accepted"),
        ("delivered", "delivered on webhook (said by provider)"),
    ]
    answers = [s["details"] for s in body["steps"] if s["step"] == "answer"]
    assert [(a["provider"], a["attempt"]) for a in answers] == [
        ("fcm-main", 1), ("fcm-main", 2), ("hooks", 1)]
    assert all(isinstance(a["latency_ms"], int) and a["latency_ms"] >= 0 for a in answers)
    assert answers[0]["retryable"] is True
    [request] = [s for s in body["steps"] if s["step"] == "request"]
    assert request["details"]["title"] == TITLE  # the recipient's own title; never the body
    assert BODY not in response.text


def test_a_notification_no_channel_can_reach_shows_why_it_was_suppressed(traced):
    nobody = traced.client.register("No Phone")
    nid = traced.trigger(nobody, ["push"])
    body = traced.trace(nid, nobody.auth).json()
    assert body["state"] == "suppressed"
    assert ("decision", "rule_out: push (the recipient has no address on it)") in steps(body)
    assert steps(body)[-1] == ("suppressed", "suppressed: no channel can reach the recipient")


def test_a_stranger_or_another_service_gets_the_answer_of_a_random_id(traced, fell_back):
    _, nid = fell_back
    stranger = traced.client.register("Eve Stranger")
    issue, other = an_api_key(name="another service")
    traced.parley.writer.execute(issue, a_cause())
    for auth in (stranger.auth, traced.service(other.presented)):
        theirs = traced.trace(nid, auth)
        random = traced.trace(str(uuid.uuid4()), auth)
        assert theirs.status_code == 404
        assert answer_of(theirs) == answer_of(random)
        assert theirs.headers["content-type"] == "application/problem+json"
    assert traced.trace(nid, {}).status_code == 401
    assert traced.trace("not-an-id", stranger.auth).status_code == 422


def test_an_admin_and_the_triggering_service_see_every_step_but_no_content(traced, fell_back):
    person, nid = fell_back
    admin = traced.client.register("Opal Admin")
    traced.parley.writer.execute(GrantRole(uuid.UUID(admin.user_id), "admin", "trace tests"),
                                 a_cause(operator_actor_id("trace tests")))
    mine = traced.trace(nid, person.auth).json()
    for auth, audience in ((admin.auth, "admin"), (traced.service(), "service")):
        response = traced.trace(nid, auth)
        assert response.status_code == 200, response.text
        assert response.json()["audience"] == audience
        assert steps(response.json()) == steps(mine)
        assert TITLE not in response.text and BODY not in response.text


def test_parley_notifications_trace_prints_the_steps_and_their_json(traced, fell_back):
    _, nid = fell_back
    runner = CliRunner()
    shown = runner.invoke(app, ["notifications", "trace", nid, "--json"], env=traced.env)
    assert shown.exit_code == 0, shown.output
    body = json.loads(shown.stdout)
    assert body["audience"] == "admin" and body["state"] == "delivered"
    assert ("fallback", "push -> webhook: attempts exhausted") in steps(body)
    assert TITLE not in shown.stdout and BODY not in shown.stdout
    table = runner.invoke(app, ["notifications", "trace", nid], env=traced.env)
    assert table.exit_code == 0, table.output
    assert "push -> webhook: attempts exhausted" in table.stdout
    assert "fcm-main failed: UNAVAILABLE" in table.stdout
    missing = runner.invoke(app, ["notifications", "trace", str(uuid.uuid4())], env=traced.env)
    assert missing.exit_code == 1 and "no notification" in missing.stderr
