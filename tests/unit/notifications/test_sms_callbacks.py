"""The SMS status-callback route: a provider's verified report becomes a RecordDeliveryReceipt;
anything unsigned, forged or for an unknown provider is the same 403, and nothing is submitted.
(The write side is replaced by a recording writer here; the handler is the dispatcher's,
commands/notifications/dispatch.py.)"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient

from adapters.notifications.sms_receipts import (
    TwilioCallbackVerifier,
    VonageCallbackVerifier,
    sms_status_callback_url,
    twilio_signature,
    vonage_signature,
)
from api.notifications.callbacks import PROVIDER_CALLBACK_ACTOR
from commands.notifications.receipts import DELIVERED, UNDELIVERED, RecordDeliveryReceipt
from tests.providers.sms_callbacks import CallbackReceiver, RecordingWriter

PUBLIC_URL = "https://parley.example/base"
INTERNAL = "http://10.0.0.7:8000"  # where the request actually arrives (its Host header)
TOKEN, SECRET = "twilio-auth-token-of-the-account", "vonage-signature-secret"
FORM = {"content-type": "application/x-www-form-urlencoded"}


@pytest.fixture
def receiver() -> CallbackReceiver:
    return CallbackReceiver({"twilio-main": TwilioCallbackVerifier(TOKEN),
                             "vonage-main": VonageCallbackVerifier(SECRET)}, PUBLIC_URL)


@pytest.fixture
def writer(receiver: CallbackReceiver) -> RecordingWriter:
    return receiver.writer


@pytest.fixture
def client(receiver: CallbackReceiver) -> Iterator[TestClient]:
    with TestClient(receiver.app, base_url=INTERNAL) as test_client:
        yield test_client


@dataclass(frozen=True)
class Attempt:
    notification: uuid.UUID = field(default_factory=uuid.uuid4)
    attempt: uuid.UUID = field(default_factory=uuid.uuid4)

    def url(self, provider: str, base: str = PUBLIC_URL) -> str:
        return sms_status_callback_url(base, provider, self.notification, self.attempt)

    def path(self, provider: str) -> str:
        return self.url(provider).removeprefix(PUBLIC_URL)


def twilio_post(client: TestClient, attempt: Attempt, fields: dict[str, str],
                signed_url: str | None = None, token: str = TOKEN,
                provider: str = "twilio-main") -> Any:
    signature = twilio_signature(signed_url or attempt.url(provider), fields, token)
    return client.post(attempt.path(provider), content=urlencode(fields),
                       headers=FORM | {"x-twilio-signature": signature})


def vonage_fields(attempt: Attempt, status: str = "delivered", **changes: str) -> dict[str, str]:
    fields = {"messageId": "0A0000001", "status": status, "err-code": "0",
              "client-ref": str(attempt.attempt), "msisdn": "447700900001",
              "timestamp": str(int(datetime.now(UTC).timestamp())), "nonce": uuid.uuid4().hex}
    fields |= changes
    return fields | {"sig": vonage_signature(fields, SECRET)}


def delivered(message_sid: str = "SM0001", status: str = "delivered") -> dict[str, str]:
    return {"MessageSid": message_sid, "MessageStatus": status, "AccountSid": "AC1",
            "To": "+447700900001", "ApiVersion": "2010-04-01"}


def test_a_signed_twilio_callback_records_the_receipt_as_the_provider_actor(
        client: TestClient, writer: RecordingWriter) -> None:
    attempt = Attempt()
    response = twilio_post(client, attempt, delivered())
    assert response.status_code == 204, response.text
    assert response.headers["parley-position"] == "1"
    [(command, cause)] = writer.submitted
    assert isinstance(command, RecordDeliveryReceipt)
    assert (command.notification_id, command.attempt_id, command.provider,
            command.provider_message_id, command.status, command.code) == (
        attempt.notification, attempt.attempt, "twilio-main", "SM0001", DELIVERED, "")
    assert cause.actor_id == PROVIDER_CALLBACK_ACTOR


def test_an_undelivered_report_carries_the_providers_error_code(
        client: TestClient, writer: RecordingWriter) -> None:
    fields = delivered(status="undelivered") | {"ErrorCode": "30003"}
    assert twilio_post(client, Attempt(), fields).status_code == 204
    [(command, _)] = writer.submitted
    assert (command.status, command.code) == (UNDELIVERED, "30003")


def test_forged_unsigned_and_unknown_provider_callbacks_get_the_same_403(
        client: TestClient, writer: RecordingWriter) -> None:
    attempt = Attempt()
    forged = twilio_post(client, attempt, delivered(), token="guessed-token")
    unsigned = client.post(attempt.path("twilio-main"), content=urlencode(delivered()),
                           headers=FORM)
    unknown = twilio_post(client, attempt, delivered(), provider="nobody")
    answers = [(r.status_code, r.headers["content-type"],
                {k: v for k, v in r.json().items() if k != "request_id"})
               for r in (forged, unsigned, unknown)]
    assert answers[0][0] == 403
    assert answers[0][1] == "application/problem+json"
    assert answers[0] == answers[1] == answers[2]
    assert writer.submitted == []


def test_the_signature_is_checked_against_the_public_url_not_the_host_header(
        client: TestClient, writer: RecordingWriter) -> None:
    attempt = Attempt()
    as_the_host_says = twilio_post(client, attempt, delivered(),
                                   signed_url=attempt.url("twilio-main", base=INTERNAL))
    assert as_the_host_says.status_code == 403
    assert writer.submitted == []


def test_a_signed_callback_replayed_for_another_attempt_is_refused(
        client: TestClient, writer: RecordingWriter) -> None:
    original, other = Attempt(), Attempt()
    signature = twilio_signature(original.url("twilio-main"), delivered(), TOKEN)
    replayed = client.post(other.path("twilio-main"), content=urlencode(delivered()),
                           headers=FORM | {"x-twilio-signature": signature})
    assert replayed.status_code == 403
    assert writer.submitted == []


def test_news_of_no_consequence_is_acknowledged_and_records_nothing(
        client: TestClient, writer: RecordingWriter) -> None:
    assert twilio_post(client, Attempt(), delivered(status="queued")).status_code == 204
    assert writer.submitted == []


def test_an_unknown_status_is_422_when_signed_and_403_when_not(
        client: TestClient, writer: RecordingWriter) -> None:
    attempt = Attempt()
    signed = twilio_post(client, attempt, delivered(status="teleported"))
    unsigned = twilio_post(client, attempt, delivered(status="teleported"), token="guessed")
    assert (signed.status_code, unsigned.status_code) == (422, 403)
    assert writer.submitted == []


@pytest.mark.parametrize("query", ["notification=nope&attempt=nope", "attempt=", ""])
def test_malformed_or_missing_ids_are_422(client: TestClient, query: str) -> None:
    response = client.post(f"/v1/notifications/callbacks/sms/twilio-main?{query}",
                           content=urlencode(delivered()), headers=FORM)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


def test_a_vonage_receipt_as_a_form_or_as_json_records_the_receipt(
        client: TestClient, writer: RecordingWriter) -> None:
    attempt = Attempt()
    as_form = client.post(attempt.path("vonage-main"),
                          content=urlencode(vonage_fields(attempt)), headers=FORM)
    as_json = client.post(attempt.path("vonage-main"),
                          content=json.dumps(vonage_fields(attempt, "failed", **{"err-code": "9"})),
                          headers={"content-type": "application/json"})
    assert (as_form.status_code, as_json.status_code) == (204, 204)
    statuses = [(c.provider, c.provider_message_id, c.status, c.code) for c, _ in writer.submitted]
    assert statuses == [("vonage-main", "0A0000001", DELIVERED, ""),
                        ("vonage-main", "0A0000001", UNDELIVERED, "9")]


def test_a_vonage_receipt_for_another_attempt_stale_or_tampered_is_refused(
        client: TestClient, writer: RecordingWriter) -> None:
    attempt = Attempt()
    for_another = vonage_fields(attempt, **{"client-ref": str(uuid.uuid4())})
    stale = vonage_fields(attempt, timestamp=str(int(datetime.now(UTC).timestamp()) - 301))
    tampered = vonage_fields(attempt) | {"status": "failed"}
    for fields in (for_another, stale, tampered):
        answer = client.post(attempt.path("vonage-main"), content=urlencode(fields), headers=FORM)
        assert answer.status_code == 403
    assert writer.submitted == []


def test_a_body_that_is_neither_form_nor_json_object_is_400(client: TestClient) -> None:
    attempt = Attempt()
    answer = client.post(attempt.path("vonage-main"), content=b"[1, 2]",
                         headers={"content-type": "application/json"})
    assert answer.status_code == 400
