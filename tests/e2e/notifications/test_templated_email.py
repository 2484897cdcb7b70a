"""A templated email end to end on the embedded default, in process: the admin's email
template (subject, text and autoescaped HTML, in the recipient's locale) reaches a local SMTP
relay as multipart/alternative with both parts rendered from the triggering service's
variables, and the notification records the template's version."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from commands.identity.roles import GrantRole
from commands.notifications.contact_points import AddEmail, ContactPointRules, VerifyEmail
from domain.notifications.email_verification import EmailVerification
from domain.notifications.notifications import Notification
from parley.bootstrap import build
from parley.settings import Settings
from tests.builders import ParleyClient, a_cause, an_api_key, now
from tests.providers.smtp import SmtpRelay

WAIT_SECONDS = 15.0


@pytest.fixture(scope="module")
def relay() -> Iterator[SmtpRelay]:
    with SmtpRelay(security="none") as server:
        yield server


def mail_to(relay: SmtpRelay, mailbox: str) -> EmailMessage:
    deadline = time.monotonic() + WAIT_SECONDS
    while not (mails := relay.inbox(mailbox)):
        assert time.monotonic() < deadline, "no mail arrived"
        time.sleep(0.02)
    [mail] = mails
    return mail


def test_a_templated_email_arrives_with_its_text_and_escaped_html_alternatives(
        tmp_path_factory: pytest.TempPathFactory, relay: SmtpRelay) -> None:
    providers = [{"name": "smtp-main", "kind": "smtp", "host": relay.host, "port": relay.port,
                  "security": "none", "from_address": "notifications@parley.test",
                  "timeout_seconds": 3}]
    settings = Settings(database_url=None, data_dir=tmp_path_factory.mktemp("templated-email"),
                        notification_providers=json.dumps(providers))
    parley = build(settings)
    with TestClient(create_app(parley)) as http:
        people = ParleyClient(http)
        admin, reader = people.register("Ada"), people.register("Bo")
        parley.writer.execute(GrantRole(uuid.UUID(admin.user_id), "admin", "tests"), a_cause())
        mailbox = f"bo-{uuid.uuid4().hex[:8]}@example.org"
        user, point = uuid.UUID(reader.user_id), uuid.uuid4()
        parley.writer.execute(AddEmail(user, point, mailbox, now(), ContactPointRules(20),
                                       EmailVerification(parley.email_verification_key)),
                              a_cause())
        parley.writer.execute(VerifyEmail(user, point, now()), a_cause())
        issue, key = an_api_key()
        parley.writer.execute(issue, a_cause())

        template: dict[str, Any] = {
            "category": "payment", "channel": "email", "locale": "pt",
            "title": "Pagamento de {{ amount }} {{ currency }}",
            "body": "Recebemos {{ amount }} {{ currency }}: {{ description }}.",
            "html": "<html><body><p>Recebemos <b>{{ amount }} {{ currency }}</b>: "
                    "{{ description }}.</p></body></html>"}
        made = http.post("/v1/admin/notification-templates", json=template, headers=admin.auth)
        assert made.status_code == 201, made.text
        answer = http.post("/v1/notifications", headers={"Authorization": f"Bearer "
                                                                          f"{key.presented}"},
                           json={"recipients": [reader.user_id], "category": "payment",
                                 "plan": {"channels": ["email"]}, "locale": "pt-BR",
                                 "template_variables": {"amount": "9,90", "currency": "BRL",
                                                        "description": "<plano> & cia"}})
        assert answer.status_code == 202, answer.text
        mail = mail_to(relay, mailbox)
        nid = uuid.UUID(answer.json()["notifications"][0]["notification_id"])
        requested = next(iter(parley.event_log.events.get(nid)))
        assert isinstance(requested, Notification.Requested)
        [rendered] = requested.renderings

    assert mail["Subject"] == "Pagamento de 9,90 BRL"
    assert mail.get_content_type() == "multipart/alternative"
    text, html = mail.iter_parts()
    assert text.get_content_type() == "text/plain"
    assert "Recebemos 9,90 BRL: <plano> & cia." in text.get_content()
    assert html.get_content_type() == "text/html"
    assert "<b>9,90 BRL</b>: &lt;plano&gt; &amp; cia.</p>" in html.get_content()
    # payment mail is critical (by default): it carries no unsubscribe link
    assert "Unsubscribe" not in html.get_content() and mail["List-Unsubscribe"] is None
    assert (rendered["channel"], rendered["version"], rendered["locale"],
            rendered["asked_locale"]) == (
        "email", 1, "pt", "pt-BR")
    assert rendered["template_id"] == made.json()["template_id"]
