"""The caller's SMS consent (TCPA) on one of their phone numbers: `PUT` records the opt-in
with the exact wording they were shown and where (`source`), `DELETE` withdraws it. A
non-transactional SMS goes only to numbers whose consent stands; a STOP texted back withdraws
it too (api/notifications/sms_inbound.py)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from api.http.answers import Answer, Answers
from api.http.dependencies import Commands, ParleyDep, UserId
from api.http.problems import COMMAND_PROBLEMS, QUERY_PROBLEMS, problem_responses
from api.notifications.compliance import compliance_records
from commands.notifications.sms_consent import (
    GrantSmsConsent,
    SmsConsentChanged,
    WithdrawSmsConsent,
)
from domain.notifications.sms_consent import MAX_SOURCE_CHARS, MAX_WORDING_CHARS

router = APIRouter(prefix="/v1/users/me/sms-consent", tags=["contact points"])
POINT_ID = "9b2f4c1e-7a3d-4e58-b6c0-1d2e3f4a5b6c"
WORDING_EXAMPLE = ("Get Parley offers by text, up to 4 msgs/month. Msg&data rates may apply. "
                   "Reply STOP to cancel, HELP for help.")
NOT_A_PHONE = "no such phone number among the caller's contact points"


class ConsentRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "contact_point_id": POINT_ID, "wording": WORDING_EXAMPLE,
        "source": "app:settings"}]})

    contact_point_id: uuid.UUID = Field(description="One of the caller's phone numbers")
    wording: str = Field(min_length=1, max_length=MAX_WORDING_CHARS,
                         description="The exact text the user was shown when they agreed")
    source: str = Field(min_length=1, max_length=MAX_SOURCE_CHARS,
                        pattern=r"^[A-Za-z0-9_.:-]+$",
                        description="Where they agreed, e.g. `app:settings`, `web:checkout`")


class ConsentAnswer(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"contact_point_id": POINT_ID, "consent": "granted", "recorded": True,
         "position": 4180}]})

    contact_point_id: uuid.UUID
    consent: str = Field(description="granted, revoked or none")
    recorded: bool = Field(description="False: it stood already, nothing new recorded")
    position: int


class NumberConsent(BaseModel):
    contact_point_id: uuid.UUID
    number: str
    consent: str = Field(description="granted, revoked or none (never asked)")
    since: datetime | None = Field(description="When it was granted or withdrawn")
    source: str | None = Field(description="Through what: the opt-in's source, `api`, or "
                                           "`sms_reply` (a STOP or START texted back)")


class ConsentList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"numbers": [{
        "contact_point_id": POINT_ID, "number": "+447911123456", "consent": "granted",
        "since": "2026-11-02T09:26:53+00:00", "source": "app:settings"}]}]})

    numbers: list[NumberConsent]


reply = Answers({SmsConsentChanged: lambda r: Answer(200, {
    "contact_point_id": str(r.contact_point_id), "consent": r.status,
    "recorded": r.new})}).reply
PROBLEMS = problem_responses(*COMMAND_PROBLEMS, described={
    404: NOT_A_PHONE, 422: "no wording, or a malformed source (errors[].field names it)"})


@router.get("", response_model=ConsentList, responses=problem_responses(*QUERY_PROBLEMS),
            summary="My phone numbers and whether each agreed to texts")
async def sms_consents(caller: UserId, parley: ParleyDep) -> ConsentList:
    """Read from the log itself, so an answer just given by `PUT` or a STOP is seen at once."""
    record = await asyncio.to_thread(compliance_records(parley.event_log).record, caller,
                                     _now())
    return ConsentList(numbers=[NumberConsent(
        contact_point_id=c.contact_point_id, number=c.number, consent=c.status,
        since=None if c.event is None else c.event.at,
        source=None if c.event is None else c.event.source) for c in record.sms_consents])


@router.put("", response_model=ConsentAnswer, responses=PROBLEMS,
            summary="Agree to non-transactional texts on one of my numbers")
async def grant_sms_consent(body: ConsentRequest, commands: Commands) -> ConsentAnswer:
    """Recorded with the time, the source and the wording as given: the evidence asked for
    years later (`GET /v1/admin/compliance/users/{id}`). The same again records nothing."""
    outcome = await commands.run(GrantSmsConsent(
        commands.caller, body.contact_point_id, body.wording, body.source, _now()), body)
    return reply(commands.response, outcome, ConsentAnswer)


@router.delete("", response_model=ConsentAnswer, responses=PROBLEMS,
               summary="Withdraw my consent to texts on one of my numbers")
async def withdraw_sms_consent(
    commands: Commands,
    contact_point_id: Annotated[uuid.UUID, Query(description="The phone number's id")],
) -> ConsentAnswer:
    """Transactional texts (security codes, account notices) still reach the number."""
    outcome = await commands.run(WithdrawSmsConsent(commands.caller, contact_point_id,
                                                    _now()))
    return reply(commands.response, outcome, ConsentAnswer)


def _now() -> datetime:
    return datetime.now(UTC)
