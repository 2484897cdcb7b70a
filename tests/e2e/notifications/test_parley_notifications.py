"""Parley's own notifications end to end through real providers to real local stand-ins, on
the embedded default in process (inspecting the log too) and on the production profile as
real processes (presence in Redis, the managers' positions in PostgreSQL): Ada's message
reaches Bob's phone (the FCM stand-in, over HTTP/2 with an OAuth2 bearer) with a preview while
Bob has no live socket, and does not while one is open; a mention comes at high priority; a
friend request is pushed and in the inbox; an email address added is sent a verification link
(the SMTP stand-in) that verifies it; a signed-out phone is no longer pushed to."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from websockets.sync.client import connect

from api.app import create_app
from commands.notifications.reactions import (
    MESSAGES,
    MessageNotifications,
    OwnNotificationsTriggered,
    category_request_id,
)
from commands.notifications.trigger import request_id_for
from commands.processes.issuing import IssueCommands
from commands.processes.reactions import cause_of, event_id_of, idempotency_key
from domain.messaging.conversations import Conversation
from domain.notifications.contact_points import contact_points_id
from domain.notifications.notifications import Notification, notification_id
from event_log.outcomes import Outcome
from parley.assembly import Parley
from parley.bootstrap import build
from parley.launcher import ParleyProcesses
from parley.notification_reactions import own_notification_effects
from parley.settings import Settings
from tests.builders import ParleyClient, Person, now
from tests.e2e.notifications import waiting
from tests.e2e.notifications.deployments import PUBLIC_URL, Deployment, provider_entries
from tests.providers.fcm import FcmStandIn
from tests.providers.push_service import Shown
from tests.providers.smtp import SmtpRelay

POINTS = "/v1/users/me/contact-points"
WAIT_SECONDS = 15.0
LINK = re.compile(r"https://app\.parley\.test/verify-email#token=([A-Za-z0-9._-]+)")


def eventually(check: Callable[[], Any], timeout: float = WAIT_SECONDS,
               what: Callable[[], str] | None = None) -> Any:
    """`check()`'s first truthy answer, asked until `timeout` (then the test fails, saying
    `what()`)."""
    return waiting.eventually(check, what, timeout)


@dataclass
class InProcess:
    parley: Parley
    http: TestClient
    client: ParleyClient
    fcm: FcmStandIn
    relay: SmtpRelay

    def with_a_phone(self, name: str) -> tuple[Person, str]:
        """Someone signed in on a phone that registered its FCM token."""
        person = self.client.register(name)
        return person, registered_phone(self.http, person)

    def shown(self, token: str) -> list[Shown]:
        return self.fcm.shown(token)

    def message_sent(self, conversation_id: str, message_id: str) -> Conversation.MessageSent:
        events = self.parley.event_log.repository.event_store.get(uuid.UUID(conversation_id))
        [sent] = [e for e in events if isinstance(e, Conversation.MessageSent)
                  and str(e.message_id) == message_id]
        return sent

    def notification_of_message(self, conversation_id: str, message_id: str,
                                recipient: Person, category: str) -> Notification | None:
        """The recipient's notification of that message, once its process manager made it."""
        sent = self.message_sent(conversation_id, message_id)
        request = category_request_id(request_id_for(MESSAGES, event_id_of(sent)), category)
        nid = notification_id(request, uuid.UUID(recipient.user_id))
        try:
            found = self.parley.event_log.repository.get(nid)
        except Exception:  # not made yet  # noqa: BLE001
            return None
        assert isinstance(found, Notification)
        return found


def registered_phone(http: httpx.Client | TestClient, person: Person) -> str:
    token = f"fcm-{uuid.uuid4().hex}:APA91bH" + "x" * 40
    registered = http.post(f"{POINTS}/push-tokens", headers=person.auth,
                           json={"kind": "fcm", "token": token})
    assert registered.status_code == 201, registered.text
    return token


def verification_token(relay: SmtpRelay, address: str, timeout: float = WAIT_SECONDS) -> str:
    """The token of the verification link the address was sent."""
    [email] = eventually(lambda: relay.inbox(address), timeout)
    assert email["Subject"] == "Verify your email address"
    plain = email.get_body(preferencelist=("plain",))
    assert plain is not None
    [token] = LINK.findall(plain.get_content())
    return str(token)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory, fcm: FcmStandIn,
               relay: SmtpRelay) -> Iterator[InProcess]:
    settings = Settings(database_url=None, data_dir=tmp_path_factory.mktemp("own") / "data",
                        notification_providers=json.dumps(provider_entries(fcm, relay)),
                        public_url=PUBLIC_URL,
                        notification_timer_every_seconds=0.05)
    parley = build(settings)
    with TestClient(create_app(parley)) as http:
        yield InProcess(parley, http, ParleyClient(http), fcm, relay)


