"""`GET /v1/admin/providers`: operators see each notification provider's breaker as its
changes were recorded, and its recent answers; nobody but an admin sees anything."""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.app import create_app
from commands.identity.roles import GrantRole
from commands.notifications.circuits import RecordCircuitChange
from commands.notifications.contact_points import AddWebhookEndpoint, ContactPointRules
from domain.identity.roles import operator_actor_id
from domain.notifications.circuits import CLOSED, HALF_OPEN, OPEN
from domain.notifications.endpoints import new_signing_secret
from event_log.aggregate import Cause
from parley.assembly import Parley
from parley.bootstrap import build
from tests.builders import a_cause, a_handle, an_api_key, answer_of, embedded_settings
from tests.e2e.notifications import waiting
from tests.providers.servers import LocalServer
from tests.providers.webhook_receiver import WebhookReceiver

PASSWORD = "provider health passphrase 7"
T0 = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
DISPATCHER = Cause(operator_actor_id("dispatcher"), uuid.uuid4())
eventually = functools.partial(waiting.eventually, timeout=30.0, every=0.05)


@dataclass
class Admin:
    http: TestClient
    parley: Parley
    admin: dict[str, str]
    someone: dict[str, str]

    def record(self, change: RecordCircuitChange) -> int:
        """What a dispatcher submits for a transition of its breaker; the log position."""
        outcome: Any = self.parley.writer.execute(change, DISPATCHER)
        return int(outcome.position)

    def providers(self, position: int, who: dict[str, str] | None = None) -> Any:
        answer = self.http.get("/v1/admin/providers", params={"position": position},
                               headers=who or self.admin)
        assert answer.status_code == 200, answer.text
        return answer.json()


def signed_up(http: TestClient, name: str) -> tuple[str, dict[str, str]]:
    answer = http.post("/v1/users", json={"handle": a_handle(name), "name": name,
                                          "password": PASSWORD})
    assert answer.status_code == 201, answer.text
    body = answer.json()
    return body["user_id"], {"Authorization": f"Bearer {body['access_token']}"}


@pytest.fixture(scope="module")
def admin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Admin]:
    settings = embedded_settings(Path(tmp_path_factory.mktemp("providers")))
    settings = settings.model_copy(update={"consistency_wait_seconds": 10})
    parley = build(settings)
    with TestClient(create_app(parley)) as http:
        operator_id, operator = signed_up(http, "grace")
        _, someone = signed_up(http, "mallory")
        parley.writer.execute(
            GrantRole(uuid.UUID(operator_id), "admin", "tests"),
            Cause(operator_actor_id("tests"), uuid.uuid4()))
        yield Admin(http, parley, operator, someone)


def test_an_admin_sees_each_recorded_change_of_a_providers_breaker(admin: Admin) -> None:
    opened = admin.record(RecordCircuitChange("fcm-main", OPEN, T0, 0.6, 20,
                                              T0 + timedelta(seconds=15), "push"))
    [fcm] = [p for p in admin.providers(opened) if p["provider"] == "fcm-main"]
    assert (fcm["channel"], fcm["state"]) == ("push", OPEN)
    assert datetime.fromisoformat(fcm["since"]) == T0
    assert datetime.fromisoformat(fcm["until"]) == T0 + timedelta(seconds=15)
    assert (fcm["opened_failure_rate"], fcm["opened_calls"]) == (0.6, 20)
    assert (fcm["calls"], fcm["error_rate"], fcm["latency_p99_ms"]) == (0, 0.0, None)

    admin.record(RecordCircuitChange("fcm-main", HALF_OPEN, T0 + timedelta(seconds=15), 0, 0))
    closed = admin.record(RecordCircuitChange("fcm-main", CLOSED, T0 + timedelta(seconds=16),
                                              0.0, 3))
    one = admin.http.get("/v1/admin/providers/fcm-main", params={"position": closed},
                         headers=admin.admin)
    assert one.status_code == 200, one.text
    assert (one.json()["state"], one.json()["until"]) == (CLOSED, None)
    assert datetime.fromisoformat(one.json()["since"]) == T0 + timedelta(seconds=16)


def test_recording_a_state_the_breaker_is_in_changes_nothing(admin: Admin) -> None:
    first = admin.record(RecordCircuitChange("apns-main", OPEN, T0, 1.0, 12,
                                             T0 + timedelta(seconds=15), "push"))
    again = admin.record(RecordCircuitChange("apns-main", OPEN, T0 + timedelta(seconds=1), 1.0,
                                             30, T0 + timedelta(seconds=16), "push"))
    assert again <= first  # nothing new in the log
    [apns] = [p for p in admin.providers(first) if p["provider"] == "apns-main"]
    assert datetime.fromisoformat(apns["until"]) == T0 + timedelta(seconds=15)


