"""SMS status callbacks: Twilio's and Vonage's signatures, checked against the vectors the
providers publish, and what each provider's statuses mean for a notification."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from adapters.notifications.sms_receipts import (
    TwilioCallbackVerifier,
    VonageCallbackVerifier,
    sms_callback_verifiers,
    sms_status_callback_url,
    twilio_receipt_status,
    twilio_signature,
    verify_twilio,
    verify_vonage,
    vonage_receipt_status,
    vonage_signature,
)
from api.notifications.sms_reports import SmsStatusReport, UnknownSmsStatus
from commands.notifications.receipts import DELIVERED, FAILED, SENT, UNDELIVERED

# Twilio's documented example ("Validating requests are coming from Twilio"): auth token 12345
TWILIO_TOKEN = "12345"
TWILIO_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
TWILIO_PARAMS = {"CallSid": "CA1234567890ABCDE", "Caller": "+14158675309", "Digits": "1234",
                 "From": "+14158675309", "To": "+18005551212"}
TWILIO_SIGNATURE = "RSOYDt4T1cUTdK1PDd93/VVr8B8="
# Vonage's SDK test vectors (vonage-python-sdk, http_client/tests/test_auth.py)
VONAGE_SECRET = "signature_secret"
VONAGE_PARAMS = {"param1": "value1", "param2": "value2", "timestamp": "1234567890"}
VONAGE_SHA256 = "280c4320703dbc98bfa22db676655ed2acfbfe8792b062ff7622e67f1183c287"
VONAGE_MD5_HMAC = "724c2bf6ca423c36e20631b11d1c5753"
VONAGE_MD5_HMAC_SPECIAL = "2bbf0abafb2c55e5af6231513896a2ac"  # values "value&1", "value=2"
VONAGE_STAMPED_AT = datetime.fromtimestamp(1234567890, UTC)


def test_twilio_signature_matches_twilios_published_example() -> None:
    assert twilio_signature(TWILIO_URL, TWILIO_PARAMS, TWILIO_TOKEN) == TWILIO_SIGNATURE
    assert verify_twilio(TWILIO_URL, TWILIO_PARAMS, TWILIO_SIGNATURE, TWILIO_TOKEN)
    as_posted = dict(reversed(TWILIO_PARAMS.items()))  # signed sorted by name, whatever the order
    assert verify_twilio(TWILIO_URL, as_posted, TWILIO_SIGNATURE, TWILIO_TOKEN)


@pytest.mark.parametrize("tampered", [
    {"url": "https://mycompany.com/myapp.php?foo=1&bar=3"},
    {"url": "https://attacker.example/myapp.php?foo=1&bar=2"},
    {"params": TWILIO_PARAMS | {"Digits": "1235"}},
    {"params": TWILIO_PARAMS | {"Extra": ""}},  # blank values are signed too
    {"token": "54321"},
    {"signature": TWILIO_SIGNATURE.lower()},
    {"signature": ""},
    {"signature": None},
])
def test_twilio_signature_refuses_any_change(tampered: dict[str, object]) -> None:
    arguments: dict[str, object] = {"url": TWILIO_URL, "params": TWILIO_PARAMS,
                                    "signature": TWILIO_SIGNATURE, "token": TWILIO_TOKEN}
    arguments |= tampered
    assert not verify_twilio(arguments["url"], arguments["params"],  # type: ignore[arg-type]
                             arguments["signature"], arguments["token"])  # type: ignore[arg-type]


def test_twilio_signature_holds_with_or_without_the_default_port() -> None:
    signed_with_port = twilio_signature("https://mycompany.com:443/myapp.php?foo=1&bar=2",
                                        TWILIO_PARAMS, TWILIO_TOKEN)
    assert verify_twilio(TWILIO_URL, TWILIO_PARAMS, signed_with_port, TWILIO_TOKEN)
    assert verify_twilio("https://mycompany.com:443/myapp.php?foo=1&bar=2", TWILIO_PARAMS,
                         TWILIO_SIGNATURE, TWILIO_TOKEN)
    assert not verify_twilio("https://mycompany.com:8443/myapp.php?foo=1&bar=2",
                             TWILIO_PARAMS, TWILIO_SIGNATURE, TWILIO_TOKEN)


def test_vonage_signature_matches_vonages_sdk_vectors() -> None:
    assert vonage_signature(VONAGE_PARAMS, VONAGE_SECRET, "sha256") == VONAGE_SHA256
    assert vonage_signature(VONAGE_PARAMS, VONAGE_SECRET, "md5") == VONAGE_MD5_HMAC
    special = VONAGE_PARAMS | {"param1": "value&1", "param2": "value=2"}
    assert vonage_signature(special, VONAGE_SECRET, "md5") == VONAGE_MD5_HMAC_SPECIAL


def test_a_vonage_receipt_verifies_within_five_minutes_of_its_timestamp_either_way() -> None:
    signed = VONAGE_PARAMS | {"sig": VONAGE_SHA256}
    for offset in (0, 299, -299):
        assert verify_vonage(signed, VONAGE_SECRET, VONAGE_STAMPED_AT + timedelta(seconds=offset))
    assert verify_vonage(signed | {"sig": VONAGE_SHA256.upper()}, VONAGE_SECRET,
                         VONAGE_STAMPED_AT)  # Vonage's HMAC signatures may come upper-case
    for offset in (301, -301):
        assert not verify_vonage(signed, VONAGE_SECRET,
                                 VONAGE_STAMPED_AT + timedelta(seconds=offset))


@pytest.mark.parametrize("tampered", [
    {"param1": "value9"},
    {"extra": "1"},
    {"timestamp": "1234567891"},
    {"timestamp": "soon"},
    {"sig": "0" * 64},
    {"sig": ""},
])
def test_a_vonage_receipt_refuses_any_change(tampered: dict[str, str]) -> None:
    signed = VONAGE_PARAMS | {"sig": VONAGE_SHA256} | tampered
    assert not verify_vonage(signed, VONAGE_SECRET, VONAGE_STAMPED_AT)


def test_a_vonage_receipt_without_sig_or_under_another_secret_or_method_is_refused() -> None:
    signed = VONAGE_PARAMS | {"sig": VONAGE_SHA256}
    assert not verify_vonage(VONAGE_PARAMS, VONAGE_SECRET, VONAGE_STAMPED_AT)
    assert not verify_vonage(signed, "another_secret", VONAGE_STAMPED_AT)
    assert not verify_vonage(signed, VONAGE_SECRET, VONAGE_STAMPED_AT, method="sha512")


@pytest.mark.parametrize(("status", "meaning"), [
    ("queued", None), ("accepted", None), ("sending", None), ("sent", SENT),
    ("delivered", DELIVERED), ("undelivered", UNDELIVERED), ("failed", FAILED),
])
def test_twilio_statuses_in_the_notifications_terms(status: str, meaning: str | None) -> None:
    assert twilio_receipt_status(status) == meaning


@pytest.mark.parametrize(("status", "meaning"), [
    ("accepted", SENT), ("buffered", SENT), ("delivered", DELIVERED), ("expired", UNDELIVERED),
    ("failed", UNDELIVERED), ("rejected", FAILED), ("unknown", None),
])
def test_vonage_statuses_in_the_notifications_terms(status: str, meaning: str | None) -> None:
    assert vonage_receipt_status(status) == meaning


@pytest.mark.parametrize("status", ["", "Delivered", "received", "lost"])
def test_a_status_the_provider_does_not_document_is_refused(status: str) -> None:
    with pytest.raises(UnknownSmsStatus):
        twilio_receipt_status(status)
    with pytest.raises(UnknownSmsStatus):
        vonage_receipt_status(status)


def test_the_callback_url_names_the_provider_notification_and_attempt() -> None:
    notification, attempt = uuid.uuid4(), uuid.uuid4()
    url = sms_status_callback_url("https://parley.example/", "twilio main", notification, attempt)
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == (
        "https", "parley.example", "/v1/notifications/callbacks/sms/twilio%20main")
    assert parse_qs(parts.query) == {"notification": [str(notification)],
                                     "attempt": [str(attempt)]}


def test_the_twilio_verifier_reads_a_signed_callback_and_refuses_a_forged_one() -> None:
    verifier = TwilioCallbackVerifier("token-of-the-account")
    url = "https://parley.example/v1/notifications/callbacks/sms/twilio?attempt=1"
    fields = {"MessageSid": "SM123", "MessageStatus": "undelivered", "ErrorCode": "30003"}
    headers = {"x-twilio-signature": twilio_signature(url, fields, "token-of-the-account")}
    now = datetime.now(UTC)
    assert verifier(url, fields, headers, now) == SmsStatusReport("SM123", UNDELIVERED, "30003")
    forged = {"x-twilio-signature": twilio_signature(url, fields, "guessed")}
    assert verifier(url, fields, forged, now) is None
    assert verifier(url, fields, {}, now) is None
    assert "token-of-the-account" not in repr(verifier)


def test_the_vonage_verifier_reads_a_receipt_with_its_attempt_reference() -> None:
    verifier = VonageCallbackVerifier("secret-of-the-account")
    now = datetime.now(UTC)
    fields = {"messageId": "0A01", "status": "failed", "err-code": "9", "client-ref": "attempt-1",
              "timestamp": str(int(now.timestamp())), "nonce": "n1"}
    fields["sig"] = vonage_signature(fields, "secret-of-the-account")
    assert verifier("ignored", fields, {}, now) == SmsStatusReport(
        "0A01", UNDELIVERED, "9", attempt_reference="attempt-1")
    delivered = fields | {"status": "delivered", "err-code": "0"}
    delivered["sig"] = vonage_signature(
        {k: v for k, v in delivered.items() if k != "sig"}, "secret-of-the-account")
    assert verifier("ignored", delivered, {}, now) == SmsStatusReport(
        "0A01", DELIVERED, "", attempt_reference="attempt-1")
    assert VonageCallbackVerifier(None)("ignored", fields, {}, now) is None
    assert "secret-of-the-account" not in repr(verifier)


def test_only_providers_that_take_callbacks_get_a_verifier() -> None:
    class Sms:
        name = "sms-main"

        def callback_verifier(self) -> TwilioCallbackVerifier:
            return TwilioCallbackVerifier("t")

    class Push:
        name = "fcm-main"

    verifiers = sms_callback_verifiers([Sms(), Push()])
    assert list(verifiers) == ["sms-main"]
