"""What a contact point may hold: email addresses, E.164 numbers, Web Push subscriptions,
device tokens and webhook URLs, each checked and made canonical; and email verification
tokens, which only the key that issued them accepts, and only until they expire."""

from __future__ import annotations

import base64
import uuid
from datetime import timedelta

import phonenumbers
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.notifications.contact_point_values import (
    apns_token,
    e164_number,
    email_address,
    fcm_token,
    web_push_subscription,
    webhook_url,
)
from domain.notifications.email_verification import (
    EmailVerification,
    verification_link,
)
from domain.notifications.errors import InvalidContactPoint, InvalidVerificationToken
from tests.builders import now

REGIONS = sorted(phonenumbers.SUPPORTED_REGIONS)
NUMBER_TYPES = (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def a_p256dh() -> str:
    """A browser's subscription key: an uncompressed P-256 public point."""
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    return b64url(key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint))


AUTH = b64url(bytes(range(16)))
ENDPOINT = "https://push.example.net/wpush/v2/gAAAAABl"


def example_numbers() -> st.SearchStrategy[phonenumbers.PhoneNumber]:
    examples = [phonenumbers.example_number_for_type(region, kind)
                for region in REGIONS for kind in NUMBER_TYPES]
    return st.sampled_from([n for n in examples if n is not None])


