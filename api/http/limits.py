"""Requests are refused before parsing when too big (413) or not JSON (415).

Upload routes (raw bytes, e.g. attachments) are named with their own size limit and take any
content type: the route itself decides which types it accepts. Callback routes (named by path
prefix) may also take HTML forms, within the usual size limit, and one-click unsubscribe links
(RFC 8058, which has mail clients POST multipart/form-data or a URL-encoded form) both.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.http.problem_json import PROBLEM_JSON
from api.http.request_ids import current_request_id

BODY_METHODS = {"POST", "PUT", "PATCH"}
FORM = "application/x-www-form-urlencoded"
MULTIPART_FORM = "multipart/form-data"


async def _send_problem(send: Send, status: int, title: str, detail: str) -> None:
    problem = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    request_id = current_request_id.get()
    if request_id is not None:
        problem["request_id"] = request_id
    body = json.dumps(problem).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", PROBLEM_JSON.encode()),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class BodyTooLarge(Exception):
    pass


class RequestLimits:
    """ASGI middleware: a size cap on bodies and JSON-only bodies for commands.

    `uploads` maps the exact paths of upload routes to their own body limit; they alone are
    exempt from the JSON rule and from `max_body_bytes`. Paths under `form_prefixes` (callbacks
    from outside services, which post HTML forms) may also send
    application/x-www-form-urlencoded, within `max_body_bytes`; paths under
    `multipart_prefixes` multipart/form-data as well.
    """

    def __init__(self, app: ASGIApp, max_body_bytes: int,
                 uploads: Mapping[str, int] | None = None,
                 form_prefixes: Sequence[str] = (),
                 multipart_prefixes: Sequence[str] = ()) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.uploads = dict(uploads or {})
        self.form_prefixes = tuple(form_prefixes)
        self.multipart_prefixes = tuple(multipart_prefixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        upload_limit = self.uploads.get(scope["path"])
        limit = self.max_body_bytes if upload_limit is None else upload_limit
        declared = headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _send_problem(send, 413, "Body too large",
                                f"request bodies are limited to {limit} bytes")
            return
        media_type = headers.get("content-type", "").split(";")[0].strip().lower()
        has_body = declared not in (None, "0") or "transfer-encoding" in headers
        path = scope["path"]
        form_allowed = ((media_type == FORM and path.startswith(self.form_prefixes))
                        or (media_type == MULTIPART_FORM
                            and path.startswith(self.multipart_prefixes)))
        if (upload_limit is None and has_body and media_type != "application/json"
                and not media_type.endswith("+json") and not form_allowed):
            await _send_problem(send, 415, "Unsupported media type",
                                "send the body as application/json")
            return
        received = 0
        started = too_large = False

        async def limited_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    too_large = True
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if too_large and not started:
                # whatever the app makes of the interrupted body (FastAPI: a 400 "error
                # parsing the body"), the answer is the 413 below
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except Exception:
            if not too_large:
                raise  # the app's own failure, not the body's size
        if too_large and not started:
            await _send_problem(send, 413, "Body too large",
                                f"request bodies are limited to {limit} bytes")


