"""Read markers only ever move forward."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import InvalidCommand
from domain.messaging.read_markers import ReadMarker
from tests.builders import a_cause


@given(st.lists(st.integers(0, 50), max_size=40))
def test_the_read_position_is_the_highest_ever_marked(marks: list[int]) -> None:
    marker = ReadMarker.start(uuid.uuid4(), uuid.uuid4(), a_cause())
    seen = []
    for seq in marks:
        seen.append(marker.mark_read(seq, 50, a_cause()))
    assert seen == sorted(seen)
    assert marker.read_seq == max(marks, default=0)


def test_a_receipt_beyond_the_last_message_is_refused() -> None:
    marker = ReadMarker.start(uuid.uuid4(), uuid.uuid4(), a_cause())
    with pytest.raises(InvalidCommand):
        marker.mark_read(11, 10, a_cause())


def test_each_device_has_its_own_delivery_position() -> None:
    marker = ReadMarker.start(uuid.uuid4(), uuid.uuid4(), a_cause())
    phone, laptop = uuid.uuid4(), uuid.uuid4()
    marker.mark_delivered(phone, 5, 9, a_cause())
    marker.mark_delivered(laptop, 2, 9, a_cause())
    marker.mark_delivered(phone, 3, 9, a_cause())
    assert marker.delivered == {phone: 5, laptop: 2}
