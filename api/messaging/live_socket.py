"""One live socket: whom it speaks for and until when, the frames it takes, the feed it follows.

A socket holds while its device is in force and its access token is valid. It closes with 1008
when the stream announces its device revoked (signed out, revoked, or retired), when a periodic
re-check finds it so (a lost announcement costs at most `DEVICE_RECHECK_SECONDS`), and when the
token expires, unless the client sent `{"type": "authenticate", "token": ...}` with a fresh
token before then. Client frames are small JSON objects: a bigger one closes the socket with
1009; one that is not JSON, or binary, is answered with an `error` frame and the socket goes on.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from fastapi import WebSocket, WebSocketDisconnect

from api.http.dependencies import AccessTokens, Session, authenticate, device_in_force
from api.http.problems import Problem
from api.http.rate_limits import RateLimiter
from domain.messaging.errors import NotAMember
from projections.identity.presence import PresenceAudience, PresenceStore
from projections.messaging.feed import FEED, FeedQueries
from projections.messaging.live import ADDRESSED, STREAM, LiveUpdates, LiveView, frames_for
from projections.messaging.queries import MessagingQueries
from projections.read_model.consistency import ConsistencyGate

TYPING_SECONDS = 6
IDLE_REREAD_SECONDS = 15.0
DEVICE_RECHECK_SECONDS = 15.0
POLICY_VIOLATION, MESSAGE_TOO_BIG, TRY_AGAIN_LATER = 1008, 1009, 1013
ROUTING_FIELDS = ("conversation_ids", "audience", "hidden_from")  # never sent to sockets
CLIENT_FRAMES = ("typing", "ping", "authenticate")


@dataclass(frozen=True)
class LiveParts:
    """What live sockets, typing and presence use (given by api/messaging/dependencies.py)."""

    tokens: AccessTokens
    gate: ConsistencyGate
    messaging: MessagingQueries
    feed: FeedQueries
    live: LiveUpdates
    presence: PresenceStore
    presence_audience: PresenceAudience
    typing_limiter: RateLimiter
    log_head: Callable[[], int | None]  # the event log's last position
    max_frame_bytes: int
    max_sockets_per_user: int


def typing_allowed(parts: LiveParts, user_id: str) -> bool:
    """Typing indicators are throttled per person (PARLEY_TYPING_RATE_PER_SECOND), over HTTP
    and sockets alike."""
    return parts.typing_limiter.acquire(
        f"typing:{user_id}") == 0


def announce_typing(parts: LiveParts, conversation_id: str, user_id: str, is_typing: bool) -> None:
    """Ephemeral: never stored; expires on its own after a few seconds."""
    parts.messaging.membership(conversation_id, user_id)
    expires = datetime.now(UTC) + timedelta(seconds=TYPING_SECONDS)
    parts.live.publish({"type": "typing", "conversation_id": conversation_id,
                         "user_id": user_id, "typing": is_typing,
                         "expires_at": expires.isoformat(),
                         "hidden_from": parts.presence_audience.typing_hidden_from(user_id)})


class SocketClosed(Exception):
    """Ends a socket with a close code and a reason the client can act on."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code, self.reason = code, reason


@dataclass
class SocketSession:
    """The session a socket speaks for, and when its token stops being accepted."""

    session: Session
    expires_at: float  # seconds since the epoch

    @classmethod
    def of(cls, parts: LiveParts, token: str) -> SocketSession:
        """Authenticates `token` (raises `Problem`), then reads its lifetime."""
        session = authenticate(parts.tokens, token)
        claims = jwt.decode(token, options={"verify_signature": False})  # verified just now
        lifetime = parts.tokens.ttl_seconds
        expires_at = min(float(claims["exp"]), float(claims.get("iat", claims["exp"])) + lifetime)
        return cls(session, expires_at)


def client_frame(message: Mapping[str, Any], max_bytes: int) -> dict[str, Any] | str:
    """A client's frame as a JSON object, or what is wrong with it (answered, not fatal);
    raises `SocketClosed` (1009) for a frame over `max_bytes`."""
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code") or 1000)
    text, data = message.get("text"), message.get("bytes")
    size = len(text.encode()) if text is not None else len(data or b"")
    if size > max_bytes:
        raise SocketClosed(MESSAGE_TOO_BIG, f"frame too large: at most {max_bytes} bytes")
    if text is None:
        return "frames are JSON text, not binary"
    try:
        frame = json.loads(text)
    except (ValueError, RecursionError):
        return "not a JSON frame"
    if not isinstance(frame, dict) or frame.get("type") not in CLIENT_FRAMES:
        return "unknown frame"
    return frame


