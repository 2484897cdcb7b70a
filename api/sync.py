"""Multi-device sync: the member's feed by cursor over HTTP, and live over a WebSocket."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, WebSocket, WebSocketDisconnect
from pydantic import BaseModel, ConfigDict

from api.dependencies import ParleyDep, UserId, authenticate
from api.problems import QUERY_PROBLEMS, Problem, problem_responses
from domain.errors import NotAMember
from parley.bootstrap import Parley
from projections.live import STREAM, LiveView
from projections.users import USERS

log = logging.getLogger(__name__)
router = APIRouter(tags=["sync"])
TYPING_SECONDS = 6
IDLE_REREAD_SECONDS = 15.0
ROUTING_FIELDS = ("conversation_ids", "audience", "hidden_from")  # never sent to sockets
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

Frames from the client: `{"type": "typing", "conversation_id": "...", "typing": true}` and
`{"type": "ping"}`. After a reconnect, resume with `since` = the last cursor received.""")
def sync(caller: UserId, parley: ParleyDep, since: Since = 0,
         limit: Annotated[int, Query(ge=1, le=500)] = 200) -> SyncPage:
    """Everything relevant to the caller after `since`, oldest first; ask again with `cursor`.

    A device offline for days pages through with no gap and no duplicate.
    """
    assert parley.feed is not None
    return SyncPage(**parley.feed.since(str(caller), since, limit))


@router.post("/v1/conversations/{conversation_id}/typing", status_code=202,
             summary="Announce typing", responses=problem_responses(400, 401, 422, described={
                 404: "no such conversation, or not a member"})
             | {202: {"content": {"application/json": {"example": {"status": "announced"}}}}})
def typing(conversation_id: uuid.UUID, body: Typing, caller: UserId,
           parley: ParleyDep) -> dict[str, str]:
    """Tell the other members' live sockets that the caller is (no longer) typing."""
    announce_typing(parley, str(conversation_id), str(caller), body.typing)
    return {"status": "announced"}


def announce_typing(parley: Parley, conversation_id: str, user_id: str, is_typing: bool) -> None:
    """Ephemeral: never stored; expires on its own after a few seconds."""
    assert parley.messaging is not None
    parley.messaging.membership(conversation_id, user_id)
    expires = datetime.now(UTC) + timedelta(seconds=TYPING_SECONDS)
    assert parley.presence_audience is not None
    parley.live.publish({"type": "typing", "conversation_id": conversation_id,
                         "user_id": user_id, "typing": is_typing,
                         "expires_at": expires.isoformat(),
                         "hidden_from": parley.presence_audience.typing_hidden_from(user_id)})


@router.get("/v1/presence/{user_id}", response_model=Presence,
            summary="Online now, or last seen", responses=problem_responses(401, 422, described={
                404: "no such person among your conversations"}))
def presence(user_id: uuid.UUID, caller: UserId, parley: ParleyDep) -> Presence:
    """Online now, or when last seen; only for people who share a conversation with the caller.

    Someone who shows their presence to nobody, or only to contacts, or who blocked the caller
    (or was blocked), looks the same as someone never seen: offline, no last seen.
    """
    assert parley.messaging is not None and parley.presence_audience is not None
    if not parley.messaging.share_a_conversation(str(caller), str(user_id)):
        raise Problem(404, "Not found", "no such person among your conversations")
    if not parley.presence_audience.may_see(str(caller), str(user_id)):
        return Presence(user_id=user_id, online=False)
    seen = parley.presence.seen(str(user_id), datetime.now(UTC))
    return Presence(user_id=user_id, **(seen or {"online": False}))


def announce_presence(parley: Parley, user_id: str, socket_id: str, online: bool) -> None:
    """Record it, and tell the sockets of everyone who may see it (see `PresenceAudience`)."""
    assert parley.presence_audience is not None
    now = datetime.now(UTC)
    parley.presence.record(user_id, socket_id, online, now)
    audience = parley.presence_audience.audience(user_id)
    if audience:
        parley.live.publish({"type": "presence", "user_id": user_id, "online": online,
                             "last_seen": now.isoformat(), "audience": audience})


@router.websocket("/v1/live")
async def live(websocket: WebSocket, since: Since = 0, token: str | None = None) -> None:
    """The feed, live: sends `changes` frames from `since` on, and `typing` frames.

    Authenticate with `Authorization: Bearer` or `?token=`. Send `{"type": "typing",
    "conversation_id": ..., "typing": true}` to announce typing.
    """
    parley: Parley = websocket.app.state.parley
    bearer = token or websocket.headers.get("authorization", "").removeprefix("Bearer ").strip()
    try:
        session = await asyncio.to_thread(authenticate, parley, bearer)
    except Problem:
        await websocket.close(code=1008, reason="unauthorized")
        return
    await websocket.accept()
    user_id, socket_id = str(session.user_id), uuid.uuid4().hex
    # a socket opened just after signing in: let the caller's own records land first
    await asyncio.to_thread(parley.gate.wait, session.issued_at_position, [USERS])
    stream = LiveFeed(parley, websocket, user_id, since, socket_id)
    queue = parley.live.subscribe()
    try:
        await asyncio.to_thread(announce_presence, parley, user_id, socket_id, True)
        await stream.run(queue)
    except WebSocketDisconnect:
        pass
    except Exception as error:  # noqa: BLE001 - the socket ends with a reason, not a drop
        log.error("live socket failed: %s", type(error).__name__)  # no payloads in logs
        with contextlib.suppress(Exception):
            await websocket.close(code=1011, reason="internal error; reconnect with your cursor")
    finally:
        parley.live.unsubscribe(queue)
        await asyncio.to_thread(announce_presence, parley, user_id, socket_id, False)


