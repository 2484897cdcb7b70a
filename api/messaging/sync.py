"""Multi-device sync: the member's feed by cursor over HTTP, and live over a WebSocket."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, WebSocket, WebSocketDisconnect
from pydantic import BaseModel, ConfigDict

from api.http.dependencies import (
    ConsistencyPosition,
    CurrentSession,
    Gate,
    UserId,
    wait_for,
)
from api.http.problems import QUERY_PROBLEMS, Problem, problem_responses
from api.http.rate_limits import enforce
from api.messaging.dependencies import Feed, LivePartsDep
from api.messaging.live_socket import (
    POLICY_VIOLATION,
    LiveFeed,
    LiveParts,
    SocketClosed,
    SocketSession,
    announce_typing,
)
from projections.identity.users import USERS
from projections.messaging.feed import FEED

log = logging.getLogger(__name__)
router = APIRouter(tags=["sync"])
Since = Annotated[int, Query(ge=0, le=2**62, description="The cursor of the last page seen")]


class Change(BaseModel):
    change_id: str
    conversation_id: uuid.UUID
    position: int
    kind: str
    at: datetime
    data: dict[str, Any]


class SyncPage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"changes": [{
        "change_id": "1204", "conversation_id": "82fa4e3d-4c47-4bbd-b2ec-79c134d82cad",
        "position": 1204, "kind": "message_sent", "at": "2026-11-26T09:30:12.503Z",
        "data": {"message_id": "cb2da26c-c747-4438-b574-a85c8057760c",
                 "sender_id": "6f015539-d6dd-56d1-8b06-085951fe835a", "seq": 42,
                 "text": "Next book: @bob picks", "sent_at": "2026-11-26T09:30:12.481000+00:00",
                 "reply_to": None, "forwarded_from": None,
                 "mention_ids": ["a43240e6-dc52-5a92-a031-6851e4c908ef"], "attachments": []}},
        {"change_id": "1240", "conversation_id": "82fa4e3d-4c47-4bbd-b2ec-79c134d82cad",
         "position": 1240, "kind": "reaction_added", "at": "2026-11-26T09:32:40.017Z",
         "data": {"user_id": "a43240e6-dc52-5a92-a031-6851e4c908ef", "emoji": "👍"}},
        {"change_id": "1251", "conversation_id": "82fa4e3d-4c47-4bbd-b2ec-79c134d82cad",
         "position": 1251, "kind": "delivered", "at": "2026-11-26T09:33:02.220Z",
         "data": {"user_id": "a43240e6-dc52-5a92-a031-6851e4c908ef", "seq": 42}}],
        "cursor": 1251}]})

    changes: list[Change]
    cursor: int


class Typing(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"typing": True}]})

    typing: bool = True


class Presence(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"user_id": "a43240e6-dc52-5a92-a031-6851e4c908ef", "online": False,
         "last_seen": "2026-11-26T09:12:03.118Z"}]})

    user_id: uuid.UUID
    online: bool
    last_seen: datetime | None = None


@router.get(
    "/v1/sync", response_model=SyncPage, summary="Catch up on the caller's feed",
    responses=problem_responses(*QUERY_PROBLEMS),
    description="""Everything relevant to the caller after `since`, oldest first; ask again
with `cursor`. A device offline for days pages through with no gap and no duplicate.
A `delivered` change carries `device_id` only when the device is one of the caller's own;
another member's says who received and up to which `seq`, never on which device.

**Live: `WS /v1/live?since=CURSOR`** streams the same feed. Authenticate with
`Authorization: Bearer <token>` or `?token=`; a bad token closes the socket with code 1008.

Frames from the server (JSON text):
- `{"type": "changes", "changes": [...], "cursor": 1240}`: the same changes as this page,
  from `since` on, then as they happen;
- `{"type": "typing", "conversation_id": "...", "user_id": "...", "typing": true,
  "expires_at": "2026-11-26T09:30:18Z"}` (ephemeral, never stored);
- `{"type": "presence", "user_id": "...", "online": false, "last_seen": "..."}`;
- `{"type": "pong", "cursor": 1240}` and `{"type": "error", "detail": "unknown frame"}`.

Frames from the client (JSON text, at most `PARLEY_MAX_FRAME_BYTES`, 4 KiB by default):
`{"type": "typing", "conversation_id": "...", "typing": true}` (at most
`PARLEY_TYPING_RATE_PER_SECOND` per person, over sockets and HTTP together; beyond, an
`error` frame), `{"type": "ping"}`, and `{"type": "authenticate", "token": "<access token>"}`,
which a client sends with a fresh access token of the same person before the current one
expires (answered `{"type": "authenticated", "expires_at": "..."}`; a bad one gets an `error`
frame). After a reconnect, resume with `since` = the last cursor received.

