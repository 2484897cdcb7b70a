"""Contact points: where the caller can be reached (email, phone, Web Push, FCM/APNs, webhooks),
and the verification of email addresses by the token their link carries."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field

from api.http.answers import Answer, Answers
from api.http.dependencies import (
    CommandContext,
    Commands,
    ConsistencyPosition,
    CorrelationId,
    CurrentSession,
    Gate,
    Writer,
    wait_for,
)
from api.http.problems import COMMAND_PROBLEMS, QUERY_PROBLEMS, problem_responses
from api.notifications import verification_page as verification_page_html
from api.notifications.dependencies import ContactPointListing, ContactPointPartsDep
from commands.notifications.contact_points import (
    AddEmail,
    AddPhone,
    AddWebhookEndpoint,
    ContactPointDeleted,
    ContactPointRegistered,
    EmailAddressVerified,
    RegisterDeviceToken,
    RemoveContactPoint,
    RotateWebhookSecret,
    SubscribeWebPush,
    VerifyEmail,
    WebhookSecretRenewed,
)
from domain.notifications.contact_point_values import MAX_EMAIL_LENGTH, MAX_FCM_TOKEN_LENGTH
from domain.notifications.email_verification import VERIFICATION_PAGE
from domain.notifications.endpoints import MAX_URL_LENGTH, new_signing_secret
from projections.notifications.contact_points import CONTACT_POINTS, shown

router = APIRouter(prefix="/v1/users/me/contact-points", tags=["contact points"])
# the verification endpoint and the page its links open (/verify-email, outside /v1)
verification = APIRouter(tags=["contact points"])
READ_MODELS = [CONTACT_POINTS]
POINT_ID = "9b2f4c1e-7a3d-4e58-b6c0-1d2e3f4a5b6c"
DEVICE_ID = "d62110b7-2ceb-4197-973a-92fc22e228b6"
ADDED = {201: "added", 200: "already there: the same contact point, unchanged"}
ADD_PROBLEMS = problem_responses(*COMMAND_PROBLEMS, described={
    409: "the caller has as many contact points as one may have "
         "(PARLEY_MAX_CONTACT_POINTS_PER_USER), or the Idempotency-Key was used for a "
         "different request",
    422: "the address is not valid (errors[].field names the input)"})
P256DH_EXAMPLE = ("BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I"
                  "99e8QcYP7DkM")


class EmailRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"address": "ada@example.com"}]})

    address: str = Field(min_length=3, max_length=MAX_EMAIL_LENGTH)


class PhoneRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"number": "+44 20 7946 0018"}, {"number": "020 7946 0018", "region": "GB"}]})

    number: str = Field(min_length=2, max_length=40,
                        description="With its country code, or written as in `region`")
    region: str | None = Field(None, pattern=r"^[A-Za-z]{2}$",
                               description="ISO 3166 alpha-2 region to read the number in")


class WebPushKeys(BaseModel):
    p256dh: str = Field(max_length=128, description="The subscription's P-256 public key "
                                                    "(uncompressed, base64url)")
    auth: str = Field(max_length=64, description="The subscription's 16-byte auth secret "
                                                 "(base64url)")


class WebPushRequest(BaseModel):
    """A browser's PushSubscription (`subscription.toJSON()` without `expirationTime`)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "endpoint": "https://updates.push.services.mozilla.com/wpush/v2/gAAAAABl",
        "keys": {"p256dh": P256DH_EXAMPLE, "auth": "tBHItJI5svbpez7KI4CCXg"}}]})

    endpoint: str = Field(max_length=MAX_URL_LENGTH)
    keys: WebPushKeys


class PushTokenRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"kind": "fcm", "token": "fM3xQ2rLTeK:APA91bHq8xY2kWJ7n0Xc_V4dR9sZ1tL6uP3oQ5eA8bC"},
        {"kind": "apns", "token": "a" * 64}]})

    kind: Literal["fcm", "apns"]
    token: str = Field(min_length=1, max_length=MAX_FCM_TOKEN_LENGTH)


class WebhookRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"url": "https://bots.example.com/parley/hooks"}]})

    url: str = Field(max_length=MAX_URL_LENGTH, description="https:// only")


class VerificationRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"token": "v1.q0xw2m0Yt7nQf3JxZl9J0QhC8y6r0U7oPj3m2xA3b5c.h1G4Zt0"}]})

    token: str = Field(min_length=1, max_length=256)


class ContactPoint(BaseModel):
    contact_point_id: uuid.UUID
    kind: str = Field(description="email, phone, webpush, fcm, apns or webhook")
    value: str = Field(description="An email address or number as it is; a device token or "
                                   "push endpoint masked to its last 6 characters; a webhook "
                                   "URL without its query")
    verified: bool | None = Field(None, description="Email addresses: only verified ones are "
                                                    "sent to")
    device_id: uuid.UUID | None = Field(None, description="Push: the device it reaches")