def test_a_message_to_someone_without_a_live_socket_is_pushed_with_a_preview(
        deployment: InProcess) -> None:
    ada = deployment.client.register("Ada Lovelace")
    bob, phone = deployment.with_a_phone("Bob")
    conversation = deployment.client.open_direct(ada, bob)
    text = "The Analytical Engine weaves algebraical patterns " * 4

    message = deployment.client.sent(ada, conversation, text)

    [shown] = eventually(lambda: deployment.shown(phone))
    assert shown.title == "Ada Lovelace"
    assert shown.body == text[:100].rstrip() + "\u2026"
    assert shown.data["conversation_id"] == conversation
    assert shown.data["message_id"] == message["message_id"]
    assert shown.data["deep_link"] == f"parley://conversations/{conversation}"
    notification = deployment.notification_of_message(conversation, message["message_id"],
                                                      bob, "message")
    assert notification is not None and notification.priority == "normal"
    assert notification.fallback_after_seconds == 900  # email if not delivered or read
    [request] = [r for r in deployment.fcm.received if r.message["token"] == phone]
    assert request.message["android"]["priority"] == "NORMAL"


def test_no_push_while_the_recipient_has_a_live_socket_open(deployment: InProcess) -> None:
    ada = deployment.client.register("Ada")
    bob, phone = deployment.with_a_phone("Bob")
    conversation = deployment.client.open_direct(ada, bob)
    with deployment.http.websocket_connect(f"/v1/live?token={bob.token}") as socket:
        socket.receive_json()
        eventually(lambda: (deployment.parley.presence.seen(bob.user_id, now()) or {}).get(
            "online"))

        message = deployment.client.sent(ada, conversation, "are you there?")

        notification = eventually(lambda: deployment.notification_of_message(
            conversation, message["message_id"], bob, "message"))
    assert notification.state == "suppressed"
    assert deployment.shown(phone) == []


def test_a_mention_is_pushed_at_high_priority(deployment: InProcess) -> None:
    ada = deployment.client.register("Ada")
    bob, phone = deployment.with_a_phone("Bob")
    conversation = deployment.client.open_direct(ada, bob)

    message = deployment.client.sent(ada, conversation, f"@{bob.handle} look at this")

    eventually(lambda: deployment.shown(phone))
    notification = deployment.notification_of_message(conversation, message["message_id"],
                                                      bob, "mention")
    assert notification is not None
    assert (notification.category, notification.priority) == ("mention", "high")
    [request] = [r for r in deployment.fcm.received if r.message["token"] == phone]
    assert request.message["android"]["priority"] == "HIGH"


def test_a_friend_request_is_pushed_to_its_addressee_and_put_in_their_inbox(
        deployment: InProcess) -> None:
    ada = deployment.client.register("Ada Lovelace")
    bob, phone = deployment.with_a_phone("Bob")

    asked = deployment.http.post("/v1/contacts/requests", json={"user_id": bob.user_id},
                                 headers=ada.auth)
    assert asked.status_code in (200, 201), asked.text

    [shown] = eventually(lambda: deployment.shown(phone))
    assert "Ada Lovelace" in shown.body and shown.data["requester_id"] == ada.user_id
    inbox = eventually(lambda: deployment.http.get(
        "/v1/notifications", headers=bob.auth).json().get("notifications"))
    assert [n["category"] for n in inbox] == ["friend_request"]


def test_an_added_email_address_gets_a_link_that_verifies_it(
        deployment: InProcess, caplog: pytest.LogCaptureFixture) -> None:
    ada = deployment.client.register("Ada")
    address = f"ada-{uuid.uuid4().hex[:8]}@example.com"

    with caplog.at_level("DEBUG"):
        added = deployment.http.post(f"{POINTS}/email", headers=ada.auth,
                                     json={"address": address})
        assert added.status_code == 201, added.text
        token = verification_token(deployment.relay, address)

    ours = "\n".join(r.getMessage() for r in caplog.records
                     if not r.name.startswith("mail.log"))  # not the stand-in relay's
    assert token not in ours and address not in ours
    verified = deployment.http.post("/v1/contact-points/verify", json={"token": token})
    assert verified.status_code == 200, verified.text
    listed = deployment.http.get(POINTS, headers=ada.auth, params={
        "position": verified.json().get("position")})
    [point] = [p for p in listed.json()["contact_points"] if p["kind"] == "email"]
    assert point["verified"] is True


def test_a_signed_out_phone_is_no_longer_pushed_to(deployment: InProcess) -> None:
    ada = deployment.client.register("Ada")
    bob, phone = deployment.with_a_phone("Bob")
    conversation = deployment.client.open_direct(ada, bob)
    signed_out = deployment.http.delete("/v1/sessions/current", headers=bob.auth)
    assert signed_out.status_code in (200, 202), signed_out.text

    def removed() -> bool:
        points = deployment.parley.event_log.repository.get(
            contact_points_id(uuid.UUID(bob.user_id)))
        return not points.points

    eventually(removed)
    message = deployment.client.sent(ada, conversation, "still there?")

    notification = eventually(lambda: deployment.notification_of_message(
        conversation, message["message_id"], bob, "message"))
    assert notification.state == "suppressed"  # no address left to push to
    assert deployment.shown(phone) == []


