"""SMS consent (TCPA): whether one phone number agreed to non-transactional texts, one
`SmsConsent` aggregate per number (E.164).

Consent belongs to the number, not to an account: a STOP from a handset stops texts to that
number whoever's contact point it is, and the evidence an auditor asks for ("when did this
number agree, to which wording, through what") is the number's history. An opt-in records
the time, the source (where the user was: `api:settings`, `app:onboarding`, ...), the exact
wording they were shown and the user who gave it; an opt-out records the keyword or the
source. Inbound keywords (STOP, START, ...) carry the provider's message id: the last
`REMEMBERED_MESSAGES` ids are kept, so a replayed webhook has no second effect.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from uuid import UUID, uuid5

from domain.errors import InvalidCommand
from event_log.aggregate import Cause, ParleyAggregate

SMS_CONSENT_NAMESPACE: Final = UUID("5e0b9d1a-3c47-4f2e-8a6b-7d91c0e4f2a8")
MAX_WORDING_CHARS: Final = 2000
MAX_SOURCE_CHARS: Final = 64
MAX_MESSAGE_ID_CHARS: Final = 64
REMEMBERED_MESSAGES: Final = 100

# Keywords carriers and the CTIA handbook require, and Twilio's own two more (REVOKE, OPTOUT),
# matched on the whole message in any case
OPT_OUT_KEYWORDS: Final = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT",
                                     "REVOKE", "OPTOUT"})
OPT_IN_KEYWORDS: Final = frozenset({"START", "YES", "UNSTOP"})
HELP_KEYWORDS: Final = frozenset({"HELP", "INFO"})
SMS_REPLY: Final = "sms_reply"  # the source of a consent change made by an inbound keyword

GRANTED: Final = "granted"
REVOKED: Final = "revoked"
NONE: Final = "none"  # never asked: no consent


class InvalidConsent(InvalidCommand):
    """An opt-in without the wording shown, or with a malformed source."""


def sms_consent_id(number: str) -> UUID:
    return uuid5(SMS_CONSENT_NAMESPACE, f"sms-consent/{number}")


def keyword_of(text: str) -> str | None:
    """The compliance keyword an inbound message is (STOP, START, HELP ...), or None: the
    whole message, trimmed, in any case ("stop" is STOP; "please stop" is not a keyword)."""
    word = text.strip().upper()
    if word in OPT_OUT_KEYWORDS | OPT_IN_KEYWORDS | HELP_KEYWORDS:
        return word
    return None


def check_opt_in(wording: str, source: str) -> None:
    """Refused before anything is recorded: consent without its wording is no evidence."""
    if not wording.strip():
        raise InvalidConsent("wording", "give the exact wording the user was shown")
    if len(wording) > MAX_WORDING_CHARS:
        raise InvalidConsent("wording", f"at most {MAX_WORDING_CHARS} characters")
    if not 0 < len(source) <= MAX_SOURCE_CHARS or not all(
            c.isascii() and (c.isalnum() or c in "_.:-") for c in source):
        raise InvalidConsent("source", f"1 to {MAX_SOURCE_CHARS} characters of letters, "
                                       "digits and _ . : -")


@dataclass(frozen=True)
class ConsentEvidence:
    """The event the number's consent stands on now: its version in the aggregate, when,
    through what, and (an opt-in) the wording and the user."""

    status: str
    version: int
    at: datetime
    source: str
    wording: str = ""
    user_id: UUID | None = None

    def as_inputs(self) -> dict[str, Any]:
        """What a decision trace records (no number, no wording: the log has them)."""
        return {"consent": self.status, "consent_version": self.version,
                "consent_at": self.at.isoformat(), "consent_source": self.source}


class SmsConsent(ParleyAggregate):
    """The consent history of one phone number."""

    def __init__(self, number: str) -> None:
        self.number = number
        self.evidence: ConsentEvidence | None = None
        self.messages_seen: tuple[str, ...] = ()

    class Started(ParleyAggregate.Created):
        number: str

    class OptedIn(ParleyAggregate.Event):
        """The number agreed to texts: `user_id` gave it, shown `wording`, through `source`
        (SMS_REPLY: a START keyword, whose provider and message id are given)."""

        user_id: UUID | None
        wording: str
        source: str
        provider: str
        message_id: str
        at: datetime

        def apply(self, aggregate: Any) -> None:
            aggregate.evidence = ConsentEvidence(GRANTED, self.originator_version, self.at,
                                                 self.source, self.wording, self.user_id)
            aggregate.remember(self.message_id)

    class OptedOut(ParleyAggregate.Event):
        """The number withdrew consent: `keyword` (STOP ...) from `provider`'s message, or
        the user through `source`."""

        user_id: UUID | None
        keyword: str
        source: str
        provider: str
        message_id: str
        at: datetime

        def apply(self, aggregate: Any) -> None:
            aggregate.evidence = ConsentEvidence(REVOKED, self.originator_version, self.at,
                                                 self.source, self.keyword, self.user_id)
            aggregate.remember(self.message_id)

    @classmethod
    def start(cls, number: str, cause: Cause) -> SmsConsent:
        return cls._create(cls.Started, id=sms_consent_id(number), number=number,
                           **cause.as_event_fields())

    def remember(self, message_id: str) -> None:
        if message_id:
            self.messages_seen = (*self.messages_seen, message_id)[-REMEMBERED_MESSAGES:]

    @property
    def status(self) -> str:
        return NONE if self.evidence is None else self.evidence.status

    @property
    def granted(self) -> bool:
        return self.status == GRANTED

    def seen(self, message_id: str) -> bool:
        return message_id in self.messages_seen

    # By the user (the API)

    def opt_in(self, user_id: UUID, wording: str, source: str, at: datetime,
               cause: Cause) -> bool:
        """Record consent; False, nothing recorded, if it stands already on the same wording
        and source (a PUT repeated)."""
        check_opt_in(wording, source)
        held = self.evidence
        if (held is not None and held.status == GRANTED and held.user_id == user_id
                and (held.wording, held.source) == (wording, source)):
            return False
        self.trigger_event(self.OptedIn, user_id=user_id, wording=wording, source=source,
                           provider="", message_id="", at=at, **cause.as_event_fields())
        return True

    def opt_out(self, user_id: UUID, source: str, at: datetime, cause: Cause) -> bool:
        """The user withdraws consent; False if there was none standing."""
        if not self.granted:
            return False
        self.trigger_event(self.OptedOut, user_id=user_id, keyword="", source=source,
                           provider="", message_id="", at=at, **cause.as_event_fields())
        return True

    # By the handset (an inbound keyword, its webhook verified)

    def reply(self, keyword: str, provider: str, message_id: str, at: datetime,
              cause: Cause) -> bool:
        """STOP ... revokes, START ... restores a revoked consent. True if this changed the
        consent (the carrier's one confirmation is due); False for a repeat, a message seen
        before, or a START where consent was never withdrawn."""
        if self.seen(message_id):
            return False
        fields = {"user_id": None, "source": SMS_REPLY, "provider": provider,
                  "message_id": message_id[:MAX_MESSAGE_ID_CHARS], "at": at,
                  **cause.as_event_fields()}
        if keyword in OPT_OUT_KEYWORDS and self.status != REVOKED:
            self.trigger_event(self.OptedOut, keyword=keyword, **fields)
            return True
        if keyword in OPT_IN_KEYWORDS and self.status == REVOKED:
            self.trigger_event(self.OptedIn, wording=keyword, **fields)
            return True
        return False


def standing(consents: Iterable[SmsConsent]) -> dict[str, ConsentEvidence | None]:
    """Number -> the evidence its consent stands on (None: never asked)."""
    return {consent.number: consent.evidence for consent in consents}
