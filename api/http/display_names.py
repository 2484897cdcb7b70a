"""The display-name rule (`domain.text.DisplayName`) as the request schemas state it."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from domain.text import DisplayName


def display_name_field(rule: DisplayName, *examples: str) -> Any:
    """The bounds of `rule` in the schema (checked by pydantic on the raw input); the domain
    then applies the whole rule, counting characters after cleaning."""
    return Field(min_length=1, max_length=rule.max_length, examples=list(examples) or None)
