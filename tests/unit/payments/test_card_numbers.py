"""Card numbers are found however they are written, and ordinary text and ids are not."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.payments.card_numbers import (
    has_card_number,
    luhn_valid,
    refuse_card_numbers,
    texts_of,
)
from domain.payments.errors import CardNumberRefused

VISA = "4111111111111111"  # a test card number: Luhn-valid
AMEX = "378282246310005"
NOT_LUHN = "4111111111111112"


def test_the_luhn_check_tells_test_cards_from_their_neighbours() -> None:
    assert luhn_valid(VISA) and luhn_valid(AMEX) and luhn_valid("79927398713")
    assert not luhn_valid(NOT_LUHN) and not luhn_valid("79927398710")


@pytest.mark.parametrize("text", [
    VISA, AMEX, "4111 1111 1111 1111", "4111-1111-1111-1111", "3782 822463 10005",
    "pay 4111 1111 1111 1111 thanks", "card:4111111111111111;", "ref4111111111111111x",
    "4111 - 1111 - 1111 - 1111",
    "4111 1111 1111 1111 12 26",  # followed by its expiry: the card's groups still count
    "07 4111 1111 1111 1111",  # preceded by other digits
    "".join(chr(0xFF10 + int(d)) for d in VISA),  # full-width digits
    "".join(chr(0x0660 + int(d)) for d in VISA),  # Arabic-Indic digits
    "4111\u20131111\u20131111\u20131111",  # en dashes
    "4111\u00a01111\u00a01111\u00a01111",  # no-break spaces
])
def test_a_card_number_is_found_however_it_is_written(text: str) -> None:
    assert has_card_number(text)


@pytest.mark.parametrize("text", [
    "", "lunch on friday", NOT_LUHN, "4111 1111 1111 1112", "+44 20 7946 0958",
    "123456789012",  # 12 digits: too short
    "41111111111111111111111111",  # one run of 26 digits: not a card number
    "411111111111111105",  # 18 digits in one run that fail the check
    "2026-11-26 09:30:12",
    "11111111-1111-1111-1111-111111111111",  # a UUID of digits only
    "po_1Abc, pi_3Def, pm_card_visa",
])
def test_ordinary_text_dates_phone_numbers_and_ids_are_not_card_numbers(text: str) -> None:
    assert not has_card_number(text)


@given(st.uuids())
def test_no_uuid_is_a_card_number(value: uuid.UUID) -> None:
    assert not has_card_number(f"/v1/payments/{value}/refunds")


def test_every_string_number_and_key_of_a_nested_document_is_looked_at() -> None:
    document = {"note": "hi", "meta": [{"deep": {"x": 4111111111111111}}],
                VISA: True, "ratio": 0.5, "flag": False, "none": None}
    texts = list(texts_of(document))
    assert "4111111111111111" in texts and VISA in texts and "hi" in texts
    assert "True" not in texts and "False" not in texts


def test_a_refusal_names_where_and_never_the_digits() -> None:
    refuse_card_numbers("body", "nothing here", "12.34")
    with pytest.raises(CardNumberRefused) as refused:
        refuse_card_numbers("query", "fine", "4111 1111 1111 1111")
    assert refused.value.field == "query"
    assert "4111" not in str(refused.value)
