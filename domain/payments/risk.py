"""Fraud rules as data: a versioned rule set scores a payment before its money is held.

Each rule has a kind (what it looks at), thresholds (`params`, whole numbers) and a score; a
payment's score is the sum of the scores of the rules it triggers, and the rule set's
`review_at` and `decline_at` turn it into an outcome: allow, review (held for a person) or
decline. Rules are data, so an operator changes them without a deploy (domain/payments/
rule_sets.py versions them as events; `rule_set_from_document` checks what an admin sends),
and every assessment records each rule's result and the rule set's version, so a decision can
be explained later.

Thresholds read "max_*: up to it is fine, beyond it triggers" and "min_*: below it
triggers" (min_reports: reaching it triggers); counts and totals include the payment being
assessed (whether or not it is already in the activity). Windows are at most
HISTORY_SECONDS, the history an activity keeps. An amount threshold (`max_amount`, minor units)
may differ by currency: `max_amount_JPY` overrides it for JPY (no rates here to convert by).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any, Final
from uuid import UUID

from domain.errors import InvalidCommand
from domain.payments.activity import (
    HISTORY_SECONDS,
    MAX_COUNT_THRESHOLD,
    MEDIAN_HISTORY,
    PaymentActivity,
)
from domain.payments.money import MAX_AMOUNT

ALLOW: Final = "allow"
REVIEW: Final = "review"
DECLINE: Final = "decline"
OUTCOMES: Final = (ALLOW, REVIEW, DECLINE)  # in increasing severity
MAX_RULES: Final = 100
MAX_SCORE: Final = 1_000_000
MAX_AGE_SECONDS: Final = 10 * 366 * 24 * 3600
_PER_CURRENCY = re.compile(r"max_amount_[A-Z]{3}")

Detail = dict[str, int | str]


class InvalidRuleSet(InvalidCommand):
    """A rule set document that is not one: an unknown kind, a missing, negative or
    out-of-range threshold, review_at above decline_at (`field` names where)."""


@dataclass(frozen=True)
class PaymentFacts:
    """What the rules are told of a payment besides the two users' activity."""

    payment_id: UUID
    sender_id: UUID
    recipient_id: UUID
    amount: int
    currency: str
    at: datetime
    sender_account_created_at: datetime
    sender_device_added_at: datetime | None  # None: sent without a device (an API key)
    blocked: bool  # either user blocked the other


Evaluator = Callable[[Mapping[str, int], PaymentFacts, PaymentActivity, PaymentActivity],
                     tuple[bool, Detail]]


def _since(params: Mapping[str, int], facts: PaymentFacts) -> datetime:
    return facts.at - timedelta(seconds=params["window_seconds"])


def _max_amount(params: Mapping[str, int], currency: str) -> int:
    return params.get(f"max_amount_{currency}", params["max_amount"])


def _sender_count(p: Mapping[str, int], f: PaymentFacts, sender: PaymentActivity,
                  _: PaymentActivity) -> tuple[bool, Detail]:
    count = sender.sent_count_since(_since(p, f)) + (str(f.payment_id) not in sender.sent)
    return count > p["max_count"], {"count": count, **p}


def _sender_amount(p: Mapping[str, int], f: PaymentFacts, sender: PaymentActivity,
                   _: PaymentActivity) -> tuple[bool, Detail]:
    total = sender.sent_in(_since(p, f), f.currency)[1]
    total += f.amount if str(f.payment_id) not in sender.sent else 0
    limit = _max_amount(p, f.currency)
    return total > limit, {"total": total, "max_amount": limit, "currency": f.currency,
                           "window_seconds": p["window_seconds"]}


def _recipient_count(p: Mapping[str, int], f: PaymentFacts, _: PaymentActivity,
                     recipient: PaymentActivity) -> tuple[bool, Detail]:
    count = (recipient.received_count_since(_since(p, f))
             + (str(f.payment_id) not in recipient.received))
    return count > p["max_count"], {"count": count, **p}


