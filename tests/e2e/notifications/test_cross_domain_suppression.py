"""Cross-domain suppression end to end through HTTP and the real FCM and SMTP stand-ins, on the
embedded default in process and on the production profile as real processes (the package's
shared deployment): Bob gets Ada's message while offline, and before the push or its email
goes out he reads the conversation on another device; the pending push (the stand-in answered
503, retry in two minutes) or the scheduled email fallback is cancelled, and the log and the
trace say it was his read receipt. An unsent message's pending push is cancelled for its
recipient; a read of an earlier message leaves a later message's push alone."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from commands.notifications.reactions import MESSAGES, category_request_id
from commands.notifications.suppression import READ_RECEIPT, UNSENT
from commands.notifications.trigger import request_id_for
from commands.processes.reactions import event_id_of
from domain.messaging.conversations import Conversation
from domain.messaging.messages import Message
from domain.messaging.read_markers import ReadMarker, read_marker_id
from domain.notifications.notifications import Notification, notification_id
from event_log.log import EventLog
from parley.assembly import event_log_env
from parley.bootstrap import build
from parley.settings import Settings
from tests.builders import GroupClient, ParleyClient, Person
from tests.e2e.notifications.deployments import PUBLIC_URL, Deployment, provider_entries
from tests.e2e.notifications.test_parley_notifications import (
    POINTS,
    eventually,
    registered_phone,
    verification_token,
)
from tests.providers.fcm import FcmStandIn
from tests.providers.push_service import Refusal
from tests.providers.smtp import SmtpRelay

FALLBACK_SECONDS = 4  # the email after an accepted push: short, so the test sees it go out
RETRY_LATER = Refusal(503, "UNAVAILABLE", retry_after="120")  # held, waiting to be retried
VERIFY_SUBJECT = "Verify your email address"


class WithALog(Protocol):
    """A Parley, or only its log (the production processes' own, read from PostgreSQL)."""

    @property
    def event_log(self) -> EventLog: ...


@dataclass
class Messenger:
    parley: WithALog
    http: httpx.Client
    client: ParleyClient
    fcm: FcmStandIn
    relay: SmtpRelay

    def someone_offline(self, name: str, *, pushes_wait: bool = False) -> tuple[Person, str,
                                                                               str]:
        """Someone with a phone and a verified email address; `pushes_wait`: FCM answers
        their pushes 503 (try again in two minutes), so each waits to be retried."""
        person = self.client.register(name)
        phone = registered_phone(self.http, person)
        if pushes_wait:
            self.fcm.script.for_token(phone, RETRY_LATER)
        address = f"{person.handle}@example.com"
        added = self.http.post(f"{POINTS}/email", headers=person.auth, json={"address": address})
        assert added.status_code == 201, added.text
        verified = self.http.post("/v1/contact-points/verify",
                                  json={"token": verification_token(self.relay, address)})
        assert verified.status_code == 200, verified.text
        return person, phone, address

    def on_another_device(self, person: Person) -> Person:
        signed_in = self.http.post("/v1/sessions", json={
            "handle": person.handle, "password": "correct horse battery",
            "device_name": "Bob's laptop"})
        assert signed_in.status_code == 201, signed_in.text
        return Person(person.user_id, person.handle, signed_in.json()["access_token"])

    def read(self, reader: Person, conversation: str, seq: int) -> None:
        read = self.http.post(f"/v1/conversations/{conversation}/read", headers=reader.auth,
                              json={"up_to_seq": seq})
        assert read.status_code == 200, read.text

    def events(self, aggregate_id: uuid.UUID) -> list[Any]:
        return list(self.parley.event_log.repository.event_store.get(aggregate_id))

    def notification_of(self, conversation: str, message: dict[str, Any],
                        recipient: Person) -> uuid.UUID:
        """The recipient's notification of the message (category "message")."""
        [sent] = [e for e in self.events(uuid.UUID(conversation))
                  if isinstance(e, Conversation.MessageSent)
                  and str(e.message_id) == message["message_id"]]
        request = category_request_id(request_id_for(MESSAGES, event_id_of(sent)), "message")
        return notification_id(request, uuid.UUID(recipient.user_id))

    def state(self, notification: uuid.UUID) -> str | None:
        events = self.events(notification)
        if not events:
            return None
        found = self.parley.event_log.repository.get(notification)
        assert isinstance(found, Notification)
        return str(found.state)

    def withdrawal(self, notification: uuid.UUID) -> Any:
        """The event that withdrew it (a cancellation, or its fallback's), once there is one."""
        found = [e for e in self.events(notification)
                 if isinstance(e, (Notification.Cancelled, Notification.FallbackCancelled))]
        return found[0] if found else None

    def emails(self, address: str) -> list[Any]:
        return [m for m in self.relay.inbox(address) if m["Subject"] != VERIFY_SUBJECT]


@pytest.fixture(scope="module")
def messenger(tmp_path_factory: pytest.TempPathFactory, fcm: FcmStandIn,
              relay: SmtpRelay) -> Iterator[Messenger]:
    settings = Settings(database_url=None, data_dir=tmp_path_factory.mktemp("xds") / "data",
                        notification_providers=json.dumps(provider_entries(fcm, relay)),
                        public_url=PUBLIC_URL, notification_timer_every_seconds=0.05,
                        message_email_fallback_seconds=FALLBACK_SECONDS,
                        # the 503s asked for here must not open FCM's breaker for the others
                        breaker_min_calls=10_000)
    parley = build(settings)
    with TestClient(create_app(parley)) as http:
        yield Messenger(parley, http, ParleyClient(http), fcm, relay)


def receipt_event_id(messenger: Messenger, conversation: str, reader: Person) -> uuid.UUID:
    [receipt] = [e for e in messenger.events(read_marker_id(uuid.UUID(conversation),
                                                            uuid.UUID(reader.user_id)))
                 if isinstance(e, ReadMarker.ReadUpTo)][-1:]
    return event_id_of(receipt)


def test_reading_on_another_device_before_the_email_fallback_cancels_the_email(
        messenger: Messenger) -> None:
    ada = messenger.client.register("Ada")
    bob, bob_phone, bob_address = messenger.someone_offline("Bob")
    cy, _, cy_address = messenger.someone_offline("Cy")
    conversation = GroupClient(messenger.client).create(ada, "Book club", bob, cy)
    message = messenger.client.sent(ada, conversation, "chapter 3 tonight?")
    eventually(lambda: [s for s in messenger.fcm.shown(bob_phone)  # Bob's push went out
                        if s.data.get("conversation_id") == conversation])

    messenger.read(messenger.on_another_device(bob), conversation, message["seq"])

    bobs = messenger.notification_of(conversation, message, bob)
    withdrawn = eventually(lambda: messenger.withdrawal(bobs))
    assert isinstance(withdrawn, Notification.FallbackCancelled)
    assert withdrawn.reason == READ_RECEIPT
    assert withdrawn.causation_id == receipt_event_id(messenger, conversation, bob)
    # Cy did not read: the fallback is real, and it has come for her by now; not for Bob
    eventually(lambda: messenger.emails(cy_address), timeout=FALLBACK_SECONDS + 15)
    assert messenger.emails(bob_address) == []
    assert messenger.state(bobs) == "accepted"  # the push stands
    assert not [e for e in messenger.events(bobs) if isinstance(e, Notification.Released)]


def test_reading_on_another_device_cancels_a_push_waiting_to_be_retried(
        messenger: Messenger) -> None:
    ada = messenger.client.register("Ada")
    bob, bob_phone, _ = messenger.someone_offline("Bob", pushes_wait=True)
    conversation = messenger.client.open_direct(ada, bob)
    message = messenger.client.sent(ada, conversation, "are you coming?")
    bobs = messenger.notification_of(conversation, message, bob)
    eventually(lambda: messenger.state(bobs) == "waiting")  # FCM said: try again later
    tried = len([r for r in messenger.fcm.received if r.message["token"] == bob_phone])

    messenger.read(messenger.on_another_device(bob), conversation, message["seq"])

    withdrawn = eventually(lambda: messenger.withdrawal(bobs))
    assert isinstance(withdrawn, Notification.Cancelled) and withdrawn.reason == READ_RECEIPT
    assert withdrawn.causation_id == receipt_event_id(messenger, conversation, bob)
    assert messenger.state(bobs) == "cancelled"
    assert len([r for r in messenger.fcm.received if r.message["token"] == bob_phone]) == tried
    trace = messenger.http.get(f"/v1/notifications/{bobs}/trace", headers=bob.auth)
    assert trace.status_code == 200, trace.text
    [cancelled] = [s for s in trace.json()["steps"] if s["step"] == "cancelled"]
    assert READ_RECEIPT in cancelled["outcome"]
    assert cancelled["caused_by"] == str(receipt_event_id(messenger, conversation, bob))


def test_an_unsent_message_cancels_its_pending_push(messenger: Messenger) -> None:
    ada = messenger.client.register("Ada")
    bob, _, _ = messenger.someone_offline("Bob", pushes_wait=True)
    conversation = messenger.client.open_direct(ada, bob)
    message = messenger.client.sent(ada, conversation, "oops, wrong chat")
    bobs = messenger.notification_of(conversation, message, bob)
    eventually(lambda: messenger.state(bobs) == "waiting")

    unsent = messenger.http.delete(f"/v1/messages/{message['message_id']}", headers=ada.auth)
    assert unsent.status_code == 200, unsent.text

    withdrawn = eventually(lambda: messenger.withdrawal(bobs))
    assert isinstance(withdrawn, Notification.Cancelled) and withdrawn.reason == UNSENT
    [unsend] = [e for e in messenger.events(uuid.UUID(message["message_id"]))
                if isinstance(e, Message.Unsent)]
    assert withdrawn.causation_id == event_id_of(unsend)


def test_reading_an_earlier_message_leaves_a_later_messages_push_pending(
        messenger: Messenger) -> None:
    ada = messenger.client.register("Ada")
    bob, _, _ = messenger.someone_offline("Bob", pushes_wait=True)
    conversation = messenger.client.open_direct(ada, bob)
    earlier = messenger.client.sent(ada, conversation, "first")
    later = messenger.client.sent(ada, conversation, "second")
    earliers, laters = (messenger.notification_of(conversation, m, bob)
                        for m in (earlier, later))
    eventually(lambda: messenger.state(earliers) == messenger.state(laters) == "waiting")

    messenger.read(messenger.on_another_device(bob), conversation, earlier["seq"])

    eventually(lambda: messenger.withdrawal(earliers))
    assert messenger.state(earliers) == "cancelled"
    assert messenger.state(laters) == "waiting" and messenger.withdrawal(laters) is None


# --- the production profile: real processes ---------------------------------------------------


@pytest.fixture(scope="module")
def production(production_deployment: Deployment, fcm: FcmStandIn,
               relay: SmtpRelay) -> Iterator[Messenger]:
    """The package's production deployment, and its log read from PostgreSQL (to find the
    notification of a message; what happened to it is asked of the trace route)."""
    running = production_deployment.processes
    log = EventLog(env=event_log_env(Settings(
        database_url=running.env["PARLEY_DATABASE_URL"],
        namespace=running.env["PARLEY_NAMESPACE"], pg_pool_size=2)))
    with httpx.Client(base_url=running.base_url, timeout=30) as http:
        yield Messenger(ProductionLog(log), http, ParleyClient(http), fcm, relay)
    log.close()


@dataclass
class ProductionLog:
    """What `Messenger` reads of a Parley: its event log."""

    event_log: EventLog


@pytest.mark.services
def test_on_the_production_profile_a_read_on_another_device_cancels_a_waiting_push(
        production: Messenger) -> None:
    ada = production.client.register("Ada")
    bob = production.client.register("Bob")
    production.fcm.script.for_token(registered_phone(production.http, bob), RETRY_LATER)
    conversation = production.client.open_direct(ada, bob)
    message = production.client.sent(ada, conversation, "are you coming?")
    bobs = production.notification_of(conversation, message, bob)

    def traced() -> dict[str, Any]:
        answer = production.http.get(f"/v1/notifications/{bobs}/trace", headers=bob.auth)
        return answer.json() if answer.status_code == 200 else {}

    eventually(lambda: traced().get("state") == "waiting", 30)

    production.read(production.on_another_device(bob), conversation, message["seq"])

    trace = eventually(lambda: traced().get("state") == "cancelled" and traced(), 30)
    [cancelled] = [s for s in trace["steps"] if s["step"] == "cancelled"]
    assert READ_RECEIPT in cancelled["outcome"]
    assert cancelled["caused_by"] == str(receipt_event_id(production, conversation, bob))