EMAIL_EXAMPLE: dict[str, Any] = {
    "contact_point_id": POINT_ID, "kind": "email", "value": "ada@example.com",
    "verified": False, "device_id": None}


class ContactPointListed(ContactPoint):
    added_at: datetime


class ContactPointList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"contact_points": [
        EMAIL_EXAMPLE | {"verified": True, "added_at": "2026-11-30T09:12:44Z"},
        {"contact_point_id": "5c0d7e2a-93b4-4f61-8a27-6e1b0c9d3f48", "kind": "fcm",
         "value": "…kWJ7n0", "verified": None, "device_id": DEVICE_ID,
         "added_at": "2026-12-01T18:03:10Z"}]}]})

    contact_points: list[ContactPointListed]


class ContactPointChanged(ContactPoint):
    model_config = ConfigDict(json_schema_extra={"examples": [EMAIL_EXAMPLE | {
        "position": 2048}]})

    position: int


class WebhookEndpointAdded(ContactPointChanged):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "contact_point_id": POINT_ID, "kind": "webhook",
        "value": "https://bots.example.com/parley/hooks", "verified": None, "device_id": None,
        "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "position": 2051}]})

    secret: str | None = Field(None, description="The signing secret (Standard Webhooks), "
                                                 "answered only when the endpoint is new")


class SecretRotated(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "contact_point_id": POINT_ID, "secret": "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
        "previous_valid_until": "2026-12-03T10:00:00Z", "position": 2090}]})

    contact_point_id: uuid.UUID
    secret: str = Field(description="The new signing secret, answered this once")
    previous_valid_until: datetime = Field(description="Until when the previous secret also "
                                                       "signs deliveries")
    position: int


class ContactPointRemoved(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"contact_point_id": POINT_ID, "removed": True, "position": 2101}]})

    contact_point_id: uuid.UUID
    removed: bool
    position: int


class EmailVerified(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"contact_point_id": POINT_ID, "verified": True, "position": 2060}]})

    contact_point_id: uuid.UUID
    verified: bool
    position: int


def _registered(result: ContactPointRegistered) -> Answer:
    """Never the verification token (only the mailbox may see it); a new webhook's secret."""
    body: dict[str, object] = {
        "contact_point_id": str(result.contact_point_id), "kind": result.kind,
        "value": shown(result.kind, result.value),
        "verified": result.verified if result.kind == "email" else None,
        "device_id": None if result.device_id is None else str(result.device_id)}
    if result.secret is not None:
        body["secret"] = result.secret
    return Answer(201 if result.new else 200, body)


CONTACT_POINT_ANSWERS = Answers({
    ContactPointRegistered: _registered,
    WebhookSecretRenewed: lambda r: Answer(200, {
        "contact_point_id": str(r.contact_point_id), "secret": r.secret,
        "previous_valid_until": r.previous_valid_until}),
    EmailAddressVerified: lambda r: Answer(200, {
        "contact_point_id": str(r.contact_point_id), "verified": True}),
    ContactPointDeleted: lambda r: Answer(200, {
        "contact_point_id": str(r.contact_point_id), "removed": True}),
})
reply = CONTACT_POINT_ANSWERS.reply


def _now() -> datetime:
    return datetime.now(UTC)


def _added(model: type[ContactPointChanged] = ContactPointChanged
           ) -> dict[int | str, dict[str, object]]:
    return ADD_PROBLEMS | {200: {"model": model, "description": ADDED[200]}}


@router.get("", response_model=ContactPointList, summary="List the caller's contact points",
            responses=problem_responses(*QUERY_PROBLEMS))
def list_contact_points(session: CurrentSession, gate: Gate, listing: ContactPointListing,
                        position: ConsistencyPosition = None) -> ContactPointList:
    """Where the caller can be reached, oldest first. No secret is ever listed; tokens and
    push endpoints show only their last characters."""
    wait_for(gate, position, READ_MODELS)
    return ContactPointList(contact_points=[ContactPointListed(**document) for document in
                                            listing.contact_points_of(session.user_id)])


@router.post("/email", status_code=201, response_model=ContactPointChanged,
             summary="Add an email address", responses=_added())
async def add_email(body: EmailRequest, commands: Commands,
                    parts: ContactPointPartsDep) -> ContactPointChanged:
    """Add an email address; it is sent to only once verified, by the link a verification
    email carries. Adding one still unverified again asks for a new link (once a minute)."""
    outcome = await commands.run(AddEmail(commands.caller, uuid.uuid4(), body.address, _now(),
                                          parts.rules, parts.verification), body)
    return reply(commands.response, outcome, ContactPointChanged)


@router.post("/phone", status_code=201, response_model=ContactPointChanged,
             summary="Add a phone number", responses=_added())