def _recipient_amount(p: Mapping[str, int], f: PaymentFacts, _: PaymentActivity,
                      recipient: PaymentActivity) -> tuple[bool, Detail]:
    total = recipient.received_in(_since(p, f), f.currency)[1]
    total += f.amount if str(f.payment_id) not in recipient.received else 0
    limit = _max_amount(p, f.currency)
    return total > limit, {"total": total, "max_amount": limit, "currency": f.currency,
                           "window_seconds": p["window_seconds"]}


def _young(age: timedelta, p: Mapping[str, int]) -> tuple[bool, Detail]:
    return (age < timedelta(seconds=p["min_age_seconds"]),
            {"age_seconds": age // timedelta(seconds=1), **p})


def _new_account(p: Mapping[str, int], f: PaymentFacts, _: PaymentActivity,
                 __: PaymentActivity) -> tuple[bool, Detail]:
    return _young(f.at - f.sender_account_created_at, p)


def _new_device(p: Mapping[str, int], f: PaymentFacts, _: PaymentActivity,
                __: PaymentActivity) -> tuple[bool, Detail]:
    if f.sender_device_added_at is None:
        return False, {"device": "none", **p}
    return _young(f.at - f.sender_device_added_at, p)


def _unusual_amount(p: Mapping[str, int], f: PaymentFacts, sender: PaymentActivity,
                    _: PaymentActivity) -> tuple[bool, Detail]:
    history, median = sender.settled_count(f.currency), sender.median_sent(f.currency)
    detail: Detail = {"history": history, "median": median or 0, "currency": f.currency, **p}
    if median is None or history < p["min_history"]:
        return False, detail
    return f.amount > p["multiple_of_median"] * median, detail


def _blocked(p: Mapping[str, int], f: PaymentFacts, _: PaymentActivity,
             __: PaymentActivity) -> tuple[bool, Detail]:
    return f.blocked, {}


def _reported(p: Mapping[str, int], f: PaymentFacts, _: PaymentActivity,
              recipient: PaymentActivity) -> tuple[bool, Detail]:
    reports = recipient.reports_since(_since(p, f))
    return reports >= p["min_reports"], {"reports": reports, **p}


def _many_recipients(p: Mapping[str, int], f: PaymentFacts, sender: PaymentActivity,
                     _: PaymentActivity) -> tuple[bool, Detail]:
    distinct = len(sender.distinct_recipients_since(_since(p, f)) | {f.recipient_id})
    return distinct > p["max_distinct"], {"distinct": distinct, **p}


def _mule(p: Mapping[str, int], f: PaymentFacts, _: PaymentActivity,
          recipient: PaymentActivity) -> tuple[bool, Detail]:
    new_senders = recipient.new_senders_since(_since(p, f))
    if str(f.payment_id) not in recipient.received and not recipient.knows_sender(f.sender_id):
        new_senders |= {f.sender_id}
    return len(new_senders) > p["max_new_senders"], {"new_senders": len(new_senders), **p}


_WINDOW = ("window_seconds", 1, HISTORY_SECONDS)
_AGE = ("min_age_seconds", 0, MAX_AGE_SECONDS)
# kind -> its evaluator and its thresholds (name, least, most)
KINDS: Final[Mapping[str, tuple[Evaluator, tuple[tuple[str, int, int], ...]]]] = {
    "sender_velocity_count": (_sender_count, (_WINDOW, ("max_count", 0, MAX_COUNT_THRESHOLD))),
    "sender_velocity_amount": (_sender_amount, (_WINDOW, ("max_amount", 0, MAX_AMOUNT))),
    "recipient_velocity_count": (_recipient_count,
                                 (_WINDOW, ("max_count", 0, MAX_COUNT_THRESHOLD))),
    "recipient_velocity_amount": (_recipient_amount, (_WINDOW, ("max_amount", 0, MAX_AMOUNT))),
    "new_account": (_new_account, (_AGE,)),
    "new_device": (_new_device, (_AGE,)),
    "unusual_amount": (_unusual_amount, (("multiple_of_median", 1, 1_000),
                                         ("min_history", 1, MEDIAN_HISTORY))),
    "counterparty_blocked": (_blocked, ()),
    "counterparty_reported": (_reported, (_WINDOW, ("min_reports", 1, MAX_COUNT_THRESHOLD))),
    "many_recipients": (_many_recipients, (_WINDOW, ("max_distinct", 0, MAX_COUNT_THRESHOLD))),
    "mule": (_mule, (_WINDOW, ("max_new_senders", 0, MAX_COUNT_THRESHOLD))),
}


def _whole(value: object, field: str, least: int, most: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not least <= value <= most:
        raise InvalidRuleSet(field, f"{field} is a whole number from {least} to {most}")
    return value


@dataclass(frozen=True)
class Rule:
    """One rule: its kind, whether it is in force, its score and its thresholds."""

    kind: str
    enabled: bool
    score: int
    params: Mapping[str, int]

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise InvalidRuleSet("kind", f"unknown rule kind {self.kind!r}; one of "
                                         f"{', '.join(KINDS)}")
        if not isinstance(self.enabled, bool):
            raise InvalidRuleSet("enabled", "enabled is true or false")
        _whole(self.score, "score", 0, MAX_SCORE)
        specs = {name: (least, most) for name, least, most in KINDS[self.kind][1]}
        for name in specs:
            if name not in self.params:
                raise InvalidRuleSet(f"params.{name}", f"a {self.kind} rule needs {name}")
        for name, value in self.params.items():
            if name in specs:
                _whole(value, f"params.{name}", *specs[name])
            elif "max_amount" in specs and _PER_CURRENCY.fullmatch(str(name)):
                _whole(value, f"params.{name}", 0, MAX_AMOUNT)
            else:
                raise InvalidRuleSet(f"params.{name}", f"a {self.kind} rule has no {name}")
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))

    def as_document(self) -> dict[str, Any]:
        return {"kind": self.kind, "enabled": self.enabled, "score": self.score,
                "params": dict(self.params)}


@dataclass(frozen=True)
class RuleResult:
    """What one rule found; `score` is what it adds (0 unless triggered)."""

    kind: str
    triggered: bool
    score: int
    detail: Detail

    def as_document(self) -> dict[str, Any]:
        return {"kind": self.kind, "triggered": self.triggered, "score": self.score,
                "detail": dict(self.detail)}


@dataclass(frozen=True)
class RiskAssessment:
    outcome: str
    score: int
    results: tuple[RuleResult, ...]
    rule_set_version: int

    def as_document(self) -> dict[str, Any]:
        """What Payment.RiskAssessed records (the same keys as `Payment.assessed` takes)."""
        return {"outcome": self.outcome, "score": self.score,
                "results": [r.as_document() for r in self.results],
                "rule_set_version": self.rule_set_version}


@dataclass(frozen=True)
class RuleSet:
    """A version of the rules: a score of `review_at` or more is reviewed, of `decline_at`
    or more declined."""

    version: int
    rules: tuple[Rule, ...]
    review_at: int
    decline_at: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "rules", tuple(self.rules))
        _whole(self.version, "version", 0, 2**62)
        if len(self.rules) > MAX_RULES:
            raise InvalidRuleSet("rules", f"a rule set has at most {MAX_RULES} rules")
        _whole(self.review_at, "review_at", 1, MAX_SCORE * MAX_RULES)
        _whole(self.decline_at, "decline_at", self.review_at, MAX_SCORE * MAX_RULES)

    def outcome(self, score: int) -> str:
        if score >= self.decline_at:
            return DECLINE
        return REVIEW if score >= self.review_at else ALLOW

    def as_document(self) -> dict[str, Any]:
        return {"version": self.version, "review_at": self.review_at,
                "decline_at": self.decline_at, "rules": [r.as_document() for r in self.rules]}


