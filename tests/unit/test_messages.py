"""The message aggregate's rules."""

from __future__ import annotations

import uuid

import pytest

from domain.messaging.errors import TooManyEdits
from domain.messaging.messages import Message
from tests.builders import a_cause, now


def test_a_message_refuses_edits_beyond_its_limit() -> None:
    ada = uuid.uuid4()
    message = Message.post(uuid.uuid4(), uuid.uuid4(), ada, 1, a_cause(ada))
    assert [message.edit(ada, f"v{n}", now(), a_cause(ada), max_edits=2) for n in (2, 3)] == [2, 3]
    with pytest.raises(TooManyEdits):
        message.edit(ada, "v4", now(), a_cause(ada), max_edits=2)
    assert message.edit_count == 2