@given(example_numbers())
def test_any_valid_number_round_trips_through_e164(number: phonenumbers.PhoneNumber) -> None:
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    assert e164_number(e164) == e164
    assert e164_number(e164_number(e164)) == e164
    international = phonenumbers.format_number(
        number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    assert e164_number(international) == e164


@given(example_numbers())
def test_a_national_number_is_read_in_the_region_given(number: phonenumbers.PhoneNumber) -> None:
    region = phonenumbers.region_code_for_number(number)
    national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    expected = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    assert e164_number(national, region.lower()) == expected


@given(st.text(max_size=30))
def test_anything_that_is_not_a_valid_number_is_refused(text: str) -> None:
    try:
        valid = phonenumbers.is_valid_number(phonenumbers.parse(text, None))
    except phonenumbers.NumberParseException:
        valid = False
    if valid:
        assert e164_number(text).startswith("+")
    else:
        with pytest.raises(InvalidContactPoint) as refused:
            e164_number(text)
        assert refused.value.field == "number"


@pytest.mark.parametrize("number", ["+1 555 0100", "+44 20", "12345", "+999 1234 5678",
                                    "not a number", ""])
def test_numbers_that_reach_nobody_are_refused(number: str) -> None:
    with pytest.raises(InvalidContactPoint):
        e164_number(number)


def test_an_unknown_region_is_refused_as_the_region() -> None:
    with pytest.raises(InvalidContactPoint) as refused:
        e164_number("020 7946 0018", "XX")
    assert refused.value.field == "region"


def test_email_addresses_keep_their_local_part_and_lower_case_their_domain() -> None:
    assert email_address("Ada.Lovelace@Example.COM") == "Ada.Lovelace@example.com"


@pytest.mark.parametrize("address", ["ada", "ada@", "@example.com", "ada@@example.com",
                                     "ada@example", "ada example@example.com",
                                     "a" * 250 + "@example.com", "ada@exa_mple.com"])
def test_malformed_or_overlong_email_addresses_are_refused(address: str) -> None:
    with pytest.raises(InvalidContactPoint) as refused:
        email_address(address)
    assert refused.value.field == "address"
    assert address not in str(refused.value) or not address  # personal data stays out


def test_a_browser_subscription_is_taken_as_it_is() -> None:
    p256dh = a_p256dh()
    subscription = web_push_subscription(ENDPOINT, p256dh, AUTH)
    assert (subscription.endpoint, subscription.p256dh, subscription.auth) == (
        ENDPOINT, p256dh, AUTH)
    assert p256dh not in repr(subscription) and AUTH not in repr(subscription)


def test_padded_base64url_keys_are_stored_unpadded() -> None:
    p256dh = a_p256dh()
    subscription = web_push_subscription(ENDPOINT, p256dh + "=", AUTH + "==")
    assert (subscription.p256dh, subscription.auth) == (p256dh, AUTH)


def flipped(p256dh: str, index: int) -> str:
    point = bytearray(base64.urlsafe_b64decode(p256dh + "="))
    point[index] ^= 0x01
    return b64url(bytes(point))


@pytest.mark.parametrize("p256dh", [
    pytest.param(flipped(a_p256dh(), 64), id="off the curve"),
    pytest.param(b64url(b"\x04" + bytes(64)), id="zeros"),
    pytest.param(b64url(b"\x02" + bytes(range(32))), id="compressed"),
    pytest.param("not base64!", id="not base64url"),
    pytest.param(b64url(b"\x05" + bytes(64)), id="wrong prefix"),
])
def test_a_key_that_is_not_an_uncompressed_p256_point_is_refused(p256dh: str) -> None:
    with pytest.raises(InvalidContactPoint) as refused:
        web_push_subscription(ENDPOINT, p256dh, AUTH)
    assert refused.value.field == "keys.p256dh"


@pytest.mark.parametrize("auth", [b64url(bytes(15)), b64url(bytes(17)), "", "%%%"])
def test_an_auth_secret_of_other_than_16_bytes_is_refused(auth: str) -> None:
    with pytest.raises(InvalidContactPoint) as refused:
        web_push_subscription(ENDPOINT, a_p256dh(), auth)
    assert refused.value.field == "keys.auth"


@pytest.mark.parametrize("endpoint", ["http://push.example.net/x", "ftp://push.example.net/x",
                                      "https://user:pw@push.example.net/x", "push.example.net",
                                      "http://127.0.0.1:8443/push"])
def test_push_endpoints_must_be_https(endpoint: str) -> None:
    with pytest.raises(InvalidContactPoint) as refused:
        web_push_subscription(endpoint, a_p256dh(), AUTH)
    assert refused.value.field == "endpoint"


def test_plain_http_on_loopback_is_allowed_only_where_the_deployment_allows_it() -> None:
    local = "http://127.0.0.1:8443/push/1"
    assert web_push_subscription(local, a_p256dh(), AUTH, allow_loopback_http=True).endpoint
    assert webhook_url(local, allow_loopback_http=True) == local
    with pytest.raises(InvalidContactPoint):
        webhook_url(local)
    with pytest.raises(InvalidContactPoint):
        webhook_url("http://10.0.0.1/hook", allow_loopback_http=True)


def test_device_tokens_are_checked_by_their_kind() -> None:
    assert fcm_token("fM3xQ2rLTeK:APA91bHq8xY2kWJ7n0Xc_V4dR9sZ1tL6uP3oQ5eA8bC")
    assert apns_token("AB" * 32) == "ab" * 32
    for bad in ("", "has space", "a" * 4097, "semi;colon", "slash/"):
        with pytest.raises(InvalidContactPoint):
            fcm_token(bad)
    for bad in ("ab" * 31, "a" * 201, "zz" * 32, "ab " * 32):
        with pytest.raises(InvalidContactPoint):
            apns_token(bad)


# Email verification tokens

KEY = b"k" * 32
VERIFICATION = EmailVerification(KEY, ttl_seconds=3600)
USER, POINT = uuid.uuid4(), uuid.uuid4()


def test_a_token_names_the_user_and_the_address_it_verifies_until_it_expires() -> None:
    issued = now()
    token = VERIFICATION.token(USER, POINT, issued)
    claim = VERIFICATION.read(token, issued + timedelta(seconds=3599))
    assert (claim.user_id, claim.contact_point_id) == (USER, POINT)
    with pytest.raises(InvalidVerificationToken):
        VERIFICATION.read(token, issued + timedelta(seconds=3601))


def test_a_token_under_another_key_is_refused() -> None:
    token = EmailVerification(b"o" * 32).token(USER, POINT, now())
    with pytest.raises(InvalidVerificationToken):
        VERIFICATION.read(token, now())


@settings(max_examples=200)
@given(st.data())
def test_any_change_to_a_token_is_refused_with_the_same_answer(data: st.DataObject) -> None:
    token = VERIFICATION.token(USER, POINT, now())
    index = data.draw(st.integers(0, len(token) - 1))
    replacement = data.draw(st.sampled_from("ABCabc012-_.=").filter(lambda c: c != token[index]))
    tampered = token[:index] + replacement + token[index + 1:]
    try:
        claim = VERIFICATION.read(tampered, now())
    except InvalidVerificationToken as refused:
        assert str(refused) == "this verification link is invalid or has expired"
    else:  # only a change base64 cannot see (the unused low bits of the last character)
        assert (claim.user_id, claim.contact_point_id) == (USER, POINT)


def test_every_refusal_reads_the_same() -> None:
    issued = now()
    refusals = []
    for token, at in [("", issued), ("v1.abc.def", issued), ("v2." + "a" * 60, issued),
                      (VERIFICATION.token(USER, POINT, issued), issued + timedelta(days=1)),
                      (EmailVerification(b"o" * 32).token(USER, POINT, issued), issued)]:
        with pytest.raises(InvalidVerificationToken) as refused:
            VERIFICATION.read(token, at)
        refusals.append((refused.value.field, str(refused.value)))
    assert len(set(refusals)) == 1


def test_the_key_stays_out_of_reprs_and_the_token_rides_in_the_fragment() -> None:
    assert repr(KEY)[2:-1] not in repr(VERIFICATION)
    link = verification_link("https://app.example.com/", "v1.abc.def")
    assert link == "https://app.example.com/verify-email#token=v1.abc.def"