def test_the_message_text_and_the_token_stay_out_of_the_logs(deployment: InProcess,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    ada = deployment.client.register("Ada")
    bob, phone = deployment.with_a_phone("Bob")
    conversation = deployment.client.open_direct(ada, bob)
    secret = f"the door code is {uuid.uuid4().hex[:6]}"
    with caplog.at_level("DEBUG"):
        deployment.client.sent(ada, conversation, secret)
        eventually(lambda: deployment.shown(phone))
    assert secret not in caplog.text and phone not in caplog.text


def test_a_message_handled_again_after_a_crash_pushes_nothing_twice(
        deployment: InProcess) -> None:
    """As the runner issues a reaction again when it crashed before recording its position:
    the same effect under the same key, answered by the first command's receipt."""
    ada = deployment.client.register("Ada")
    bob, phone = deployment.with_a_phone("Bob")
    conversation = deployment.client.open_direct(ada, bob)
    message = deployment.client.sent(ada, conversation, "once only")
    eventually(lambda: deployment.shown(phone))
    parley, manager = deployment.parley, MessageNotifications()
    event = deployment.message_sent(conversation, message["message_id"])
    issue = IssueCommands(parley.writer.submit, own_notification_effects(
        parley.settings, parley.writer, event_log=parley.event_log, presence=parley.presence,
        verification_key=parley.email_verification_key,
        provided_kinds=lambda: parley.notification_engine.provided_kinds), timeout=10)

    [effect] = manager.react(event)
    again = issue(effect, cause_of(manager, event), idempotency_key(manager.name, event, 0))

    assert isinstance(again, Outcome) and again.replayed  # the first command's receipt
    result = again.result
    assert isinstance(result, OwnNotificationsTriggered)
    first = deployment.notification_of_message(conversation, message["message_id"], bob,
                                               "message")
    assert first is not None and result.notification_ids == (first.id,)
    time.sleep(0.5)  # a second push, were there one, would have been dispatched by now
    assert len(deployment.shown(phone)) == 1
    assert len([r for r in deployment.fcm.received if r.message["token"] == phone]) == 1


# --- the production profile: real processes ---------------------------------------------------


@dataclass
class Processes:
    running: ParleyProcesses
    http: httpx.Client
    client: ParleyClient
    fcm: FcmStandIn
    relay: SmtpRelay

    def logs(self) -> str:
        return "".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}"
                       for p in Path(self.running.logs).glob("*.log"))


@pytest.fixture(scope="module")
def production(production_deployment: Deployment, fcm: FcmStandIn,
               relay: SmtpRelay) -> Iterator[Processes]:
    """The package's production deployment (tests/e2e/notifications/deployments.py)."""
    running = production_deployment.processes
    with httpx.Client(base_url=running.base_url, timeout=30) as http:
        yield Processes(running, http, ParleyClient(http), fcm, relay)


def pushed_about(fcm: FcmStandIn, phone: str, conversation: str) -> list[Shown]:
    return [s for s in fcm.shown(phone) if s.data.get("conversation_id") == conversation]


@pytest.mark.services
def test_on_the_production_profile_a_member_with_a_live_socket_is_not_pushed(
        production: Processes) -> None:
    """Bob, in a group with Cy, has a socket open (on one process, presence in Redis): Ada's
    message is pushed to Cy and not to Bob. Both were decided by one command, so Cy's push
    means Bob's was decided while his socket was open."""
    http, client = production.http, production.client
    ada, bob, cy = (client.register(name) for name in ("Ada Lovelace", "Bob", "Cy"))
    bobs_phone, cys_phone = registered_phone(http, bob), registered_phone(http, cy)
    client.befriend(ada, bob)
    client.befriend(ada, cy)
    created = http.post("/v1/groups", headers=ada.auth, json={
        "title": "Engine", "member_ids": [bob.user_id, cy.user_id]})
    assert created.status_code == 201, created.text
    group = str(created.json()["conversation_id"])
    socket_url = production.running.base_url.replace("http://", "ws://") + "/v1/live"
    with connect(socket_url, additional_headers={"Authorization": f"Bearer {bob.token}"},
                 open_timeout=10, max_size=None) as socket:
        socket.recv(timeout=10)
        eventually(lambda: http.get(f"/v1/presence/{bob.user_id}",
                                    headers=ada.auth).json().get("online"), 30)

        client.sent(ada, group, "the engine is ready")

        [shown] = eventually(lambda: pushed_about(production.fcm, cys_phone, group), 30,
                             production.logs)
    assert (shown.title, shown.body) == ("Ada Lovelace", "the engine is ready")
    time.sleep(1.0)  # a push to Bob, were there one, went out with Cy's
    assert pushed_about(production.fcm, bobs_phone, group) == []


@pytest.mark.services
def test_on_the_production_profile_an_added_email_gets_a_link_that_verifies_it(
        production: Processes) -> None:
    ada = production.client.register("Ada")
    address = f"ada-{uuid.uuid4().hex[:8]}@example.com"
    added = production.http.post(f"{POINTS}/email", headers=ada.auth, json={"address": address})
    assert added.status_code == 201, added.text

    token = verification_token(production.relay, address, 30)

    verified = production.http.post("/v1/contact-points/verify", json={"token": token})
    assert verified.status_code == 200, verified.text
