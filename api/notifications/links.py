"""Clicks: `GET /v1/notifications/links/{token}`, the tracked link an email carries in place of
each of its http(s) links, records the click and redirects (302) to the link it stands for;
`POST /v1/notifications/{notification_id}/click` is the recipient's app saying its
notification (or one of its links) was tapped.

The tracked link is public: the signed token in the URL is the only authority (a mail client
sends no credentials). A token the server did not issue, or naming a link its notification
does not have, is 404 as an unknown link is. The redirect goes only to a link the
notification itself carried (the token names an index into them, resolved from the log), and
sends no Referer (the token would leak to the linked site). Parley writes no access log, so
the token reaches no log.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Final
from uuid import UUID

from fastapi import APIRouter, Body, Depends, Path, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, ConfigDict, Field

from api.http.answers import Answer, Answers
from api.http.dependencies import CommandContext, CorrelationId, ParleyDep, UnkeyedCommands, Writer
from api.http.problems import problem_responses
from commands.notifications.clicks import (
    LINK_FOLLOWER_ACTOR,
    ClickNotification,
    FollowTrackedLink,
    LinkFollowed,
)
from domain.notifications.tracked_links import LINKS_PATH, MAX_LINKS, TrackedLinks

router = APIRouter(tags=["notifications"])
UNKNOWN: Final = "no such link"
TOKEN_EXAMPLE: Final = "k1.q0xw2m0Yt7nQf3JxZl9J0QBlbWFpbA.h1G4Zt0Yc2VjcmV0LW1hYy1leGFtcGxl"
REDIRECT_HEADERS: Final = {"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}

# any text: one not issued by the server, however long or short, is an unknown link (404)
Token = Annotated[str, Path(examples=[TOKEN_EXAMPLE], description="The signed token of the link")]


async def get_tracked_links(parley: ParleyDep) -> TrackedLinks:
    """Reads the links the SMTP providers wrote: the same key, the same public URL."""
    return TrackedLinks(parley.unsubscribe_key, parley.settings.public_url)


TrackedLinksDep = Annotated[TrackedLinks, Depends(get_tracked_links)]


class ClickRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"link": 0}]})

    link: int | None = Field(None, ge=0, lt=MAX_LINKS, description=(
        "Which of the notification's links was tapped: 0 is its deep link, then the http(s) "
        "links of its body in order of first appearance (each once); none: the "
        "notification itself"))


class ClickAnswer(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"link": "https://shop.example.com/orders/1042", "recorded": True, "position": 2210}]})

    link: str | None = Field(description="The link tapped (none: the notification itself)")
    recorded: bool = Field(description="False: the same link within a minute, not counted "
                                       "again")
    position: int


reply = Answers({LinkFollowed: lambda r: Answer(200, {
    "link": r.link, "recorded": r.recorded})}).reply


@router.get(
    LINKS_PATH + "/{token}", status_code=302, response_class=RedirectResponse,
    summary="Follow a tracked link of an email",
    responses={**problem_responses(422, 503, described={404: UNKNOWN}), 302: {
        "description": "to the link the email carried (Location); the click is recorded, "
                       "once per link per minute"}})
async def follow(token: Token, request: Request, response: Response, writer: Writer,
                 correlation: CorrelationId, links: TrackedLinksDep) -> RedirectResponse:
    """What a reader's click on a link of an email does: the click is recorded on the
    notification (for analytics and its trace) and the reader sent on, with no Referer. The
    same link again within a minute (a mail scanner fetches every link; a double click) is
    sent on and not recorded again."""
    claim = links.read(token)
    commands = CommandContext(writer, request, response, LINK_FOLLOWER_ACTOR, correlation,
                              None)
    outcome = await commands.run(FollowTrackedLink(claim.notification_id, claim.channel,
                                                   claim.index, datetime.now(UTC)))
    followed = outcome.result
    assert isinstance(followed, LinkFollowed) and followed.link is not None
    return RedirectResponse(followed.link, status_code=302, headers={
        **REDIRECT_HEADERS, "Parley-Position": str(outcome.position)})


@router.post(
    "/v1/notifications/{notification_id}/click", response_model=ClickAnswer,
    summary="Say a notification (or one of its links) was tapped in the app",
    responses=problem_responses(401, 422, 503, described={
        404: "no such notification in the caller's inbox"}))
async def click(notification_id: UUID, commands: UnkeyedCommands,
                body: Annotated[ClickRequest | None, Body(openapi_examples={
                    "a link": {"summary": "its second link", "value": {"link": 1}},
                    "itself": {"summary": "the notification itself", "value": {}}})] = None
                ) -> ClickAnswer:
    """The in-app counterpart of a tracked link: recorded on the notification, once per link
    per minute; only its recipient may, once it is in their inbox. A link it does not have
    is a 422."""
    chosen = None if body is None else body.link
    outcome = await commands.run(ClickNotification(commands.caller, notification_id, chosen,
                                                   datetime.now(UTC)))
    return reply(commands.response, outcome, ClickAnswer)
