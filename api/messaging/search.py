"""Full-text search over what the caller can see."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query

from api.http.dependencies import ConsistencyPosition, Gate, UserId, wait_for
from api.http.pagination import Cursor, Limit, decode_cursor, encode_cursor
from api.http.problems import QUERY_PROBLEMS, problem_responses
from api.messaging.dependencies import Messaging
from api.messaging.messages import MESSAGING, MessagePage, MessageView
from projections.messaging.queries import SearchFilters

router = APIRouter(prefix="/v1/search", tags=["search"])


@router.get("/messages", response_model=MessagePage, summary="Search messages",
            responses=problem_responses(400, *QUERY_PROBLEMS))
def search_messages(
    q: Annotated[str, Query(min_length=1, max_length=200, description="Words to find",
                            examples=["next book"])],
    caller: UserId, gate: Gate, messaging: Messaging, limit: Limit = 20, cursor: Cursor = None,
    position: ConsistencyPosition = None,
    conversation_id: uuid.UUID | None = None, sender_id: uuid.UUID | None = None,
    sent_from: Annotated[datetime | None, Query(description="Sent at or after")] = None,
    sent_until: Annotated[datetime | None, Query(description="Sent at or before")] = None,
    has_attachments: bool | None = None,
) -> MessagePage:
    """Messages containing every word of `q`, from the caller's conversations, newest first.

    Optional filters: one conversation, one sender, a date range, with attachments or without.
    """
    wait_for(gate, position, MESSAGING)
    filters = SearchFilters(
        conversation_id=str(conversation_id) if conversation_id else None,
        sender_id=str(sender_id) if sender_id else None,
        sent_from_ms=_millis(sent_from), sent_until_ms=_millis(sent_until),
        has_attachments=has_attachments,
    )
    page = messaging.search(str(caller), q, limit, decode_cursor(cursor), filters)
    return MessagePage(messages=[MessageView(**d) for d in page.documents],
                       next_cursor=encode_cursor(page.next_after))


def _millis(moment: datetime | None) -> int | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)
