"""Which signing keys Parley accepts for PARLEY_SECRET_KEY and PARLEY_AUDIT_KEY."""

from __future__ import annotations

import base64
import os
import secrets
import uuid

import pytest
from pydantic import ValidationError

from parley.settings import Settings
from parley.signing_keys import generate_key, key_weakness

PLACEHOLDERS = ["change-me", "changeme", "CHANGE_ME_IN_PRODUCTION_PLEASE_0123456789abcdef",
                "secret", "my-super-secret-signing-key-for-parley-tokens-0123",
                "password", "test-e2e_0f3a9c", "test-" + secrets.token_urlsafe(40),
                "bench-audit-bench_replay", "example-key-" + secrets.token_hex(32)]
GUESSABLE = ["short", secrets.token_urlsafe(16), uuid.uuid4().hex, "a" * 64, "abc" * 30,
             "correct horse battery staple and a few more words of a passphrase"]
STRONG = [secrets.token_urlsafe(32), secrets.token_hex(32),
          base64.b64encode(os.urandom(32)).decode(), generate_key()]


@pytest.mark.parametrize("key", PLACEHOLDERS)
def test_placeholder_keys_are_refused(key: str) -> None:
    assert key_weakness(key) == "is a known placeholder"


@pytest.mark.parametrize("key", GUESSABLE)
def test_keys_with_less_than_32_bytes_of_entropy_are_refused(key: str) -> None:
    assert key_weakness(key) is not None


@pytest.mark.parametrize("key", STRONG)
def test_keys_from_a_random_generator_of_32_bytes_or_more_are_accepted(key: str) -> None:
    assert key_weakness(key) is None


def test_generated_keys_are_strong_and_never_the_same() -> None:
    keys = {generate_key() for _ in range(50)}
    assert len(keys) == 50 and all(len(k) == 64 and key_weakness(k) is None for k in keys)


@pytest.mark.parametrize("variable", ["secret_key", "audit_key", "direct_id_key"])
def test_settings_refuse_a_weak_key_naming_the_variable_but_never_the_key(variable: str) -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(**{variable: "change-me"})
    assert f"PARLEY_{variable.upper()} is a known placeholder" in str(refused.value)
    assert "parley secrets generate" in str(refused.value)


def test_an_empty_key_variable_is_an_unset_one() -> None:
    assert Settings(secret_key="", audit_key="").secret_key is None