Close codes: **1008** for a bad token at the handshake, a token that expired without an
`authenticate` frame, a device signed out or revoked (within 15 s; at once when the stream
announces it), and more than `PARLEY_MAX_SOCKETS_PER_USER` sockets of one person open at
once (counted across API processes in production); **1009** for a client frame over the size
limit; **1011** for a server fault, and **1013** when the feed's read model has not reached
the log as it stood at opening within `PARLEY_CONSISTENCY_WAIT_SECONDS` (reconnect with your
cursor). A frame that is not JSON, is
binary or is not one of the above is answered with an `error` frame; the socket stays open.""")
def sync(session: CurrentSession, gate: Gate, feed: Feed, since: Since = 0,
         limit: Annotated[int, Query(ge=1, le=500)] = 200,
         position: ConsistencyPosition = None) -> SyncPage:
    """Everything relevant to the caller after `since`, oldest first; ask again with `cursor`.

    A device offline for days pages through with no gap and no duplicate. The feed is never
    older than the device's sign-in: a device signed in after an unsend or an edit never reads
    the text taken back, however far the read models lag.
    """
    wait_for(gate, max(position or 0, session.issued_at_position), [FEED])
    return SyncPage(**feed.since(str(session.user_id), since, limit))


@router.post("/v1/conversations/{conversation_id}/typing", status_code=202,
             summary="Announce typing", responses=problem_responses(400, 401, 422, described={
                 404: "no such conversation, or not a member",
                 429: "typing announced too often (PARLEY_TYPING_RATE_PER_SECOND)"})
             | {202: {"content": {"application/json": {"example": {"status": "announced"}}}}})
def typing(conversation_id: uuid.UUID, body: Typing, caller: UserId,
           parts: LivePartsDep) -> dict[str, str]:
    """Tell the other members' live sockets that the caller is (no longer) typing."""
    enforce(parts.typing_limiter, f"typing:{caller}")
    announce_typing(parts, str(conversation_id), str(caller), body.typing)
    return {"status": "announced"}


@router.get("/v1/presence/{user_id}", response_model=Presence,
            summary="Online now, or last seen", responses=problem_responses(401, 422, described={
                404: "no such person among your conversations"}))
def presence(user_id: uuid.UUID, caller: UserId, parts: LivePartsDep) -> Presence:
    """Online now, or when last seen; only for people who share a conversation with the caller.

    Someone who shows their presence to nobody, or only to contacts, or who blocked the caller
    (or was blocked), looks the same as someone never seen: offline, no last seen.
    """
    if not parts.messaging.share_a_conversation(str(caller), str(user_id)):
        raise Problem(404, "Not found", "no such person among your conversations")
    if not parts.presence_audience.may_see(str(caller), str(user_id)):
        return Presence(user_id=user_id, online=False)
    seen = parts.presence.seen(str(user_id), datetime.now(UTC))
    return Presence(user_id=user_id, **(seen or {"online": False}))


def announce_presence(parts: LiveParts, user_id: str, socket_id: str, online: bool) -> None:
    """Record it, and tell the sockets of everyone who may see it (see `PresenceAudience`)."""
    now = datetime.now(UTC)
    parts.presence.record(user_id, socket_id, online, now)
    audience = parts.presence_audience.audience(user_id)
    if audience:
        parts.live.publish({"type": "presence", "user_id": user_id, "online": online,
                             "last_seen": now.isoformat(), "audience": audience})


@router.websocket("/v1/live")
async def live(websocket: WebSocket, parts: LivePartsDep, since: Since = 0,
               token: str | None = None) -> None:
    """The feed, live: sends `changes` frames from `since` on, and `typing` frames.

    Authenticate with `Authorization: Bearer` or `?token=`; the frames are described on
    `GET /v1/sync`.
    """
    bearer = token or websocket.headers.get("authorization", "").removeprefix("Bearer ").strip()
    # the token is checked and the place taken before the handshake completes: a client whose
    # socket opened holds its place, so sockets opened one after another (on any process) are
    # admitted in that order, however long a just-signed-in device takes to reach the read model
    try:
        standing: SocketSession | None = await asyncio.to_thread(SocketSession.of, parts, bearer)
    except Problem:
        standing = None
    user_id = str(standing.session.user_id) if standing is not None else ""
    socket_id, limit = uuid.uuid4().hex, parts.max_sockets_per_user
    admitted = standing is not None and await asyncio.to_thread(
        parts.presence.admit, user_id, socket_id, datetime.now(UTC), limit)
    try:
        await websocket.accept()  # so that a refusal is a close code and a reason, as documented
    except Exception:
        if admitted:  # the client left during the handshake: its place is free again
            await asyncio.to_thread(parts.presence.record, user_id, socket_id, False,
                                    datetime.now(UTC))
        raise
    if standing is None:
        await websocket.close(code=POLICY_VIOLATION, reason="unauthorized: the token is "
                                                            "invalid or expired")
        return
    if not admitted:
        await websocket.close(code=POLICY_VIOLATION,
                              reason=f"too many live sockets: at most {limit} per person")
        return
    # a socket opened just after signing in: let the caller's own records land first
    await asyncio.to_thread(parts.gate.wait, standing.session.issued_at_position, [USERS])
    stream = LiveFeed(parts, websocket, standing, since, socket_id)
    queue = parts.live.subscribe()
    try:
        await asyncio.to_thread(announce_presence, parts, user_id, socket_id, True)
        await stream.run(queue)
    except WebSocketDisconnect:
        pass
    except SocketClosed as closing:
        with contextlib.suppress(Exception):
            await websocket.close(code=closing.code, reason=closing.reason)
    except Exception as error:  # noqa: BLE001 - the socket ends with a reason, not a drop
        log.error("live socket failed: %s", type(error).__name__)  # no payloads in logs
        with contextlib.suppress(Exception):
            await websocket.close(code=1011, reason="internal error; reconnect with your cursor")
    finally:
        parts.live.unsubscribe(queue)
        await asyncio.to_thread(announce_presence, parts, user_id, socket_id, False)
