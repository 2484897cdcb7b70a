"""The trigger API (services, with API keys) and the in-app inbox (users, with their tokens)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, JsonValue, model_validator

from api.http.dependencies import (
    CommandContext,
    ConsistencyPosition,
    CorrelationId,
    Gate,
    IdempotencyKey,
    ParleyDep,
    UnkeyedCommands,
    UserId,
    Writer,
    wait_for,
)
from api.http.pagination import Cursor, decode_cursor, encode_cursor
from api.http.problems import COMMAND_PROBLEMS, QUERY_PROBLEMS, Problem, problem_responses
from api.http.service_callers import ServiceCaller, require_scope
from api.notifications.collapsing import (
    KEY_PATTERN,
    LONGEST_WINDOW,
    DigestRequest,
    dedup_window,
    digest_ask,
)
from commands.notifications.preferences import category_policy
from commands.notifications.trigger import (
    MAX_RECIPIENTS,
    CancelNotifications,
    MarkNotificationRead,
    MarkNotificationsRead,
    NotificationsCancelled,
    NotificationsRead,
    NotificationsRequested,
    TriggerNotifications,
)
from domain.notifications.channels import CHANNELS, PRIORITIES
from domain.notifications.content import BODY_MAX_CHARS, TITLE_MAX_CHARS, Content
from domain.notifications.notifications import NOTIFICATION_NAMESPACE
from projections.notifications.inbox import InboxQueries

router = APIRouter(tags=["notifications"])
INBOX_PROJECTIONS = ["notification_inbox"]
Priority = Literal["critical", "high", "normal", "bulk"]
Channel = Literal["push", "email", "sms", "webhook", "in_app"]
assert set(PRIORITIES) == {"critical", "high", "normal", "bulk"}
assert set(CHANNELS) == {"push", "email", "sms", "webhook", "in_app"}

Triggering = Annotated[ServiceCaller, Depends(require_scope("notifications:trigger"))]


async def get_inbox(parley: ParleyDep) -> InboxQueries:
    return parley.inbox


Inbox = Annotated[InboxQueries, Depends(get_inbox)]


class NotificationContent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field("", max_length=TITLE_MAX_CHARS)
    body: str = Field(..., min_length=1, max_length=BODY_MAX_CHARS)
    data: dict[str, str | int | float | bool | None] = Field(
        default_factory=dict, max_length=50,
        description="Key-value data for the receiving app (push data, webhook payload)")
    deep_link: str | None = Field(None, max_length=2048,
                                  pattern=r"^[a-zA-Z][a-zA-Z0-9+.-]*://\S+$")


class ChannelPlan(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channels: list[Channel] = Field(..., min_length=1, max_length=5,
                                    description="In order: the next is tried when one fails")
    fallback_after_seconds: int | None = Field(
        None, ge=1, le=7 * 24 * 3600,
        description="Try the next channel if not delivered or read this long after a provider "
                    "accepted it")


class TriggerRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "recipients": ["a43240e6-dc52-5a92-a031-6851e4c908ef"], "category": "system",
        "priority": "high", "plan": {"channels": ["push", "email"],
                                     "fallback_after_seconds": 300},
        "content": {"title": "Your export is ready", "body": "Tap to download it.",
                    "data": {"export_id": "7f3a9c"}, "deep_link": "parley://exports/7f3a9c"},
        "cancellation_key": "export-7f3a9c"}]})

    recipients: list[uuid.UUID] = Field(..., min_length=1, max_length=MAX_RECIPIENTS)
    category: str = Field(..., min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_.-]*$")
    priority: Priority = "normal"
    plan: ChannelPlan
    content: NotificationContent | None = Field(
        None, description="The text on every channel (or template_variables instead)")
    template_variables: dict[str, JsonValue] | None = Field(
        None, max_length=50, description="Render each channel's template of the category "
        "(admins' /v1/admin/notification-templates) with these variables, in the "
        "recipient's locale (falling back pt-BR -> pt -> default), instead of `content`")
    locale: str | None = Field(
        None, max_length=35, pattern=r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8}){0,3}$",
        description="The templates' locale for recipients whose preferences name none")
    send_at: datetime | None = Field(None, description="Not before this time (at most 30 days "
                                                        "ahead)")
    cancellation_key: str | None = Field(None, min_length=1, max_length=200,
                                         pattern=r"^[\x21-\x7e]+$")
    dedup_key: str | None = Field(
        None, min_length=1, max_length=200, pattern=KEY_PATTERN,
        description="The same key (this API key's, per recipient) within its window is "
                    "suppressed, naming the first notification")
    dedup_window_seconds: int | None = Field(
        None, ge=1, le=LONGEST_WINDOW,
        description="How long the dedup key holds (default and most: operator settings)")
    digest: DigestRequest | None = Field(
        None, description="Collapse into one digest per recipient, category and key, "
                          "flushed at the end of its window (critical ones never are)")

    @model_validator(mode="after")
    def _content_or_template(self) -> TriggerRequest:
        if (self.content is None) == (self.template_variables is None):
            raise ValueError("give either content or template_variables")
        return self


class RequestedItem(BaseModel):
    notification_id: uuid.UUID
    recipient_id: uuid.UUID
    state: str


class TriggerAnswer(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "request_id": "9b2f3c4e-1d2a-4b5c-8d7e-6f5a4b3c2d1e",
        "notifications": [{"notification_id": "c1a3e5f7-2b4d-5e6f-8a9b-0c1d2e3f4a5b",
                           "recipient_id": "a43240e6-dc52-5a92-a031-6851e4c908ef",
                           "state": "queued"}], "position": 1207}]})

    request_id: uuid.UUID
    notifications: list[RequestedItem]
    position: int


class CancelAnswer(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "cancelled": ["c1a3e5f7-2b4d-5e6f-8a9b-0c1d2e3f4a5b"], "too_late": [],
        "position": 1290}]})

    cancelled: list[uuid.UUID]
    too_late: list[uuid.UUID] = Field(description="Already dispatched or finished")
    position: int


class InboxItem(BaseModel):
    notification_id: uuid.UUID
    category: str
    priority: str
    title: str
    body: str
    data: dict[str, Any]
    deep_link: str | None
    posted_at: datetime
    read: bool
    read_at: datetime | None = None


class InboxPage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "notifications": [{"notification_id": "c1a3e5f7-2b4d-5e6f-8a9b-0c1d2e3f4a5b",
                           "category": "system", "priority": "high",
                           "title": "Your export is ready", "body": "Tap to download it.",
                           "data": {"export_id": "7f3a9c"},
                           "deep_link": "parley://exports/7f3a9c",
                           "posted_at": "2026-12-02T08:00:00Z", "read": False,
                           "read_at": None}],
        "unread": 1, "next_cursor": None}]})

    notifications: list[InboxItem]
    unread: int = Field(description="Unread notifications in the inbox (counted up to 1000)")
    next_cursor: str | None = Field(None, description="Pass as `cursor` for the next page")


class WebPushKey(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "application_server_key": "BOr5bYvV0S5yRmG3v3m0oO7m6Q1m3L9aQpJc4u2sXwH0ZkYp8a7bL3n9Yx6W"
                                  "cZr2uD1eF4gH5iJ6kL7mN8oP9qR"}]})

    application_server_key: str = Field(
        description="Pass to PushManager.subscribe() as applicationServerKey (base64url)")


class ReadAnswer(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "read": ["c1a3e5f7-2b4d-5e6f-8a9b-0c1d2e3f4a5b"], "position": 1301}]})

    read: list[uuid.UUID]
    position: int


def service_actor(caller: ServiceCaller) -> uuid.UUID:
    """A service's events are recorded as its key's: one stable actor id per key."""
    return uuid.uuid5(NOTIFICATION_NAMESPACE, f"apikey:{caller.key_id}")


@router.post("/v1/notifications", status_code=202, response_model=TriggerAnswer,
             summary="Trigger notifications (services, with an API key)",
             responses=problem_responses(*COMMAND_PROBLEMS, 403, described={
                 401: "no live API key", 403: "the API key lacks notifications:trigger",
                 409: "the Idempotency-Key was used for a different request",
                 422: "an unknown recipient, category or channel; content too large for a "
                      "channel; a send_at in the past or too far ahead"}))
async def trigger(body: TriggerRequest, request: Request, response: Response, writer: Writer,
                  caller: Triggering, correlation: CorrelationId, parley: ParleyDep,
                  idempotency_key: IdempotencyKey = None) -> TriggerAnswer:
    """One notification per recipient, each routed at once (channels that cannot reach the
    recipient are skipped, with the reason recorded), then held until `send_at` or queued.
    With an `Idempotency-Key`, the same key and body answers the first request's answer
    again (kept for good, in the event log); a different body with it is a 409."""
    engine = parley.notification_engine
    content = Content("", "") if body.content is None else Content(
        body.content.title, body.content.body, dict(body.content.data), body.content.deep_link)
    command = TriggerNotifications(
        uuid.uuid4(), f"apikey:{caller.key_id}", tuple(body.recipients), body.category,
        body.priority, tuple(body.plan.channels), content, datetime.now(UTC),
        fallback_after_seconds=body.plan.fallback_after_seconds,
        send_at=body.send_at.astimezone(UTC) if body.send_at else None,
        cancellation_key=body.cancellation_key, provided_kinds=engine.provided_kinds,
        dedup_key=body.dedup_key,
        dedup_window_seconds=dedup_window(body.dedup_window_seconds, parley.settings),
        dedup_legacy_keys=parley.settings.notification_dedup_legacy_keys,
        digest=digest_ask(body.digest, body.category, parley.settings),
        categories=frozenset(parley.settings.notification_categories),
        policy=category_policy(parley.settings),
        template_variables=body.template_variables, locale=body.locale)
    commands = CommandContext(writer, request, response, service_actor(caller), correlation,
                              idempotency_key)
    outcome = await commands.run(command, body)
    result = outcome.result
    assert isinstance(result, NotificationsRequested)
    return TriggerAnswer(request_id=result.request_id, position=outcome.position,
                         notifications=[RequestedItem(notification_id=n.notification_id,
                                                      recipient_id=n.recipient_id,
                                                      state=n.state)
                                        for n in result.notifications])


@router.delete("/v1/notifications", response_model=CancelAnswer,
               summary="Cancel notifications by their cancellation key (services)",
               responses=problem_responses(401, 403, 422, 503, described={
                   401: "no live API key", 403: "the API key lacks notifications:trigger"}))
async def cancel(request: Request, response: Response, writer: Writer, caller: Triggering,
                 correlation: CorrelationId,
                 cancellation_key: Annotated[str, Query(min_length=1, max_length=200,
                                                        pattern=r"^[\x21-\x7e]+$")]
                 ) -> CancelAnswer:
    """Cancels whatever of the caller's notifications under this key has not been dispatched
    (held, queued, or waiting for a retry); a key never used cancels nothing."""
    commands = CommandContext(writer, request, response, service_actor(caller), correlation,
                              None)
    outcome = await commands.run(CancelNotifications(f"apikey:{caller.key_id}",
                                                     cancellation_key, datetime.now(UTC)))
    result = outcome.result
    assert isinstance(result, NotificationsCancelled)
    return CancelAnswer(cancelled=list(result.cancelled), too_late=list(result.not_cancelled),
                        position=outcome.position)


def _item(document: dict[str, Any]) -> InboxItem:
    return InboxItem(notification_id=document["notification_id"],
                     category=document["category"], priority=document["priority"],
                     title=document["title"], body=document["body"],
                     data=document.get("data") or {}, deep_link=document.get("deep_link"),
                     posted_at=document["posted_at"], read=bool(document.get("read")),
                     read_at=document.get("read_at"))


@router.get("/v1/notifications", response_model=InboxPage,
            summary="The caller's in-app inbox, newest first",
            responses=problem_responses(400, *QUERY_PROBLEMS))
def inbox(caller: UserId, gate: Gate, queries: Inbox, position: ConsistencyPosition = None,
          limit: Annotated[int, Query(ge=1, le=100)] = 50, cursor: Cursor = None,
          unread_only: bool = False) -> InboxPage:
    """Notifications posted to the caller's inbox, newest first, with the unread count."""
    after = decode_cursor(cursor)
    if cursor is not None and not (after is not None and len(after) == 2
                                   and isinstance(after[0], int)
                                   and isinstance(after[1], str)):
        raise Problem(400, "Bad cursor", "the cursor is not one this API issued")
    wait_for(gate, position, INBOX_PROJECTIONS)
    documents, following = queries.page(str(caller), limit, after, unread_only)
    return InboxPage(notifications=[_item(d) for d in documents],
                     unread=queries.unread_count(str(caller)),
                     next_cursor=encode_cursor(following))


