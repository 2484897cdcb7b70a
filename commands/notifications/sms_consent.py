"""SMS consent: the user's opt-in and opt-out on one of their phone numbers (the API), the
handset's STOP / START keywords (the providers' inbound webhooks, verified by the route), and
the facts the decision pipeline's consent step reads (domain/notifications/consent_steps.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final
from uuid import UUID

from domain.notifications.channels import PHONE_NUMBER, SMS
from domain.notifications.contact_points import ContactPoints, contact_points_id
from domain.notifications.errors import ContactPointNotFound
from domain.notifications.sms_consent import (
    OPT_OUT_KEYWORDS,
    ConsentEvidence,
    SmsConsent,
    check_opt_in,
    keyword_of,
    sms_consent_id,
)
from event_log.aggregate import Cause
from event_log.batch import Batch
from event_log.outcomes import Handler

BY_API: Final = "api"


@dataclass(frozen=True)
class GrantSmsConsent:
    """The user agreed, shown `wording`, through `source`, to texts on this phone number."""

    user_id: UUID
    contact_point_id: UUID
    wording: str
    source: str
    at: datetime


@dataclass(frozen=True)
class WithdrawSmsConsent:
    user_id: UUID
    contact_point_id: UUID
    at: datetime


@dataclass(frozen=True)
class ReceiveSmsReply:
    """A message a handset sent to one of Parley's numbers (its webhook's signature checked)."""

    provider: str
    message_id: str
    number: str = field(repr=False)  # E.164: personal, never in a log line
    text: str = field(repr=False)
    at: datetime


@dataclass(frozen=True)
class SmsConsentChanged:
    contact_point_id: UUID
    status: str  # granted, revoked or none
    new: bool  # False: a repeat, nothing recorded


@dataclass(frozen=True)
class SmsReplyTaken:
    """`keyword` None: not a keyword (nothing recorded); `changed`: the consent changed, so
    the carrier's one confirmation is due."""

    keyword: str | None
    changed: bool


def _phone_of(batch: Batch, user_id: UUID, contact_point_id: UUID) -> str:
    book = batch.find(ContactPoints, contact_points_id(user_id))
    if book is None:
        raise ContactPointNotFound("contact_point_id", "no such contact point")
    point = book.point(contact_point_id)
    if point.kind != PHONE_NUMBER:
        raise ContactPointNotFound("contact_point_id", "no such phone number")
    return point.value


def _consent_of(batch: Batch, number: str, cause: Cause) -> SmsConsent:
    consent = batch.find(SmsConsent, sms_consent_id(number))
    if consent is None:
        consent = SmsConsent.start(number, cause)
        batch.add(consent)
    return consent


def grant_sms_consent(batch: Batch, command: GrantSmsConsent,
                      cause: Cause) -> SmsConsentChanged:
    number = _phone_of(batch, command.user_id, command.contact_point_id)
    consent = batch.find(SmsConsent, sms_consent_id(number))
    if consent is None:  # checked before the aggregate starts: a refusal records nothing
        check_opt_in(command.wording, command.source)
        consent = _consent_of(batch, number, cause)
    new = consent.opt_in(command.user_id, command.wording, command.source, command.at, cause)
    return SmsConsentChanged(command.contact_point_id, consent.status, new)


def withdraw_sms_consent(batch: Batch, command: WithdrawSmsConsent,
                         cause: Cause) -> SmsConsentChanged:
    number = _phone_of(batch, command.user_id, command.contact_point_id)
    consent = batch.find(SmsConsent, sms_consent_id(number))
    if consent is None:
        return SmsConsentChanged(command.contact_point_id, "none", False)
    new = consent.opt_out(command.user_id, BY_API, command.at, cause)
    return SmsConsentChanged(command.contact_point_id, consent.status, new)


def receive_sms_reply(batch: Batch, command: ReceiveSmsReply, cause: Cause) -> SmsReplyTaken:
    """A STOP from a number Parley never texted is recorded too (carriers require that it
    stops texts to it); a START only restores what a STOP withdrew."""
    keyword = keyword_of(command.text)
    if keyword is None:
        return SmsReplyTaken(None, False)
    consent = batch.find(SmsConsent, sms_consent_id(command.number))
    if consent is None:
        if keyword not in OPT_OUT_KEYWORDS:
            return SmsReplyTaken(keyword, False)
        consent = _consent_of(batch, command.number, cause)
    changed = consent.reply(keyword, command.provider, command.message_id, command.at, cause)
    return SmsReplyTaken(keyword, changed)


def read_sms_consents(batch: Batch, recipients: Iterable[UUID], channels: tuple[str, ...],
                      now: datetime) -> None:
    """Every recipient's contact points and their numbers' consents read into the batch at
    once (one query each for those the writer's cache lacks), so `sms_consents` finds them
    there; a request without SMS reads nothing."""
    if SMS not in channels:
        return
    books = batch.find_all(ContactPoints, [contact_points_id(r) for r in recipients])
    batch.find_all(SmsConsent, [sms_consent_id(address.value) for book in books.values()
                                for address in book.addresses({PHONE_NUMBER}, now)])


def sms_consents(batch: Batch, user_id: UUID, channels: tuple[str, ...],
                 now: datetime) -> Mapping[str, ConsentEvidence | None]:
    """The recipient's numbers -> the consent each stands on (the consent step's facts); a
    request without SMS reads nothing."""
    if SMS not in channels:
        return {}
    book = batch.find(ContactPoints, contact_points_id(user_id))
    if book is None:
        return {}
    numbers = [address.value for address in book.addresses({PHONE_NUMBER}, now)]
    found = batch.find_all(SmsConsent, [sms_consent_id(n) for n in numbers])
    return {n: (c.evidence if (c := found.get(sms_consent_id(n))) is not None else None)
            for n in numbers}


SMS_CONSENT_HANDLERS: dict[type, Handler] = {
    GrantSmsConsent: grant_sms_consent,
    WithdrawSmsConsent: withdraw_sms_consent,
    ReceiveSmsReply: receive_sms_reply,
}
