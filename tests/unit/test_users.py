"""Registration rules."""

from __future__ import annotations

import pytest

from domain.errors import InvalidCommand
from domain.identity.users import User, user_id_for_handle
from tests.builders import a_cause


def test_handles_are_case_insensitive_and_name_one_user() -> None:
    assert user_id_for_handle("Ada_L") == user_id_for_handle("ada_l")
    user = User.register("Ada_L", "Ada", a_cause())
    assert user.id == user_id_for_handle("ada_l") and user.handle == "ada_l"


@pytest.mark.parametrize("handle", ["ab", "a" * 33, "ada lovelace", "ada!", "ädä"])
def test_malformed_handles_are_refused(handle: str) -> None:
    with pytest.raises(InvalidCommand) as raised:
        User.register(handle, "Ada", a_cause())
    assert raised.value.field == "handle"


@pytest.mark.parametrize("name", ["", "   ", "x" * 81, "tab\x1bescape"])
def test_names_must_be_printable_and_short(name: str) -> None:
    with pytest.raises(InvalidCommand):
        User.register("ada", name, a_cause())


def test_whitespace_in_names_is_collapsed() -> None:
    assert User.register("ada", "  Ada   Lovelace ", a_cause()).name == "Ada Lovelace"
