"""Each context answers its commands' typed results with one status and body, in one place."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from fastapi import Response

from api.http.answers import Answer
from api.identity.answers import IDENTITY_ANSWERS
from api.messaging.answers import MESSAGING_ANSWERS, reply
from api.messaging.messages import MessageSentResponse
from commands.identity.contacts import BlockRecorded, FriendshipRequested
from commands.messaging.conversations import DirectConversationOpened, MessageAccepted
from commands.messaging.groups import GroupChanged
from event_log.idempotency import RecordedAnswer
from event_log.outcomes import Outcome

ADA, BOB = uuid.uuid4(), uuid.uuid4()


def a_group(new: bool) -> GroupChanged:
    return GroupChanged(uuid.uuid4(), "group", "Book club", (ADA, BOB), ADA, (), "", (), new)


def test_a_sent_message_is_answered_201_with_its_id_seq_and_time() -> None:
    sent = MessageAccepted(uuid.uuid4(), uuid.uuid4(), 3, datetime.now(UTC))
    response = Response()
    answered = reply(response, Outcome(sent, position=41), MessageSentResponse)
    assert response.status_code == 201
    assert answered == MessageSentResponse(message_id=sent.message_id,
                                           conversation_id=sent.conversation_id, seq=3,
                                           sent_at=sent.sent_at, position=41)


@pytest.mark.parametrize(("new", "status"), [(True, 201), (False, 200)])
def test_what_a_command_created_is_201_and_what_already_existed_is_200(new: bool,
                                                                       status: int) -> None:
    opened = DirectConversationOpened(uuid.uuid4(), "direct", "", (ADA, BOB), new)
    assert MESSAGING_ANSWERS.answer(opened).status == status
    assert MESSAGING_ANSWERS.answer(a_group(new)).status == status
    assert IDENTITY_ANSWERS.answer(FriendshipRequested(BOB, "outgoing", new)).status == status
    assert IDENTITY_ANSWERS.answer(BlockRecorded(BOB, new)).status == status


def test_an_answer_recorded_before_results_were_typed_is_answered_as_recorded() -> None:
    body = {"message_id": str(uuid.uuid4()), "conversation_id": str(uuid.uuid4()), "seq": 1,
            "sent_at": "2026-12-01T23:36:55.789954+00:00"}
    response = Response()
    answered = reply(response, Outcome(RecordedAnswer(201, body), position=9, replayed=True),
                     MessageSentResponse)
    assert response.status_code == 201
    assert answered == MessageSentResponse(**body, position=9)
    assert IDENTITY_ANSWERS.answer(RecordedAnswer(200, {"x": 1})) == Answer(200, {"x": 1})


def test_a_result_no_context_answers_is_an_error_not_a_default_status() -> None:
    with pytest.raises(TypeError, match="no HTTP answer for BlockRecorded"):
        MESSAGING_ANSWERS.answer(BlockRecorded(BOB, True))
