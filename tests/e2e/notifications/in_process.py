"""One Parley in process for the notification end-to-end modules that need no process
boundary: the embedded profile's settings with the providers a module names (each against its
local stand-in), `build()`, the app in a `TestClient`, a service's API key, and the calls every
such module makes through them (and `eventually`, from waiting.py). A module starts one per
module (`scope="module"`) and extends `InProcess` with its own stand-ins and calls; each test
isolates itself by the users and endpoints it makes."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any, TypeVar

from fastapi.testclient import TestClient

from api.app import create_app
from commands.notifications.contact_points import (
    AddEmail,
    AddWebhookEndpoint,
    ContactPointRules,
    VerifyEmail,
)
from domain.notifications.email_verification import EmailVerification
from domain.notifications.endpoints import new_signing_secret
from domain.notifications.notifications import Notification
from parley.assembly import Parley
from parley.bootstrap import build
from parley.settings import Settings
from tests.builders import ParleyClient, Person, a_cause, an_api_key, now
from tests.e2e.notifications.deployments import ACCOUNT
from tests.e2e.notifications.waiting import eventually
from tests.providers.fcm import FcmStandIn
from tests.providers.servers import LocalServer
from tests.providers.smtp import SmtpRelay
from tests.providers.twilio import TwilioStandIn
from tests.providers.webhook_receiver import WebhookReceiver

__all__ = ["WEBHOOKS", "InProcess", "embedded", "eventually", "fcm_provider", "in_process",
           "mail_titled", "plain_smtp_provider", "serving", "twilio_provider", "twilio_served",
           "webhook_receiver"]

WEBHOOKS: dict[str, Any] = {"name": "hooks", "kind": "webhook", "timeout_seconds": 2}
"""The webhook provider (a business's own endpoint: no stand-in of its own)."""


def fcm_provider(fcm: FcmStandIn, timeout_seconds: float = 3,
                 name: str = "fcm-main") -> dict[str, Any]:
    """FCM against its stand-in (made with deployments' `ACCOUNT`)."""
    return {"name": name, "kind": "fcm", "project_id": fcm.project_id,
            "service_account": ACCOUNT.key_file(fcm.token_uri), "endpoint": fcm.url,
            "timeout_seconds": timeout_seconds, "ca_file": fcm.ca_file}


def twilio_provider(stand_in: TwilioStandIn, server: LocalServer,
                    timeout_seconds: float = 2) -> dict[str, Any]:
    """Twilio against its stand-in, served over TLS by `server`."""
    return {"name": "twilio-main", "kind": "twilio", "account_sid": stand_in.account_sid,
            "auth_token": stand_in.auth_token, "from_number": "+15005550006",
            "endpoint": server.url, "ca_file": server.ca_file,
            "timeout_seconds": timeout_seconds}


def plain_smtp_provider(relay: SmtpRelay) -> dict[str, Any]:
    """SMTP against a relay without TLS or sign-in (`SmtpRelay(security="none")`)."""
    return {"name": "smtp-main", "kind": "smtp", "host": relay.host, "port": relay.port,
            "security": "none", "from_address": "notifications@parley.test",
            "timeout_seconds": 3}


def mail_titled(relay: SmtpRelay, mailbox: str, title: str) -> EmailMessage:
    """The mail titled `title` that `relay` took for `mailbox` (waited for)."""
    mail: EmailMessage = eventually(lambda: next(
        (m for m in relay.inbox(mailbox) if m["Subject"] == title), None))
    return mail


def embedded(data_dir: Path, providers: list[dict[str, Any]], **fields: Any) -> Settings:
    """The embedded profile in `data_dir` with `providers`, and the module's own `fields`."""
    return Settings(database_url=None, data_dir=data_dir,
                    notification_providers=json.dumps(providers), **fields)


@contextlib.contextmanager
def webhook_receiver() -> Iterator[tuple[WebhookReceiver, str]]:
    """A local signed-webhook receiver and its URL (each recipient `hold`s its secret)."""
    receiving = WebhookReceiver(new_signing_secret())
    with LocalServer(receiving) as server:
        yield receiving, server.url


@contextlib.contextmanager
def twilio_served() -> Iterator[tuple[TwilioStandIn, LocalServer]]:
    """The Twilio stand-in, served over TLS (`twilio_provider(*served)` points Parley at it)."""
    stand_in = TwilioStandIn()
    with LocalServer(stand_in.app, tls=True) as server:
        yield stand_in, server


Running = TypeVar("Running", bound="InProcess")


@dataclass
class InProcess:
    """The built Parley, its app's client, the public API on it and the services' keys."""

    parley: Parley
    http: TestClient
    client: ParleyClient
    keys: tuple[str, ...]

    def extended(self, kind: type[Running], **extra: Any) -> Running:
        """This Parley as a module's `kind`, with its `extra` fields (made once it runs)."""
        return kind(self.parley, self.http, self.client, self.keys, **extra)

    @property
    def key(self) -> str:
        return self.keys[0]

    @property
    def service(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    def events(self, aggregate_id: str | uuid.UUID, kind: type = object) -> list[Any]:
        """The aggregate's events (those of `kind`), oldest first."""
        return [e for e in self.parley.event_log.repository.event_store.get(
            uuid.UUID(str(aggregate_id))) if isinstance(e, kind)]

    def notification(self, notification_id: str | uuid.UUID) -> Notification:
        found: Any = self.parley.event_log.repository.get(uuid.UUID(str(notification_id)))
        assert isinstance(found, Notification)
        return found

    def state(self, notification_id: str | uuid.UUID) -> str:
        return self.notification(notification_id).state

    def add_webhook(self, person: Person, receiver: WebhookReceiver, url: str) -> uuid.UUID:
        """A webhook endpoint of `person` at `url`, signed with a secret `receiver` holds."""
        secret, point = new_signing_secret(), uuid.uuid4()
        receiver.hold(secret)
        self.parley.writer.execute(AddWebhookEndpoint(
            uuid.UUID(person.user_id), point, url, secret, now(),
            ContactPointRules(20, allow_loopback_http=True)), a_cause())
        return point

    def add_verified_email(self, person: Person) -> str:
        """A fresh mailbox of `person`, added and verified: its address."""
        mailbox = f"reader-{uuid.uuid4().hex[:8]}@example.org"
        user, point = uuid.UUID(person.user_id), uuid.uuid4()
        self.parley.writer.execute(AddEmail(
            user, point, mailbox, now(), ContactPointRules(20),
            EmailVerification(self.parley.email_verification_key)), a_cause())
        self.parley.writer.execute(VerifyEmail(user, point, now()), a_cause())
        return mailbox


@contextlib.contextmanager
def serving(parley: Parley, kind: type[Running], *, key_names: tuple[str, ...] = (
        "billing service",), follow_redirects: bool = True,
        **extra: Any) -> Iterator[Running]:
    """`parley`'s app started in a `TestClient`, a key issued per name in `key_names`, as a
    `kind` with the module's `extra` fields."""
    with TestClient(create_app(parley), follow_redirects=follow_redirects) as http:
        keys = []
        for name in key_names:
            issue, key = an_api_key(name=name)
            parley.writer.execute(issue, a_cause())
            keys.append(key.presented)
        yield InProcess(parley, http, ParleyClient(http), tuple(keys)).extended(kind, **extra)


@contextlib.contextmanager
def in_process(settings: Settings, kind: type[Running], **options: Any) -> Iterator[Running]:
    """`build(settings)`, `serving` (same options)."""
    with serving(build(settings), kind, **options) as running:
        yield running
