"""One-click unsubscribe links (RFC 8058): `POST /v1/notifications/unsubscribe/{token}` opts
the link's user out of its category on email; `GET` of the same URL (what a reader's click,
or a mail scanner, does) only shows a page with a button that POSTs, and changes nothing.

Public routes: the signed token in the URL is the only authority (RFC 8058 forbids needing
cookies or authorization). A token this server did not issue answers 404 as an unknown link
does. A link of a category that is critical now (mailed before it was made so) answers 200
with `unsubscribed: false` and changes nothing: critical mail always reaches its user.
Parley's server writes no access log, so the token reaches no log.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from typing import Annotated, Final

from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict

from api.http.answers import Answer, Answers
from api.http.dependencies import CommandContext, CorrelationId, Writer
from api.http.problems import problem_responses
from api.notifications.dependencies import UnsubscribeLinksDep
from api.notifications.preferences import Policy
from commands.notifications.unsubscribe import EmailUnsubscribed, UnsubscribeEmail
from domain.notifications.unsubscribe import ONE_CLICK, UNSUBSCRIBE_PATH

router = APIRouter(prefix=UNSUBSCRIBE_PATH, tags=["notifications"])
FORM: Final = "application/x-www-form-urlencoded"
FORM_PREFIX: Final = UNSUBSCRIBE_PATH + "/"  # its POSTs may be forms (api/http/limits.py)
TOKEN_EXAMPLE: Final = "u1.q0xw2m0Yt7nQf3JxZl9J0W1lbnRpb24.h1G4Zt0Yc2VjcmV0LW1hYy1leGFtcGxl"
UNKNOWN: Final = "no such unsubscribe link"
PAGE_HEADERS: Final = {
    "Content-Security-Policy": "default-src 'none'; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
    "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}

# any text: one not issued by the server, however long or short, is an unknown link (404)
Token = Annotated[str, Path(examples=[TOKEN_EXAMPLE], description="The signed token of the link")]


class Unsubscribed(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"category": "mention", "unsubscribed": True, "position": 4180}]})

    category: str
    unsubscribed: bool
    position: int


reply = Answers({EmailUnsubscribed: lambda r: Answer(200, {
    "category": r.category, "unsubscribed": r.unsubscribed})}).reply


@router.post(
    "/{token}", response_model=Unsubscribed,
    summary="Unsubscribe from a category's emails (RFC 8058 one-click)",
    openapi_extra={"requestBody": {"required": False, "content": {FORM: {
        "schema": {"type": "object", "properties": {"List-Unsubscribe": {
            "type": "string", "enum": ["One-Click"]}}},
        "example": {"List-Unsubscribe": "One-Click"}}}}},
    responses=problem_responses(422, 503, described={404: UNKNOWN}))
async def unsubscribe(token: Token, request: Request, response: Response, writer: Writer,
                      correlation: CorrelationId, links: UnsubscribeLinksDep,
                      policy: Policy) -> Unsubscribed:
    """What a mail client's one-click POST (body `List-Unsubscribe=One-Click`, URL-encoded or
    multipart/form-data; not read: the URL alone decides) or the page's button does: no
    further emails of the link's category reach its user (transactional mail, such as
    security alerts, still does). No bearer token: the signed link is the authority. Posting
    it again changes nothing and answers the same; a critical category's link (payment
    confirmations) answers `unsubscribed: false` and changes nothing."""
    claim = links.read(token)
    commands = CommandContext(writer, request, response, claim.user_id, correlation, None)
    outcome = await commands.run(UnsubscribeEmail(claim.user_id, claim.category, _now(),
                                                  policy))
    return reply(response, outcome, Unsubscribed)


@router.get(
    "/{token}", response_class=HTMLResponse, summary="The page an unsubscribe link opens",
    responses={**problem_responses(422, described={404: UNKNOWN}), 200: {
        "description": "a page with one button, which POSTs the link",
        "content": {"text/html": {}}}})
async def unsubscribe_page(token: Token, links: UnsubscribeLinksDep) -> HTMLResponse:
    """Changes nothing (mail scanners fetch links): the reader confirms with the button (a
    critical category's page has none: it cannot be unsubscribed from)."""
    claimed = links.read(token).category
    category = html.escape(claimed)
    if not links.offers(claimed):
        return HTMLResponse(
            '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
            "<title>Unsubscribe</title></head>"
            f"<body><h1>{category} emails cannot be unsubscribed from</h1>"
            "<p>Critical emails, such as security alerts and payment confirmations, always "
            "reach you.</p>"
            "</body></html>\n", headers=PAGE_HEADERS)
    name, value = ONE_CLICK.split("=")
    page = ('<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
            "<title>Unsubscribe</title>"
            '<meta name="viewport" content="width=device-width, initial-scale=1"></head>'
            f"<body><h1>Unsubscribe from {category} emails?</h1>"
            '<form method="post">'
            f'<input type="hidden" name="{name}" value="{value}">'
            "<button type=\"submit\">Unsubscribe</button></form>"
            "<p>Account emails and critical ones, such as security alerts and payment "
            "confirmations, still reach you.</p></body></html>\n")
    return HTMLResponse(page, headers=PAGE_HEADERS)


def _now() -> datetime:
    return datetime.now(UTC)
