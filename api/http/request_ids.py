"""Every request has a correlation id: the client's `X-Request-Id`, or one made here.

The id is recorded on the events the request causes (`parley audit correlation ID` finds
them), echoed in the `X-Request-Id` response header and in every problem+json body. A
malformed incoming id is refused (400) rather than replaced, so the id a client logged is
always the one the server used.
"""

from __future__ import annotations

import json
import uuid
from contextvars import ContextVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = "X-Request-Id"
REQUEST_ID_DESCRIPTION = (
    "The request's correlation id (a UUID). Sent by the client, it is kept; otherwise the "
    "server makes one. Echoed on every response and in problem+json bodies (`request_id`); "
    "a value that is not a UUID is refused with 400.")

# Set once per request by the middleware; each request runs in its own task (its own copy
# of the context), so the value never leaks between requests.
current_request_id: ContextVar[str | None] = ContextVar("current_request_id", default=None)


def request_id_of(scope: Scope) -> uuid.UUID:
    """The request's id, as chosen by `RequestIds` (a fresh one outside it, e.g. in tests)."""
    chosen = scope.get("state", {}).get("request_id")
    return uuid.UUID(chosen) if chosen else uuid.uuid4()


def parse_request_id(raw: str | None) -> str | None:
    """The canonical form of a client's id, or None when it is not a UUID."""
    try:
        return str(uuid.UUID(raw)) if raw is not None else None
    except ValueError:
        return None


class RequestIds:
    """ASGI middleware: choose the request id, refuse a malformed one, echo it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        raw = next((v.decode("latin-1") for k, v in scope["headers"]
                    if k.lower() == b"x-request-id"), None)
        request_id = parse_request_id(raw.strip()) if raw is not None else str(uuid.uuid4())
        if request_id is None:
            if scope["type"] == "http":
                await _refuse(send, str(uuid.uuid4()))
            else:
                await send({"type": "websocket.close", "code": 1008,
                            "reason": "X-Request-Id must be a UUID"})
            return
        current_request_id.set(request_id)
        scope.setdefault("state", {})["request_id"] = request_id
        header = (b"x-request-id", request_id.encode())

        async def echoing_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(k.lower() == b"x-request-id" for k, _ in headers):
                    headers.append(header)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, echoing_send)


async def _refuse(send: Send, request_id: str) -> None:
    body = json.dumps({"type": "about:blank", "title": "Bad request id", "status": 400,
                       "detail": "X-Request-Id must be a UUID", "request_id": request_id}).encode()
    await send({"type": "http.response.start", "status": 400, "headers": [
        (b"content-type", b"application/problem+json"),
        (b"content-length", str(len(body)).encode()),
        (b"x-request-id", request_id.encode())]})
    await send({"type": "http.response.body", "body": body})