def assess(rule_set: RuleSet, facts: PaymentFacts, sender: PaymentActivity,
           recipient: PaymentActivity) -> RiskAssessment:
    """Every enabled rule's result on the payment, their summed score and its outcome."""
    results = []
    for rule in rule_set.rules:
        if rule.enabled:
            triggered, detail = KINDS[rule.kind][0](rule.params, facts, sender, recipient)
            results.append(RuleResult(rule.kind, triggered, rule.score if triggered else 0,
                                      detail))
    score = sum(r.score for r in results)
    return RiskAssessment(rule_set.outcome(score), score, tuple(results), rule_set.version)


def rule_set_from_document(document: Mapping[str, Any]) -> RuleSet:
    """The rule set a document (as `RuleSet.as_document` writes it, `version` optional: 0)
    describes, or `InvalidRuleSet` naming the first thing wrong with it."""
    if not isinstance(document, Mapping):
        raise InvalidRuleSet("rules", "a rule set is an object")
    unknown = set(document) - {"version", "review_at", "decline_at", "rules"}
    if unknown:
        raise InvalidRuleSet(str(min(unknown)), f"a rule set has no {min(unknown)!r}")
    for name in ("review_at", "decline_at", "rules"):
        if name not in document:
            raise InvalidRuleSet(name, f"a rule set needs {name}")
    rules_document = document["rules"]
    if not isinstance(rules_document, Sequence) or isinstance(rules_document, str):
        raise InvalidRuleSet("rules", "rules is a list")
    rules = tuple(_rule_from_document(r, f"rules[{i}]") for i, r in enumerate(rules_document))
    return RuleSet(document.get("version", 0), rules, document["review_at"],
                   document["decline_at"])


