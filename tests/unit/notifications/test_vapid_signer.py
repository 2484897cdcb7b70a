"""VAPID keys and the JWTs signed with them: read as `parley vapid generate` prints them (or as
PEM), never shown in an error, signed once per push service for hours."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.notifications.vapid import (
    JWT_LIFETIME_SECONDS,
    MAX_CACHED_AUDIENCES,
    VapidSigner,
    application_server_key,
    key_from_file,
    key_from_raw,
    new_key_pair,
)

SUBJECT = "mailto:ops@parley.example"
KEYS = new_key_pair()


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_jwt_is_signed_once_per_push_service_and_renewed_before_it_expires() -> None:
    clock = Clock()
    signer = VapidSigner(key_from_raw(KEYS.private_key), SUBJECT, clock=clock)

    first = signer.authorization("https://fcm.googleapis.com")
    again = signer.authorization("https://fcm.googleapis.com")
    other = signer.authorization("https://updates.push.services.mozilla.com")
    clock.now += JWT_LIFETIME_SECONDS - 3599  # less than an hour of the first token left
    renewed = signer.authorization("https://fcm.googleapis.com")

    assert first == again != other
    assert renewed != first
    assert signer.signatures == 3


def test_without_the_cache_every_message_is_signed() -> None:
    signer = VapidSigner(key_from_raw(KEYS.private_key), SUBJECT, cache=False)

    for _ in range(3):
        signer.authorization("https://fcm.googleapis.com")

    assert signer.signatures == 3


def test_the_cache_holds_a_bounded_number_of_push_services_dropping_the_least_used() -> None:
    """Subscriptions come from users, so their endpoints' origins are not a fixed few."""
    signer = VapidSigner(key_from_raw(KEYS.private_key), SUBJECT)
    for index in range(MAX_CACHED_AUDIENCES):
        signer.authorization(f"https://push{index}.example")

    signer.authorization("https://push0.example")  # used again: kept
    signer.authorization("https://one-too-many.example")  # push1 is let go
    signer.authorization("https://push0.example")
    assert signer.signatures == MAX_CACHED_AUDIENCES + 1
    signer.authorization("https://push1.example")
    assert signer.signatures == MAX_CACHED_AUDIENCES + 2


def test_the_printed_private_key_gives_the_printed_public_key() -> None:
    assert application_server_key(key_from_raw(KEYS.private_key)) == KEYS.application_server_key


def test_a_key_file_may_hold_the_printed_key_or_a_pem(tmp_path: Path) -> None:
    raw_file, pem_file = tmp_path / "vapid.key", tmp_path / "vapid.pem"
    raw_file.write_text(KEYS.private_key + "\n")
    pem_file.write_bytes(key_from_raw(KEYS.private_key).private_pem())

    for key_file in (raw_file, pem_file):
        assert application_server_key(key_from_file(key_file)) == KEYS.application_server_key


@pytest.mark.parametrize("bad", ["", "not base64url!", KEYS.private_key[:-4],
                                 KEYS.private_key + "AAAA", "A" * 43])
def test_a_bad_key_is_refused_without_showing_it(bad: str) -> None:
    with pytest.raises(ValueError) as refused:
        key_from_raw(bad)

    assert bad == "" or bad not in str(refused.value)


def test_a_key_file_that_is_no_key_is_refused_without_showing_it(tmp_path: Path) -> None:
    key_file = tmp_path / "vapid.key"
    key_file.write_text("secret-looking-garbage")

    with pytest.raises(ValueError) as refused:
        key_from_file(key_file)

    assert "secret-looking-garbage" not in str(refused.value)


def test_a_missing_key_file_is_not_made_up() -> None:
    """py_vapid's own from_file generates and saves a key when the file is absent; a typo in a
    path must not silently give Parley a new identity."""
    with pytest.raises(ValueError, match="cannot be read"):
        key_from_file(Path("/nonexistent/vapid.key"))
    assert not Path("/nonexistent/vapid.key").exists()
