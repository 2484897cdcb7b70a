"""Texts a handset sends to one of Parley's numbers, as each SMS provider's inbound-message
webhook posts them: STOP (and STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT) withdraws the number's
consent, START (YES, UNSTOP) restores what a STOP withdrew, HELP (INFO) is answered with the
operator's help text; anything else is acknowledged and changes nothing.

`POST /v1/notifications/callbacks/sms/{provider}/inbound`, the URL given to the provider for
the number's incoming messages. The signature is the provider's own, checked with the same
verifier as its status callbacks (api/notifications/callbacks.py), against Parley's public
URL: Twilio's `X-Twilio-Signature` over the URL and the form fields, Vonage's `sig` over the
fields with a `timestamp` within 5 minutes. The verifiers' port says how they answer: None
for a signature that does not hold, `UnknownSmsStatus` for a correctly signed request whose
status is not a delivery report's, which an incoming message (Twilio `SmsStatus=received`,
Vonage no status at all) is. Unsigned or forged: 403, nothing changed, the same answer
whether the provider exists or not.

Answers as the providers take them: Twilio sends the TwiML `<Message>` of the answer to the
handset (the one confirmation carriers require after STOP and START, the help text after
HELP; an empty `<Response/>` otherwise); Vonage takes no reply in the answer, only a 2xx.
A message id seen before is answered again as the first time, with no second effect (its
command is keyed by provider and message id: the writer's receipts). Whether a user has the
number is never looked at: the consent belongs to the number (domain/notifications/
sms_consent.py), so an unknown number is answered as any other.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Final
from xml.sax.saxutils import escape

from fastapi import APIRouter, Path, Request, Response

from api.http.dependencies import CommandContext, CorrelationId, ParleyDep, Writer
from api.http.problems import Problem, Responses, problem_responses
from api.notifications.callbacks import FORM, PROVIDER_CALLBACK_ACTOR, callback_fields
from api.notifications.dependencies import SmsCallbacksDep
from api.notifications.sms_reports import SmsCallbackVerifier, UnknownSmsStatus, sms_callback_path
from commands.notifications.sms_consent import ReceiveSmsReply, SmsReplyTaken
from domain.notifications.sms_consent import (
    HELP_KEYWORDS,
    MAX_MESSAGE_ID_CHARS,
    OPT_IN_KEYWORDS,
    OPT_OUT_KEYWORDS,
    keyword_of,
)

router = APIRouter(prefix="/v1/notifications/callbacks", tags=["notifications"])
TWIML: Final = "text/xml"
REFUSED: Final = "the webhook's signature is missing or not valid"
MAX_TEXT_CHARS: Final = 1600  # Twilio's longest inbound body; a longer one is not a keyword
TWILIO_EXAMPLE: Final = {
    "MessageSid": "SM1f0e6a2d903b1f0e6a2d903b1f0e6a2d", "SmsStatus": "received",
    "AccountSid": "AC3b1f0e6a2d903b1f0e6a2d903b1f0e6a", "From": "+15555550123",
    "To": "+15555550100", "Body": "STOP", "NumMedia": "0", "ApiVersion": "2010-04-01"}
VONAGE_EXAMPLE: Final = {
    "msisdn": "447911123456", "to": "15005550100", "messageId": "0A0000000123ABCD1",
    "text": "STOP", "type": "text", "keyword": "STOP",
    "message-timestamp": "2026-12-02 09:00:00", "timestamp": "1764666000", "nonce": "a1b2c3",
    "sig": "9f86d08..."}
ANSWERED: Responses = {200: {"description": "Verified: TwiML for Twilio (the reply to the "
                                            "handset, or none), an empty body for Vonage",
                             "content": {TWIML: {}}}}


@dataclass(frozen=True)
class SmsReplies:
    """What the handset is answered (the operator's texts: PARLEY_SMS_*_TEXT)."""

    stopped: str
    started: str
    help: str


@dataclass(frozen=True)
class Inbound:
    """An incoming text as either provider posts it; `twilio`: answered in TwiML."""

    message_id: str
    number: str = field(repr=False)
    text: str = field(repr=False)
    twilio: bool = True


def inbound_of(fields: Mapping[str, str]) -> Inbound | None:
    """Twilio's (MessageSid, From, Body) or Vonage's (messageId, msisdn without its `+`,
    text) fields; None for anything else (a status report posted here, say)."""
    if "From" in fields and ("MessageSid" in fields or "SmsSid" in fields):
        message_id = fields.get("MessageSid") or fields["SmsSid"]
        return Inbound(message_id, fields["From"], fields.get("Body", ""), True)
    if "msisdn" in fields and "messageId" in fields:
        digits = fields["msisdn"].lstrip("+")
        return Inbound(fields["messageId"], f"+{digits}", fields.get("text", ""), False)
    return None


def is_e164(number: str) -> bool:
    """`+` and 2 to 15 ASCII digits (a short code or alphanumeric sender is no handset)."""
    digits = number[1:]
    return number.startswith("+") and 2 <= len(digits) <= 15 and digits.isascii() \
        and digits.isdigit()


def signed(verify: SmsCallbackVerifier | None, url: str, fields: Mapping[str, str],
           headers: Mapping[str, str], now: datetime) -> bool:
    """Whether the provider's signature holds (see the module's docstring for why a correctly
    signed incoming message raises UnknownSmsStatus)."""
    if verify is None:
        return False
    try:
        return verify(url, fields, headers, now) is not None
    except UnknownSmsStatus:
        return True


def replay_key(provider: str, message_id: str) -> str:
    """The command's idempotency key: one per provider and message, within the key's size."""
    digest = hashlib.sha256(f"{provider}\n{message_id}".encode()).hexdigest()
    return f"sms-inbound:{digest}"


def twiml(message: str | None) -> Response:
    body = (f"<Response><Message>{escape(message)}</Message></Response>" if message
            else "<Response/>")
    return Response('<?xml version="1.0" encoding="UTF-8"?>' + body, media_type=TWIML)


def answer_text(taken: SmsReplyTaken, replies: SmsReplies) -> str | None:
    """The one confirmation after a change, the help text after HELP, else nothing."""
    if taken.keyword in HELP_KEYWORDS:
        return replies.help
    if taken.changed and taken.keyword in OPT_OUT_KEYWORDS:
        return replies.stopped
    if taken.changed and taken.keyword in OPT_IN_KEYWORDS:
        return replies.started
    return None


@router.post(
    "/sms/{provider}/inbound", response_class=Response,
    summary="A text a handset sent to one of Parley's numbers (signed by the provider)",
    description="Twilio's incoming-message webhook (form fields, `X-Twilio-Signature`) or "
    "Vonage's inbound SMS (form fields or JSON with `sig`, `timestamp` within 5 minutes). "
    "STOP, START and HELP (and their synonyms) as the whole message are acted on.",
    openapi_extra={"requestBody": {"required": True, "content": {
        FORM: {"schema": {"type": "object", "additionalProperties": {"type": "string"}},
               "example": TWILIO_EXAMPLE},
        "application/json": {"schema": {"type": "object"}, "example": VONAGE_EXAMPLE}}}},
    responses=ANSWERED | problem_responses(422, 503, described={403: REFUSED}),
)
async def sms_inbound(
    request: Request, response: Response, sms: SmsCallbacksDep, writer: Writer,
    correlation: CorrelationId, parley: ParleyDep,
    provider: Annotated[str, Path(max_length=64, description="The provider's configured name")],
) -> Response:
    fields = await callback_fields(request)
    url = sms.public_url.rstrip("/") + sms_callback_path(provider) + "/inbound"
    query = request.scope.get("query_string", b"").decode("latin-1")
    now = datetime.now(UTC)
    if not signed(sms.verifiers.get(provider), f"{url}?{query}" if query else url, fields,
                  request.headers, now):
        raise Problem(403, "Forbidden", REFUSED)
    inbound = inbound_of(fields)
    if inbound is None or not 0 < len(inbound.message_id) <= MAX_MESSAGE_ID_CHARS \
            or not is_e164(inbound.number):
        raise Problem(422, "Invalid request", "not an incoming message")
    settings = parley.settings
    replies = SmsReplies(settings.sms_stop_text, settings.sms_start_text,
                         settings.sms_help_text)
    keyword = keyword_of(inbound.text[:MAX_TEXT_CHARS])
    taken = SmsReplyTaken(keyword, False)
    if keyword is not None and keyword not in HELP_KEYWORDS:
        command = ReceiveSmsReply(provider, inbound.message_id, inbound.number, keyword, now)
        context = CommandContext(writer, request, response, PROVIDER_CALLBACK_ACTOR,
                                 correlation, replay_key(provider, inbound.message_id))
        outcome = await context.submit(command, {"number": inbound.number,
                                                 "message_id": inbound.message_id,
                                                 "keyword": keyword})
        if isinstance(outcome.result, SmsReplyTaken):
            taken = outcome.result
    answer = answer_text(taken, replies)
    if not inbound.twilio:
        return Response(status_code=204, headers=dict(response.headers))
    reply = twiml(answer)
    reply.headers.update(response.headers)
    return reply
