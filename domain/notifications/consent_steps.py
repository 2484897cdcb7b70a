"""The decision step for SMS consent (TCPA): a non-transactional SMS goes only to a number
whose consent stands (domain/notifications/sms_consent.py). At routing, SMS stays if one of the
recipient's numbers consented; at dispatch (commands/notifications/recheck.py) the same step is
asked again with each number's consent then, and the numbers without it are left out of the
deliveries (`numbers_without_consent`).

The step records which consent event it looked at for each of the recipient's numbers (its
version in the number's history, when, through what), never the number itself: the trace
says "ruled out: consent revoked by STOP at 21:04 (event 3)", the log says whose number.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from domain.notifications.channels import SMS
from domain.notifications.decisions import Decision, RecipientFacts, RoutingRequest
from domain.notifications.sms_consent import GRANTED, NONE, ConsentEvidence

NO_CONSENT: Final = "no SMS consent"
SHOWN_DIGITS: Final = 2


def masked_number(number: str) -> str:
    """What a trace may show of a number: its last two digits."""
    return "…" + number[-SHOWN_DIGITS:]


def evidence_inputs(number: str, evidence: ConsentEvidence | None) -> dict[str, Any]:
    shown: dict[str, Any] = {"number": masked_number(number)}
    return shown | ({"consent": NONE} if evidence is None else evidence.as_inputs())


class SmsConsentRequired:
    """SMS stays for a transactional category (security alerts, account mail: the operator's
    list), or if at least one number of the recipient consented; otherwise it is ruled out.
    One is enough because the dispatcher texts only the numbers whose consent stands when it
    sends (`numbers_without_consent`), so a number without consent is never reached on
    another's."""

    name = "sms_consent"

    def decide(self, request: RoutingRequest, facts: RecipientFacts,
               now: datetime) -> Decision:
        if SMS not in request.channels:
            return Decision(self.name)
        if request.transactional:
            return Decision(self.name, inputs={"transactional": True})
        numbers = [evidence_inputs(number, evidence)
                   for number, evidence in sorted(facts.sms_consents.items())]
        inputs = {"transactional": False, "numbers": numbers}
        if consented_numbers(facts.sms_consents):
            return Decision(self.name, inputs=inputs)
        return Decision(self.name, ruled_out=((SMS, NO_CONSENT),), inputs=inputs)


def consented_numbers(consents: Mapping[str, ConsentEvidence | None]) -> frozenset[str]:
    """The numbers a non-transactional SMS may go to."""
    return frozenset(number for number, evidence in consents.items()
                     if evidence is not None and evidence.status == GRANTED)


def numbers_without_consent(request: RoutingRequest,
                            consents: Mapping[str, ConsentEvidence | None]) -> frozenset[str]:
    """The numbers a non-transactional SMS must not go to (none for a transactional one)."""
    if request.transactional:
        return frozenset()
    return frozenset(consents) - consented_numbers(consents)