class LiveFeed:
    """One socket: catches up from its cursor, then follows the stream in memory (`LiveView`),
    re-reading its feed only when it missed part of the stream."""

    def __init__(self, parley: Parley, websocket: WebSocket, user_id: str, cursor: int,
                 socket_id: str) -> None:
        self.parley, self.websocket, self.user_id = parley, websocket, user_id
        self.view = LiveView(user_id, cursor)
        self.socket_id = socket_id
        self.following = False  # whether the view is at the head of the stream

    async def catch_up(self) -> None:
        """From the read models up to where they are, then on along the stream this process
        heard recently, to its head."""
        assert self.parley.feed is not None
        while True:
            cursor = self.view.cursor
            page = await asyncio.to_thread(self.parley.feed.since, self.user_id, cursor, 200)
            self.view.conversations = set(page.pop("conversation_ids", ()))
            self.view.blocked = set(page.pop("blocked", ()))
            self.view.cursor = page["cursor"]
            if page["changes"]:
                await self.websocket.send_json({"type": "changes", **page})
            if page["cursor"] == cursor or not page["changes"]:
                break
        recent = self.parley.live.recent_stream()
        self.view.reapply_blocks(recent)
        self.following = True
        for notification in recent:
            if notification["position"] > self.view.cursor and not await self.follow(
                    notification):
                self.following = False  # wait until the read models reach the stream
                return

    async def follow(self, notification: dict[str, Any]) -> bool:
        """Sends what a stream notification holds for the member; False if it does not
        continue from the cursor."""
        shown = self.view.follow(notification)
        if shown is None:
            return False
        if shown:
            await self.websocket.send_json(
                {"type": "changes", "changes": shown, "cursor": self.view.cursor})
        return True

    def concerns(self, notification: dict[str, Any]) -> bool:
        if notification.get("type") == "typing":
            return (notification["conversation_id"] in self.view.conversations
                    and notification["user_id"] != self.user_id
                    and self.user_id not in notification.get("hidden_from", ()))
        if notification.get("type") == "presence":
            return self.user_id in notification.get("audience", ())
        return False

    async def hear(self, notification: dict[str, Any]) -> None:
        kind = notification.get("type")
        if kind == STREAM:
            if self.following and not await self.follow(notification):
                self.following = False  # something was missed: re-read when models land
        elif kind == "changes":
            if notification["position"] > self.view.cursor and (
                    not self.following or self.user_id in notification.get("user_ids", ())
                    or self.view.conversations & set(notification["conversation_ids"])):
                await self.catch_up()
        elif self.concerns(notification):
            await self.websocket.send_json(
                {k: v for k, v in notification.items() if k not in ROUTING_FIELDS})

    async def run(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        await self.catch_up()
        receiving = asyncio.ensure_future(self.websocket.receive_json())
        try:
            while True:
                waiting = asyncio.ensure_future(queue.get())
                done, _ = await asyncio.wait({receiving, waiting}, timeout=IDLE_REREAD_SECONDS,
                                             return_when=asyncio.FIRST_COMPLETED)
                if receiving in done:
                    waiting.cancel()
                    await self.handle_client(receiving.result())
                    receiving = asyncio.ensure_future(self.websocket.receive_json())
                elif waiting in done:
                    await self.hear(waiting.result())
                else:
                    waiting.cancel()
                    await self.catch_up()  # a lost wake-up costs at most this long
                    await asyncio.to_thread(self.parley.presence.record, self.user_id,
                                            self.socket_id, True, datetime.now(UTC))
        finally:
            receiving.cancel()
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect):
                await receiving

    async def handle_client(self, frame: Any) -> None:
        if not isinstance(frame, dict) or frame.get("type") not in ("typing", "ping"):
            await self.websocket.send_json({"type": "error", "detail": "unknown frame"})
            return
        if frame["type"] == "ping":
            await self.websocket.send_json({"type": "pong", "cursor": self.view.cursor})
            return
        try:
            await asyncio.to_thread(announce_typing, self.parley,
                                    str(uuid.UUID(str(frame.get("conversation_id")))),
                                    self.user_id, bool(frame.get("typing", True)))
        except (ValueError, NotAMember):
            await self.websocket.send_json({"type": "error", "detail": "no such conversation"})
