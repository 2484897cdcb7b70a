"""Full-text search over what the caller can see."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.dependencies import ConsistencyPosition, ParleyDep, UserId, wait_for
from api.messages import MESSAGING, MessagePage, MessageView
from api.pagination import Cursor, Limit, decode_cursor, encode_cursor

router = APIRouter(prefix="/v1/search", tags=["search"])


@router.get("/messages", response_model=MessagePage)
def search_messages(
    q: Annotated[str, Query(min_length=1, max_length=200, description="Words to find")],
    caller: UserId, parley: ParleyDep, limit: Limit = 20, cursor: Cursor = None,
    position: ConsistencyPosition = None,
) -> MessagePage:
    """Messages containing every word of `q`, from the caller's conversations, newest first."""
    wait_for(parley, position, MESSAGING)
    assert parley.messaging is not None
    page = parley.messaging.search(str(caller), q, limit, decode_cursor(cursor))
    return MessagePage(messages=[MessageView(**d) for d in page.documents],
                       next_cursor=encode_cursor(page.next_after))
