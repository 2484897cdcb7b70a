"""PARLEY_PUBLIC_URL: the base every callback URL is made from and checked against."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from parley.settings import Settings


def test_the_public_url_defaults_to_the_embedded_server_and_loses_a_trailing_slash() -> None:
    assert Settings().public_url == "http://127.0.0.1:8000"
    assert Settings(public_url="https://parley.example/base/").public_url == (
        "https://parley.example/base")


@pytest.mark.parametrize("url", ["parley.example", "ftp://parley.example", "https://",
                                 "https://parley.example/?next=1", "https://parley.example/#top",
                                 "https://user:secret@parley.example", "https://parley.example:x"])
def test_a_public_url_callbacks_could_not_be_checked_against_is_refused(url: str) -> None:
    with pytest.raises(ValidationError, match="PARLEY_PUBLIC_URL"):
        Settings(public_url=url)