def test_anyone_but_an_admin_is_refused_as_at_every_admin_route(admin: Admin) -> None:
    position = admin.record(RecordCircuitChange("smtp-main", OPEN, T0, 0.5, 10,
                                                T0 + timedelta(seconds=15), "email"))
    for url in ("/v1/admin/providers", "/v1/admin/providers/smtp-main"):
        refused = admin.http.get(url, params={"position": position}, headers=admin.someone)
        projections = admin.http.get("/v1/admin/projections", headers=admin.someone)
        assert refused.status_code == 403
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert answer_of(refused)[2] == answer_of(projections)[2]
        assert "smtp-main" not in refused.text
        assert admin.http.get(url).status_code == 401


def test_a_provider_never_heard_of_is_not_found(admin: Admin) -> None:
    missing = admin.http.get("/v1/admin/providers/nobody-at-all", headers=admin.admin)
    assert missing.status_code == 404, missing.text


# Through the engine: a real provider adapter, a real local receiver ----------------------

@dataclass
class Engine:
    """An embedded process whose engine sends to one webhook provider, `hooks`, and the local
    receiver behind it (each endpoint's path says how it answers)."""

    admin: Admin
    receiver: WebhookReceiver
    url: str
    service: dict[str, str]  # a caller with an API key

    def notify_a_webhook(self, path: str) -> str:
        """A bot owner whose endpoint answers as `path` says, and one notification to it."""
        admin = self.admin
        owner_id, _ = signed_up(admin.http, "bot")
        secret = new_signing_secret()
        self.receiver.hold(secret)
        admin.parley.writer.execute(AddWebhookEndpoint(
            uuid.UUID(owner_id), uuid.uuid4(), self.url + path, secret, datetime.now(UTC),
            ContactPointRules(20, allow_loopback_http=True)), a_cause())
        answer = admin.http.post("/v1/notifications", headers=self.service, json={
            "recipients": [owner_id], "category": "system", "priority": "high",
            "plan": {"channels": ["webhook"]}, "content": {"title": "Build", "body": "done"}})
        assert answer.status_code == 202, answer.text
        return str(answer.json()["notifications"][0]["notification_id"])

    def health(self, name: str) -> dict[str, Any]:
        answer = self.admin.http.get(f"/v1/admin/providers/{name}", headers=self.admin.admin)
        return answer.json() if answer.status_code == 200 else {}


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    receiving = WebhookReceiver(new_signing_secret())
    providers = [{"name": "hooks", "kind": "webhook", "timeout_seconds": 2}]
    settings = embedded_settings(tmp_path / "data").model_copy(update={
        "notification_providers": SecretStr(json.dumps(providers)),
        "notification_allow_loopback_http": True, "consistency_wait_seconds": 10,
        "notification_retry_base_seconds": 0.05, "notification_retry_cap_seconds": 0.2,
        "notification_timer_every_seconds": 0.05, "notification_max_attempts": 3,
        "breaker_min_calls": 4, "breaker_open_seconds": 600})
    parley = build(settings)
    with LocalServer(receiving) as server, TestClient(create_app(parley)) as http:
        operator_id, operator = signed_up(http, "grace")
        _, someone = signed_up(http, "mallory")
        parley.writer.execute(GrantRole(uuid.UUID(operator_id), "admin", "tests"),
                              Cause(operator_actor_id("tests"), uuid.uuid4()))
        issue, key = an_api_key()
        parley.writer.execute(issue, a_cause())
        yield Engine(Admin(http, parley, operator, someone), receiving, server.url,
                     {"Authorization": f"Bearer {key.presented}"})


def test_a_failing_webhook_endpoint_shows_in_the_answers_but_opens_no_breaker(
        engine: Engine) -> None:
    """A webhook endpoint is one business's own: its failures show in the provider's answers,
    but never open the breaker every other business's webhooks go through (push, email and
    SMS providers' breakers open: tests/e2e/notifications/test_push_failover.py)."""
    engine.notify_a_webhook("/gone")  # a refusal about that address only
    eventually(lambda: engine.health("hooks").get("calls") == 1)
    engine.notify_a_webhook("/fail")  # 500 at each of its 3 attempts
    hooks = eventually(lambda: (h := engine.health("hooks")).get("calls") == 4 and h)
    assert (hooks["channel"], hooks["calls"], hooks["failures"], hooks["unwell"],
            hooks["error_rate"]) == ("webhook", 4, 4, 3, 0.75)
    assert hooks["state"] != OPEN
    assert isinstance(hooks["latency_p50_ms"], int) and hooks["latency_p99_ms"] >= 0
    listed = engine.admin.http.get("/v1/admin/providers", headers=engine.admin.admin).json()
    assert hooks in listed
