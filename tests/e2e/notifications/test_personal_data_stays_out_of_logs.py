"""Personal data and secrets never reach a log line: one in-process Parley on the embedded
default, with Twilio and SMTP stand-ins, is driven through this issue's routes and process
managers (preferences, SMS consent and its listing, signed and unsigned inbound texts, a STOP,
compliance time travel, templates and their preview, templated and plain triggers with dedup
keys and digests, delivery to the stand-ins, a number the provider refuses naming it, status
callbacks, the trace, analytics) with every log record captured, ours at DEBUG. No record
names a phone number, an email address, a message's text, a consent's wording, a template
variable's value, a provider's auth token or an API key."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from commands.identity.roles import GrantRole
from commands.notifications.contact_points import (
    AddEmail,
    AddPhone,
    ContactPointRules,
    VerifyEmail,
)
from domain.notifications.email_verification import EmailVerification
from parley.bootstrap import build
from parley.settings import Settings
from tests.builders import ParleyClient, a_cause, an_api_key, now
from tests.providers import twilio
from tests.providers.servers import LocalServer
from tests.providers.smtp import SmtpRelay

PUBLIC_URL = "https://parley.example"
INBOUND = "/v1/notifications/callbacks/sms/twilio-main/inbound"
FORM = {"content-type": "application/x-www-form-urlencoded"}
NUMBER, REFUSED_NUMBER = "+447911123456", "+447911123789"
MAILBOX = "grace-7f3a@example.org"
WORDING = "Wording-Q8 texts from Parley, reply STOP to cancel"
SMS_BODY, TEXTED_BACK = "SmsBody-K2 your code is 424242", "Reply-Z5 who is this"
VARIABLE, TITLE = "Variable-J4 Lisbon office", "Title-W6"
WAIT_SECONDS = 15.0
STAND_INS = ("mail.log",)  # the SMTP relay's own server (aiosmtpd) logs what a provider sees
OURS = ("api", "commands", "adapters", "projections", "domain", "parley", "event_log",
        "read_model")


def until(done: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not done():
        assert time.monotonic() < deadline, f"{what} did not happen"
        time.sleep(0.02)


def texted(http: TestClient, stand_in: twilio.TwilioStandIn, number: str, body: str,
           token: str | None = None) -> Any:
    fields = {"MessageSid": f"SM{uuid.uuid4().hex}", "SmsStatus": "received",
              "AccountSid": stand_in.account_sid, "From": number, "To": "+15005550006",
              "Body": body, "NumMedia": "0", "ApiVersion": "2010-04-01"}
    signature = twilio.twilio_signature(PUBLIC_URL + INBOUND, fields,
                                        token or stand_in.auth_token)
    return http.post(INBOUND, content=urlencode(fields),
                     headers=FORM | {"X-Twilio-Signature": signature})


def logged(records: list[logging.LogRecord]) -> str:
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    lines = []
    for record in records:
        lines.append(formatter.format(record))
        lines.append(repr(record.args))
        lines.extend(repr(value) for key, value in vars(record).items()
                     if key not in logging.LogRecord("", 0, "", 0, "", None, None).__dict__)
    return "\n".join(lines)


def test_no_log_record_names_a_number_an_address_a_text_or_a_variable(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    for name in OURS:
        caplog.set_level(logging.DEBUG, logger=name)
    stand_in = twilio.TwilioStandIn()
    with LocalServer(stand_in.app, tls=True) as sms_server, \
            SmtpRelay(security="none") as relay:
        providers = [
            {"name": "twilio-main", "kind": "twilio", "account_sid": stand_in.account_sid,
             "auth_token": stand_in.auth_token, "from_number": "+15005550006",
             "endpoint": sms_server.url, "ca_file": sms_server.ca_file, "timeout_seconds": 2},
            {"name": "smtp-main", "kind": "smtp", "host": relay.host, "port": relay.port,
             "security": "none", "from_address": "notifications@parley.test",
             "timeout_seconds": 3}]
        parley = build(Settings(database_url=None, data_dir=tmp_path / "data",
                                public_url=PUBLIC_URL, consistency_wait_seconds=2,
                                notification_providers=json.dumps(providers)))
        with TestClient(create_app(parley)) as http:
            people = ParleyClient(http)
            admin, grace, other = (people.register(n) for n in ("Ada", "Grace", "Bo"))
            parley.writer.execute(GrantRole(uuid.UUID(admin.user_id), "admin", "tests"),
                                  a_cause())
            user, phone, email = uuid.UUID(grace.user_id), uuid.uuid4(), uuid.uuid4()
            execute = parley.writer.execute
            execute(AddPhone(user, phone, NUMBER, None, now(), ContactPointRules(20)),
                    a_cause())
            execute(AddPhone(uuid.UUID(other.user_id), uuid.uuid4(), REFUSED_NUMBER, None,
                             now(), ContactPointRules(20)), a_cause())
            execute(AddEmail(user, email, MAILBOX, now(), ContactPointRules(20),
                             EmailVerification(parley.email_verification_key)), a_cause())
            execute(VerifyEmail(user, email, now()), a_cause())
            issue, key = an_api_key()
            execute(issue, a_cause())
            service = {"Authorization": f"Bearer {key.presented}"}
            stand_in.behave_for(REFUSED_NUMBER, twilio.INVALID_NUMBER)

            def ok(response: Any, status: int = 200) -> Any:
                assert response.status_code == status, response.text
                return response

            ok(http.put("/v1/users/me/notification-preferences", headers=grace.auth, json={
                "time_zone": "Europe/Lisbon", "locale": "pt-PT"}))
            ok(http.get("/v1/users/me/notification-preferences", headers=grace.auth))
            ok(http.put("/v1/users/me/sms-consent", headers=grace.auth, json={
                "contact_point_id": str(phone), "wording": WORDING, "source": "app:settings"}))
            ok(http.get("/v1/users/me/sms-consent", headers=grace.auth))
            ok(texted(http, stand_in, NUMBER, TEXTED_BACK))
            ok(texted(http, stand_in, NUMBER, TEXTED_BACK, token="forged"), 403)
            made = ok(http.post("/v1/admin/notification-templates", headers=admin.auth, json={
                "category": "account", "channel": "email", "locale": "pt",
                "title": TITLE + " {{ display_name }}", "body": "At {{ display_name }}.",
                "html": "<p>At {{ display_name }}</p>"}), 201).json()
            seen = {"position": made["position"]}
            ok(http.get("/v1/admin/notification-templates", headers=admin.auth, params=seen))
            ok(http.post(f"/v1/admin/notification-templates/{made['template_id']}/preview",
                         headers=admin.auth, params=seen,
                         json={"variables": {"display_name": VARIABLE}}))
            ok(http.post("/v1/notifications", headers=service, json={
                "recipients": [grace.user_id], "category": "account",
                "plan": {"channels": ["email"]}, "template_variables": {"display_name": VARIABLE},
                "dedup_key": "welcome-1"}), 202)
            ok(http.post("/v1/notifications", headers=service, json={
                "recipients": [grace.user_id, other.user_id], "category": "security",
                "plan": {"channels": ["sms"]},
                "content": {"title": "Code", "body": SMS_BODY}}), 202)
            ok(http.post("/v1/notifications", headers=service, json={
                "recipients": [grace.user_id], "category": "account",
                "plan": {"channels": ["in_app"]}, "content": {"title": "Digest",
                                                               "body": SMS_BODY},
                "digest": {"key": "daily", "window_seconds": 60}}), 202)
            ok(http.post("/v1/notifications", headers=service, json={
                "recipients": [grace.user_id], "category": "account",
                "plan": {"channels": ["email"]},
                "template_variables": {"wrong": VARIABLE}}), 422)
            until(lambda: bool(relay.inbox(MAILBOX)), "the templated email")
            until(lambda: bool(stand_in.handset(NUMBER)), "the SMS")
            until(lambda: stand_in.requests >= 2, "the refused SMS")
            callback = stand_in.status_callback(stand_in.messages[0], "delivered")
            parts = urlsplit(callback.url)
            ok(http.post(f"{parts.path}?{parts.query}", content=urlencode(callback.fields),
                         headers=callback.headers), 204)
            ok(texted(http, stand_in, NUMBER, "STOP"))
            ok(http.get(f"/v1/admin/compliance/users/{grace.user_id}", headers=admin.auth))
            inbox = ok(http.get("/v1/notifications", headers=grace.auth)).json()
            for item in inbox["notifications"]:
                ok(http.get(f"/v1/notifications/{item['notification_id']}/trace",
                            headers=grace.auth))
            ok(http.get("/v1/admin/notifications/analytics", headers=admin.auth))

    text = logged([r for r in caplog.records if not r.name.startswith(STAND_INS)])
    assert caplog.records, "nothing was logged at all: the capture is not working"
    secrets = {NUMBER, NUMBER.lstrip("+"), REFUSED_NUMBER, REFUSED_NUMBER.lstrip("+"),
               MAILBOX, WORDING, SMS_BODY, TEXTED_BACK, VARIABLE, TITLE, stand_in.auth_token,
               key.presented, grace.token, admin.token}
    assert {secret for secret in secrets if secret in text} == set()