class LiveFeed:
    """One socket: catches up from its cursor, then follows the stream in memory (`LiveView`),
    re-reading its feed only when it missed part of the stream."""

    def __init__(self, parts: LiveParts, websocket: WebSocket, standing: SocketSession,
                 cursor: int, socket_id: str) -> None:
        self.parts, self.websocket, self.standing = parts, websocket, standing
        self.user_id = str(standing.session.user_id)
        self.view = LiveView(self.user_id, cursor)
        self.socket_id = socket_id
        self.following = False  # whether the view is at the head of the stream
        now = time.monotonic()
        self.next_reread, self.next_device_check = (now + IDLE_REREAD_SECONDS,
                                                    now + DEVICE_RECHECK_SECONDS)

    async def reach_the_log(self) -> None:
        """Before the first read: the feed's read model reaches the log as it stands now
        (bounded by PARLEY_CONSISTENCY_WAIT_SECONDS). It lags the log, and an edit or unsend
        it has not reached yet has scrubbed nothing: a socket opened just after one would be
        sent the text taken back. Past the bound it closes with 1013, to retry later."""
        head = await asyncio.to_thread(self.parts.log_head)
        if not await asyncio.to_thread(self.parts.gate.wait, head or 0, [FEED]):
            raise SocketClosed(TRY_AGAIN_LATER, "the feed is catching up; reconnect with your "
                                                "cursor")

    async def catch_up(self) -> None:
        """From the read models up to where they are, then on along the stream this process
        heard recently, to its head."""
        while True:
            cursor = self.view.cursor
            page = await asyncio.to_thread(self.parts.feed.since, self.user_id, cursor, 200)
            self.view.conversations = set(page.pop("conversation_ids", ()))
            self.view.blocked = set(page.pop("blocked", ()))
            self.view.cursor = page["cursor"]
            if page["changes"]:
                await self.websocket.send_json({"type": "changes", **page})
            if page["cursor"] == cursor or not page["changes"]:
                break
        recent = self.parts.live.recent_stream()
        device_id = str(self.standing.session.device_id)
        if any(device_id in n.get("revoked_devices", ()) for n in recent):
            raise SocketClosed(POLICY_VIOLATION, "this device was signed out")  # just now
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
            if str(self.standing.session.device_id) in notification.get("revoked_devices", ()):
                raise SocketClosed(POLICY_VIOLATION, "this device was signed out")
            if self.following and not await self.follow(notification):
                self.following = False  # something was missed: re-read when models land
        elif kind == "changes":
            if notification["position"] > self.view.cursor and (
                    not self.following or self.user_id in notification.get("user_ids", ())
                    or self.view.conversations & set(notification["conversation_ids"])):
                await self.catch_up()
        elif kind == ADDRESSED:
            for frame in frames_for(notification, self.user_id):
                await self.websocket.send_json(frame)
        elif self.concerns(notification):
            await self.websocket.send_json(
                {k: v for k, v in notification.items() if k not in ROUTING_FIELDS})

    def _until_next_duty(self) -> float:
        now = time.monotonic()
        return max(0.0, min(self.next_reread - now, self.next_device_check - now,
                            self.standing.expires_at - time.time()))

    async def _duties(self) -> None:
        """What is due whatever the traffic: the token's end, the device check, the re-read
        that bounds a lost wake-up, the presence lease."""
        if time.time() >= self.standing.expires_at:
            raise SocketClosed(POLICY_VIOLATION, "the token expired; reconnect with a new one "
                                                 "(or send an authenticate frame before it does)")
        now = time.monotonic()
        if now >= self.next_device_check:
            self.next_device_check = now + DEVICE_RECHECK_SECONDS
            session = self.standing.session
            if not await asyncio.to_thread(device_in_force, self.parts.tokens, session,
                                           session.issued_at_position):
                raise SocketClosed(POLICY_VIOLATION, "this device was signed out")
        if now >= self.next_reread:
            self.next_reread = now + IDLE_REREAD_SECONDS
            await self.catch_up()  # a lost wake-up costs at most this long
            await asyncio.to_thread(self.parts.presence.record, self.user_id,
                                    self.socket_id, True, datetime.now(UTC))

    async def run(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        await self.reach_the_log()
        await self.catch_up()
        max_bytes = self.parts.max_frame_bytes
        receiving = asyncio.ensure_future(self.websocket.receive())
        try:
            while True:
                waiting = asyncio.ensure_future(queue.get())
                done, _ = await asyncio.wait({receiving, waiting},
                                             timeout=self._until_next_duty(),
                                             return_when=asyncio.FIRST_COMPLETED)
                if waiting in done:
                    await self.hear(waiting.result())
                else:
                    waiting.cancel()
                if receiving in done:
                    await self.handle_client(client_frame(receiving.result(), max_bytes))
                    receiving = asyncio.ensure_future(self.websocket.receive())
                await self._duties()
        finally:
            receiving.cancel()

    async def handle_client(self, frame: dict[str, Any] | str) -> None:
        if isinstance(frame, str):
            await self.websocket.send_json({"type": "error", "detail": frame})
        elif frame["type"] == "ping":
            await self.websocket.send_json({"type": "pong", "cursor": self.view.cursor})
        elif frame["type"] == "authenticate":
            await self.authenticate(frame.get("token"))
        else:
            await self.typing(frame)

    async def authenticate(self, token: Any) -> None:
        """A fresh token of the same person keeps the socket open past the old one's end."""
        try:
            standing = await asyncio.to_thread(SocketSession.of, self.parts, str(token or ""))
        except Problem:
            await self.websocket.send_json(
                {"type": "error", "detail": "the token is invalid or expired"})
            return
        if str(standing.session.user_id) != self.user_id:
            await self.websocket.send_json(
                {"type": "error", "detail": "the token is someone else's"})
            return
        self.standing = standing
        expires_at = datetime.fromtimestamp(standing.expires_at, UTC).isoformat()
        await self.websocket.send_json({"type": "authenticated", "expires_at": expires_at})

    async def typing(self, frame: dict[str, Any]) -> None:
        if not await asyncio.to_thread(typing_allowed, self.parts, self.user_id):
            await self.websocket.send_json(
                {"type": "error", "detail": "typing announced too often; slow down"})
            return
        try:
            await asyncio.to_thread(announce_typing, self.parts,
                                    str(uuid.UUID(str(frame.get("conversation_id")))),
                                    self.user_id, bool(frame.get("typing", True)))
        except (ValueError, NotAMember):
            await self.websocket.send_json({"type": "error", "detail": "no such conversation"})
