"""Every handler answers a typed result the idempotency receipt can store and read back."""

from __future__ import annotations

import dataclasses
import types
import typing

import pytest

from parley.bootstrap import HANDLERS


def result_types(handler: object) -> tuple[type, ...]:
    returned = typing.get_type_hints(handler)["return"]
    if isinstance(returned, types.UnionType):
        return typing.get_args(returned)
    return (returned,)


@pytest.mark.parametrize("command", sorted(HANDLERS, key=lambda c: c.__qualname__),
                         ids=lambda c: c.__qualname__)
def test_each_handler_answers_frozen_dataclasses(command: type) -> None:
    for result in result_types(HANDLERS[command]):
        assert dataclasses.is_dataclass(result), (command, result)
        assert result.__dataclass_params__.frozen, (command, result)  # type: ignore[attr-defined]
