"""The password policy (NIST SP 800-63B in spirit): length, common list, context, trivial."""

from __future__ import annotations

import pytest

from adapters.identity.common_passwords import common_passwords
from domain.identity.errors import (
    CommonPassword,
    PasswordFromContext,
    PasswordLengthOutOfBounds,
    TrivialPassword,
    WeakPassword,
)
from domain.identity.passwords import PasswordPolicy

POLICY = PasswordPolicy(frozenset({"password", "iloveyou", "trustno1"}))
ADA = ["ada", "Ada Lovelace"]


@pytest.mark.parametrize("password", ["", "seven!!", "x" * 129])
def test_passwords_shorter_than_8_or_longer_than_128_characters_are_refused(
    password: str,
) -> None:
    with pytest.raises(PasswordLengthOutOfBounds):
        POLICY.check(password, ADA)


@pytest.mark.parametrize("password", ["password", "PassWord", " iloveyou ", "trust no 1"])
def test_listed_passwords_are_refused_whatever_their_case_spacing_or_separators(
    password: str,
) -> None:
    with pytest.raises(CommonPassword):
        POLICY.check(password, ADA)


@pytest.mark.parametrize("password", ["ada12345", "Ada.Lovelace", "lovelace!!", "adaada99",
                                      "parley!!", "PARLEY2026", "ada lovelace 1"])
def test_passwords_made_of_the_handle_the_name_or_the_service_are_refused(
    password: str,
) -> None:
    with pytest.raises(PasswordFromContext):
        POLICY.check(password, ADA)


@pytest.mark.parametrize("password", ["aaaaaaaa", " " * 8, "12345678", "abcdefghij",
                                      "98765432", "abababab", "abcabcabc", "zzzzzzz1"])
def test_one_character_repeated_a_short_unit_repeated_or_a_plain_sequence_is_refused(
    password: str,
) -> None:
    with pytest.raises(TrivialPassword):
        POLICY.check(password, ADA)


@pytest.mark.parametrize("password", ["correct horse battery", "adamant horse battery",
                                      "ada is quite cool", "Ünïcödé ρασσωορδ", "n0 rules here",
                                      "x" * 7 + "yz", ("the quick brown fox " * 7)[:128]])
def test_anything_else_of_8_to_128_characters_is_accepted_without_composition_rules(
    password: str,
) -> None:
    assert POLICY.check(password, ADA) == password


def test_the_accepted_password_is_normalised_as_sign_in_compares_it() -> None:
    assert POLICY.check("cafe\u0301 au lait", ADA) == "caf\u00e9 au lait"


def test_every_rule_is_a_weak_password_error_naming_the_password_field() -> None:
    with pytest.raises(WeakPassword) as raised:
        POLICY.check("password", ADA)
    assert raised.value.field == "password" and raised.value.rule == "common_password"


def test_the_bundled_list_holds_thousands_of_common_passwords_and_not_the_readme_ones() -> None:
    listed = common_passwords()
    assert len(listed) > 8000
    assert {"password", "12345678", "iloveyou", "qwertyuiop", "baseball"} <= listed
    policy = PasswordPolicy(listed)
    for password in ["correct horse battery", "staple battery horse", "battery staple horse"]:
        policy.check(password, ["ada", "Ada Lovelace"])