@router.post("/v1/notifications/{notification_id}/read", response_model=ReadAnswer,
             summary="Mark one notification read",
             responses=problem_responses(401, 404, 422, 503, described={
                 404: "no such notification in the caller's inbox"}))
async def mark_read(notification_id: uuid.UUID, commands: UnkeyedCommands) -> ReadAnswer:
    """Reading it also stops a fallback to the next channel."""
    outcome = await commands.run(MarkNotificationRead(commands.caller, notification_id,
                                                      datetime.now(UTC)))
    result = outcome.result
    assert isinstance(result, NotificationsRead)
    return ReadAnswer(read=list(result.read), position=outcome.position)


@router.post("/v1/notifications/read-all", response_model=ReadAnswer,
             summary="Mark every notification in the inbox read",
             responses=problem_responses(401, 422, 503))
async def mark_all_read(commands: UnkeyedCommands, gate: Gate, queries: Inbox,
                        position: ConsistencyPosition = None) -> ReadAnswer:
    """Marks read what the inbox shows unread (at most 1000 at a time)."""
    wait_for(gate, position, INBOX_PROJECTIONS)
    unread = tuple(queries.unread_ids(str(commands.caller)))
    outcome = await commands.run(MarkNotificationsRead(commands.caller, unread,
                                                       datetime.now(UTC)))
    result = outcome.result
    assert isinstance(result, NotificationsRead)
    return ReadAnswer(read=list(result.read), position=outcome.position)


@router.get("/v1/notifications/web-push-key", response_model=WebPushKey,
            summary="The key a browser subscribes to Web Push with",
            responses=problem_responses(401, 404, 422, described={
                404: "no Web Push provider is configured"}))
async def web_push_key(caller: UserId, parley: ParleyDep) -> WebPushKey:
    """The VAPID public key of the deployment's Web Push provider (every Web Push provider of
    one deployment shares it: a subscription is bound to the key it was made with)."""
    del caller
    for provider in parley.notification_engine.providers:
        key = getattr(provider, "application_server_key", None)
        if isinstance(key, str):
            return WebPushKey(application_server_key=key)
    raise Problem(404, "Not found", "no Web Push provider is configured")
