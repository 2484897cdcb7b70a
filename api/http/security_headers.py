"""Headers every answer carries, unless its route set its own.

- `X-Content-Type-Options: nosniff`: a browser never guesses a type other than the declared one.
- `Cache-Control: no-store`: answers are per-caller (and some carry tokens); no cache keeps them.
- `Content-Security-Policy`: an API answer is data, never a page that may load anything.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

DEFAULTS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"cache-control", b"no-store"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
)


class SecurityHeaders:
    """ASGI middleware adding `DEFAULTS` to every HTTP answer that lacks them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def adding_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                headers += [(k, v) for k, v in DEFAULTS if k not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, adding_send)
