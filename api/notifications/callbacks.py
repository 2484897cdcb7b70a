"""Provider callbacks: SMS status reports (Twilio's status callbacks, Vonage's delivery receipts)
come back here, are verified, and become `RecordDeliveryReceipt` commands.

The URL a delivery gave its provider names the notification and the attempt
(`sms_status_callback_url`); the signature is checked against Parley's public base URL and that
path and query, never against the Host header a caller could forge. Whoever cannot show a valid
signature gets the same 403 whether the provider exists or not.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Final
from urllib.parse import parse_qsl

from fastapi import APIRouter, Path, Query, Request, Response

from api.http.dependencies import CommandContext, CorrelationId, Writer
from api.http.problems import Problem, Responses, problem_responses
from api.notifications.dependencies import SmsCallbacksDep
from api.notifications.sms_reports import (
    CALLBACK_PREFIX,
    UnknownSmsStatus,
    sms_callback_path,
    sms_status_callback_url,
)
from commands.notifications.receipts import RecordDeliveryReceipt

# Provider callbacks have no user: the events they cause name this actor.
__all__ = ["CALLBACK_PREFIX", "PROVIDER_CALLBACK_ACTOR", "callbacks", "sms_status_callback_url"]

PROVIDER_CALLBACK_ACTOR: Final = uuid.UUID("7d0b3c52-9a63-5f1e-8c47-3b1f0e6a2d90")
FORM: Final = "application/x-www-form-urlencoded"

callbacks = APIRouter(prefix="/v1/notifications/callbacks", tags=["notifications"])

REFUSED = "the callback's signature is missing or not valid"
TWILIO_EXAMPLE = ("MessageSid=SM1f0e6a2d903b1f0e6a2d903b1f0e6a2d&MessageStatus=delivered"
                  "&AccountSid=AC3b1f0e6a2d903b1f0e6a2d903b1f0e6a&ApiVersion=2010-04-01")
VONAGE_EXAMPLE = {"messageId": "0A0000000123ABCD1", "status": "delivered", "err-code": "0",
                  "client-ref": "6f1c2a7e-0d4b-4c1e-9a55-2b7e8f3d9c10",
                  "timestamp": "1764645600", "nonce": "a1b2c3", "sig": "9f86d08..."}
ANSWERED: Responses = {204: {"description": "Verified; recorded (or nothing to record)"}}


@callbacks.post(
    "/sms/{provider}", status_code=204, response_class=Response,
    summary="An SMS provider's status report on one message (signed by the provider)",
    description="Twilio's status callbacks (form fields, `X-Twilio-Signature`) and Vonage's "
    "delivery receipts (form fields or JSON with `sig`, `timestamp` within 5 minutes) for the "
    "notification and attempt named in the query, as Parley gave the URL to the provider. "
    "Answers 204 at once; a status of no consequence (`queued`) records nothing.",
    openapi_extra={"requestBody": {"required": True, "content": {
        FORM: {"schema": {"type": "object", "additionalProperties": {"type": "string"}},
               "example": dict(parse_qsl(TWILIO_EXAMPLE))},
        "application/json": {"schema": {"type": "object"}, "example": VONAGE_EXAMPLE}}}},
    responses=ANSWERED | problem_responses(422, 503, described={403: REFUSED}),
)
async def sms_status_callback(
    request: Request, response: Response, sms: SmsCallbacksDep, writer: Writer,
    correlation: CorrelationId,
    provider: Annotated[str, Path(max_length=64, description="The provider's configured name")],
    notification: Annotated[uuid.UUID, Query(description="The notification reported on")],
    attempt: Annotated[uuid.UUID, Query(description="Its delivery attempt")],
) -> None:
    fields = await callback_fields(request)
    verify = sms.verifiers.get(provider)
    url = sms.public_url.rstrip("/") + sms_callback_path(provider)
    query = request.scope.get("query_string", b"").decode("latin-1")
    now = datetime.now(UTC)
    try:
        report = verify(f"{url}?{query}" if query else url, fields, request.headers, now) \
            if verify is not None else None
    except UnknownSmsStatus as error:
        raise Problem(422, "Invalid request", "not a status this provider reports") from error
    if report is None or (report.attempt_reference is not None
                          and report.attempt_reference != str(attempt)):
        raise Problem(403, "Forbidden", REFUSED)
    if not report.provider_message_id:
        raise Problem(422, "Invalid request", "the report names no message")
    if report.status is None:
        return
    command = RecordDeliveryReceipt(notification, attempt, provider, report.provider_message_id,
                                    report.status, now, report.code)
    context = CommandContext(writer, request, response, PROVIDER_CALLBACK_ACTOR, correlation,
                             None)
    await context.submit(command, {})


async def callback_fields(request: Request) -> Mapping[str, str]:
    """The callback's parameters: form-encoded (blank values kept: they are signed too) or a
    JSON object of scalars (Vonage's POST-JSON receipts)."""
    body = await request.body()
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        if media_type == FORM:
            pairs = parse_qsl(body.decode(), keep_blank_values=True, strict_parsing=bool(body))
            if len({name for name, _ in pairs}) < len(pairs):
                return {}  # a repeated name is nothing either provider sends: it verifies not
            return dict(pairs)
        parsed = json.loads(body or b"{}")
    except (UnicodeDecodeError, ValueError, RecursionError) as error:  # [[[[... nested deep
        raise Problem(400, "Bad request", "the body is not a form or a JSON object") from error
    if not isinstance(parsed, dict) or any(isinstance(v, dict | list) for v in parsed.values()):
        raise Problem(400, "Bad request", "the body is not a form or a JSON object")
    return {str(name): value if isinstance(value, str) else json.dumps(value)
            for name, value in parsed.items()}