def _rule_from_document(document: object, where: str) -> Rule:
    if not isinstance(document, Mapping):
        raise InvalidRuleSet(where, "a rule is an object")
    unknown = set(document) - {"kind", "enabled", "score", "params"}
    missing = [n for n in ("kind", "score", "params") if n not in document]
    if unknown or missing:
        name = min(unknown) if unknown else missing[0]
        raise InvalidRuleSet(f"{where}.{name}", f"a rule has kind, enabled, score and params; "
                                                f"{'not' if unknown else 'missing'} {name!r}")
    if not isinstance(document["params"], Mapping):
        raise InvalidRuleSet(f"{where}.params", "params is an object of whole numbers")
    try:
        return Rule(document["kind"], document.get("enabled", True), document["score"],
                    document["params"])
    except InvalidRuleSet as error:
        raise InvalidRuleSet(f"{where}.{error.field}", error.message) from None


def _rule(kind: str, score: int, **params: int) -> Rule:
    return Rule(kind, True, score, params)


def _per_currency(max_amount: int) -> dict[str, int]:
    return {"max_amount": max_amount, "max_amount_KWD": 3 * max_amount,
            "max_amount_INR": 80 * max_amount, "max_amount_BRL": 5 * max_amount}


DAY_SECONDS: Final = 24 * 3600
# Thresholds of a deployment that has not published its own. Amounts as the limits' defaults
# (domain/payments/limits.py): the same numbers for USD, EUR, GBP, CHF, CAD, AUD and JPY,
# three times for KWD, 80 times for INR, five times for BRL.
DEFAULT_RULES: Final = RuleSet(0, (
    _rule("sender_velocity_count", 30, window_seconds=3600, max_count=10),
    _rule("sender_velocity_amount", 30, window_seconds=DAY_SECONDS, **_per_currency(200_000)),
    _rule("recipient_velocity_count", 20, window_seconds=3600, max_count=20),
    _rule("recipient_velocity_amount", 20, window_seconds=DAY_SECONDS, **_per_currency(500_000)),
    _rule("new_account", 15, min_age_seconds=7 * DAY_SECONDS),
    _rule("new_device", 20, min_age_seconds=DAY_SECONDS),
    _rule("unusual_amount", 25, multiple_of_median=5, min_history=5),
    _rule("counterparty_blocked", 100),
    _rule("counterparty_reported", 50, window_seconds=30 * DAY_SECONDS, min_reports=3),
    _rule("many_recipients", 30, window_seconds=DAY_SECONDS, max_distinct=10),
    _rule("mule", 40, window_seconds=7 * DAY_SECONDS, max_new_senders=10),
), review_at=50, decline_at=100)