async def add_phone(body: PhoneRequest, commands: Commands,
                    parts: ContactPointPartsDep) -> ContactPointChanged:
    """Add a number for SMS, kept in E.164 (`+` and digits)."""
    outcome = await commands.run(AddPhone(commands.caller, uuid.uuid4(), body.number,
                                          body.region, _now(), parts.rules), body)
    return reply(commands.response, outcome, ContactPointChanged)


@router.post("/web-push", status_code=201, response_model=ContactPointChanged,
             summary="Register this device's Web Push subscription", responses=_added())
async def subscribe_web_push(body: WebPushRequest, session: CurrentSession,
                             commands: Commands,
                             parts: ContactPointPartsDep) -> ContactPointChanged:
    """The subscription of the device the caller signed in on; a new one replaces the
    device's previous one."""
    outcome = await commands.run(SubscribeWebPush(
        commands.caller, session.device_id, uuid.uuid4(), body.endpoint, body.keys.p256dh,
        body.keys.auth, _now(), parts.rules), body)
    return reply(commands.response, outcome, ContactPointChanged)


@router.post("/push-tokens", status_code=201, response_model=ContactPointChanged,
             summary="Register this device's FCM or APNs token", responses=_added())
async def register_push_token(body: PushTokenRequest, session: CurrentSession,
                              commands: Commands,
                              parts: ContactPointPartsDep) -> ContactPointChanged:
    """The token of the device the caller signed in on; a new one replaces the device's
    previous token of that kind."""
    outcome = await commands.run(RegisterDeviceToken(
        commands.caller, session.device_id, uuid.uuid4(), body.kind, body.token, _now(),
        parts.rules), body)
    return reply(commands.response, outcome, ContactPointChanged)


@router.post("/webhooks", status_code=201, response_model=WebhookEndpointAdded,
             summary="Add a webhook endpoint", responses=_added(WebhookEndpointAdded))
async def add_webhook(body: WebhookRequest, commands: Commands,
                      parts: ContactPointPartsDep) -> WebhookEndpointAdded:
    """For business and bot accounts: notifications are POSTed to `url`, signed per Standard
    Webhooks with the secret answered here, once (rotate it to get a new one)."""
    outcome = await commands.run(AddWebhookEndpoint(
        commands.caller, uuid.uuid4(), body.url, new_signing_secret(), _now(), parts.rules),
        body)
    return reply(commands.response, outcome, WebhookEndpointAdded)


@router.post("/{contact_point_id}/rotate-secret", response_model=SecretRotated,
             summary="Rotate a webhook endpoint's signing secret",
             responses=problem_responses(*COMMAND_PROBLEMS, described={
                 404: "no such contact point",
                 409: "not a webhook endpoint, or the Idempotency-Key was used for a "
                      "different request"}))
async def rotate_secret(contact_point_id: uuid.UUID, commands: Commands) -> SecretRotated:
    """A new signing secret, answered this once; the previous one keeps signing for 24 hours
    too, so the receiver can switch without missing a delivery."""
    outcome = await commands.run(RotateWebhookSecret(commands.caller, contact_point_id,
                                                     new_signing_secret(), _now()))
    return reply(commands.response, outcome, SecretRotated)


@router.delete("/{contact_point_id}", response_model=ContactPointRemoved,
               summary="Remove a contact point", responses=problem_responses(
                   *COMMAND_PROBLEMS, described={404: "no such contact point"}))
async def remove(contact_point_id: uuid.UUID, commands: Commands) -> ContactPointRemoved:
    """Nothing is sent to it any more."""
    outcome = await commands.run(RemoveContactPoint(commands.caller, contact_point_id, _now()))
    return reply(commands.response, outcome, ContactPointRemoved)


@verification.get(VERIFICATION_PAGE, include_in_schema=False)
async def verification_page() -> HTMLResponse:
    """What a verification link opens: it posts its token to the route below."""
    return HTMLResponse(verification_page_html.PAGE, headers=verification_page_html.HEADERS)


@verification.post("/v1/contact-points/verify", response_model=EmailVerified,
                   summary="Verify an email address", responses=problem_responses(
                       400, 503, described={422: "the token is invalid or has expired, or its "
                                                 "address was removed"}))
async def verify(body: VerificationRequest, request: Request, response: Response,
                 writer: Writer, correlation: CorrelationId,
                 parts: ContactPointPartsDep) -> EmailVerified:
    """The token of a verification link proves the mailbox is read (no bearer token needed).
    A bad, expired or stale token gets one and the same answer."""
    claim = parts.verification.read(body.token, _now())
    commands = CommandContext(writer, request, response, claim.user_id, correlation, None)
    outcome = await commands.run(VerifyEmail(claim.user_id, claim.contact_point_id, _now()))
    return reply(response, outcome, EmailVerified)
